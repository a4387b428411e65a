"""Synthetic clips for tracker tests: a tiny network and a moving square."""

import jax
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking

SPEC = embedding.alexnet_spec(width=0.125)
# 103 -> 3x3 exemplar features, 167 -> 11x11 search features, 9x9 scores.
PARAMS = tracking.TrackParams(exemplar_size=103, instance_size=167)


def tiny_tracker() -> tracker_lib.Tracker:
  """A Tracker of a random 1/8-width AlexNet (seed 0) with small crops."""
  return tracker_lib.Tracker(SPEC, model.init(SPEC, jax.random.key(0)), PARAMS)


def moving_square(n: int, height: int, width: int, seed: int
                  ) -> tuple[list[np.ndarray], np.ndarray]:
  """n frames of noise with a bright 12 px square moving 2 px right a frame.

  Returns:
    ([H, W, 3] uint8 frames, [n, 4] float64 boxes of the square).
  """
  rng = np.random.default_rng(seed)
  frames, boxes = [], []
  for t in range(n):
    f = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    x, y = 10 + 2 * t, height // 3
    f[y:y + 12, x:x + 12] = (250, 200, 30)
    frames.append(f)
    boxes.append([x, y, 12, 12])
  return frames, np.array(boxes, np.float64)
