"""Tests of lock-step tracking sharded over devices and of the host split."""

import jax
import numpy as np
import pytest

from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from tests import clips

SPEC, PARAMS = clips.SPEC, clips.PARAMS


@pytest.fixture(scope="module")
def tracker():
  return clips.tiny_tracker()


def _moving_square(n, height, width, seed):
  """`clips.moving_square` with its first box only."""
  frames, boxes = clips.moving_square(n, height, width, seed)
  return frames, boxes[0]


def test_sharded_tracking_on_4_devices_returns_the_boxes_of_1_device(
    tracker):
  assert jax.local_device_count() >= 4, "conftest fakes 4 CPU devices"
  # 5 sequences of 3 lengths and 2 frame sizes: 3 idle slots on 4 devices.
  seqs = [_moving_square(n, h, w, s) for s, (n, h, w) in enumerate(
      [(6, 60, 90), (4, 71, 64), (6, 60, 90), (5, 60, 90), (3, 71, 64)])]
  one = tracker_lib.track_many(tracker, seqs,
                               sharding.local_mesh(jax.devices()[:1]))
  four = tracker_lib.track_many(tracker, seqs,
                                sharding.local_mesh(jax.devices()[:4]))
  for (frames, _), a, b in zip(seqs, one, four):
    assert a.shape == b.shape == (len(frames), 4)
    np.testing.assert_array_equal(a, b)  # exactly, not to a tolerance


def test_batch_is_padded_to_a_multiple_of_the_devices():
  mesh = sharding.local_mesh(jax.devices()[:4])
  assert [sharding.padded_size(n, mesh) for n in (1, 4, 5, 8, 9)] == [
      4, 4, 8, 8, 12]
  tree = {"a": np.arange(3.0), "b": np.arange(6).reshape(3, 2)}
  padded = sharding.pad_batch(tree, 4)
  np.testing.assert_array_equal(padded["a"], [0, 1, 2, 0])
  np.testing.assert_array_equal(padded["b"][3], [0, 1])
  placed = sharding.put_batch(padded, mesh)
  assert len(placed["a"].sharding.device_set) == 4
  with pytest.raises(ValueError, match="does not fit 2 slots"):
    sharding.pad_batch(tree, 2)


def test_host_shares_cover_every_sequence_once_with_balanced_frames():
  names = [f"seq{i}" for i in range(11)]
  lengths = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5]
  shares = [sharding.share(names, lengths, p, 3) for p in range(3)]
  assert sorted(i for s in shares for i in s) == list(range(11))
  frames = [sum(lengths[i] for i in s) for s in shares]
  assert max(frames) - min(frames) <= max(lengths)
  # The same on every call (every process computes it alone).
  assert shares == [sharding.share(names, lengths, p, 3) for p in range(3)]
  assert sharding.share(names, lengths, 0, 1) == list(range(11))
  with pytest.raises(ValueError, match="process 3 of 3"):
    sharding.share(names, lengths, 3, 3)
