"""Tests of the synthetic pair stream."""

import numpy as np
import pytest

from siamfc_jax.data import synthetic


def test_hosts_read_slices_of_the_one_host_batches():
  one = synthetic.PairStream(3, 6, 103, 151)
  hosts = [synthetic.PairStream(3, 3, 103, 151, shard=(h, 2)) for h in (0, 1)]
  for _ in range(2):
    whole = next(one)
    parts = [next(h) for h in hosts]
    for k in ("z", "x"):
      np.testing.assert_array_equal(
          whole[k], np.concatenate([p[k] for p in parts]))
  assert hosts[1].get_state() == one.get_state() == {"next": 12}


def test_bad_shard_is_refused():
  with pytest.raises(ValueError, match=r"shard \(2, 2\)"):
    synthetic.PairStream(0, 4, 103, 151, shard=(2, 2))
