"""Tests of pair sampling and augmentation (Sec. 2.2, `vid_get_random_batch.m`).

The fake crops are coordinate maps: channel 0 of record r holds the row,
channel 1 the column and channel 2 the record number, so every output pixel
tells where it was sampled from.
"""

import hashlib
import json
import sys

import numpy as np
import pytest

pytest.importorskip("grain")

from siamfc_jax.data import curation  # noqa: E402
from siamfc_jax.data import pairs  # noqa: E402

NO_COLOUR = pairs.AugmentConfig(colour=False)


def _coordinate_crop(record: int) -> np.ndarray:
  rows, cols = np.mgrid[0:255, 0:255]
  return np.stack([rows, cols, np.full_like(rows, record)],
                  -1).astype(np.uint8)


def _crops(counts, videos=None, classes=None) -> pairs.CuratedCrops:
  """Tracks of the given lengths; track k in video `videos[k]`, of class
  `classes[k]` (default: none)."""
  videos = videos or [f"v{k}" for k in range(len(counts))]
  classes = classes or [""] * len(counts)
  tracks, start = [], 0
  for k, (count, video, object_class) in enumerate(zip(counts, videos,
                                                       classes)):
    tracks.append(curation.TrackRecords(f"{video}/{k}", video, start, count,
                                        object_class))
    start += count
  return pairs.CuratedCrops([_coordinate_crop(r) for r in range(start)],
                            tuple(tracks), "fake")


def _track_of(tracks, record):
  for t in tracks:
    if t.start <= record < t.start + t.count:
      return t
  raise AssertionError(record)


@pytest.mark.parametrize("frame_range", [1, 3, 100])
def test_search_frame_is_within_T_positions_of_the_exemplar(frame_range):
  crops = _crops([12, 5, 1, 2])
  sampler = pairs.PairSampler(crops.tracks, frame_range)
  rng = np.random.default_rng(0)
  offsets = set()
  for _ in range(2000):
    z, x = sampler.sample(rng)
    track = _track_of(crops.tracks, z)
    assert track.count >= 2  # the 1-frame track never makes a pair
    assert track.start <= x < track.start + track.count
    assert 0 < abs(x - z) <= frame_range
    offsets.add(x - z)
  # Every allowed offset is drawn (the longest track has 12 frames).
  reach = min(frame_range, 11)
  assert offsets == set(range(-reach, reach + 1)) - {0}


@pytest.mark.parametrize("sample_by, share", [("video", 0.5),
                                               ("track", 0.25)])
def test_videos_are_drawn_uniformly_as_the_original(sample_by, share):
  # Video a has one track, video b three.
  crops = _crops([4, 4, 4, 4], ["a", "b", "b", "b"])
  sampler = pairs.PairSampler(crops.tracks, sample_by=sample_by)
  rng = np.random.default_rng(1)
  in_a = np.mean([sampler.sample(rng)[0] < 4 for _ in range(4000)])
  assert in_a == pytest.approx(share, abs=0.03)


def test_no_usable_track_is_an_error():
  with pytest.raises(ValueError, match="2 curated frames"):
    pairs.PairSampler(_crops([1, 1]).tracks)


def test_window_indices_round_like_matlab():
  np.testing.assert_array_equal(pairs.window_indices(8, 239, 239),
                                np.arange(8, 247))
  # round(linspace(0, 4, 3)) = [0, 2, 4]; 2.5 rounds away from zero.
  np.testing.assert_array_equal(pairs.window_indices(0, 5, 3), [0, 2, 4])
  np.testing.assert_array_equal(pairs.window_indices(0, 6, 3), [0, 3, 5])


def _first(stream):
  batch = next(stream)
  stream.close()
  return batch


def test_validation_pairs_are_the_unaugmented_centre_crops():
  crops = _crops([6, 6])
  batch = _first(pairs.make_pair_iterator(crops, "validation", 16, seed=0))
  for z, x in zip(batch["z"], batch["x"]):
    record_z, record_x = int(z[0, 0, 2]), int(x[0, 0, 2])
    # z: the centre 127 of the 255 crop; x: the centre 239.
    np.testing.assert_array_equal(z, _coordinate_crop(record_z)[64:191,
                                                                64:191])
    np.testing.assert_array_equal(x, _coordinate_crop(record_x)[8:247, 8:247])


