"""Tests of the int8 steps (`export/int8.py`) and their surfaces.

A tiny random network calibrated on a few fake frames for the unit tests;
the bundled network on demo frames for the one integration test. Skip
without onnxruntime / jax2onnx.
"""

import dataclasses
import json
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from siamfc_jax import embedding
from siamfc_jax import export
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.export import int8 as int8_lib
from tests import clips
from tests import fake_datasets

pytest.importorskip("onnxruntime")
pytest.importorskip("jax2onnx")

SPEC, PARAMS = clips.SPEC, clips.PARAMS  # 1/8-width AlexNet, small crops
CALIBRATION_FRAMES = 6
# The bundled network in int8 vs fp32 on the first demo frames: largest box
# coordinate difference, pixels (measured: 1.6 px over 59 frames).
REAL_BOX_PX = 3.0


@pytest.fixture(scope="module")
def variables():
  return model.init(SPEC, jax.random.key(0))


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("calibration")
  fake_datasets.write_vot(root, {"square": CALIBRATION_FRAMES})
  return root / "square"


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory, variables, calibration_dir):
  out = tmp_path_factory.mktemp("int8") / "export"
  export.export(out, SPEC, variables, PARAMS, precision="int8",
                calibration=[calibration_dir])
  return out


def _ops(blob):
  import onnx  # pylint: disable=g-import-not-at-top
  return onnx.load_from_string(blob).graph.node


def test_int8_export_quantizes_the_convolutions_and_names_its_calibration(
    int8_export):
  sidecar = json.loads((int8_export / export.SIDECAR).read_text())
  assert sidecar["precision"] == "int8"
  calibration = sidecar["calibration"]
  assert calibration["sequences"] == [{"name": "square",
                                       "frames": CALIBRATION_FRAMES}]
  assert calibration["method"] == "MinMax"
  assert calibration["frame_step_inputs"] == CALIBRATION_FRAMES - 1
  assert calibration["exemplar_step_inputs"] == CALIBRATION_FRAMES
  nodes = _ops((int8_export / "frame.onnx").read_bytes())
  by_output = {o: n for n in nodes for o in n.output}
  convs = [n for n in nodes if n.op_type == "Conv"]
  assert len(convs) == 5  # the five layers; the xcorr is a MatMul
  # Every layer reads int8 inputs, and its ReLU is folded into the
  # quantization of its output (no float round trip between layers).
  assert all(by_output[n.input[0]].op_type == "DequantizeLinear"
             for n in convs)
  assert not [n for n in nodes if n.op_type == "Relu"]
  # The xcorr, the upsampling and the arg-max stay float.
  assert not any(by_output.get(i) is not None
                 and by_output[i].op_type == "DequantizeLinear"
                 for n in nodes if n.op_type in ("MatMul", "Gather", "ArgMax")
                 for i in n.input)


def test_quantization_is_deterministic(variables, calibration_dir,
                                       int8_export):
  sidecar, blobs = int8_lib.int8_steps(SPEC, variables, PARAMS,
                                       [calibration_dir])
  for name in export.STEPS:
    assert blobs[name] == (int8_export / f"{name}.onnx").read_bytes(), name
  assert sidecar["calibration"] == json.loads(
      (int8_export / export.SIDECAR).read_text())["calibration"]


def test_int8_tracker_is_named_and_set_apart_from_fp32(variables,
                                                       calibration_dir):
  fp32 = tracker_lib.Tracker(SPEC, variables, PARAMS, backend="onnxruntime")
  int8 = tracker_lib.Tracker(SPEC, variables, PARAMS, backend="onnxruntime",
                             precision="int8",
                             calibration=[calibration_dir])
  assert (fp32.name, int8.name) == ("SiamFC", "SiamFC-int8")
  assert fp32.settings()["precision"] == "fp32"
  assert fp32.settings()["calibration"] is None
  assert int8.settings()["precision"] == "int8"
  assert int8.settings()["calibration"] == {
      "method": "MinMax",
      "sequences": [{"name": "square", "frames": CALIBRATION_FRAMES}]}
  frames, boxes = fake_datasets.frames_and_boxes(8, seed=1)
  want, _ = fp32.track(frames, boxes[0])
  got, _ = int8.track(frames, boxes[0])
  assert int8.backend.steps.precision == "int8"
  # A random tiny network follows the square in both precisions.
  np.testing.assert_allclose(got, want, atol=2.0)


# A tiny CFNet (30x30 features, 10x10 templates).
CF_SPEC = embedding.ModelSpec(
    layers=(embedding.ConvSpec(8, 7, stride=2, use_bias=True, pool_stride=2),
            embedding.ConvSpec(8, 3, groups=2, use_bias=True)),
    join="cf", cf_margin=10)
