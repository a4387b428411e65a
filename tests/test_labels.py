"""Tests of the score-map labels (Eq. 6)."""

import numpy as np

from siamfc_jax import labels


def test_original_labels_have_13_positives_around_the_centre():
  y, w = labels.make_labels(17, radius=16, stride=8)
  assert (y == 1).sum() == 13
  assert y[8, 8] == 1 and y[8, 10] == 1 and y[9, 9] == 1 and y[8, 11] == -1
  assert y[7, 10] == -1  # sqrt(5) * 8 > 16: Euclidean, not a square.


def test_weights_balance_the_two_classes():
  y, w = labels.make_labels(15, radius=16, stride=8)
  np.testing.assert_allclose(w[y == 1].sum(), 0.5, rtol=1e-6)
  np.testing.assert_allclose(w[y == -1].sum(), 0.5, rtol=1e-6)
  assert w.dtype == np.float32 and y.dtype == np.float32
