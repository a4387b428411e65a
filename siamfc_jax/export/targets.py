"""K targets in one video, exported: a target axis K on the state, one frame.

The ONNX steps of `tracking.init_targets` / `track_step_targets` (the ports
of `ports.signatures` with a leading K on the box, the per-target state
and the outputs; the frame and `fill` shared), and `TargetSteps`, which runs
them in ONNX Runtime for the onnxruntime backend. One export per K: the
steps crop and locate target by target (a loop over K,
`tracking.track_step_targets`), and CFNet's cross-correlation is a
convolution with one group per target, whose count an ONNX Conv cannot
take symbolically.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import ports
from siamfc_jax.export import runner
from siamfc_jax.export import steps as steps_lib

# Ports of the video, shared by its targets; every other one gets axis K.
SHARED = ("frame", "fill")


def target_signatures(spec: embedding.ModelSpec, params: tracking.TrackParams,
                      num_targets: int | str = "K"
                      ) -> dict[str, tuple[list[ports.Port],
                                           list[ports.Port]]]:
  """The ports of the K-target steps (`tracking.init_targets`,
  `track_step_targets`): those of `ports.signatures` with a leading axis K on
  the box, the per-target state and the outputs; the frame and `fill`
  (`SHARED`) are shared.

  Args:
    spec: the network.
    params: tracking hyper-parameters.
    num_targets: K, or "K" for a symbolic number of targets.

  Returns:
    {"exemplar": (inputs, outputs), "frame": (inputs, outputs)}.
  """
  def per_target(port):
    if port.name in SHARED:
      return port
    return dataclasses.replace(port, shape=(num_targets,) + port.shape,
                               doc=f"[K, ...] one per target: {port.doc}")

  return {step: ([per_target(p) for p in inputs],
                 [per_target(p) for p in outputs])
          for step, (inputs, outputs)
          in ports.signatures(spec, params).items()}


def target_step_functions(spec: embedding.ModelSpec,
                          variables: model.Variables,
                          params: tracking.TrackParams
                          ) -> dict[str, Callable[..., tuple[jax.Array, ...]]]:
  """The K-target steps as functions of the ports of `target_signatures`
  (variables closed over; grouped layers as one grouped convolution)."""

  def exemplar(frame, box):
    state = tracking.init_targets(variables, frame, box, spec, params,
                                  split_groups=False)
    return tuple(getattr(state, name) for name in ports.STATE)

  def frame_step(frame, *arrays):
    frame_size = jnp.array([frame.shape[1], frame.shape[0]], jnp.int32)
    state = tracking.TrackerState(**dict(zip(ports.STATE, arrays)),
                                  frame_size=frame_size)
    new, box, scores = tracking.track_step_targets(
        variables, state, frame, spec, params, split_groups=False)
    z = (new.z_feat,) if params.z_lr else ()
    return (*z, new.centre, new.size, new.x_side, box, scores)

  return {"exemplar": exemplar, "frame": frame_step}


def export_target_steps(spec: embedding.ModelSpec,
                        variables: model.Variables,
                        params: tracking.TrackParams,
                        num_targets: int) -> dict[str, bytes]:
  """Exports the K-target steps to ONNX, in memory (frame size symbolic).

  Args:
    spec: the network.
    variables: its variables (constants in the files).
    params: tracking hyper-parameters (baked in).
    num_targets: K, fixed (a symbolic K does not export: module docstring).

  Returns:
    {"exemplar": bytes, "frame": bytes}, ONNX ModelProtos with the ports
    of `target_signatures`.

  Raises:
    ValueError: K < 1, an unsupported configuration
      (`ports.check_config`), or an op that the exporter cannot convert
      (naming the step).
  """
  ports.check_config(spec, params, "onnx")
  if not isinstance(num_targets, (int, np.integer)) or num_targets < 1:
    raise ValueError(f"num_targets must be a positive integer; got "
                     f"{num_targets!r}")
  variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), variables)
  sigs = target_signatures(spec, params, num_targets)
  fns = target_step_functions(spec, variables, params)
  return {name: steps_lib.to_onnx(fns[name], *sigs[name], f"{name}_targets")
          for name in ports.STEPS}


class TargetSteps:
  """Runs the K-target ONNX steps (`export_target_steps`) in ONNX Runtime;
  the state is a dict of NumPy arrays (per-target ones with a leading K).

  Attributes:
    num_targets: K.
  """

  def __init__(self, spec: embedding.ModelSpec, params: tracking.TrackParams,
               blobs: dict[str, bytes], num_targets: int,
               num_threads: int | None = None):
    """Opens the steps of `export_target_steps(..., num_targets)`."""
    self.num_targets = num_targets
    self._sigs = target_signatures(spec, params, num_targets)
    self._runner = runner.OnnxRunner(blobs, num_threads)
    for name in ports.STEPS:
      inputs, outputs = self._sigs[name]
      ports.check_signature("K-target export", name, self._runner,
                            {"inputs": [p.to_dict() for p in inputs],
                             "outputs": [p.to_dict() for p in outputs]})

  def init(self, frame: np.ndarray, box: np.ndarray
           ) -> dict[str, np.ndarray]:
    """The exemplar step on an [H, W, 3] uint8 frame and [K, 4] boxes."""
    box = np.asarray(box, np.float32).reshape(self.num_targets, 4)
    out = self._runner("exemplar", ["frame", "box"], [frame, box])
    return dict(zip(ports.STATE, out))

  def step(self, state: dict[str, np.ndarray], frame: np.ndarray
           ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The frame step: (new state, [K, 4] float32 boxes, [K, S, n, n]
    float32 scores)."""
    out = self._runner("frame", ["frame", *ports.STATE],
                       [frame] + [state[n] for n in ports.STATE])
    out = dict(zip([p.name for p in self._sigs["frame"][1]], out))
    new = {name: out.get(f"new_{name}", state[name])
           for name in ports.STATE}
    return new, out["box"], out["scores"]