CF_PARAMS = tracking.TrackParams(exemplar_size=135, instance_size=135,
                                 response_up=8, z_lr=0.01, raw_scores=True)


def test_a_conv_xcorr_stays_float_in_int8(calibration_dir):
  """A large template's xcorr is a Conv whose filter is the state: the
  quantizer leaves it out, the embedding's Convs read int8 inputs."""
  spec = dataclasses.replace(CF_SPEC, cf_margin=3)  # 24x24 templates
  net = model.init(spec, jax.random.key(0))
  _, blobs = int8_lib.int8_steps(spec, net, CF_PARAMS,
                                 [calibration_dir], max_frames=4)
  nodes = _ops(blobs["frame"])
  by_output = {o: n for n in nodes for o in n.output}
  convs = [n for n in nodes if n.op_type == "Conv"]
  quantized = [n for n in convs
               if by_output[n.input[0]].op_type == "DequantizeLinear"]
  assert len(quantized) == 4  # both layers, on the frame and the template
  xcorr, = [n for n in convs if n not in quantized]
  assert by_output[xcorr.input[1]].op_type != "DequantizeLinear"


def test_a_gray_twin_in_int8_is_calibrated_on_gray_frames(calibration_dir):
  """CFNet's `_gray_` twins track grayscale sequences: their int8 steps
  see gray calibration frames; the template update stays float."""
  spec, params = CF_SPEC, CF_PARAMS
  net = model.init(spec, jax.random.key(0))
  gray_net = model.init(spec, jax.random.key(1))
  trackers = [tracker_lib.Tracker(spec, net, params, backend="onnxruntime",
                                  gray_variables=gray_net, precision=p,
                                  calibration=[calibration_dir])
              for p in ("fp32", "int8")]
  frames, boxes = fake_datasets.frames_and_boxes(6, seed=1)
  gray = [np.repeat(f[..., :1], 3, axis=2) for f in frames]
  want, got = (t.track(gray, boxes[0])[0] for t in trackers)
  int8 = trackers[1]
  assert int8.gray_backend.steps.sidecar["calibration"]["gray"] is True
  assert int8.backend.steps.sidecar["calibration"]["gray"] is False
  np.testing.assert_allclose(got, want, atol=2.0)


def test_int8_with_the_jax_backend_is_refused(variables):
  with pytest.raises(ValueError, match="precision 'int8' needs the "
                     "onnxruntime backend; the backend is 'jax'"):
    tracker_lib.Tracker(SPEC, variables, PARAMS, backend="jax",
                        precision="int8")
  with pytest.raises(ValueError, match="unknown precision 'int4'"):
    tracker_lib.Tracker(SPEC, variables, PARAMS, backend="onnxruntime",
                        precision="int4")


def test_several_targets_in_int8_get_the_boxes_of_one_target_int8_runs(
    variables, calibration_dir):
  tracker = tracker_lib.Tracker(SPEC, variables, PARAMS,
                                backend="onnxruntime", precision="int8",
                                calibration=[calibration_dir])
  frames, boxes = fake_datasets.frames_and_boxes(5, seed=2)
  first = np.stack([boxes[0], boxes[0] + [6, -4, 2, 3]])
  together, _ = tracker.track(frames, first)
  assert together.shape == (5, 2, 4)
  for k in range(2):
    alone, _ = tracker.track(frames, first[k])
    np.testing.assert_array_equal(together[:, k], alone)
  # Never the fp32 K-target export behind an int8 tracker's back.
  assert not tracker.backend._target_steps  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="2-target export is fp32 only"):
    tracker.backend.target_steps(2)


def test_calibration_folders_without_frames_are_refused(tmp_path, variables):
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(ValueError, match=f"calibration folder {empty}: no "
                     "frames"):
    tracker_lib.Tracker(SPEC, variables, PARAMS, backend="onnxruntime",
                        precision="int8", calibration=[empty])
  no_images = tmp_path / "no_images"
  no_images.mkdir()
  (no_images / "groundtruth.txt").write_text("1,2,3,4\n")
  with pytest.raises(ValueError, match=f"calibration folder {no_images}: no "
                     "frames"):
    int8_lib.calibration_sequences([no_images])
  with pytest.raises(FileNotFoundError, match="calibration folder .*missing "
                     "not found"):
    int8_lib.calibration_sequences([tmp_path / "missing"])


