"""Tests of the curation of 255x255 context crops (`save_crops.m`)."""

import dataclasses
import io

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import curation

RULE = curation.CurationRule()


def _ramp(h=150, w=200):
  """A frame whose colour is linear in the pixel centre: resampling any
  window of it with a normalised symmetric filter gives the ramp again."""
  yy, xx = np.mgrid[0:h, 0:w] + 0.5
  exact = np.stack([0.6 * xx, 0.8 * yy + 20, 0.3 * xx + 0.5 * yy], -1)
  return np.round(exact).astype(np.uint8)


def _ramp_at(centre, side, out_size):
  pos = np.asarray(centre, float)[:, None] - side / 2 + (
      np.arange(out_size) + 0.5) * side / out_size
  px, py = np.meshgrid(pos[0], pos[1])
  return np.stack([0.6 * px, 0.8 * py + 20, 0.3 * px + 0.5 * py], -1)


@pytest.mark.parametrize("centre, side, out_size", [
    ((100.0, 75.0), 60.0, 255),    # upsampling
    ((100.3, 74.6), 90.5, 31),     # sub-pixel, shrinking (antialiased)
    ((90.0, 70.0), 40.2, 127),
])
def test_crop_samples_the_window_at_half_pixel_centres(centre, side,
                                                       out_size):
  got = curation.crop_context(_ramp(), centre, side, out_size)
  assert got.shape == (out_size, out_size, 3) and got.dtype == np.uint8
  # The frame is rounded (0.5) and so is the crop (0.5).
  np.testing.assert_allclose(got, _ramp_at(centre, side, out_size), atol=1.0)


def test_crop_agrees_with_the_tracker_crop_on_smooth_frames():
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from siamfc_jax import crop  # pylint: disable=g-import-not-at-top
  frame = _ramp()
  centre, side = (97.3, 71.8), 50.0
  ours = curation.crop_context(frame, centre, side, 64)
  theirs = crop.crop_and_resize(frame, jnp.array(centre), jnp.float32(side),
                                64, jnp.zeros(3))
  # Bicubic vs bilinear: both exact on a ramp up to rounding.
  np.testing.assert_allclose(ours, np.asarray(theirs), atol=1.0)


def test_pixels_outside_the_frame_take_the_mean_colour():
  frame = np.random.default_rng(0).integers(0, 256, (40, 60, 3), np.uint8)
  mean = frame.reshape(-1, 3).mean(0)
  outside = curation.crop_context(frame, (-500.0, -500.0), 50.0, 16)
  np.testing.assert_array_equal(outside, np.broadcast_to(np.round(mean),
                                                         outside.shape))
  # Half outside: the left columns are padding, the right ones the frame.
  half = curation.crop_context(frame, (0.0, 20.0), 20.0, 20)
  np.testing.assert_array_equal(half[:, :8], np.broadcast_to(
      np.round(mean), (20, 8, 3)))
  np.testing.assert_array_equal(half[6:14, 12:], frame[16:24, 2:10])


def test_exemplar_is_the_centre_of_the_crop_at_the_context_scale():
  frame = np.full((300, 400, 3), 30, np.uint8)
  box = np.array([150.0, 100.0, 40.0, 24.0])  # x, y, w, h
  frame[100:124, 150:190] = 240
  side = float(curation.crop_sides(box[None, 2:])[0])
  # s_z = sqrt((w + (w + h) / 2) * (h + (w + h) / 2)), s_x = s_z * 255 / 127.
  s_z = np.sqrt((40 + 32) * (24 + 32))
  assert side == pytest.approx(s_z * 255 / 127, rel=1e-6)
  crop = curation.crop_context(frame, box[:2] + box[2:] / 2, side)
  bright = np.argwhere(crop[..., 0] > 135)
  (top, left), (bottom, right) = bright.min(0), bright.max(0) + 1
  scale = 255 / side
  assert (top + bottom) / 2 == pytest.approx(127.5, abs=0.5)
  assert (left + right) / 2 == pytest.approx(127.5, abs=0.5)
  assert right - left == pytest.approx(40 * scale, abs=1.0)
  assert bottom - top == pytest.approx(24 * scale, abs=1.0)
  # The exemplar, the centre 127 of the crop, is the s_z square.
  assert 127 / s_z == pytest.approx(scale, rel=1e-6)


@pytest.mark.parametrize("box, reason", [
    ([10, 10, 20, 20], ""),
    ([np.nan, 10, 20, 20], "non-finite"),
    ([10, 10, np.inf, 20], "non-finite"),
    ([10, 10, 1.5, 20], "small"),
    ([10, 10, 20, 1.0], "small"),
    ([-30, 10, 20, 20], "outside"),           # no overlap
    ([-17, 10, 20, 20], "outside"),           # 15 % inside
    ([-10, 10, 20, 20], ""),                  # half inside
    ([0, 0, 95, 95], "large"),                # 90.25 % of the frame
    ([0, 0, 90, 90], ""),                     # 81 %
])
def test_skip_rule(box, reason):
  got = curation.skip_reasons(np.array([box], float), (100, 100), RULE)
  assert got.tolist() == [reason]


