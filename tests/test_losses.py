"""Tests of the balanced logistic loss (Eq. 3-5)."""

import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import labels
from siamfc_jax import losses


def test_loss_matches_hand_computed_value_on_a_3x3_map():
  y, w = labels.make_labels(3, radius=0, stride=8)  # only the centre is +1
  v = np.array([[0., 1., 2.], [-1., 3., 0.], [0., 0., -2.]], np.float32)
  # Positive: 0.5 * log(1 + e^-3). Negatives: 0.5/8 * sum log(1 + e^v).
  neg = [0., 1., 2., -1., 0., 0., 0., -2.]
  expected = 0.5 * np.log1p(np.exp(-3.0)) + 0.5 / 8 * sum(
      np.log1p(np.exp(n)) for n in neg)
  got = losses.balanced_logistic_loss(v[None], y, w)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_positive_and_negative_classes_contribute_equally():
  y, w = labels.make_labels(17)
  score = jnp.zeros((4, 17, 17))
  pos = losses.balanced_logistic_loss(score, y, w * (y > 0))
  neg = losses.balanced_logistic_loss(score, y, w * (y < 0))
  np.testing.assert_allclose(pos, neg, rtol=1e-6)
  np.testing.assert_allclose(pos + neg, np.log(2), rtol=1e-6)


def test_loss_is_the_batch_mean_of_per_map_losses():
  y, w = labels.make_labels(5, radius=8, stride=8)
  score = jax.random.normal(jax.random.key(0), (3, 5, 5))
  each = [losses.balanced_logistic_loss(score[i:i + 1], y, w) for i in range(3)]
  np.testing.assert_allclose(losses.balanced_logistic_loss(score, y, w),
                             np.mean(each), rtol=1e-6)


def test_gradients_are_finite_for_extreme_scores():
  y, w = labels.make_labels(5, radius=8, stride=8)
  score = jnp.full((2, 5, 5), 1e4).at[0].set(-1e4)
  loss, grad = jax.value_and_grad(losses.balanced_logistic_loss)(score, y, w)
  assert np.isfinite(loss) and np.all(np.isfinite(grad))
