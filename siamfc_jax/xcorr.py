"""Cross-correlation of exemplar and search embeddings (paper Eq. 2)."""

import jax
from jax import lax
import jax.numpy as jnp


def xcorr(z_feat: jax.Array, x_feat: jax.Array) -> jax.Array:
  """Scores every sub-window of each search map against its exemplar (Eq. 2).

  One grouped convolution (no kernel flip, as MatConvNet's `XCorr`): the
  batch is folded into the channels and each exemplar is the filter of its
  own group. The same call covers training (B exemplars x B searches, S = 1)
  and tracking (1 exemplar x S scales).

  Args:
    z_feat: [B, Hz, Wz, C] float32 exemplar embeddings.
    x_feat: [B * S, Hx, Wx, C] float32 search embeddings, S per exemplar,
      ordered exemplar-major (searches of exemplar 0 first).

  Returns:
    [B * S, Hx - Hz + 1, Wx - Wz + 1] float32 raw correlation maps
    (17x17 for 6x6 exemplars and 22x22 searches).
  """
  b, hz, wz, c = z_feat.shape
  bs, hx, wx, cx = x_feat.shape
  if c != cx or bs % b:
    raise ValueError(
        f"xcorr: exemplars {z_feat.shape} and searches {x_feat.shape} need "
        "equal channels and a search batch that is a multiple of B")
  s = bs // b
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
