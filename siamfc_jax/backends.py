"""Where the tracker's two steps run: JAX (XLA) or ONNX Runtime.

Both backends run the same steps (`export/`: the exemplar step, then one
frame step per frame) over the same state, and give the same boxes to well
under a pixel:

- "jax": `tracking.init_state_jit` / `track_step_jit`, on whatever device
  JAX has; the default on GPU and TPU, and wherever onnxruntime is missing.
- "onnxruntime": the steps exported to ONNX (frame size symbolic, so one
  export and one session per step serve frames of every size), run by ONNX
  Runtime on all CPU cores; the default on CPU when onnxruntime and
  jax2onnx are installed, 2-3x faster there than XLA. The export runs once,
  at the first `init` (seconds; as JAX compiles at its first call).

    backend = backends.make("onnxruntime", spec, variables, params)
    state = backend.init(frame, box)
    state, box = backend.step(state, frame)

K targets in one video: `init_targets(frame, boxes)` with [K, 4] boxes and
`step_targets(state, frame)` -> (state, [K, 4] boxes), one call per frame
for all K (ONNX Runtime: an export per K, made at its first use and kept).

The onnxruntime backend also runs the steps in int8 (`precision="int8"`,
`export/int8.py`): quantized at the first `init`, after calibrating on
real frames (the bundled demo clip by default), one symbolic-size export
for every frame size as in fp32. Its boxes are close to, not equal to,
the fp32 ones (docs/int8.md). K targets in int8 take its one-target step
target by target (the K-target export is fp32).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Sequence

import jax
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import int8
from siamfc_jax.export import ports
from siamfc_jax.export import runner
from siamfc_jax.export import steps as steps_lib
from siamfc_jax.export import targets

BACKENDS = ("jax", "onnxruntime")
# What `pip` needs for the onnxruntime backend. jax2onnx 0.17.1 declares
# orbax-checkpoint<0.11.37 (we pin 0.12.8) and pulls in equinox, dm-pix,
# huggingface-hub, ...; it needs none of them to export our steps, so it is
# installed without its dependencies, its three real ones named.
_ORT_PACKAGES = {
    "onnxruntime": "pip install onnxruntime==1.31.1",
    "jax2onnx": "pip install --no-deps jax2onnx==0.17.1 onnx==1.23.2 "
                "onnx-ir==1.1.0",
}


def onnxruntime_missing() -> str | None:
  """Why the onnxruntime backend cannot run here, or None if it can."""
  for module, command in _ORT_PACKAGES.items():
    if importlib.util.find_spec(module) is None:
      return f"{module} is not installed ({command})"
  return None


def default_backend() -> str:
  """"onnxruntime" on a CPU-only JAX when it is installed, else "jax"."""
  if jax.default_backend() == "cpu" and onnxruntime_missing() is None:
    return "onnxruntime"
  return "jax"


def resolve(name: str | None) -> str:
  """A backend name, "auto" or None (the default) -> the backend to use.

  Raises:
    ValueError: an unknown name, or "onnxruntime" without its packages.
  """
  if name in (None, "auto"):
    return default_backend()
  if name not in BACKENDS:
    raise ValueError(f"unknown backend {name!r}; choose one of "
                     f"{['auto', *BACKENDS]}")
  if name == "onnxruntime" and (why := onnxruntime_missing()):
    raise ValueError(f"backend 'onnxruntime' unavailable: {why}")
  return name


class JaxBackend:
  """The jitted JAX steps; the state is a `tracking.TrackerState`."""

  name = "jax"

  def __init__(self, spec: embedding.ModelSpec, variables: model.Variables,
               params: tracking.TrackParams):
    self.spec, self.variables, self.params = spec, variables, params

  def init(self, frame: np.ndarray, box: np.ndarray) -> tracking.TrackerState:
    """Exemplar step on an [H, W, 3] uint8 frame and a [4] float32 box."""
    state = tracking.init_state_jit(self.variables, frame, box, self.spec,
                                    self.params)
    return jax.block_until_ready(state)

  def step(self, state: tracking.TrackerState, frame: np.ndarray
           ) -> tuple[tracking.TrackerState, np.ndarray]:
    """Frame step: (new state, [4] box [x, y, w, h])."""
    state, box, _ = tracking.track_step_jit(self.variables, state, frame,
                                            self.spec, self.params)
    return state, np.asarray(box)

  def init_targets(self, frame: np.ndarray, box: np.ndarray
                   ) -> tracking.TrackerState:
    """Exemplar step of K targets: [H, W, 3] uint8 frame, [K, 4] float32
    boxes, one call."""
    state = tracking.init_targets_jit(self.variables, frame, box, self.spec,
                                      self.params)
    return jax.block_until_ready(state)

  def step_targets(self, state: tracking.TrackerState, frame: np.ndarray
                   ) -> tuple[tracking.TrackerState, np.ndarray]:
    """Frame step of K targets, one call: (new state, [K, 4] boxes)."""
    state, box, _ = tracking.track_step_targets_jit(
        self.variables, state, frame, self.spec, self.params)
    return state, np.asarray(box)


class OnnxRuntimeBackend:
  """The exported ONNX steps in ONNX Runtime; the state is a dict of arrays.

  The steps are exported on first use, with a symbolic frame size, and kept:
  later sequences of any frame size reuse the same sessions. In int8 they
  are also calibrated and quantized then (`int8.int8_steps`).
  """

  name = "onnxruntime"

  def __init__(self, spec: embedding.ModelSpec, variables: model.Variables,
               params: tracking.TrackParams, num_threads: int | None = None,
               precision: str = "fp32",
               calibration: Sequence[str | os.PathLike] | None = None,
               gray: bool = False):
    """The steps of `spec` with `variables` and `params`.

    Args:
      spec, variables, params: what to export.
      num_threads: ONNX Runtime threads; default all cores.
      precision: "fp32" or "int8".
      calibration: int8: sequence folders to calibrate on; None for the
        bundled demo clip.
      gray: int8: calibrate on grayscale frames (a CFNet gray twin).
    """
    int8.check_precision(precision)
    self.spec, self.variables, self.params = spec, variables, params
    self.num_threads = num_threads
    self.precision, self.gray = precision, gray
    self.calibration = list(calibration) if calibration else None
    self.calibration_info = None
    if precision == "int8":  # bad folders fail here, not at the first init
      self.calibration_info = int8.describe(
          int8.calibration_sequences(self.calibration))
    self._steps: runner.ExportedSteps | None = None
    self._target_steps: dict[int, targets.TargetSteps] = {}

  @property
  def steps(self) -> runner.ExportedSteps:
    """The exported steps (exported and opened at the first call)."""
    if self._steps is None and self.precision == "int8":
      sidecar, blobs = int8.int8_steps(
          self.spec, self.variables, self.params, self.calibration,
          gray=self.gray, num_threads=self.num_threads)
      self._steps = runner.ExportedSteps(sidecar, blobs,
                                         "onnxruntime backend (int8)",
                                         num_threads=self.num_threads)
    elif self._steps is None:
      sidecar, blobs = steps_lib.export_steps(self.spec, self.variables,
                                              self.params, "onnx")
      self._steps = runner.ExportedSteps(sidecar, blobs, "onnxruntime backend",
                                         num_threads=self.num_threads)
    return self._steps

  def init(self, frame: np.ndarray, box: np.ndarray) -> dict[str, np.ndarray]:
    """Exemplar step on an [H, W, 3] uint8 frame and a [4] float32 box."""
    return self.steps.init(frame, box)

  def step(self, state: dict[str, np.ndarray], frame: np.ndarray
           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Frame step: (new state, [4] box [x, y, w, h])."""
    state, box, _ = self.steps.step(state, frame)
    return state, box

  def target_steps(self, num_targets: int) -> targets.TargetSteps:
    """The K-target steps, exported at the first use of each K and kept.

    One export per K: the cross-correlation is a convolution with one group
    per target, and an ONNX Conv's group count cannot be symbolic.
    """
    if self.precision != "fp32":
      raise ValueError(f"the {num_targets}-target export is fp32 only; "
                       f"{self.precision} steps targets one by one "
                       "(step_targets)")
    if num_targets not in self._target_steps:
      blobs = targets.export_target_steps(self.spec, self.variables,
                                          self.params, num_targets)
      self._target_steps[num_targets] = targets.TargetSteps(
          self.spec, self.params, blobs, num_targets, self.num_threads)
    return self._target_steps[num_targets]

  def init_targets(self, frame: np.ndarray, box: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Exemplar step of K targets: [H, W, 3] uint8 frame, [K, 4] float32
    boxes; one call in fp32, target by target in int8 (below)."""
    if self.precision != "fp32":
      return ports.stack([self.steps.init(frame, b) for b in box])
    return self.target_steps(len(box)).init(frame, box)

  def step_targets(self, state: dict[str, np.ndarray], frame: np.ndarray
                   ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Frame step of K targets: (new state, [K, 4] boxes).

    fp32: one call of the K-target export. int8: the quantized one-target
    step, target by target on the same frame (the K-target export is not
    quantized; on a CPU one call of K targets was no faster than K calls,
    `benchmarks.multi_target`), so each target's boxes are those of its
    one-target int8 run.
    """
    num_targets = len(state["centre"])
    if self.precision != "fp32":
      out = [self.steps.step({k: np.asarray(v[i]) for k, v in state.items()},
                             frame)
             for i in range(num_targets)]
      return (ports.stack([s for s, _, _ in out]),
              np.stack([b for _, b, _ in out]))
    state, box, _ = self.target_steps(num_targets).step(state, frame)
    return state, box


def make(name: str | None, spec: embedding.ModelSpec,
         variables: model.Variables, params: tracking.TrackParams,
         precision: str = "fp32",
         calibration: Sequence[str | os.PathLike] | None = None,
         gray: bool = False) -> JaxBackend | OnnxRuntimeBackend:
  """The backend `name` ("jax", "onnxruntime", "auto" or None = auto).

  Args:
    name: the backend.
    spec, variables, params: the network and hyper-parameters.
    precision: "fp32", or "int8" (onnxruntime only).
    calibration, gray: int8 calibration (`OnnxRuntimeBackend`).

  Raises:
    ValueError: an unknown backend or precision, or "int8" on JAX.
  """
  int8.check_precision(precision)
  resolved = resolve(name)
  if resolved == "jax":
    if precision != "fp32":
      raise ValueError(f"precision {precision!r} needs the onnxruntime "
                       f"backend; the backend is 'jax' (asked for "
                       f"{name or 'auto'!r})")
    return JaxBackend(spec, variables, params)
  return OnnxRuntimeBackend(spec, variables, params, precision=precision,
                            calibration=calibration, gray=gray)
