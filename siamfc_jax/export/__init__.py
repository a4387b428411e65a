"""The tracker's two steps as files (ONNX or StableHLO), and runners for them.

Tracking is two pure functions (`tracking.py`) over a small set of arrays,
the state, that the caller passes from one call to the next:

  exemplar step  (frame, box)           -> state        crop + embed z
  frame step     (frame, *state)        -> (centre, size, x_side, box, scores)

The frame step is `tracking.track_step`: S scaled crops, embedding, xcorr,
upsampling, scale penalty, cosine window, arg-max and the box update (and
CFNet's template update); its new `centre`, `size` and `x_side` (and
`z_feat` when the template is updated) replace those of the state, the rest
never changes. Frames are [H, W, 3] uint8 RGB; H and W are symbolic (any
frame size) unless a `frame_size` is fixed at export. The network's
variables are constants inside the files, or extra inputs after the others
(`params_as_inputs`), named by their path in the variable tree
(`params/embedding/conv1/kernel`).

    from siamfc_jax import export
    export.export("out/", spec, variables, params, fmt="onnx")
    steps = export.load("out/")
    state = steps.init(frame0, box0)
    state, box, scores = steps.step(state, frame1)

With `num_sequences=N` the frame step advances N sequences at once (one
network call on their N * S crops, what batching buys on a CPU): every
frame-step input and output gets a leading axis N, frames are [N, H, W, 3]
of one size, and the N states of the exemplar step are `stack`ed.

Both exporters trace the same model code as the JAX tracker; where an op
would not export faithfully the model code itself uses an equivalent
formulation (`crop.py`: plain row gathers; `tracking.locate`: the bicubic
upsampling as matrix products, since ONNX's cubic `Resize` treats borders
differently; flax's `max_pool`). The ONNX steps run each grouped layer as
one grouped convolution (`embedding.Conv`, what ONNX Runtime runs fastest),
the StableHLO ones as XLA:CPU prefers; the results are equal.

The package, its imports running one way (top to bottom):

  files.py    export to / load from a directory with its sidecar
  parity.py   exported steps against the JAX step
  int8.py     int8: wraps the fp32 export, calibrates, quantizes (ONNX)
  targets.py  K targets in one video (ONNX, in memory; the onnxruntime
              backend keeps one per K: a symbolic K does not export, since
              CFNet's cross-correlation is a convolution with one group per
              target and an ONNX Conv's group count is an attribute)
  runner.py   `ExportedSteps`: runs the steps (ONNX Runtime, `jax.export`)
  steps.py    the fp32 exporter, in memory; knows nothing of int8
  ports.py    the contract: STEPS, STATE, `signatures`, the sidecar format

This module gathers the names a user needs; the others are in their
modules.
"""

from siamfc_jax.export.files import export
from siamfc_jax.export.files import load
from siamfc_jax.export.files import SIDECAR
from siamfc_jax.export.parity import parity
from siamfc_jax.export.ports import check_config
from siamfc_jax.export.ports import FORMATS
from siamfc_jax.export.ports import Port
from siamfc_jax.export.ports import PRECISION_KEY
from siamfc_jax.export.ports import PRECISIONS
from siamfc_jax.export.ports import signatures
from siamfc_jax.export.ports import stack
from siamfc_jax.export.ports import STATE
from siamfc_jax.export.ports import STEPS
from siamfc_jax.export.ports import weights_sha256
from siamfc_jax.export.runner import ExportedSteps
from siamfc_jax.export.steps import export_steps

__all__ = ["export", "load", "SIDECAR", "parity", "check_config", "FORMATS",
           "Port", "PRECISION_KEY", "PRECISIONS", "signatures", "stack",
           "STATE", "STEPS", "weights_sha256", "ExportedSteps",
           "export_steps"]