def _window(image):
  """(first row, last row, first col, last col) sampled into `image`."""
  rows, cols = image[:, 0, 0].astype(int), image[0, :, 1].astype(int)
  return rows[0], rows[-1], cols[0], cols[-1]


def test_training_windows_stretch_and_shift_as_the_original():
  crops = _crops([30])
  batch = _first(pairs.make_pair_iterator(crops, "train", 200, seed=2,
                                          augment=NO_COLOUR))
  x_sizes, x_shifts, z_sizes, z_shifts = [], [], [], []
  for z, x in zip(batch["z"], batch["x"]):
    for image, sizes, shifts, out in ((x, x_sizes, x_shifts, 239),
                                      (z, z_sizes, z_shifts, 127)):
      r0, r1, c0, c1 = _window(image)
      # Nearest neighbour by index rounding: rows and columns are runs.
      np.testing.assert_array_equal(
          image[:, :, 0], np.broadcast_to(image[:, :1, 0], (out, out)))
      sizes += [r1 - r0 + 1, c1 - c0 + 1]
      # Both windows are centred on the crop's centre pixel, 127.
      shifts += [(r0 + r1) / 2 - 127, (c0 + c1) / 2 - 127]
  # x: round(239 (1 +- 0.05)) capped at 255; shift <= 4 px (+ 0.5 for
  # the rounding of odd slack).
  assert 227 <= min(x_sizes) and max(x_sizes) <= 251
  assert max(np.abs(x_shifts)) <= 4.5 and max(np.abs(x_shifts)) >= 3.5
  # z: only zooms in (sizes 121-127), shift <= floor((127 - size) / 2).
  assert 121 <= min(z_sizes) and max(z_sizes) == 127
  assert min(z_sizes) <= 122 and max(np.abs(z_shifts)) <= 3.5
  # The two axes stretch independently (aspect changes, rand(2, 1)).
  assert len({(a, b) for a, b in zip(x_sizes[::2], x_sizes[1::2])
              if a != b}) > 10


def test_grayscale_turns_both_crops_of_a_fraction_of_pairs():
  crops = _crops([8])
  augment = pairs.AugmentConfig(colour=False, grayscale=0.25)
  batch = _first(pairs.make_pair_iterator(crops, "train", 200, seed=3,
                                          augment=augment))

  def gray(images):
    return np.all(images[..., 0] == images[..., 1], axis=(1, 2)) & np.all(
        images[..., 1] == images[..., 2], axis=(1, 2))

  np.testing.assert_array_equal(gray(batch["z"]), gray(batch["x"]))
  assert gray(batch["x"]).mean() == pytest.approx(0.25, abs=0.08)
  # rgb2gray weights.
  k = int(np.flatnonzero(gray(batch["x"]))[0])
  colour = _first(pairs.make_pair_iterator(crops, "train", k + 1, seed=3,
                                           augment=NO_COLOUR))["x"][k]
  want = np.round(colour.astype(float) @ pairs.GRAY_WEIGHTS)
  np.testing.assert_allclose(batch["x"][k][..., 0], want, atol=1)


def test_colour_jitter_is_a_normal_offset_per_channel_and_crop():
  crops = pairs.CuratedCrops([np.full((255, 255, 3), 128, np.uint8)] * 4,
                             (curation.TrackRecords("v/0", "v", 0, 4),))
  augment = pairs.AugmentConfig(colour_std_z=(2.0, 5.0, 10.0),
                                colour_std_x=(10.0, 5.0, 2.0))
  batch = _first(pairs.make_pair_iterator(crops, "train", 300, seed=4,
                                          augment=augment))
  z_offset = 128 - batch["z"][:, 0, 0].astype(float)
  x_offset = 128 - batch["x"][:, 0, 0].astype(float)
  # 300 draws: the std is within ~10 % (uint8 rounding adds 0.3).
  np.testing.assert_allclose(z_offset.std(0), [2, 5, 10], rtol=0.2)
  np.testing.assert_allclose(x_offset.std(0), [10, 5, 2], rtol=0.2)
  np.testing.assert_allclose(z_offset.mean(0), 0, atol=1.5)
  # Drawn separately for z and x.
  assert abs(np.corrcoef(z_offset[:, 2], x_offset[:, 0])[0, 1]) < 0.2
  # Uniform per crop: the whole crop moves by the same offset.
  assert np.all(batch["x"] == batch["x"][:, :1, :1])


