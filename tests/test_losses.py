"""Tests of the losses: balanced logistic (Eq. 3-5), Dong & Shen triplet."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from siamfc_jax import labels
from siamfc_jax import losses
from tests import references


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
  # float32 sums of 289 cells in different orders: rounding only.
  np.testing.assert_allclose(pos, neg, rtol=1e-5)
  np.testing.assert_allclose(pos + neg, np.log(2), rtol=1e-5)


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


def _random_maps(seed, shape=(3, 5, 5), scale=2.0):
  return np.random.default_rng(seed).normal(0, scale, shape).astype(np.float64)


def test_triplet_loss_matches_explicit_loops_over_pairs():
  y, _ = labels.make_labels(5, radius=8, stride=8)  # 5 positives, 20 neg.
  score = _random_maps(0)
  pos, neg = losses.split_instances(jnp.asarray(score, jnp.float32), y)
  assert pos.shape == (3, 5) and neg.shape == (3, 20)
  np.testing.assert_allclose(losses.triplet_loss(pos, neg),
                             references.triplet_loss_loops(score, y),
                             rtol=1e-5)


def test_triplet_loss_with_extra_and_mined_negatives_matches_loops():
  y, _ = labels.make_labels(5, radius=8, stride=8)
  score, extra = _random_maps(1), _random_maps(2, (3, 2, 5, 5))
  pos, neg = losses.split_instances(jnp.asarray(score, jnp.float32), y)
  neg = jnp.concatenate([neg, jnp.asarray(extra.reshape(3, -1),
                                          jnp.float32)], axis=1)
  for k in (0, 1, 7):
    mined = losses.hardest(neg, k) if k else neg
    np.testing.assert_allclose(
        losses.triplet_loss(pos, mined),
        references.triplet_loss_loops(score, y, extra, topk=k), rtol=1e-5)


def test_triplet_loss_gradient_matches_finite_differences():
  # JAX's float32 gradient against central differences of the float64
  # NumPy reference, with top-6 mining (the choice is stable under eps).
  y, _ = labels.make_labels(5, radius=8, stride=8)
  score = _random_maps(3, (2, 5, 5), scale=1.0)

  def loss(s):
    pos, neg = losses.split_instances(s, y)
    return losses.triplet_loss(pos, losses.hardest(neg, 6))

  grad = np.asarray(jax.grad(loss)(jnp.asarray(score, jnp.float32)))
  eps = 1e-5
  numeric = np.zeros_like(score)
  for idx in np.ndindex(*score.shape):
    d = np.zeros_like(score)
    d[idx] = eps
    numeric[idx] = (references.triplet_loss_loops(score + d, y, topk=6)
                    - references.triplet_loss_loops(score - d, y, topk=6)
                    ) / (2 * eps)
  np.testing.assert_allclose(grad, numeric, atol=1e-6)
  assert np.count_nonzero(grad) < grad.size  # unmined negatives get none


def test_instance_logistic_loss_equals_the_balanced_map_loss():
  y, w = labels.make_labels(7, radius=16, stride=8)
  score = jnp.asarray(_random_maps(4, (4, 7, 7)), jnp.float32)
  pos, neg = losses.split_instances(score, y)
  np.testing.assert_allclose(losses.logistic_loss(pos, neg),
                             losses.balanced_logistic_loss(score, y, w),
                             rtol=1e-6)


def test_hard_mining_keeps_the_highest_negatives():
  neg = jnp.array([[0.5, 3.0, -1.0, 2.0]])
  np.testing.assert_array_equal(losses.hardest(neg, 2), [[3.0, 2.0]])
  np.testing.assert_array_equal(losses.hardest(neg, 9), neg)


def test_labels_without_positives_are_refused():
  with pytest.raises(ValueError, match="0 positive"):
    losses.split_instances(jnp.zeros((1, 3, 3)), -np.ones((3, 3)))
