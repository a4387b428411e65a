"""SiamFC = embedding phi + cross-correlation + the "adjust" layer (Eq. 2).

    f(z, x) = adjust_scale * (phi(z) * phi(x)) + adjust_bias

The original code (`add_adjust_layer`) scales the correlation by a fixed
1e-3 (learning rate 0) and learns the bias (init 0); the trained original
network has bias -2.148. CFNet learns both. They are ordinary parameters
here; training decides which are frozen.

Variables are a plain dict `{'params': ..., 'batch_stats': ...}` with the
embedding under `params['embedding']` (see `embedding.py` for its tree) and
scalars `params['adjust_scale']`, `params['adjust_bias']`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from siamfc_jax import embedding as embedding_lib
from siamfc_jax import xcorr as xcorr_lib

Variables = dict[str, Any]

# `add_adjust_layer(..., 1e-3, 0, ...)` in the original training code.
ADJUST_SCALE_ORIGINAL = 1e-3


class SiamFC(nn.Module):
  """The Siamese network; `embed` and `score` are the two halves."""

  spec: embedding_lib.ModelSpec
  adjust_scale_init: float = ADJUST_SCALE_ORIGINAL
  adjust_bias_init: float = 0.0
  split_groups: bool = True  # see `embedding.Conv`; same results either way

  def setup(self):
    self.embedding = embedding_lib.Embedding(self.spec, self.split_groups)
    self.adjust_scale = self.param(
        "adjust_scale", nn.initializers.constant(self.adjust_scale_init), ())
    self.adjust_bias = self.param(
        "adjust_bias", nn.initializers.constant(self.adjust_bias_init), ())

  def embed(self, images: jax.Array, train: bool = False) -> jax.Array:
    """[B, H, W, 3] float32 in [0, 255] -> [B, H', W', C] float32."""
    return self.embedding(images, train)

  def score(self, z_feat: jax.Array, x_feat: jax.Array) -> jax.Array:
    """[B, Hz, Wz, C], [B * S, Hx, Wx, C] -> [B * S, Ho, Wo] float32 scores."""
    corr = xcorr_lib.xcorr(z_feat, x_feat)
    return self.adjust_scale * corr + self.adjust_bias

  def __call__(self, z_img: jax.Array, x_img: jax.Array,
               train: bool = False) -> jax.Array:
    """[B, 127, 127, 3], [B * S, 255, 255, 3] -> [B * S, 17, 17] scores."""
    return self.score(self.embed(z_img, train), self.embed(x_img, train))


def init(spec: embedding_lib.ModelSpec, key: jax.Array,
         adjust_bias: float = 0.0) -> Variables:
  """Fresh variables (He fan-out init, BN gain 1 / bias 0, moments 0 / 1).

  Args:
    spec: the network.
    key: PRNG key.
    adjust_bias: initial output bias.

  Returns:
    `{'params': ..., 'batch_stats': ...}` (no `batch_stats` without BN).
  """
  size = receptive_field(spec)
  img = jnp.zeros((1, size, size, 3), jnp.float32)
  model = SiamFC(spec, adjust_bias_init=adjust_bias)
  # Initialising through `embed` only needs the smallest valid image.
  return jax.jit(lambda k: model.init(k, img, method=SiamFC.embed))(key)


def receptive_field(spec: embedding_lib.ModelSpec) -> int:
  """Smallest square input side that gives a 1x1 embedding."""
  size = 1
  for layer in reversed(spec.layers):
    if layer.pool_stride:
      size = (size - 1) * layer.pool_stride + 3
    size = (size - 1) * layer.stride + layer.kernel
  return size


def embed(spec: embedding_lib.ModelSpec, variables: Variables,
          images: jax.Array, split_groups: bool = True) -> jax.Array:
  """phi in inference mode: [B, H, W, 3] float32 -> [B, H', W', C] float32.

  `split_groups=False` runs each grouped layer as one grouped convolution
  (what ONNX Runtime runs fastest; see `embedding.Conv`), same results.
  """
  return SiamFC(spec, split_groups=split_groups).apply(
      variables, images, method=SiamFC.embed)


def score(spec: embedding_lib.ModelSpec, variables: Variables,
          z_feat: jax.Array, x_feat: jax.Array) -> jax.Array:
  """f(z, x): [B, Hz, Wz, C], [B * S, Hx, Wx, C] -> [B * S, Ho, Wo] float32."""
  return SiamFC(spec).apply(variables, z_feat, x_feat, method=SiamFC.score)
