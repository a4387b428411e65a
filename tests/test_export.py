"""Tests of the exported steps (ONNX, StableHLO) and the tracker backends.

Most use a tiny random network; the parity on real frames also runs the
original network. ONNX tests skip without onnxruntime / jax2onnx.
"""

import json
import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

from siamfc_jax import backends
from siamfc_jax import convert
from siamfc_jax import embedding
from siamfc_jax import export
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.export import targets
from tests import clips

SPEC, PARAMS = clips.SPEC, clips.PARAMS  # 1/8-width AlexNet, small crops
# The tolerance on score maps: max |exported - jax| / max |jax|.
SCORE_RTOL = 1e-4
# Whole-sequence agreement of the two backends' boxes.
BOX_PX, BOX_FRACTION = 0.5, 0.99
# A tiny CFNet with template updates: 135 -> 30x30 features, 10x10 template,
# 21x21 scores.
TINY_CF = embedding.ModelSpec(
    layers=(embedding.ConvSpec(8, 7, stride=2, use_bias=True, pool_stride=2),
            embedding.ConvSpec(8, 3, groups=2, use_bias=True)),
    join="cf", cf_margin=10)
CF_PARAMS = tracking.TrackParams(exemplar_size=135, instance_size=135,
                                 response_up=8, z_lr=0.01, raw_scores=True)


@pytest.fixture(scope="module")
def variables():
  return model.init(SPEC, jax.random.key(0))


def _needs(fmt):
  if fmt == "onnx":
    pytest.importorskip("onnxruntime")
    pytest.importorskip("jax2onnx")


def _moving_square(n, height=120, width=160, seed=0):
  """n frames of noise with a bright square moving right; first box."""
  rng = np.random.default_rng(seed)
  frames = []
  for t in range(n):
    f = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    f[40:56, 30 + 3 * t:46 + 3 * t] = (250, 200, 30)
    frames.append(f)
  return frames, np.array([30, 40, 16, 16], np.float32)


def _bag(data_dir):
  """vot15_bag frames (paths) and ground truth, or skip."""
  from siamfc_jax.data import sequences  # pylint: disable=g-import-not-at-top
  folder = data_dir / "sequences" / "vot15_bag"
  if not folder.is_dir():
    pytest.skip(f"{folder} not found")
  return sequences.read_sequence(str(folder))


@pytest.mark.parametrize("network", ["tiny", "siamfc", "tiny-cf",
                                     "cfnet-conv2"])
@pytest.mark.parametrize("fmt", export.FORMATS)
def test_exported_steps_give_the_jax_score_maps_on_real_frames(
    data_dir, tmp_path, variables, network, fmt):
  _needs(fmt)
  seq = _bag(data_dir)
  if network == "tiny":
    spec, net, params = SPEC, variables, PARAMS
  elif network == "siamfc":
    (spec, net), params = pretrained.network(), tracking.SIAMFC_3S
  elif network == "tiny-cf":  # CF solve in both steps (template updates)
    spec, params = TINY_CF, CF_PARAMS
    net = model.init(spec, jax.random.key(0))
  else:
    spec, net, _ = convert.load(
        data_dir / "weights/cfnet/cfnet-conv2_e80.mat")
    params = tracking.CFNET_CONV2
  export.export(tmp_path, spec, net, params, fmt)
  steps = export.load(tmp_path)
  # Frames 0-3 and, where the bag moves fast, 100-102 (each step starts
  # from the JAX state, so any frames can follow the first).
  frames = [frames_lib.load_frame(seq.frames[i])
            for i in (0, 1, 2, 3, 100, 101, 102)]
  result = export.parity(steps, net, frames, seq.boxes[0])
  assert result["frames"] == 6
  assert result["max_rel_score_diff"] <= SCORE_RTOL, result
  assert result["max_rel_template_diff"] <= SCORE_RTOL, result
  assert result["max_box_diff_px"] <= 0.05, result


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_variables_as_inputs_give_the_results_of_those_variables(
    tmp_path, variables, fmt):
  _needs(fmt)
  frames, box = _moving_square(3)
  export.export(tmp_path, SPEC, variables, PARAMS, fmt, params_as_inputs=True)
  sidecar = json.loads((tmp_path / export.SIDECAR).read_text())
  names = [p["name"] for p in sidecar["steps"]["frame"]["inputs"]]
  assert names[:7] == ["frame", *export.STATE]
  assert "params/embedding/conv1/kernel" in names
  # Other weights through the same files: the results of those weights.
  other = model.init(SPEC, jax.random.key(1))
  for net in (variables, other):
    result = export.parity(export.load(tmp_path, net), net, frames, box)
    assert result["max_rel_score_diff"] <= SCORE_RTOL, result