def test_jitter_std_follows_the_sorted_eigenvalues_of_the_covariance():
  cov = np.diag([400.0, 100.0, 2500.0])
  np.testing.assert_allclose(pairs.jitter_std(cov), [1.0, 2.0, 5.0])
  crops = [np.random.default_rng(i).normal(100, [5, 10, 20], (255, 255, 3))
           .clip(0, 255).astype(np.uint8) for i in range(3)]
  cov_z, cov_x = pairs.rgb_statistics(crops)
  np.testing.assert_allclose(np.sqrt(np.diag(cov_x)), [5, 10, 20], rtol=0.05)
  np.testing.assert_allclose(np.sqrt(np.diag(cov_z)), [5, 10, 20], rtol=0.05)


def _stream(crops, seed=5, **kwargs):
  return pairs.make_pair_iterator(crops, "train", 4, seed, frame_range=3,
                                  **kwargs)


def _equal(a, b):
  return all(np.array_equal(a[k], b[k]) for k in ("z", "x"))


def test_streams_are_determined_by_the_seed():
  crops = _crops([10, 7, 9], ["a", "a", "b"])
  first = _stream(crops)
  again = _stream(crops)
  other = _stream(crops, seed=6)
  a = [next(first) for _ in range(3)]
  b = [next(again) for _ in range(3)]
  c = [next(other) for _ in range(3)]
  assert all(_equal(x, y) for x, y in zip(a, b))
  assert not any(_equal(x, y) for x, y in zip(a, c))
  assert a[0]["z"].shape == (4, 127, 127, 3) and a[0]["z"].dtype == np.uint8
  assert a[0]["x"].shape == (4, 239, 239, 3) and a[0]["x"].dtype == np.uint8
  # C-contiguous: grain hands such arrays between processes in shared
  # memory (others go through a pipe and stall the workers' shutdown).
  assert a[0]["z"].flags.c_contiguous and a[0]["x"].flags.c_contiguous
  for s in (first, again, other):
    s.close()


def test_resumed_stream_gives_the_batches_an_uninterrupted_one_would():
  crops = _crops([10, 7, 9], ["a", "a", "b"])
  whole = _stream(crops)
  batches = [next(whole) for _ in range(5)]
  interrupted = _stream(crops)
  next(interrupted), next(interrupted)
  state = json.loads(json.dumps(interrupted.get_state()))
  interrupted.close()
  assert state["next_batch"] == 2
  resumed = _stream(crops, start_state=state)
  assert all(_equal(next(resumed), b) for b in batches[2:])
  assert resumed.get_state()["next_batch"] == 5
  # set_state on a running stream rewinds it.
  resumed.set_state(state)
  assert _equal(next(resumed), batches[2])
  with pytest.raises(ValueError, match="seed"):
    _stream(crops, seed=7).set_state(state)
  for s in (whole, resumed):
    s.close()


def test_finite_stream_stops_after_its_pairs():
  stream = pairs.make_pair_iterator(_crops([5]), "validation", 4, seed=0,
                                    num_pairs=10)
  assert stream.num_batches == 2
  assert len(list(stream)) == 2


def test_host_shards_split_the_global_batches_and_share_one_state():
  crops = _crops([10, 7, 9], ["a", "a", "b"])
  whole = pairs.make_pair_iterator(crops, "train", 4, 5, frame_range=3)
  shards = [pairs.make_pair_iterator(crops, "train", 2, 5, frame_range=3,
                                     shard=(k, 2)) for k in range(2)]
  for _ in range(3):
    want, got = next(whole), [next(s) for s in shards]
    for key in ("z", "x"):
      np.testing.assert_array_equal(
          np.concatenate([g[key] for g in got]), want[key])
  states = [s.get_state() for s in shards]
  assert states[0] == states[1]
  resumed = pairs.make_pair_iterator(crops, "train", 2, 5, frame_range=3,
                                     shard=(1, 2), start_state=states[0])
  want, got = next(whole), next(resumed)
  assert np.array_equal(got["x"], want["x"][2:])
  for stream in (whole, resumed, *shards):
    stream.close()


