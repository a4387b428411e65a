"""How far exported steps are from the JAX step, frame by frame."""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import numpy as np

from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import ports
from siamfc_jax.export import runner


@functools.partial(jax.jit, static_argnames=("spec", "params"))
def _jax_step(variables, state, frame, spec, params):
  return tracking.track_step(variables, state, frame, spec, params)


def parity(steps: runner.ExportedSteps, variables: model.Variables,
           frames: Sequence[np.ndarray], box) -> dict[str, Any]:
  """Compares the exported steps with the JAX ones, frame by frame.

  Every frame step starts from the JAX state, so each frame measures one
  step. The score difference is relative to the map's scale:
  `max |exported - jax| / max |jax|` over each frame's S maps.

  Args:
    steps: the exported steps (of one sequence).
    variables: the network variables of the export.
    frames: [H, W, 3] uint8 frames; frames[0] holds `box`.
    box: [4] target [x, y, w, h] in frames[0].

  Returns:
    {"frames": steps compared, "max_rel_score_diff": float,
     "max_box_diff_px": float (largest box coordinate difference),
     "max_state_diff": float (exemplar step: largest absolute difference),
     "max_rel_template_diff": float (the template after each frame step,
     relative as the scores; 0 without template updates)}.
  """
  if steps.num_sequences:
    raise ValueError("parity compares one-sequence exports; this one steps "
                     f"{steps.num_sequences} sequences at once")
  spec, params = steps.spec, steps.params
  state = tracking.init_state_jit(variables, frames[0],
                                  np.asarray(box, np.float32), spec, params)
  ours = steps.init(frames[0], box)
  state_diff = max(
      float(np.max(np.abs(ours[n] - np.asarray(getattr(state, n)))))
      for n in ports.STATE)
  def rel_diff(ours, want):
    want = np.asarray(want)
    return float(np.max(np.abs(ours - want))
                 / max(float(np.max(np.abs(want))), 1e-12))

  rel, box_diff, template_diff = 0.0, 0.0, 0.0
  for frame in frames[1:]:
    arrays = {n: np.asarray(getattr(state, n)) for n in ports.STATE}
    ours_state, ours_box, ours_scores = steps.step(arrays, frame)
    state, want_box, want_scores = _jax_step(variables, state, frame, spec,
                                             params)
    rel = max(rel, rel_diff(ours_scores, want_scores))
    template_diff = max(template_diff,
                        rel_diff(ours_state["z_feat"], state.z_feat))
    box_diff = max(box_diff, float(np.max(np.abs(ours_box
                                                 - np.asarray(want_box)))))
  return {"frames": len(frames) - 1, "max_rel_score_diff": rel,
          "max_box_diff_px": box_diff, "max_state_diff": state_diff,
          "max_rel_template_diff": template_diff}
