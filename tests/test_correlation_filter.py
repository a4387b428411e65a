"""The CF layer against a direct ridge regression, NumPy FFTs and autodiff."""

import itertools

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from siamfc_jax import correlation_filter as cf


def _shift_matrix(x: np.ndarray) -> np.ndarray:
  """[n*n, n*n*C] rows: x circularly shifted by each offset u (row-major).

  Row u dotted with a filter w is the circular cross-correlation
  sum_{t,c} x_c[t + u] w_c[t], what the tracker computes with the template.
  """
  n, _, c = x.shape
  rows = []
  for u1, u2 in itertools.product(range(n), range(n)):
    rows.append(np.roll(x, (-u1, -u2), axis=(0, 1)).reshape(-1))
  return np.stack(rows).astype(np.float64)


def _ridge_direct(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
  """argmin_w (1/n) ||X w - y||^2 + lam ||w||^2 by a linear solve."""
  n, _, c = x.shape
  big_x = _shift_matrix(x)
  a = big_x.T @ big_x / (n * n) + lam * np.eye(n * n * c)
  w = np.linalg.solve(a, big_x.T @ y.reshape(-1).astype(np.float64) / (n * n))
  return w.reshape(n, n, c)


@pytest.mark.parametrize("lam,channels,n", [(0.1, 1, 5), (1.0, 3, 6),
                                            (10.0, 2, 7), (0.01, 4, 4)])
def test_solve_equals_direct_ridge_regression(lam, channels, n):
  rng = np.random.default_rng(channels)
  x = rng.normal(size=(n, n, channels)).astype(np.float32)
  y = rng.normal(size=(n, n)).astype(np.float32)  # any target, not only even
  got = np.asarray(cf.solve(jnp.asarray(x[None]), y, lam))[0]
  want = _ridge_direct(x, y, lam)
  np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


def test_dft2_and_inverse_equal_numpy_fft():
  x = np.random.default_rng(0).normal(size=(2, 9, 9, 3)).astype(np.float32)
  re, im = cf.dft2(jnp.asarray(x))
  want = np.fft.fft2(x, axes=(1, 2))
  np.testing.assert_allclose(re, want.real, atol=1e-4)
  np.testing.assert_allclose(im, want.imag, atol=1e-4)
  back = cf.idft2_real(re, im)
  np.testing.assert_allclose(back, x, atol=1e-5)


def test_solve_equals_numpy_fourier_formula():
  """The paper's formula written with np.fft, on realistic CFNet sizes."""
  rng = np.random.default_rng(1)
  x = rng.uniform(0, 3, size=(2, 57, 57, 32)).astype(np.float32)
  y = cf.gaussian_target(57, 2.0)
  xf = np.fft.fft2(x.astype(np.float64), axes=(1, 2))
  n = 57 * 57
  k = np.sum(np.conj(xf) * xf, axis=-1, keepdims=True).real / n + 10.0
  a = np.fft.fft2(y)[None, :, :, None] / n / k
  want = np.real(np.fft.ifft2(np.conj(a) * xf, axes=(1, 2)))
  got = cf.solve(jnp.asarray(x), y, 10.0)
  np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


def test_gradients_match_finite_differences():
  rng = np.random.default_rng(2)
  with jax.enable_x64(True):
    x = jnp.asarray(rng.normal(size=(2, 6, 6, 3)))
    weights = jnp.asarray(rng.normal(size=(2, 2, 2, 3)))

    def f(x):  # a scalar of the cropped template, through window and solve
      return jnp.sum(cf.template(x, 0.5, 1.0, 2) * weights)

    jtu.check_grads(f, (x,), order=1, modes=("rev",), atol=1e-5, rtol=1e-4)


def test_target_peaks_at_origin_and_wraps_around():
  y = cf.gaussian_target(6, 1.0)
  assert y[0, 0] == 1.0
  np.testing.assert_allclose(y[0, 1], y[0, 5])  # offsets +1 and -1
  np.testing.assert_allclose(y[2, 0], np.exp(-2.0))  # offset +2
  np.testing.assert_allclose(y[3, 0], np.exp(-4.5))  # index 3 is offset +3


def test_filter_of_a_shifted_exemplar_is_shifted():
  """Circular equivariance: shifting x shifts w (what makes it a CF)."""
  x = np.random.default_rng(3).normal(size=(1, 8, 8, 2)).astype(np.float32)
  y = cf.gaussian_target(8, 1.0)
  w = cf.solve(jnp.asarray(x), y, 1.0)
  w_shift = cf.solve(jnp.asarray(np.roll(x, (2, 3), axis=(1, 2))), y, 1.0)
  np.testing.assert_allclose(w_shift, np.roll(w, (2, 3), axis=(1, 2)),
                             atol=1e-5)


def test_crop_margin_rejects_a_margin_that_leaves_nothing():
  with pytest.raises(ValueError, match="margin 4"):
    cf.crop_margin(jnp.zeros((1, 8, 8, 1)), 4)