def test_the_same_batches_with_loading_workers():
  crops = _crops([10, 7, 9], ["a", "a", "b"])
  serial = _stream(crops)
  alone = [next(serial) for _ in range(3)]
  serial.close()
  workers = _stream(crops, worker_count=2)
  try:
    assert all(_equal(next(workers), b) for b in alone)
  finally:
    workers.close()


def test_pairs_never_import_tensorflow():
  assert "tensorflow" not in sys.modules


def test_crops_larger_than_the_stored_ones_are_an_error():
  with pytest.raises(ValueError, match="must fit in the 255-pixel crops"):
    pairs.make_pair_iterator(_crops([3]), "train", 2, seed=0,
                             instance_size=263)


def _digest(stream, batches=3):
  digest = hashlib.sha256()
  for _ in range(batches):
    batch = next(stream)
    digest.update(batch["z"].tobytes())
    digest.update(batch["x"].tobytes())
  stream.close()
  return digest.hexdigest()


# Digests of the first 3 batches of these streams as the code before
# `same_class_batches` drew them (commit dc9540e): without the option the
# streams, and so every running training, stay the same byte for byte.
BEFORE_SAME_CLASS = {
    "video": "bd40ae5fe1f8a76f7a42793eeeba72c7c2ff017a2eb302668323a43d28818646",
    "track": "a3dcf1db5bcf651191388bce644f9a05d8d062eba2a0ec7fbb6782eee23b3132",
}


@pytest.mark.parametrize("sample_by", ["video", "track"])
def test_streams_without_same_class_batches_are_unchanged(sample_by):
  # Explicit jitter: no eigenvalues, so the digest holds on any BLAS.
  augment = pairs.AugmentConfig(colour_std_z=(2.0, 5.0, 10.0),
                                colour_std_x=(10.0, 5.0, 2.0), grayscale=0.25)
  crops = _crops([10, 7, 9, 5], ["a", "a", "b", "c"])
  stream = pairs.make_pair_iterator(crops, "train", 4, 5, frame_range=3,
                                    augment=augment, sample_by=sample_by)
  assert _digest(stream) == BEFORE_SAME_CLASS[sample_by]
  # Classes in the table change nothing while the option is off.
  classed = _crops([10, 7, 9, 5], ["a", "a", "b", "c"], ["x", "y", "x", "y"])
  stream = pairs.make_pair_iterator(classed, "train", 4, 5, frame_range=3,
                                    augment=augment, sample_by=sample_by)
  assert _digest(stream) == BEFORE_SAME_CLASS[sample_by]
  assert "same_class_batches" not in stream.get_state()


# Video a holds a cat and a dog (as VID videos may); the bird has one video.
CLASSED = dict(counts=[6, 6, 6, 6, 6, 6, 6],
               videos=["a", "a", "b", "c", "d", "e", "f"],
               classes=["cat", "dog", "cat", "cat", "dog", "dog", "bird"])


def _classed_records(batch_size=4, batches=40, seed=7, **kwargs):
  """[batches, batch_size, 2] (z, x) records of a same-class stream."""
  stream = pairs.make_pair_iterator(
      _crops(**CLASSED), "train", batch_size, seed, frame_range=3,
      augment=pairs.NO_AUGMENT, same_class_batches=True, **kwargs)
  out = []
  for _ in range(batches):
    batch = next(stream)
    # Channel 2 of a coordinate crop is its record number.
    out.append(np.stack([batch["z"][:, 0, 0, 2], batch["x"][:, 0, 0, 2]],
                        -1).astype(int))
  stream.close()
  return np.stack(out)


