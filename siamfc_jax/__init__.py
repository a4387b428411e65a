"""siamfc_jax: SiamFC and CFNet object tracking in JAX/Flax.

    import siamfc_jax
    tracker = siamfc_jax.Tracker.pretrained()      # the original SiamFC-3s
    seq = siamfc_jax.demo_sequence()
    boxes, times = tracker.track(seq.frames, seq.boxes[0])
"""

__version__ = "0.1.0"

from siamfc_jax.pretrained import demo_sequence  # noqa: E402
from siamfc_jax.tracker import Tracker  # noqa: E402
from siamfc_jax.tracker import track_many  # noqa: E402

__all__ = ["Tracker", "demo_sequence", "track_many"]