def test_an_int8_export_with_a_mismatching_sidecar_is_refused(
    tmp_path, variables, int8_export):
  fp32 = tmp_path / "fp32"
  export.export(fp32, SPEC, variables, PARAMS)
  steps = export.load(int8_export)
  assert steps.precision == "int8"
  # The sidecar of the fp32 export beside the int8 files: the hashes differ.
  mixed = tmp_path / "mixed"
  mixed.mkdir()
  for name in ("exemplar.onnx", "frame.onnx"):
    (mixed / name).write_bytes((int8_export / name).read_bytes())
  (mixed / export.SIDECAR).write_text(
      (fp32 / export.SIDECAR).read_text())
  with pytest.raises(ValueError, match=r"exemplar.onnx: SHA-256 .* differs "
                     "from the sidecar's"):
    export.load(mixed)
  # Hashes taken over, precision not: the files' metadata says int8.
  sidecar = json.loads((fp32 / export.SIDECAR).read_text())
  int8_sidecar = json.loads((int8_export / export.SIDECAR).read_text())
  for name in export.STEPS:
    sidecar["steps"][name]["sha256"] = int8_sidecar["steps"][name]["sha256"]
  (mixed / export.SIDECAR).write_text(json.dumps(sidecar))
  with pytest.raises(ValueError, match="the sidecar says precision 'fp32', "
                     "but the exemplar step file is 'int8'"):
    export.load(mixed)
  with pytest.raises(ValueError, match="ONNX steps of one sequence"):
    export.export(tmp_path / "shlo", SPEC, variables, PARAMS, "stablehlo",
                  precision="int8")


# Tracks with nothing but onnxruntime, NumPy and PIL: the sidecar's port
# names and its `usage` rule (each new_<name> replaces <name>).
_STANDALONE = textwrap.dedent("""
    import importlib.abc, json, sys

    class Block(importlib.abc.MetaPathFinder):
      def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("siamfc_jax", "jax", "jaxlib", "flax"):
          raise ImportError(f"{name} must not be needed")

    sys.meta_path.insert(0, Block())
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    folder, frames, box = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    sidecar = json.load(open(f"{folder}/siamfc_export.json"))
    steps = sidecar["steps"]
    sessions = {k: ort.InferenceSession(f"{folder}/{v['file']}")
                for k, v in steps.items()}
    frames = [np.asarray(Image.open(f).convert("RGB")) for f in frames]
    box = np.array([float(v) for v in box.split(",")], np.float32)
    names = [p["name"] for p in steps["exemplar"]["outputs"]]
    state = dict(zip(names, sessions["exemplar"].run(
        None, {"frame": frames[0], "box": box})))
    outputs = [p["name"] for p in steps["frame"]["outputs"]]
    for frame in frames[1:]:
      feed = {p["name"]: frame if p["name"] == "frame" else state[p["name"]]
              for p in steps["frame"]["inputs"]}
      out = dict(zip(outputs, sessions["frame"].run(None, feed)))
      state.update({k[4:]: v for k, v in out.items()
                    if k.startswith("new_")})
      print(",".join(f"{v:.4f}" for v in out["box"]))
    """)


def test_the_int8_export_tracks_without_this_package(tmp_path, int8_export):
  seq = pretrained.demo_sequence()
  paths = [str(p) for p in seq.frames[:6]]
  box = ",".join(str(float(v)) for v in seq.boxes[0])
  script = tmp_path / "standalone.py"
  script.write_text(_STANDALONE)
  run = subprocess.run(
      [sys.executable, "-I", str(script), str(int8_export), ",".join(paths),
       box], capture_output=True, text=True, timeout=300, check=False,
      cwd=tmp_path)
  assert run.returncode == 0, run.stderr
  got = np.array([[float(v) for v in line.split(",")]
                  for line in run.stdout.split()])
  steps = export.load(int8_export)
  state = steps.init(frames_lib.load_frame(paths[0]), seq.boxes[0])
  want = []
  for path in paths[1:]:
    state, b, _ = steps.step(state, frames_lib.load_frame(path))
    want.append(b)
  assert got.shape == (5, 4)
  np.testing.assert_allclose(got, np.stack(want), atol=1e-3)


def test_bundled_network_in_int8_tracks_the_demo_frames_as_fp32():
  """Integration: the real network, calibrated on 8 demo frames."""
  spec, variables = pretrained.network()
  params = tracking.SIAMFC_3S
  sidecar, blobs = int8_lib.int8_steps(spec, variables, params,
                                       max_frames=8)
  int8 = export.ExportedSteps(sidecar, blobs)
  fp32 = export.ExportedSteps(*export.export_steps(spec, variables, params))
  seq = pretrained.demo_sequence()
  frames = [frames_lib.load_frame(p) for p in seq.frames[:16]]
  states = [s.init(frames[0], seq.boxes[0]) for s in (int8, fp32)]
  diff = 0.0
  for frame in frames[1:]:
    (states[0], got, _), (states[1], want, _) = (
        s.step(st, frame) for s, st in zip((int8, fp32), states))
    diff = max(diff, float(np.abs(got - want).max()))
  assert diff <= REAL_BOX_PX, diff