@pytest.mark.parametrize("sample_by", ["video", "track"])
def test_same_class_batches_take_other_videos_of_the_first_pairs_class(
    sample_by):
  tracks = _crops(**CLASSED).tracks
  records = _classed_records(batches=60, sample_by=sample_by)
  anchors = set()
  for batch in records:
    first = _track_of(tracks, batch[0, 0])
    anchors.add(first.object_class)
    for z, x in batch[1:]:
      track = _track_of(tracks, z)
      assert _track_of(tracks, x) == track  # still a positive pair
      assert track.sequence != first.sequence
      if first.object_class != "bird":
        assert track.object_class == first.object_class
  assert anchors == {"cat", "dog", "bird"}


def test_a_class_with_one_video_takes_the_others_from_all_other_videos():
  tracks = _crops(**CLASSED).tracks
  records = _classed_records(batches=200)
  others = {_track_of(tracks, z).sequence
            for batch in records
            if _track_of(tracks, batch[0, 0]).object_class == "bird"
            for z, _ in batch[1:]}
  assert others == {"a", "b", "c", "d", "e"}


def test_same_class_batches_are_the_same_with_workers_and_hosts():
  whole = _classed_records(batches=3)
  np.testing.assert_array_equal(_classed_records(batches=3), whole)
  np.testing.assert_array_equal(_classed_records(batches=3, worker_count=2),
                                whole)
  # Two hosts with 2 pairs each: the same global batches of 4.
  shards = [_classed_records(2, 3, shard=(k, 2)) for k in range(2)]
  np.testing.assert_array_equal(np.concatenate(shards, 1), whole)
  assert not np.array_equal(_classed_records(batches=3, seed=8), whole)


def test_a_resumed_same_class_stream_continues_with_the_same_batches():
  whole = _classed_records(batches=5)
  crops = _crops(**CLASSED)
  kwargs = dict(frame_range=3, augment=pairs.NO_AUGMENT,
                same_class_batches=True)
  first = pairs.make_pair_iterator(crops, "train", 4, 7, **kwargs)
  for _ in range(3):
    next(first)
  resumed = pairs.make_pair_iterator(crops, "train", 4, 7,
                                     start_state=first.get_state(), **kwargs)
  for want in whole[3:]:
    batch = next(resumed)
    np.testing.assert_array_equal(
        np.stack([batch["z"][:, 0, 0, 2], batch["x"][:, 0, 0, 2]], -1), want)
  for stream in (first, resumed):
    stream.close()


def test_same_class_batches_keep_the_first_pair_of_each_batch():
  crops = _crops(**CLASSED)
  kwargs = dict(frame_range=3, augment=pairs.AugmentConfig(
      colour_std_z=(2.0, 5.0, 10.0), colour_std_x=(10.0, 5.0, 2.0)))
  plain = pairs.make_pair_iterator(crops, "train", 4, 3, **kwargs)
  grouped = pairs.make_pair_iterator(crops, "train", 4, 3,
                                     same_class_batches=True, **kwargs)
  for _ in range(3):
    a, b = next(plain), next(grouped)
    assert np.array_equal(a["z"][0], b["z"][0])
    assert np.array_equal(a["x"][0], b["x"][0])
  # The option is part of the stream: a plain state does not resume it.
  assert grouped.get_state()["same_class_batches"] is True
  with pytest.raises(ValueError, match="same_class_batches"):
    grouped.set_state(plain.get_state())
  for stream in (plain, grouped):
    stream.close()


def test_same_class_batches_without_classes_are_refused():
  # The 1-frame track makes no pair: it needs no class.
  with pytest.raises(ValueError, match="fake: same_class_batches needs the "
                     "object class of every track, but 1 of") as error:
    pairs.make_pair_iterator(_crops([4, 4, 1], classes=["cat", "", ""]),
                             "train", 4, 0, same_class_batches=True)
  assert "delete its prepared folder" in str(error.value)
  with pytest.raises(ValueError, match="2 videos or more"):
    pairs.PairSampler(_crops([4, 4], ["a", "a"], ["cat", "cat"]).tracks,
                      same_class=True)
  with pytest.raises(ValueError, match="same_class=True"):
    pairs.PairSampler(_crops([4, 4]).tracks).sample_beside(
        np.random.default_rng(0), 0)
