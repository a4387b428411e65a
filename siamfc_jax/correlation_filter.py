"""CFNet's correlation-filter layer (Valmadre et al., CVPR'17, Sec. 3).

The exemplar branch of CFNet ends in a correlation filter learned in closed
form from the exemplar's features: the template `w` that, cross-correlated
with the (windowed) features `x`, best regresses a fixed Gaussian target `y`
under a ridge penalty lambda. Over all circular shifts of `x` (the CF's
"circulant data matrix") the solution is, per channel c, with 2-D DFTs over
the spatial axes and n = H * W (`corr_filter.m` of the original):

    k^  = (1/n) sum_c conj(x^_c) x^_c + lambda        (real, >= lambda)
    a^  = (1/n) y^ / k^
    w^_c = conj(a^) x^_c,          w_c = real(idft2(w^_c))

Then `crop_margin` keeps the centre of `w` (the template) for the ordinary
cross-correlation with the search features.

The DFTs are products with cosine and sine matrices rather than `jnp.fft`:
the same numbers, real arithmetic only, differentiable by autodiff, and
exportable (jax2onnx turns only 1-D complex FFTs into ONNX, and ONNX Runtime
has no complex arithmetic). The maps are small (at most 62 x 62): the whole
CF of cfnet-conv2 takes 4 ms on a 2-core CPU, the exemplar's embedding 43.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# The original's settings (`run_experiment_cfnet_conv*.m`): ridge lambda 10,
# target sigma 8 input pixels, crop margin 16 feature cells.
LAMBDA_ORIGINAL = 10.0
SIGMA_ORIGINAL = 8.0
MARGIN_ORIGINAL = 16

_HIGHEST = jax.lax.Precision.HIGHEST  # no TF32 / bf16 in the DFT products


def hann_window(n: int) -> np.ndarray:
  """[n, n] float32 outer product of two symmetric Hann windows (zero ends).

  MATLAB's `hann(n) * hann(n)'` (`make_window.m`, 'cos'); the CF nets store
  it as `join_window`.
  """
  w = np.hanning(n)
  return np.outer(w, w).astype(np.float32)


def gaussian_target(n: int, sigma: float) -> np.ndarray:
  """[n, n] float32 Gaussian of std `sigma` cells on the circular grid.

  The peak is at index (0, 0) and negative offsets wrap around to the end
  (`gaussian_response.m`, `circ_grid.m`): offsets run from
  -floor((n - 1) / 2) to n - 1 - floor((n - 1) / 2). The CF nets store it as
  `join_cf_target` (sigma = 8 px / stride 4 = 2 cells).
  """
  half = (n - 1) // 2
  i = (np.arange(n) + half) % n - half
  d2 = i[:, None] ** 2 + i[None, :] ** 2
  return np.exp(-d2 / (2.0 * sigma ** 2)).astype(np.float32)


@functools.cache
def _dft_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
  """cos and sin of 2 pi k t / n, [n, n] float32: DFT = cos - i sin."""
  k = np.arange(n)
  angle = 2 * np.pi * ((k[:, None] * k[None, :]) % n) / n
  return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def _left(m: np.ndarray, x: jax.Array) -> jax.Array:
  """m @ x along the row axis of [..., H, W, C] maps."""
  return jnp.einsum("ht,...twc->...hwc", m, x, precision=_HIGHEST)


def _right(x: jax.Array, m: np.ndarray) -> jax.Array:
  """x @ m along the column axis of [..., H, W, C] maps (m symmetric)."""
  return jnp.einsum("...htc,tw->...hwc", x, m, precision=_HIGHEST)


def dft2(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """2-D DFT of real [..., H, W, C] maps over (H, W), H == W.

  Returns:
    (real, imaginary) parts, each [..., H, W, C] float32; equal to
    `np.fft.fft2(x, axes=(-3, -2))`.
  """
  c, s = _dft_matrices(x.shape[-3])
  cx, sx = _left(c, x), _left(s, x)
  # (C - iS) x (C - iS) = (CxC - SxS) - i (CxS + SxC); C, S symmetric.
  return _right(cx, c) - _right(sx, s), -(_right(cx, s) + _right(sx, c))


def idft2_real(re: jax.Array, im: jax.Array) -> jax.Array:
  """real(ifft2(re + i im)) over (H, W) of [..., H, W, C] maps, H == W."""
  n = re.shape[-3]
  c, s = _dft_matrices(n)
  # (C + iS) (P + iQ) (C + iS), real part.
  a = _left(c, re) - _left(s, im)
  b = _left(c, im) + _left(s, re)
  return (_right(a, c) - _right(b, s)) / (n * n)


def solve(x: jax.Array, target: jax.Array, lam: float) -> jax.Array:
  """The correlation filter of each exemplar (closed form, Fourier domain).

  Args:
    x: [B, n, n, C] float32 exemplar features, already windowed.
    target: [n, n] float32 desired response y, peak at (0, 0) (see
      `gaussian_target`).
    lam: ridge regularisation lambda (> 0).

  Returns:
    [B, n, n, C] float32 filters w: `xcorr(w, x)` (circular) is the ridge
    regression of `target` over the circular shifts of x.
  """
  if x.ndim != 4 or x.shape[1] != x.shape[2] or target.shape != x.shape[1:3]:
    raise ValueError(f"correlation filter: features {x.shape} must be "
                     f"[B, n, n, C] with a target of [n, n], got "
                     f"{target.shape}")
  n = x.shape[1] * x.shape[2]
  xr, xi = dft2(x)
  yr, yi = dft2(jnp.asarray(target, jnp.float32)[..., None])  # [n, n, 1]
  k = jnp.sum(xr * xr + xi * xi, axis=-1, keepdims=True) / n + lam
  ar, ai = yr / (n * k), yi / (n * k)  # a^ = y^ / (n k^), [B, n, n, 1]
  # conj(a^) x^ = (ar - i ai)(xr + i xi)
  return idft2_real(ar * xr + ai * xi, ar * xi - ai * xr)


def crop_margin(w: jax.Array, margin: int) -> jax.Array:
  """[B, n, n, C] -> [B, n - 2m, n - 2m, C]: the centre (`CropMargin`)."""
  if margin and 2 * margin >= w.shape[1]:
    raise ValueError(f"crop margin {margin} leaves nothing of a "
                     f"{w.shape[1]}x{w.shape[2]} filter")
  return w[:, margin:w.shape[1] - margin, margin:w.shape[2] - margin]


def template(z_feat: jax.Array, lam: float, sigma_cells: float,
             margin: int) -> jax.Array:
  """CFNet's exemplar head: window, solve, crop.

  Args:
    z_feat: [B, n, n, C] float32 exemplar embeddings.
    lam: ridge lambda.
    sigma_cells: std of the Gaussian target, in feature cells.
    margin: cells cropped from each side of the filter.

  Returns:
    [B, n - 2 margin, n - 2 margin, C] float32 templates.
  """
  n = z_feat.shape[1]
  w = solve(z_feat * hann_window(n)[:, :, None],
            gaussian_target(n, sigma_cells), lam)
  return crop_margin(w, margin)
