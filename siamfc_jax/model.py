"""SiamFC = embedding phi + cross-correlation + the "adjust" layer (Eq. 2).

    f(z, x) = adjust_scale * (template(z) * phi(x)) + adjust_bias

The template is phi(z) itself for SiamFC (`join="xcorr"`) and, for CFNet
(`join="cf"`), the correlation filter solved from phi(z)
(`correlation_filter.template`): the CF has no parameters of its own.

The original code (`add_adjust_layer`) scales the correlation by a fixed
1e-3 (learning rate 0) and learns the bias (init 0); the trained original
network has bias -2.148. CFNet learns both (`fin_adjust`, init 1 and -0.5).
They are ordinary parameters here; training decides which are frozen.

Variables are a plain dict `{'params': ..., 'batch_stats': ...}` with the
embedding under `params['embedding']` (see `embedding.py` for its tree) and
scalars `params['adjust_scale']`, `params['adjust_bias']`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from siamfc_jax import correlation_filter
from siamfc_jax import embedding as embedding_lib
from siamfc_jax import xcorr as xcorr_lib

Variables = dict[str, Any]

# `add_adjust_layer(..., 1e-3, 0, ...)` in the original training code.
ADJUST_SCALE_ORIGINAL = 1e-3
# Initial (adjust_scale, adjust_bias) per join: SiamFC's `add_adjust_layer`,
# CFNet's `fin_adjust` (`make_net.m`).
ADJUST_INIT = {"xcorr": (ADJUST_SCALE_ORIGINAL, 0.0), "cf": (1.0, -0.5)}


class SiamFC(nn.Module):
  """The Siamese network; `embed` and `score` are the two halves."""

  spec: embedding_lib.ModelSpec
  adjust_scale_init: float = ADJUST_SCALE_ORIGINAL
  adjust_bias_init: float = 0.0
  split_groups: bool = True  # see `embedding.Conv`; same results either way
  dtype: Any = jnp.float32  # the embedding's convolutions (mixed precision)

  def setup(self):
    self.embedding = embedding_lib.Embedding(self.spec, self.split_groups,
                                             self.dtype)
    self.adjust_scale = self.param(
        "adjust_scale", nn.initializers.constant(self.adjust_scale_init), ())
    self.adjust_bias = self.param(
        "adjust_bias", nn.initializers.constant(self.adjust_bias_init), ())

  def embed(self, images: jax.Array, train: bool = False) -> jax.Array:
    """[B, H, W, 3] float32 in [0, 255] -> [B, H', W', C] float32."""
    return self.embedding(images, train)

  def template(self, z_img: jax.Array, train: bool = False) -> jax.Array:
    """Exemplar images -> templates: [B, H, W, 3] -> [B, Ht, Wt, C] float32.

    phi(z) for SiamFC; for CFNet the correlation filter solved from it.
    """
    z_feat = self.embedding(z_img, train)
    if self.spec.join == "xcorr":
      return z_feat
    spec = self.spec
    return correlation_filter.template(z_feat, spec.cf_lambda,
                                       spec.cf_sigma / spec.total_stride,
                                       spec.cf_margin)

  def xcorr(self, z_tmpl: jax.Array, x_feat: jax.Array) -> jax.Array:
    """Raw correlation (CFNet's `join_out`), before the adjust layer.

    Small templates (SiamFC's 6x6) take the gather form of `xcorr` on every
    backend, the fastest on XLA and ONNX Runtime alike, so that SiamFC
    computes the same in both and the backends' boxes agree. Large ones
    (CFNet's, 17 to 30 cells) take the matrix-product form on XLA (7x
    faster than the convolution on XLA:CPU) and the convolution in graphs
    for ONNX Runtime (`split_groups` False), which runs it fastest.
    """
    if z_tmpl.shape[1] * z_tmpl.shape[2] < 16 * 16:
      return xcorr_lib.xcorr(z_tmpl, x_feat, "gather")
    return xcorr_lib.xcorr(z_tmpl, x_feat,
                           "matmul" if self.split_groups else "conv")

  def score(self, z_tmpl: jax.Array, x_feat: jax.Array) -> jax.Array:
    """[B, Ht, Wt, C], [B * S, Hx, Wx, C] -> [B * S, Ho, Wo] float32 scores."""
    return self.adjust_scale * self.xcorr(z_tmpl, x_feat) + self.adjust_bias

  def __call__(self, z_img: jax.Array, x_img: jax.Array,
               train: bool = False) -> jax.Array:
    """[B, 127, 127, 3], [B * S, 255, 255, 3] -> [B * S, 17, 17] scores."""
    return self.score(self.template(z_img, train), self.embed(x_img, train))


def init(spec: embedding_lib.ModelSpec, key: jax.Array,
         adjust_bias: float | None = None) -> Variables:
  """Fresh variables (He fan-out init, BN gain 1 / bias 0, moments 0 / 1).

  Args:
    spec: the network.
    key: PRNG key.
    adjust_bias: initial output bias; default `ADJUST_INIT[spec.join]`.

  Returns:
    `{'params': ..., 'batch_stats': ...}` (no `batch_stats` without BN).
  """
  size = receptive_field(spec)
  img = jnp.zeros((1, size, size, 3), jnp.float32)
  scale, bias = ADJUST_INIT[spec.join]
  model = SiamFC(spec, adjust_scale_init=scale,
                 adjust_bias_init=bias if adjust_bias is None else adjust_bias)
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


def template(spec: embedding_lib.ModelSpec, variables: Variables,
             images: jax.Array, split_groups: bool = True) -> jax.Array:
  """`SiamFC.template` in inference mode: [B, H, W, 3] -> [B, Ht, Wt, C]."""
  return SiamFC(spec, split_groups=split_groups).apply(
      variables, images, method=SiamFC.template)


def score(spec: embedding_lib.ModelSpec, variables: Variables,
          z_tmpl: jax.Array, x_feat: jax.Array, raw: bool = False,
          split_groups: bool = True) -> jax.Array:
  """f(z, x): [B, Ht, Wt, C], [B * S, Hx, Wx, C] -> [B * S, Ho, Wo] float32.

  `raw=True` leaves out the adjust layer (CFNet's `join_out`);
  `split_groups` as in `embed` (which form of `xcorr` runs).
  """
  return SiamFC(spec, split_groups=split_groups).apply(
      variables, z_tmpl, x_feat,
      method=SiamFC.xcorr if raw else SiamFC.score)