def test_stablehlo_round_trips_through_jax_export_deserialize(tmp_path,
                                                              variables):
  frames, box = _moving_square(3)
  export.export(tmp_path, SPEC, variables, PARAMS, "stablehlo")
  exemplar = jax.export.deserialize(
      bytearray((tmp_path / "exemplar.stablehlo").read_bytes()))
  step = jax.export.deserialize(
      bytearray((tmp_path / "frame.stablehlo").read_bytes()))
  assert [str(d) for d in step.in_avals[0].shape] == ["H", "W", "3"]
  state = exemplar.call(frames[0], box)
  want = tracking.init_state_jit(variables, frames[0], box, SPEC, PARAMS)
  # Split against grouped convolutions and so on: rounding only.
  for name, got in zip(export.STATE, state):
    scale = np.abs(getattr(want, name)).max()
    np.testing.assert_allclose(got, getattr(want, name), rtol=0,
                               atol=1e-5 * scale, err_msg=name)
  centre, size, x_side, got_box, scores = step.call(frames[1], *state)
  want, want_box, want_scores = tracking.track_step_jit(
      variables, want, frames[1], SPEC, PARAMS)
  np.testing.assert_allclose(scores, want_scores, rtol=0,
                             atol=1e-5 * np.abs(want_scores).max())
  np.testing.assert_allclose(got_box, want_box, atol=1e-3)
  np.testing.assert_allclose(x_side, want.x_side, rtol=1e-6)
  assert centre.shape == size.shape == (2,)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_symbolic_frame_size_serves_frames_of_every_size(variables, fmt):
  _needs(fmt)
  sidecar, blobs = export.export_steps(SPEC, variables, PARAMS, fmt)
  steps = export.ExportedSteps(sidecar, blobs)
  assert steps.frame_size is None
  assert sidecar["steps"]["frame"]["inputs"][0]["shape"] == ["H", "W", 3]
  for height, width in ((120, 160), (97, 61)):
    frames, box = _moving_square(3, height, max(width, 80))
    frames = [f[:, :width] for f in frames]
    result = export.parity(steps, variables, frames, [20, 30, 16, 16])
    assert result["max_rel_score_diff"] <= SCORE_RTOL, (height, width)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_step_of_n_sequences_equals_n_single_jax_steps(variables, fmt):
  _needs(fmt)
  sidecar, blobs = export.export_steps(SPEC, variables, PARAMS, fmt,
                                       num_sequences=3)
  steps = export.ExportedSteps(sidecar, blobs)
  assert sidecar["steps"]["frame"]["inputs"][0]["shape"] == [3, "H", "W", 3]
  seqs = [_moving_square(3, seed=seed) for seed in range(3)]
  boxes = [box + [8 * i, 4 * i, 2 * i, 0] for i, (_, box) in enumerate(seqs)]
  state = export.stack([steps.init(frames[0], box)
                        for (frames, _), box in zip(seqs, boxes)])
  for t in (1, 2):
    frames = np.stack([frames[t] for frames, _ in seqs])
    want = [tracking.TrackerState(
        **{n: state[n][i] for n in export.STATE},
        frame_size=np.array([160, 120], np.int32)) for i in range(3)]
    state, got_box, got_scores = steps.step(state, frames)
    assert got_box.shape == (3, 4) and got_scores.shape == (3, 3, 9, 9)
    for i in range(3):
      _, box, scores = tracking.track_step_jit(variables, want[i], frames[i],
                                               SPEC, PARAMS)
      scale = np.abs(scores).max()
      assert np.abs(got_scores[i] - scores).max() <= SCORE_RTOL * scale
      np.testing.assert_allclose(got_box[i], box, atol=0.05)
  with pytest.raises(ValueError, match=r"frames must be \[3, H, W, 3\]"):
    steps.step(state, frames[0])


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_fixed_frame_size_refuses_frames_of_another_size(tmp_path,
                                                           variables, fmt):
  _needs(fmt)
  export.export(tmp_path, SPEC, variables, PARAMS, fmt, frame_size=(160, 120))
  steps = export.load(tmp_path)
  frames, box = _moving_square(2)
  state = steps.init(frames[0], box)  # 160x120: fine
  with pytest.raises(ValueError, match=r"frame is 150x120 \(WxH\).*160x120"):
    steps.step(state, frames[1][:, :150])


