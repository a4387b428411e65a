"""`siamfc-jax benchmark` on a tiny network: figures, not speed.

No timing is asserted (the machine may be shared); the test checks that
every figure is there, positive and finite, and that the PyTorch step (when
torch is installed) gives our boxes.
"""

import importlib.util
import json
import math

from absl import flags
import pytest

from siamfc_jax.cli import benchmark

JAX_ROWS = {"host_decode", "host_to_device", "step", "track_update",
            "track_end_to_end", "batch_step"}
TORCH_ROWS = {"step_interleaved", "torch_step_nchw",
              "torch_step_channels_last"}


def test_benchmark_writes_every_figure_for_a_tiny_network(tmp_path, capsys):
  out = tmp_path / "bench" / "figures.json"
  argv = flags.FLAGS(["benchmark", "--tiny", "--num_frames=3", "--scales=3",
                      "--batch_sizes=2", "--torch", f"--output_json={out}"])
  try:
    benchmark.main(argv)
  finally:
    flags.FLAGS.unparse_flags()

  results = json.loads(out.read_text())
  assert results["meta"]["network"] == "tiny"
  assert results["meta"]["num_frames"] == 3
  assert results["meta"]["device"] and results["meta"]["frame_size"] == [
      480, 360]
  has_torch = importlib.util.find_spec("torch") is not None
  names = {r["name"] for r in results["rows"]}
  assert names == JAX_ROWS | (TORCH_ROWS if has_torch else set())
  for row in results["rows"]:
    assert row["ms"] > 0 and math.isfinite(row["ms"]), row
    want_fps = row["sequences"] * 1e3 / row["ms"]
    assert math.isclose(row["fps"], want_fps, rel_tol=1e-9), row
    assert row["frames"] >= 3, row
  batch = [r for r in results["rows"] if r["name"] == "batch_step"]
  assert [(r["scales"], r["sequences"]) for r in batch] == [(3, 2)]
  if has_torch:
    check = results["torch"]["check"]["3"]
    assert check["ok"] and check["frames"] == 5
    # Same weights, crops and upsampling: equal boxes to within 0.5 px.
    assert check["max_box_diff_px"]["nchw"] <= 0.5
    assert check["max_box_diff_px"]["channels_last"] <= 0.5
  else:
    assert "torch not installed" in results["torch"]["skipped"]
  printed = capsys.readouterr().out
  assert "jitted step, frame on device" in printed
  assert results["meta"]["device"] in printed


def test_benchmark_times_int8_and_fp32_onnxruntime_steps_in_turn(tmp_path):
  pytest.importorskip("onnxruntime")
  pytest.importorskip("jax2onnx")
  out = tmp_path / "figures.json"
  argv = flags.FLAGS(["benchmark", "--tiny", "--num_frames=3", "--scales=3",
                      "--batch_sizes=", "--precision=fp32,int8",
                      f"--output_json={out}"])
  try:
    benchmark.main(argv)
  finally:
    flags.FLAGS.unparse_flags()
  results = json.loads(out.read_text())
  ort = {r["name"]: r for r in results["rows"] if r["name"].startswith("ort")}
  assert set(ort) == {"ort_step", "ort_step_int8"}
  assert ort["ort_step"]["frames"] == ort["ort_step_int8"]["frames"] == 3
  assert results["onnxruntime"]["check"]["3"]["ok"]
  assert "max_box_diff_px" in results["onnxruntime"]["check"]["3_int8"]
