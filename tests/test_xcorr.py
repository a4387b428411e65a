"""Tests of the cross-correlation layer (Eq. 2)."""

import jax
import numpy as np
import pytest

from siamfc_jax import xcorr
from tests import references


@pytest.mark.parametrize("method", xcorr.METHODS)
@pytest.mark.parametrize("b, s", [(3, 1), (1, 3), (1, 5), (2, 3)])
def test_xcorr_equals_brute_force_inner_products(b, s, method):
  """Both forms: B exemplars x B searches (training), 1 x S scales."""
  rng = np.random.default_rng(b * 10 + s)
  z = rng.normal(size=(b, 3, 4, 5)).astype(np.float32)
  x = rng.normal(size=(b * s, 9, 8, 5)).astype(np.float32)
  got = jax.jit(xcorr.xcorr, static_argnums=2)(z, x, method)
  assert got.shape == (b * s, 7, 5)
  np.testing.assert_allclose(got, references.xcorr_brute_force(z, x),
                             rtol=1e-5, atol=1e-5)


def test_xcorr_rejects_mismatched_channels():
  with pytest.raises(ValueError, match="channels"):
    xcorr.xcorr(np.zeros((1, 3, 3, 4)), np.zeros((1, 8, 8, 5)))