@pytest.mark.parametrize("kwargs, message", [
    ({"fmt": "tflite"}, "unsupported export format 'tflite'"),
    ({"frame_size": (0, 120)}, "frame_size must be two positive integers"),
    ({"frame_size": (160,)}, "frame_size must be two positive integers"),
    ({"frame_size": (16.5, 12)}, "frame_size must be two positive integers"),
    ({"params": tracking.TrackParams(num_scales=2)}, "num_scales must be odd"),
    ({"params": tracking.TrackParams(exemplar_size=60, instance_size=100)},
     "unsupported geometry: exemplar_size 60"),
    ({"platforms": ["cuda"]}, "platforms apply to StableHLO only"),
    ({"num_sequences": 0}, "num_sequences must be a positive integer"),
])
def test_unsupported_configurations_are_refused_before_tracing(
    tmp_path, variables, kwargs, message):
  kwargs = {"params": PARAMS, "fmt": "onnx", **kwargs}
  with pytest.raises(ValueError, match=message):
    export.export(tmp_path / "out", SPEC, variables, **kwargs)
  assert not (tmp_path / "out").exists()


def test_overwrite_replaces_an_export_and_nothing_else(tmp_path, variables):
  out = tmp_path / "out"
  export.export(out, SPEC, variables, PARAMS, "stablehlo")
  with pytest.raises(FileExistsError, match="not empty"):
    export.export(out, SPEC, variables, PARAMS, "stablehlo")
  export.export(out, SPEC, variables, PARAMS, "stablehlo",
                frame_size=(160, 120), overwrite=True)
  assert export.load(out).frame_size == (160, 120)
  (out / "notes.txt").write_text("mine")
  with pytest.raises(FileExistsError, match=r"more than an export \(notes"):
    export.export(out, SPEC, variables, PARAMS, "stablehlo", overwrite=True)
  assert (out / "notes.txt").read_text() == "mine"
  with pytest.raises(FileExistsError, match="not a directory"):
    export.export(out / "notes.txt", SPEC, variables, PARAMS, "stablehlo",
                  overwrite=True)


def _edit_sidecar(directory, edit):
  path = directory / export.SIDECAR
  sidecar = json.loads(path.read_text())
  edit(sidecar)
  path.write_text(json.dumps(sidecar))


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_sidecar_that_does_not_match_its_files_is_refused(
    tmp_path, variables, fmt):
  _needs(fmt)
  a, b = tmp_path / "a", tmp_path / "b"
  export.export(a, SPEC, variables, PARAMS, fmt)
  export.export(b, SPEC, variables, PARAMS, fmt, frame_size=(160, 120))
  ext = "." + fmt

  # A step file of another export: its hash differs from the sidecar's.
  (a / f"frame{ext}").write_bytes((b / f"frame{ext}").read_bytes())
  with pytest.raises(ValueError, match=f"frame{ext}: SHA-256 .* differs"):
    export.load(a)

  # Hash updated, but the sidecar still says the frame is symbolic.
  def take_hash(sidecar):
    sidecar["steps"]["frame"]["sha256"] = json.loads(
        (b / export.SIDECAR).read_text())["steps"]["frame"]["sha256"]
  _edit_sidecar(a, take_hash)
  with pytest.raises(ValueError, match=r"frame step input 'frame' is "
                     r"\['H', 'W', 3\] uint8 in the sidecar, but the file "
                     r"has 'frame' \[120, 160, 3\]"):
    export.load(a)

  # Another spec in the sidecar than in the files: z_feat's shape differs.
  def wider(sidecar):
    sidecar["spec"]["layers"][-1]["features"] = 64
  _edit_sidecar(b, wider)
  with pytest.raises(ValueError, match=r"output 'z_feat' as \[1, 3, 3, 64\]"):
    export.load(b)

  (b / f"exemplar{ext}").unlink()
  with pytest.raises(FileNotFoundError, match=f"exemplar{ext}: missing"):
    export.load(b)
  with pytest.raises(FileNotFoundError, match="no siamfc_export.json"):
    export.load(tmp_path)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_the_sidecar_names_every_field_a_reader_needs(variables, fmt):
  _needs(fmt)
  sidecar, _ = export.export_steps(SPEC, variables, PARAMS, fmt)
  assert set(sidecar) >= {
      "format", "version", "kind", "siamfc_jax", "jax", "frame_size",
      "num_sequences", "params_as_inputs", "spec", "track_params",
      "weights_sha256", "state", "steps", "usage"}
  assert sidecar["weights_sha256"] == export.weights_sha256(variables)
  assert sidecar["state"] == list(export.STATE)