def test_absent_and_fully_covered_got10k_frames_are_skipped():
  boxes = np.tile([10.0, 10.0, 20.0, 20.0], (5, 1))
  boxes[1] = np.nan  # the GOT-10k reader blanks absent boxes
  got = curation.skip_reasons(boxes, (100, 100), RULE,
                              absence=np.array([0, 1, 0, 0, 0], bool),
                              cover=np.array([8, 8, 0, 1, 8]))
  assert got.tolist() == ["", "absent", "occluded", "", ""]
  strict = curation.CurationRule(min_cover=4)
  got = curation.skip_reasons(boxes, (100, 100), strict,
                              cover=np.array([8, 8, 3, 4, 8]))
  assert got.tolist() == ["", "non-finite", "occluded", "", ""]


def _track(name, frames, boxes, sequence="video", object_id=0, size=(64, 48)):
  n = len(frames)
  return curation.TrackAnnotation(
      name=name, sequence=sequence, object_id=object_id,
      frames=tuple(str(f) for f in frames), frame_indices=np.arange(n),
      boxes=np.asarray(boxes, float), frame_sizes=np.tile(size, (n, 1)))


def _frames(tmp_path, n, seed=0):
  rng = np.random.default_rng(seed)
  paths = []
  for i in range(n):
    path = tmp_path / f"{i:06d}.jpg"
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)).save(path)
    paths.append(path)
  return paths


def test_plan_numbers_records_track_by_track_and_reads_each_frame_once(
    tmp_path):
  frames = _frames(tmp_path, 4)
  good = [[10, 10, 12, 10]] * 4
  a = _track("video/0", frames, good, object_id=0)
  b = _track("video/1", frames,
             [[20, 5, 8, 8], [np.nan] * 4, [20, 5, 8, 8], [21, 5, 8, 8]],
             object_id=1)
  short = _track("video/2", frames[:2], [[5, 5, 8, 8], [5, 5, 1, 8]],
                 object_id=2)
  plan = curation.plan_curation([a, b, short])
  assert [(t.name, t.start, t.count) for t in plan.tracks] == [
      ("video/0", 0, 4), ("video/1", 4, 3)]
  assert plan.num_records == 7
  assert plan.skipped == {"non-finite": 1, "small": 1, "short track": 1}
  # Frame 0 holds objects 0, 1 and (left out) 2: read once, two crops.
  assert len(plan.frames) == 4
  first_path, first_jobs = plan.frames[0]
  assert first_path == str(frames[0])
  assert [(j.record, j.track) for j in first_jobs] == [
      (0, "video/0"), (4, "video/1")]
  records = sorted(j.record for _, jobs in plan.frames for j in jobs)
  assert records == list(range(7))
  job = first_jobs[0]
  assert job.box == (10.0, 10.0, 12.0, 10.0) and job.frame_size == (64, 48)
  assert job.side == pytest.approx(curation.crop_sides([[12, 10]])[0])


def test_track_records_keep_the_class_and_read_old_4_column_rows(tmp_path):
  frames = _frames(tmp_path, 2)
  track = dataclasses.replace(_track("video/0", frames, [[10, 10, 12, 10]] * 2),
                              object_class="n02084071")
  (records,) = curation.plan_curation([track]).tracks
  assert records.to_row() == ["video/0", "video", 0, 2, "n02084071"]
  assert curation.TrackRecords.from_row(records.to_row()) == records
  assert curation.TrackRecords.from_row(["v/1", "v", 3, 4]) == (
      curation.TrackRecords("v/1", "v", 3, 4, ""))
  with pytest.raises(ValueError, match="expected \\[name, sequence"):
    curation.TrackRecords.from_row(["v/1", "v", 3])


def test_curate_makes_quality_90_jpegs_the_same_with_threads(tmp_path):
  frames = _frames(tmp_path, 3, seed=1)
  plan = curation.plan_curation([_track("v/0", frames, [[10, 10, 12, 10]] * 3)])
  serial = list(curation.curate(plan))
  threaded = list(curation.curate(plan, threads=2))
  assert [j.record for j, _ in serial] == [0, 1, 2]
  assert [(j, d) for j, d in serial] == [(j, d) for j, d in threaded]
  job, data = serial[1]
  frame = curation.read_frame(frames[1])
  crop = curation.crop_context(frame, (16.0, 15.0), job.side)
  buffer = io.BytesIO()
  Image.fromarray(crop).save(buffer, format="JPEG", quality=90)
  assert data == buffer.getvalue()
  assert curation.decode_jpeg(data).shape == (255, 255, 3)


def test_grayscale_frames_become_rgb(tmp_path):
  path = tmp_path / "gray.jpg"
  Image.fromarray(np.full((10, 12), 77, np.uint8)).save(path)
  frame = curation.read_frame(path)
  assert frame.shape == (10, 12, 3)
  assert curation.frame_size(path) == (12, 10)
