"""The logistic loss of SiamFC, balanced between classes (Eq. 3-5)."""

import jax
import jax.numpy as jnp


def balanced_logistic_loss(score: jax.Array, labels: jax.Array,
                           weights: jax.Array) -> jax.Array:
  """Mean over pairs of the weighted logistic loss of each score map.

  l(y, v) = log(1 + exp(-y v)) (Eq. 3), summed over the map with the class
  weights of `labels.make_labels` (Eq. 4 with the imbalance removed), then
  averaged over the batch (Eq. 5), as MatConvNet's `cnn_train_dag` divides
  the summed loss by the batch size.

  Args:
    score: [B, H, W] float32 raw scores v.
    labels: [H, W] or [B, H, W] float32 labels y in {-1, +1}.
    weights: [H, W] or [B, H, W] float32 weights, each map summing to 1.

  Returns:
    [] float32 loss.
  """
  per_cell = jax.nn.softplus(-labels * score)  # log(1 + exp(-y v)), stable
  return jnp.mean(jnp.sum(weights * per_cell, axis=(-2, -1)))
