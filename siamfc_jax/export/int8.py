"""The exported ONNX steps in int8: calibrated on real frames, run by ORT.

`precision="int8"` of the onnxruntime backend (`backends.py`) and of
`experiments.export`. The fp32 steps of `steps.py` are quantized by ONNX
Runtime's own static quantizer (`onnxruntime.quantization.quantize_static`,
no hand-written quantizer):

- QDQ format: QuantizeLinear / DequantizeLinear pairs around the quantized
  nodes, which ONNX Runtime fuses into integer kernels (QLinearConv);
- the embedding's convolutions only: int8 weights per output channel
  (symmetric), uint8 activations (asymmetric, min/max of the calibration
  inputs). "Relu" is in `op_types_to_quantize` too, so that the quantizer
  folds each ReLU into its convolution's output quantization: the layers
  then pass int8 to each other, without a float round trip
  (DequantizeLinear, ReLU, QuantizeLinear; measured in docs/int8.md).
  The crop, the upsampling, the penalties, the arg-max and the box update
  stay float; so do the cross-correlation (a MatMul and a gather for
  SiamFC; a Conv whose filter is the state, not a constant, for CFNet's
  large templates: quantized, it was measured slower) and CFNet's
  correlation filter (MatMuls);
- calibration inputs are real: both steps' inputs collected by running the
  fp32 steps over calibration sequences (default: the bundled demo clip),
  the exemplar step on every calibration frame with the fp32 tracker's box
  in it, the frame step on the fp32 tracker's state before each frame.

Everything is deterministic: the calibration frames, the fp32 runs that
give the states, MinMax calibration and the quantizer.

The quantized files are ordinary ONNX: they run in plain ONNX Runtime as
the fp32 ones do (the sidecar's `usage`), and carry their precision in the
model metadata (`siamfc_jax.precision`), so that `files.load` refuses a
sidecar that names another precision than its files.

Deliberate differences from the original (which runs in float): this is
an approximation of the network, measured against the fp32 tracker on the
shared sequences in docs/int8.md (success AUC within 0.01).

    sidecar, blobs = int8.int8_steps(spec, variables, params)
    steps = runner.ExportedSteps(sidecar, blobs)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from siamfc_jax import embedding
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import tracking
from siamfc_jax.data import sequences
from siamfc_jax.export import ports
from siamfc_jax.export import runner
from siamfc_jax.export import steps as steps_lib

PRECISIONS = ports.PRECISIONS
# Key of the precision in each quantized file's metadata.
METADATA_KEY = ports.PRECISION_KEY
# Calibration frames per sequence, from its start (the trial: ~50
# frame/state pairs of one sequence gave AUCs within 0.015 of fp32).
CALIBRATION_FRAMES = 48
CALIBRATION_METHOD = "MinMax"


@dataclasses.dataclass(frozen=True)
class Calibration:
  """Real inputs of both steps, collected by the fp32 steps.

  Attributes:
    exemplar: {"frame": [H, W, 3] uint8, "box": [4] float32} per frame.
    frame: {"frame": [H, W, 3] uint8, state name: array} per frame
      (`ports.STATE`), the state before that frame.
    sources: per sequence {"name": str, "frames": int}.
    gray: frames were converted to grayscale (CFNet's gray twins).
  """

  exemplar: tuple[dict[str, np.ndarray], ...]
  frame: tuple[dict[str, np.ndarray], ...]
  sources: tuple[dict, ...]
  gray: bool = False

  def describe(self) -> dict:
    """JSON-ready summary for the sidecar and `Tracker.settings`."""
    return {"method": CALIBRATION_METHOD,
            "sequences": [dict(s) for s in self.sources],
            "gray": self.gray}


def check_precision(precision: str) -> str:
  """Returns `precision` if known.

  Raises:
    ValueError: not one of PRECISIONS.
  """
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r}; choose one of "
                     f"{list(PRECISIONS)}")
  return precision


def calibration_sequences(folders: Sequence[str | os.PathLike] | None = None
                          ) -> list:
  """The sequences to calibrate on: `folders`, or the bundled demo clip.

  Args:
    folders: sequence folders (OTB, VOT or GOT-10k layout, or a plain
      folder of frames whose first box is not needed: see below); None or
      empty for the demo clip.

  Returns:
    `sequences.Sequence`s with at least one frame and a first box.

  Raises:
    FileNotFoundError: a folder does not exist.
    ValueError: a folder holds no frames or no first box.
  """
  if not folders:
    return [pretrained.demo_sequence()]
  out = []
  for folder in folders:
    if not os.path.isdir(folder):
      raise FileNotFoundError(f"calibration folder {folder} not found")
    try:
      seq = sequences.read_sequence(folder)
    except (FileNotFoundError, ValueError) as e:
      raise ValueError(f"calibration folder {folder}: no frames with a first "
                       f"box to calibrate on ({e})") from None
    if not len(seq.frames):
      raise ValueError(f"calibration folder {folder}: no frames")
    if not np.all(np.isfinite(seq.boxes[0])):
      raise ValueError(f"calibration folder {folder}: the first frame has no "
                       "box")
    out.append(seq)
  return out


def describe(seqs: Sequence, max_frames: int = CALIBRATION_FRAMES) -> dict:
  """What `collect` will calibrate on, without running it.

  Returns:
    {"method": str, "sequences": [{"name": str, "frames": int}]}.
  """
  return {"method": CALIBRATION_METHOD,
          "sequences": [{"name": s.name,
                         "frames": min(len(s.frames), max_frames)}
                        for s in seqs]}


def _gray(frame: np.ndarray) -> np.ndarray:
  """[H, W, 3] uint8 -> the same, ITU-R 601 luma in all three channels."""
  luma = np.asarray(Image.fromarray(frame).convert("L"))
  return np.repeat(luma[..., None], 3, axis=2)


def collect(steps: runner.ExportedSteps, seqs: Iterable,
            max_frames: int = CALIBRATION_FRAMES,
            gray: bool = False) -> Calibration:
  """Runs the fp32 `steps` over `seqs` and keeps both steps' inputs.

  Args:
    steps: fp32 steps of one sequence (`runner.ExportedSteps`).
    seqs: `sequences.Sequence`s (frames[0] holds boxes[0]).
    max_frames: frames used per sequence, from its first.
    gray: convert the frames to grayscale first (CFNet's gray twins run on
      grayscale sequences).

  Returns:
    The calibration inputs.

  Raises:
    ValueError: max_frames < 2, or a multi-sequence export.
  """
  if max_frames < 2:
    raise ValueError(f"max_frames must be >= 2; got {max_frames}")
  if steps.num_sequences:
    raise ValueError("calibrate with the steps of one sequence")
  exemplar, frame_inputs, sources = [], [], []
  for seq in seqs:
    frames = [frames_lib.load_frame(p) for p in seq.frames[:max_frames]]
    if gray:
      frames = [_gray(f) for f in frames]
    box = frames_lib.check_box(seq.boxes[0], frames[0].shape)
    state = steps.init(frames[0], box)
    exemplar.append({"frame": frames[0], "box": box})
    for frame in frames[1:]:
      frame_inputs.append({"frame": frame, **state})
      state, box, _ = steps.step(state, frame)
      exemplar.append({"frame": frame, "box": np.asarray(box, np.float32)})
    sources.append({"name": seq.name, "frames": len(frames)})
  return Calibration(tuple(exemplar), tuple(frame_inputs), tuple(sources),
                     gray)


class _Reader:
  """An onnxruntime CalibrationDataReader over a list of input dicts."""

  def __init__(self, inputs: Sequence[dict[str, np.ndarray]]):
    self._inputs = inputs
    self._it: Iterator | None = None

  def get_next(self) -> dict[str, np.ndarray] | None:
    if self._it is None:
      self._it = iter(self._inputs)
    return next(self._it, None)

  def rewind(self) -> None:
    self._it = None


def _xcorr_nodes(proto) -> list[str]:
  """Names of the Conv nodes whose filter is not a constant: the xcorr."""
  constants = {t.name for t in proto.graph.initializer}
  constants |= {n.output[0] for n in proto.graph.node
                if n.op_type == "Constant"}
  return [n.name for n in proto.graph.node
          if n.op_type == "Conv" and n.input[1] not in constants]


def fold_constants(blob: bytes) -> bytes:
  """The step with its constant subgraphs folded (ONNX Runtime's basic,
  hardware-independent graph optimisations).

  The exporter writes each kernel in HWIO and transposes it to OIHW in the
  graph; folded, the Conv filters are initializers, which the quantizer
  needs to quantize them per channel.
  """
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    options = ort.SessionOptions()
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    options.optimized_model_filepath = os.path.join(tmp, "folded.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    with open(options.optimized_model_filepath, "rb") as f:
      return f.read()


class _DropQuantizerWarnings(logging.Filter):
  """Drops records under ERROR logged from onnxruntime.quantization."""

  def filter(self, record: logging.LogRecord) -> bool:
    return (record.levelno >= logging.ERROR
            or "onnxruntime" + os.sep + "quantization" not in record.pathname)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
  """Silences the quantizer's advice to pre-process (done: the constants
  are folded) that it logs to the root logger."""
  drop = _DropQuantizerWarnings()
  handlers = logging.getLogger().handlers
  for h in handlers:
    h.addFilter(drop)
  root = logging.getLogger()
  root.addFilter(drop)
  try:
    yield
  finally:
    root.removeFilter(drop)
    for h in handlers:
      h.removeFilter(drop)


def quantize_step(blob: bytes, inputs: Sequence[dict[str, np.ndarray]]
                  ) -> bytes:
  """One fp32 ONNX step -> the int8 one (see module doc).

  Args:
    blob: the serialised fp32 ModelProto.
    inputs: calibration inputs, {input name: array} per call.

  Returns:
    The serialised quantized ModelProto, its precision in the metadata.
  """
  import onnx  # pylint: disable=g-import-not-at-top
  from onnxruntime import quantization as q  # pylint: disable=g-import-not-at-top
  if not inputs:
    raise ValueError("no calibration inputs")
  proto = onnx.load_from_string(fold_constants(blob))
  if METADATA_KEY in {p.key for p in proto.metadata_props}:
    raise ValueError("the step is quantized already")
  with tempfile.TemporaryDirectory() as tmp, _quiet_quantizer():
    out = os.path.join(tmp, "int8.onnx")
    q.quantize_static(
        proto, out, _Reader(inputs), quant_format=q.QuantFormat.QDQ,
        op_types_to_quantize=["Conv", "Relu"],
        nodes_to_exclude=_xcorr_nodes(proto),
        per_channel=True, activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        calibrate_method=q.CalibrationMethod.MinMax,
        extra_options={"WeightSymmetric": True,
                       "ActivationSymmetric": False})
    quantized = onnx.load(out)
  quantized.metadata_props.add(key=METADATA_KEY, value="int8")
  return quantized.SerializeToString()


def quantize_steps(sidecar: dict, blobs: dict[str, bytes],
                   calibration: Calibration
                   ) -> tuple[dict, dict[str, bytes]]:
  """The fp32 steps of `steps_lib.export_steps` -> int8 steps and sidecar.

  Returns:
    (the sidecar with "precision": "int8" and "calibration", {step: bytes}).

  Raises:
    ValueError: not an fp32 ONNX export of one sequence.
  """
  if sidecar.get("kind") != "onnx" or sidecar.get("num_sequences"):
    raise ValueError("int8 quantizes ONNX exports of one sequence; got kind "
                     f"{sidecar.get('kind')!r}, num_sequences "
                     f"{sidecar.get('num_sequences')!r}")
  if sidecar.get("precision", "fp32") != "fp32":
    raise ValueError(f"the export is {sidecar['precision']} already")
  inputs = {"exemplar": calibration.exemplar, "frame": calibration.frame}
  out = {name: quantize_step(blobs[name], inputs[name])
         for name in ports.STEPS}
  sidecar = {**sidecar, "precision": "int8", "calibration": {
      **calibration.describe(),
      "frame_step_inputs": len(calibration.frame),
      "exemplar_step_inputs": len(calibration.exemplar),
      "quantized": "the embedding's Conv nodes, their ReLUs folded",
      "weights": "int8, symmetric, per output channel",
      "activations": "uint8, asymmetric, per tensor",
      "format": "QDQ (onnxruntime.quantization.quantize_static)"}}
  return sidecar, out


def int8_steps(spec: embedding.ModelSpec, variables: model.Variables,
               params: tracking.TrackParams,
               calibration: Sequence[str | os.PathLike] | None = None,
               max_frames: int = CALIBRATION_FRAMES, gray: bool = False,
               num_threads: int | None = None
               ) -> tuple[dict, dict[str, bytes]]:
  """Exports both steps, calibrates on real frames and quantizes them.

  Args:
    spec, variables, params: as `steps_lib.export_steps` (the frame size is
      symbolic: the calibration frames may have any size).
    calibration: sequence folders to calibrate on; None: the demo clip.
    max_frames: calibration frames per sequence.
    gray: calibrate on grayscale frames (a gray twin's steps).
    num_threads: ONNX Runtime threads of the fp32 calibration runs.

  Returns:
    (sidecar, {step: bytes}) as `quantize_steps`.

  Raises:
    FileNotFoundError, ValueError: see `calibration_sequences`,
      `steps_lib.export_steps`.
  """
  seqs = calibration_sequences(calibration)
  sidecar, blobs = steps_lib.export_steps(spec, variables, params, "onnx")
  steps = runner.ExportedSteps(sidecar, blobs, "fp32 calibration steps",
                               num_threads=num_threads)
  found = collect(steps, seqs, max_frames, gray)
  return quantize_steps(sidecar, blobs, found)