def test_variables_must_match_an_export_that_takes_them(tmp_path, variables):
  export.export(tmp_path, SPEC, variables, PARAMS, "stablehlo",
                params_as_inputs=True)
  with pytest.raises(ValueError, match="pass variables="):
    export.load(tmp_path)
  wider = model.init(embedding.alexnet_spec(width=0.25), jax.random.key(0))
  with pytest.raises(ValueError, match=r"other shape \[\('batch_stats/"
                     r"embedding/bn1/mean', \(24,\), \(12,\)\)"):
    export.load(tmp_path, wider)
  baked = tmp_path / "baked"
  export.export(baked, SPEC, variables, PARAMS, "stablehlo")
  with pytest.raises(ValueError, match="constants in this export"):
    export.load(baked, variables)


@pytest.mark.parametrize("n, factor", [(17, 16), (9, 16), (5, 3)])
def test_upsampling_matrices_equal_jax_image_resize(n, factor):
  """The exportable form of `locate`'s upsampling, against the original."""
  x = np.random.default_rng(n).normal(size=(3, n, n)).astype(np.float32)
  want = jax.image.resize(x[..., None], (3, n * factor, n * factor, 1),
                          method="cubic", antialias=False)[..., 0]
  m = tracking.upsample_matrix(n, factor)
  got = np.einsum("ui,sij,vj->suv", m, x, m)
  assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()


def test_one_grouped_convolution_per_layer_equals_the_split_groups(
    variables):
  x = np.random.default_rng(0).uniform(0, 255, (2, 103, 103, 3))
  split = model.embed(SPEC, variables, x.astype(np.float32))
  grouped = model.embed(SPEC, variables, x.astype(np.float32),
                        split_groups=False)
  np.testing.assert_allclose(grouped, split, rtol=1e-5,
                             atol=1e-5 * np.abs(split).max())


def test_backends_resolve_auto_and_refuse_unknown_names():
  if jax.default_backend() == "cpu" and backends.onnxruntime_missing() is None:
    assert backends.resolve("auto") == "onnxruntime"
  elif jax.default_backend() != "cpu":
    assert backends.resolve(None) == "jax"
  assert backends.resolve("jax") == "jax"
  with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
    backends.resolve("tensorrt")


def test_onnxruntime_tracker_has_the_api_and_boxes_of_the_jax_one(variables):
  _needs("onnx")
  frames, box = _moving_square(8)
  jax_tracker = tracker_lib.Tracker(SPEC, variables, PARAMS, backend="jax")
  ort_tracker = tracker_lib.Tracker(SPEC, variables, PARAMS,
                                    backend="onnxruntime")
  assert ort_tracker.backend.name == "onnxruntime"
  want, _ = jax_tracker.track(frames, box)
  got, times = ort_tracker.track(frames, box)
  assert got.shape == want.shape == (8, 4) and np.all(times > 0)
  np.testing.assert_allclose(got, want, atol=0.01)
  ort_tracker.init(frames[0], box)
  np.testing.assert_allclose(ort_tracker.update(frames[1]), got[1], rtol=1e-6)
  with pytest.raises(ValueError, match="differs from the first frame's"):
    ort_tracker.update(frames[2][:100])
  # track_many falls back to one sequence after the other: same boxes.
  many = tracker_lib.track_many(ort_tracker, [(frames, box),
                                              (frames[:4], box)])
  np.testing.assert_array_equal(many[0], got)
  np.testing.assert_array_equal(many[1], got[:4])


