"""Training losses on SiamFC's score maps.

`balanced_logistic_loss` is the paper's (Eq. 3-5). The rest work on the
*instances* of a map, its cells: `split_instances` gathers the scores of
the positive and the negative cells, `triplet_loss` and `logistic_loss` score
them, `hardest` keeps the top-k scoring negatives (online hard-negative
mining), and extra negatives (other pairs' search maps, `training.py`) are
appended to the negatives before either loss.

The triplet loss is that of Dong & Shen, "Triplet Loss in Siamese Network for
Object Tracking" (ECCV 2018, Eq. 7-8): every positive instance p of a map
with every negative n forms a triplet with the exemplar, and

    L_t = -1 / (M N) sum_p sum_n log( e^{v_p} / (e^{v_p} + e^{v_n}) )
        =  1 / (M N) sum_p sum_n softplus(v_n - v_p),

M positives, N negatives. Their code (github.com/shenjianbing/
TripletTracking) does exactly this: `util_triplet/select_pairs.m`
(`forward`, lines 31-87) stacks every (v_p, v_n) of each map as a 2-class
score and `training/experiment_triplet.m` (`setup_loss`, lines 183-278)
feeds it to MatConvNet's `softmaxlog` loss with label "positive" and
instance weights 1 / (M N); `cnn_train_dag` then divides by the batch size,
so the loss is the batch mean of the per-map L_t, as here. Scores are the
adjusted ones (after the 1e-3 gain and the bias), as theirs. Their training
(`run_experiment_tri.m`) fine-tunes the released SiamFC network for 10
epochs at rates logspace(-4, -5) with the triplet loss alone (the logistic
term is commented out); `experiments/configs/finetune.py` starts from the
bundled network in the same way. Deliberate differences: none in the loss;
"logistic+triplet" (`training.py`) is our addition (their code keeps a
commented-out weighted sum of both).

Hard negatives. Dong et al.'s Quadruplet network (arXiv 1705.07222, 2017)
feeds its triplet loss, from each multi-tuple, the instances its similarity
metric selects ("the most similar and the most dissimilar instances as the
positive and negative inputs", abstract). We follow the hard-negative
reading inside the score map: `hardest(neg, k)` keeps only the k negatives
the current network scores highest (k = 1: the single hardest), chosen anew
every step. Deliberate difference: positives are not mined (SiamFC's
positives are the few central cells, all of them used).
"""

import jax
import jax.numpy as jnp
import numpy as np


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


def split_instances(score: jax.Array, labels: np.ndarray
                    ) -> tuple[jax.Array, jax.Array]:
  """Scores of the positive and the negative cells of each map.

  Args:
    score: [B, H, W] float scores.
    labels: [H, W] labels (NumPy, static): > 0 positive, < 0 negative,
      0 ignored.

  Returns:
    ([B, M] positives, [B, N] negatives), in row-major cell order.

  Raises:
    ValueError: the labels have no positive or no negative cell, or do not
      match the maps' shape.
  """
  labels = np.asarray(labels)
  if labels.shape != score.shape[-2:]:
    raise ValueError(f"labels {labels.shape} do not match score maps "
                     f"{score.shape[-2:]}")
  pos, neg = np.flatnonzero(labels > 0), np.flatnonzero(labels < 0)
  if not len(pos) or not len(neg):
    raise ValueError(f"labels need positive and negative cells: "
                     f"{len(pos)} positive, {len(neg)} negative")
  flat = score.reshape(score.shape[0], -1)
  return flat[:, pos], flat[:, neg]


def triplet_loss(pos: jax.Array, neg: jax.Array) -> jax.Array:
  """Dong & Shen's triplet loss (Eq. 7-8, see the module docstring).

  Args:
    pos: [B, M] float scores of the positive instances of each exemplar.
    neg: [B, N] float scores of its negative instances.

  Returns:
    [] float32: the batch mean of 1/(MN) sum_{p,n} -log softmax(v_p; v_n).
  """
  diff = neg[:, None, :] - pos[:, :, None]  # [B, M, N]: v_n - v_p
  return jnp.mean(jax.nn.softplus(diff.astype(jnp.float32)))


def logistic_loss(pos: jax.Array, neg: jax.Array) -> jax.Array:
  """The balanced logistic loss on instances: half the weight on each class.

  Equals `balanced_logistic_loss` with `labels.make_labels` weights when
  `pos` and `neg` are a map's positive and negative cells; with extra or
  mined negatives, the negative half is spread over those instead.

  Args:
    pos: [B, M] float scores of positive instances.
    neg: [B, N] float scores of negative instances.

  Returns:
    [] float32 loss, the batch mean.
  """
  pos, neg = pos.astype(jnp.float32), neg.astype(jnp.float32)
  per_map = (0.5 * jnp.mean(jax.nn.softplus(-pos), axis=-1)
             + 0.5 * jnp.mean(jax.nn.softplus(neg), axis=-1))
  return jnp.mean(per_map)


def hardest(neg: jax.Array, k: int) -> jax.Array:
  """The k highest-scoring negatives of each row (online hard mining).

  Gradients flow to the chosen scores only. Ties are broken by position
  (`lax.top_k`), so the choice is deterministic.

  Args:
    neg: [B, N] float negative scores.
    k: 1 <= k; k >= N keeps all.

  Returns:
    [B, min(k, N)] float scores, highest first.
  """
  if k < 1:
    raise ValueError(f"top-k needs k >= 1, got {k}")
  if k >= neg.shape[-1]:
    return neg
  return jax.lax.top_k(neg, k)[0]
