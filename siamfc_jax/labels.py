"""Score-map labels and class-balancing weights (paper Eq. 6, Sec. 2.2)."""

import numpy as np

# `rPos = 16` pixels in the original training code (2 cells at stride 8).
RADIUS_ORIGINAL = 16.0


def make_labels(size: int, radius: float = RADIUS_ORIGINAL,
                stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
  """Labels y[u] = +1 where stride * ||u - c|| <= radius, else -1 (Eq. 6).

  The centre c is the middle cell (size - 1) / 2 (0-based), which for the odd
  sizes used (15, 17) is the original's `ceil(size / 2)` (1-based). Distances
  are Euclidean as in `create_logisticloss_label.m` (the L1 distance of the
  PyTorch/TF ports gives the same 13 cells for radius 2 cells).

  Positives and negatives are weighted 0.5 / #pos and 0.5 / #neg so both
  classes contribute equally and the weights sum to 1.

  Args:
    size: side of the score map in cells.
    radius: R in input pixels.
    stride: total stride k of the network.

  Returns:
    [size, size] float32 labels in {-1, +1} and [size, size] float32 weights.
  """
  u = np.arange(size, dtype=np.float64) - (size - 1) / 2
  dist = np.hypot(u[:, None], u[None, :]) * stride
  positive = dist <= radius
  labels = np.where(positive, 1.0, -1.0).astype(np.float32)
  n_pos, n_neg = positive.sum(), (~positive).sum()
  weights = np.where(positive, 0.5 / max(n_pos, 1), 0.5 / max(n_neg, 1))
  return labels, weights.astype(np.float32)
