"""siamfc_jax: SiamFC and CFNet object tracking in JAX/Flax.

    import siamfc_jax
    tracker = siamfc_jax.Tracker.pretrained()      # the original SiamFC-3s
    seq = siamfc_jax.demo_sequence()
    boxes, times = tracker.track(seq.frames, seq.boxes[0])
"""

import importlib

__version__ = "0.1.0"

# Loaded on first use, so `import siamfc_jax.data...` (e.g. in data-loading
# worker processes) does not pay for the tracker and JAX.
_LAZY = {"Tracker": "siamfc_jax.tracker", "track_many": "siamfc_jax.tracker",
         "demo_sequence": "siamfc_jax.pretrained"}
__all__ = sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module 'siamfc_jax' has no attribute {name!r}")
