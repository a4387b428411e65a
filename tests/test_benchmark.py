"""`python -m experiments.benchmark` on a tiny network: figures, not speed.

No timing is asserted (the machine may be shared); the test checks that
every figure is there, positive and finite, and that the PyTorch step (when
torch is installed) gives our boxes.
"""

import importlib.util
import json
import math

from absl import flags
import numpy as np
import pytest

from experiments import benchmark

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


def test_train_step_benchmark_times_a_tiny_config():
  from experiments.configs import cfnet  # pylint: disable=g-import-not-at-top
  from siamfc_jax import benchmarking  # pylint: disable=g-import-not-at-top
  row = benchmarking.time_train_step(cfnet.get_config("tiny"), 4, steps=1)
  assert row["batch"] == 4 and row["ms"] > 0 and row["pairs_per_s"] > 0


def test_multi_target_benchmark_times_both_ways_on_a_tiny_network(capsys):
  from benchmarks import multi_target  # pylint: disable=g-import-not-at-top
  argv = flags.FLAGS(["multi_target", "--tiny_network", "--frames=3",
                      "--targets=2", "--backends=jax", "--runs=1"])
  try:
    multi_target.main(argv)
  finally:
    flags.FLAGS.unparse_flags()
  printed = capsys.readouterr().out
  table = [line for line in printed.splitlines() if line.startswith("| jax")]
  assert len(table) == 2  # together and separate
  together = [line.split("|") for line in table if "one call" in line]
  for cells, k in zip(together, (2,)):
    seconds, fps, steps = (float(c) for c in cells[4:7])
    assert int(cells[2]) == k and seconds > 0
    assert math.isclose(fps, 3 / seconds, rel_tol=0.05)
    assert math.isclose(steps, 3 * k / seconds, rel_tol=0.05)
    assert float(cells[9]) <= 1e-4  # the boxes of K separate runs


def test_multi_target_boxes_start_at_the_target_and_lie_in_the_frame():
  from benchmarks import multi_target  # pylint: disable=g-import-not-at-top
  first = np.array([100.0, 80, 40, 30])
  boxes = multi_target.spread_boxes(first, (360, 480, 3), 16)
  assert boxes.shape == (16, 4)
  np.testing.assert_array_equal(boxes[0], first)
  assert len({tuple(b) for b in boxes}) == 16
  assert np.all(boxes[:, :2] >= 0)
  assert np.all(boxes[:, 0] + boxes[:, 2] <= 480)
  assert np.all(boxes[:, 1] + boxes[:, 3] <= 360)
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
