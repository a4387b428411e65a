"""Tests of the cross-correlation layer (Eq. 2)."""

import jax
import numpy as np
import pytest

from siamfc_jax import xcorr
from tests import references


@pytest.mark.parametrize("method", xcorr.METHODS)
@pytest.mark.parametrize("b, s", [(3, 1), (1, 3), (1, 5), (2, 3)])
def test_xcorr_equals_brute_force_inner_products(b, s, method):
  """Every form: B exemplars x B searches (training), 1 x S scales."""
  rng = np.random.default_rng(b * 10 + s)
  z = rng.normal(size=(b, 3, 4, 5)).astype(np.float32)
  x = rng.normal(size=(b * s, 9, 8, 5)).astype(np.float32)
  got = jax.jit(xcorr.xcorr, static_argnums=2)(z, x, method)
  assert got.shape == (b * s, 7, 5)
  np.testing.assert_allclose(got, references.xcorr_brute_force(z, x),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", xcorr.METHODS)
def test_xcorr_gradients_equal_the_brute_force_ones(method):
  """Training differentiates the gather form (a scatter-add backwards)."""
  rng = np.random.default_rng(7)
  z = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  x = rng.normal(size=(2, 9, 8, 5)).astype(np.float32)
  w = rng.normal(size=(2, 7, 5)).astype(np.float32)
  # d/dz sum(w * xcorr) = sum over outputs of w times the window under z;
  # d/dx spreads w * z back over every window the cell falls in.
  want_z = np.zeros_like(z)
  want_x = np.zeros_like(x)
  for b in range(2):
    for i in range(7):
      for j in range(5):
        want_z[b] += w[b, i, j] * x[b, i:i + 3, j:j + 4]
        want_x[b, i:i + 3, j:j + 4] += w[b, i, j] * z[b]
  got_z, got_x = jax.grad(
      lambda z, x: (w * xcorr.xcorr(z, x, method)).sum(), argnums=(0, 1))(
          z, x)
  np.testing.assert_allclose(got_z, want_z, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(got_x, want_x, rtol=1e-5, atol=1e-5)


def test_xcorr_rejects_mismatched_channels():
  with pytest.raises(ValueError, match="channels"):
    xcorr.xcorr(np.zeros((1, 3, 3, 4)), np.zeros((1, 8, 8, 5)))
