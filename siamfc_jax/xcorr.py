"""Cross-correlation of exemplar and search embeddings (paper Eq. 2)."""

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np


METHODS = ("gather", "matmul", "conv")


def xcorr(z_feat: jax.Array, x_feat: jax.Array,
          method: str = "gather") -> jax.Array:
  """Scores every sub-window of each search map against its exemplar (Eq. 2).

  No kernel flip, as MatConvNet's `XCorr`. The same call covers training
  (B exemplars x B searches, S = 1) and tracking (1 exemplar x S scales).

  Three formulations, equal to float32 rounding:

  - "gather" (small templates, SiamFC's 6x6, on every backend): one matrix
    product of every search cell with every template cell, then each
    output sums its Hz * Wz products that line up, picked by one gather of
    constant indices. The fastest for small templates on XLA and ONNX
    Runtime alike (docs/int8.md, "What else was tried"); its gradient is a
    scatter-add, where the grouped convolution's is very slow on XLA:CPU.
  - "matmul" (large templates on XLA): one matrix product of row-patches of
    the search maps (every window of the template's width) with each
    template row, the rows then summed along the diagonal. XLA:CPU runs
    the convolution very slowly for CFNet's large templates (25x25, 3
    scales: 270 ms against 40 ms).
  - "conv" (large templates on ONNX Runtime): one grouped convolution, the
    batch folded into the channels and each exemplar the filter of its own
    group.

  Args:
    z_feat: [B, Hz, Wz, C] float32 exemplar embeddings (templates).
    x_feat: [B * S, Hx, Wx, C] float32 search embeddings, S per exemplar,
      ordered exemplar-major (searches of exemplar 0 first).
    method: one of `METHODS`.

  Returns:
    [B * S, Hx - Hz + 1, Wx - Wz + 1] float32 raw correlation maps
    (17x17 for 6x6 exemplars and 22x22 searches).
  """
  b, hz, wz, c = z_feat.shape
  bs, hx, wx, cx = x_feat.shape
  if c != cx or bs % b or hz > hx or wz > wx:
    raise ValueError(
        f"xcorr: exemplars {z_feat.shape} and searches {x_feat.shape} need "
        "equal channels, a search batch that is a multiple of B and "
        "searches at least as large as the exemplars")
  s, ho, wo = bs // b, hx - hz + 1, wx - wz + 1
  if method == "conv":
    return _xcorr_conv(z_feat, x_feat, s)
  if method == "gather":
    return _xcorr_gather(z_feat, x_feat, s)
  if method != "matmul":
    raise ValueError(f"xcorr method must be one of {METHODS}, got {method!r}")
  x = x_feat.reshape(b, s, hx, wx, c)
  # [B, S, Hx, Wo, Wz * C]: the Wz-wide window starting at each column.
  patches = jnp.concatenate([x[:, :, :, v:v + wo] for v in range(wz)],
                            axis=-1)
  rows = z_feat.reshape(b, hz, wz * c)
  # q[b, s, r, j, u] = <row u of template b, window (r, j) of search s>
  q = jnp.einsum("bsrjk,buk->bsrju", patches, rows,
                 precision=lax.Precision.HIGHEST)
  out = sum(q[:, :, u:u + ho, :, u] for u in range(hz))
  return out.reshape(bs, ho, wo)


def _xcorr_conv(z_feat: jax.Array, x_feat: jax.Array, s: int) -> jax.Array:
  """`xcorr` as one grouped convolution (S searches per exemplar)."""
  b, _, _, c = z_feat.shape
  bs, hx, wx, _ = x_feat.shape
  # [B*S, Hx, Wx, C] -> [S, Hx, Wx, B*C]: group g holds the searches of
  # exemplar g.
  x = x_feat.reshape(b, s, hx, wx, c).transpose(1, 2, 3, 0, 4)
  x = x.reshape(s, hx, wx, b * c)
  kernel = z_feat.transpose(1, 2, 3, 0)  # [Hz, Wz, C, B]: HWIO, O = groups
  out = lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding="VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=b)
  # [S, Ho, Wo, B] -> [B * S, Ho, Wo]
  return jnp.transpose(out, (3, 0, 1, 2)).reshape(bs, *out.shape[1:3])


def _xcorr_gather(z_feat: jax.Array, x_feat: jax.Array, s: int) -> jax.Array:
  """`xcorr` as products of all cell pairs, then a gather of the aligned."""
  b, hz, wz, c = z_feat.shape
  bs, hx, wx, _ = x_feat.shape
  ho, wo = hx - hz + 1, wx - wz + 1
  # p[b, s, cell (i, j), k] = <template b's cell k, search cell (i, j)>
  p = jnp.einsum("bsnc,bkc->bsnk", x_feat.reshape(b, s, hx * wx, c),
                 z_feat.reshape(b, hz * wz, c),
                 precision=lax.Precision.HIGHEST)
  # Output (r, q) sums template cell (u, v) against search cell
  # (r + u, q + v): flat index of that product in p's last two axes.
  r, q, u, v = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(hz),
                           np.arange(wz), indexing="ij")
  index = ((r + u) * wx + q + v) * (hz * wz) + u * wz + v
  aligned = jnp.take(p.reshape(b, s, -1),
                     jnp.asarray(index.reshape(-1), jnp.int32), axis=2)
  return aligned.reshape(bs, ho, wo, hz * wz).sum(axis=-1)