def test_backends_agree_over_the_whole_of_vot15_bag(data_dir, variables):
  """The tiny network on all 196 frames: each backend follows its own
  boxes, so one diverging step would show in all the later frames."""
  _needs("onnx")
  seq = _bag(data_dir)
  frames = [frames_lib.load_frame(p) for p in seq.frames]
  boxes = {}
  for name in backends.BACKENDS:
    tracker = tracker_lib.Tracker(SPEC, variables, PARAMS, backend=name)
    boxes[name], _ = tracker.track(frames, seq.boxes[0])
  diff = np.abs(boxes["jax"] - boxes["onnxruntime"]).max(axis=1)
  assert len(diff) == 196
  assert np.mean(diff <= BOX_PX) >= BOX_FRACTION, np.sort(diff)[-5:]


def test_cli_exports_the_bundled_network_and_reports_parity(tmp_path):
  _needs("onnx")
  out = tmp_path / "onnx"
  run = subprocess.run(
      [sys.executable, "-m", "experiments.export", "--format=onnx",
       f"--out={out}", "--parity_frames=2"],
      capture_output=True, text=True, timeout=600, check=False)
  assert run.returncode == 0, run.stderr
  for name in ("exemplar.onnx", "frame.onnx", export.SIDECAR):
    assert f"wrote {out / name}" in run.stdout
  assert "MiB" in run.stdout
  rel = float(run.stdout.split("max relative difference ")[1].split(",")[0])
  assert rel <= SCORE_RTOL
  sidecar = json.loads((out / export.SIDECAR).read_text())
  assert sidecar["track_params"] == tracking.SIAMFC_3S.to_dict()
  assert sidecar["frame_size"] is None and not sidecar["params_as_inputs"]
  # Files that need nothing from this package: plain ONNX Runtime.
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  session = ort.InferenceSession(str(out / "exemplar.onnx"))
  frame = np.asarray(Image.open(pretrained.demo_sequence().frames[0]))
  box = np.asarray(pretrained.demo_sequence().boxes[0], np.float32)
  z_feat = session.run(["z_feat"], {"frame": frame, "box": box})[0]
  assert z_feat.shape == (1, 6, 6, 256)


# The tolerance: K targets in one call against K separate runs.
TARGETS_PX = 1e-4


@pytest.mark.parametrize("network", ["tiny", "tiny-cf"])
def test_onnx_k_targets_in_one_call_equal_k_single_target_runs(variables,
                                                                network):
  _needs("onnx")
  spec, params, net = (SPEC, PARAMS, variables) if network == "tiny" else (
      TINY_CF, CF_PARAMS, model.init(TINY_CF, jax.random.key(0)))
  t = tracker_lib.Tracker(spec, net, params, backend="onnxruntime")
  frames, box = _moving_square(4)
  boxes = np.array([box, [100, 70, 20, 16], [10, 90, 14, 14]], np.float64)
  got, _ = t.track(frames, boxes)
  assert got.shape == (4, 3, 4)
  for k in range(3):
    want, _ = t.track(frames, boxes[k])
    np.testing.assert_allclose(got[:, k], want, rtol=0, atol=TARGETS_PX)
  # One export per K, made once and kept.
  steps = t.backend.target_steps(3)
  t.track(frames[:2], boxes)
  assert t.backend.target_steps(3) is steps
  assert list(t.backend._target_steps) == [3]  # pylint: disable=protected-access


def test_k_target_export_refuses_a_bad_number_of_targets(variables):
  with pytest.raises(ValueError, match="num_targets must be a positive"):
    targets.export_target_steps(SPEC, variables, PARAMS, 0)


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_bundled_network_tracks_two_targets_of_the_demo_clip_as_two_runs(
    backend):
  if backend == "onnxruntime":
    _needs("onnx")
  seq = pretrained.demo_sequence()
  frames = [frames_lib.load_frame(p) for p in seq.frames[:3]]
  boxes = np.array([seq.boxes[0], [300, 60, 60, 50]])
  t = tracker_lib.Tracker.pretrained(backend=backend)
  got, _ = t.track(frames, boxes)
  for k in range(2):
    want, _ = t.track(frames, boxes[k])
    np.testing.assert_allclose(got[:, k], want, rtol=0, atol=TARGETS_PX)
