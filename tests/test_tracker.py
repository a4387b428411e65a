"""Tests of the `Tracker` API and batched tracking of many sequences."""

import jax
import numpy as np
from PIL import Image
import pytest

from siamfc_jax import embedding
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from tests import clips

SPEC, PARAMS = clips.SPEC, clips.PARAMS


@pytest.fixture(scope="module")
def tracker():
  return clips.tiny_tracker()


def test_track_returns_one_box_per_frame_starting_with_the_given_box(tracker):
  frames, gt = clips.moving_square(6, 60, 90, 0)
  boxes, times = tracker.track(frames, gt[0])
  assert boxes.shape == (6, 4) and times.shape == (6,)
  np.testing.assert_array_equal(boxes[0], gt[0])
  assert np.all(np.isfinite(boxes)) and np.all(times > 0)


def test_update_equals_track(tracker):
  frames, gt = clips.moving_square(4, 60, 90, 1)
  boxes, _ = tracker.track(frames, gt[0])
  tracker.init(frames[0], gt[0])
  for frame, box in zip(frames[1:], boxes[1:]):
    np.testing.assert_allclose(tracker.update(frame), box, rtol=1e-6)


def test_many_sequences_at_once_equal_separate_runs(tracker):
  seqs = [clips.moving_square(5, 60, 90, 2), clips.moving_square(3, 71, 64, 3),
          clips.moving_square(7, 60, 90, 4)]
  batched = tracker_lib.track_many(tracker, [(f, g[0]) for f, g in seqs])
  for (frames, gt), got in zip(seqs, batched):
    want, _ = tracker.track(frames, gt[0])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("box, match", [
    ([1, 2, 0, 5], "width and height"),
    ([1, 2, 5, -1], "width and height"),
    ([np.nan, 2, 5, 5], "finite"),
    ([1, 2, 3], "4 finite numbers"),
    ([200, 10, 5, 5], "outside"),
    ([-20, 10, 5, 5], "outside"),
])
def test_invalid_boxes_raise_clear_errors(tracker, box, match):
  frame = np.zeros((50, 80, 3), np.uint8)
  with pytest.raises(ValueError, match=match):
    tracker.init(frame, box)


def test_a_frame_of_another_size_is_refused(tracker):
  tracker.init(np.zeros((50, 80, 3), np.uint8), [10, 10, 5, 5])
  with pytest.raises(ValueError, match="differs from the first"):
    tracker.update(np.zeros((51, 80, 3), np.uint8))


def test_geometry_too_small_for_the_network_is_refused():
  with pytest.raises(ValueError, match="receptive field 87"):
    tracker_lib.Tracker(SPEC, model.init(SPEC, jax.random.key(0)),
                        tracking.TrackParams(exemplar_size=63))


def test_preset_of_another_network_is_refused():
  # A CFNet preset (255 exemplars) on SiamFC would give a 1x1 score map.
  with pytest.raises(ValueError, match="1x1|another network"):
    tracker_lib.Tracker.pretrained("cfnet-conv2", backend="jax")


def test_update_before_init_is_refused():
  t = tracker_lib.Tracker(SPEC, model.init(SPEC, jax.random.key(0)), PARAMS)
  with pytest.raises(ValueError, match="init"):
    t.update(np.zeros((50, 80, 3), np.uint8))


def _gray(frames):
  return [np.repeat(f.mean(axis=2, keepdims=True).astype(np.uint8), 3, 2)
          for f in frames]


def test_gray_twin_tracks_grayscale_sequences_and_colour_ones_not():
  colour_net = model.init(SPEC, jax.random.key(0))
  gray_net = model.init(SPEC, jax.random.key(1))
  twin = tracker_lib.Tracker(SPEC, colour_net, PARAMS,
                             gray_variables=gray_net)
  colour_only = tracker_lib.Tracker(SPEC, colour_net, PARAMS)
  gray_only = tracker_lib.Tracker(SPEC, gray_net, PARAMS)
  frames, gt = clips.moving_square(5, 60, 90, 3)
  gray_frames = _gray(frames)
  np.testing.assert_array_equal(twin.track(frames, gt[0])[0],
                                colour_only.track(frames, gt[0])[0])
  # Single-channel frames are gray too (converted to 3 equal channels).
  single = [f[..., 0] for f in gray_frames]
  np.testing.assert_array_equal(twin.track(single, gt[0])[0],
                                gray_only.track(single, gt[0])[0])
  assert not np.array_equal(colour_only.track(single, gt[0])[0],
                            gray_only.track(single, gt[0])[0])
  # Lock-step batches split into the two networks, same boxes.
  many = tracker_lib.track_many(twin, [(frames, gt[0]),
                                       (gray_frames, gt[0])])
  np.testing.assert_allclose(many[0], colour_only.track(frames, gt[0])[0],
                             atol=1e-4)
  np.testing.assert_allclose(many[1], gray_only.track(gray_frames, gt[0])[0],
                             atol=1e-4)


def test_gray_twin_of_another_network_is_refused():
  other = model.init(embedding.alexnet_spec(width=0.25), jax.random.key(0))
  with pytest.raises(ValueError, match="gray_variables"):
    tracker_lib.Tracker(SPEC, model.init(SPEC, jax.random.key(0)), PARAMS,
                        gray_variables=other)


def test_from_weights_loads_a_cfnet_with_its_preset_and_gray_twin(data_dir):
  path = data_dir / "weights/cfnet/cfnet-conv2_e80.mat"
  t = tracker_lib.Tracker.from_weights(path, backend="jax")
  assert t.name == "cfnet-conv2_e80" and t.spec.join == "cf"
  assert t.params == tracking.CFNET_CONV2
  assert t.gray_variables is not None
  assert tracker_lib.gray_twin(path).endswith("cfnet-conv2_gray_e40.mat")
  assert tracker_lib.gray_twin(
      data_dir / "weights/cfnet/cfnet-conv2_gray_e40.mat") is None
  assert tracker_lib.Tracker.from_weights(path, gray=False,
                                          backend="jax").gray_variables is None
  # from_checkpoint takes a weights file too.
  assert tracker_lib.Tracker.from_checkpoint(
      path, "cfnet-conv1", backend="jax").params == tracking.CFNET_CONV1


def test_cf_network_without_a_preset_name_asks_for_params(tmp_path):
  from siamfc_jax.convert import matconvnet  # pylint: disable=g-import-not-at-top
  spec = embedding.ModelSpec(SPEC.layers[:2], join="cf", cf_margin=1)
  path = tmp_path / "mine.mat"
  matconvnet.save_mat(path, spec, model.init(spec, jax.random.key(0)))
  with pytest.raises(ValueError, match="pass params="):
    tracker_lib.Tracker.from_weights(path, backend="jax")


# K targets in one video.
# A tiny CFNet with template updates (as in test_export.py).
TINY_CF = embedding.ModelSpec(
    layers=(embedding.ConvSpec(8, 7, stride=2, use_bias=True, pool_stride=2),
            embedding.ConvSpec(8, 3, groups=2, use_bias=True)),
    join="cf", cf_margin=10)
CF_PARAMS = tracking.TrackParams(exemplar_size=135, instance_size=135,
                                 response_up=8, z_lr=0.01, raw_scores=True)
# The tolerance: K targets in one call against K separate runs.
TARGETS_PX = 1e-4


def _three_targets(n, height=70, width=100, seed=5):
  """n noise frames with three bright squares moving apart; [3, 4] boxes."""
  rng = np.random.default_rng(seed)
  frames = []
  for t in range(n):
    f = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    f[10:22, 8 + 2 * t:20 + 2 * t] = (250, 200, 30)
    f[40 + t:52 + t, 50:64] = (30, 220, 250)
    f[30:38, 80 - 2 * t:90 - 2 * t] = (240, 240, 240)
    frames.append(f)
  return frames, np.array([[8, 10, 12, 12], [50, 40, 14, 12],
                           [80, 30, 10, 8]], np.float64)


@pytest.mark.parametrize("network", ["siamfc", "cfnet"])
def test_k_targets_in_one_call_equal_k_single_target_runs(network):
  spec, params = (SPEC, PARAMS) if network == "siamfc" else (TINY_CF,
                                                             CF_PARAMS)
  t = tracker_lib.Tracker(spec, model.init(spec, jax.random.key(0)), params)
  frames, boxes = _three_targets(5)
  got, times = t.track(frames, boxes)
  assert got.shape == (5, 3, 4) and times.shape == (5,)
  np.testing.assert_array_equal(got[0], boxes)
  for k, box in enumerate(boxes):
    want, _ = t.track(frames, box)
    np.testing.assert_allclose(got[:, k], want, rtol=0, atol=TARGETS_PX)
  # init / update with K boxes: [K, 4] per frame, the boxes of track.
  t.init(frames[0], boxes)
  np.testing.assert_allclose(t.update(frames[1]), got[1], atol=TARGETS_PX)


def test_one_box_as_k_1_equals_the_single_box_api(tracker):
  frames, boxes = _three_targets(4)
  single, _ = tracker.track(frames, boxes[1])
  one, _ = tracker.track(frames, boxes[1:2])
  assert single.shape == (4, 4) and one.shape == (4, 1, 4)
  np.testing.assert_allclose(one[:, 0], single, atol=TARGETS_PX)


def test_each_frame_is_decoded_once_whatever_the_number_of_targets(
    tracker, tmp_path, monkeypatch):
  frames, boxes = _three_targets(4)
  paths = []
  for i, f in enumerate(frames):
    paths.append(str(tmp_path / f"{i:08d}.png"))
    Image.fromarray(f).save(paths[-1])
  decoded = []
  real = frames_lib.load_frame

  def counting(frame):
    if isinstance(frame, str):  # a file read and decoded
      decoded.append(frame)
    return real(frame)

  monkeypatch.setattr(frames_lib, "load_frame", counting)
  got, _ = tracker.track(paths, boxes)
  assert sorted(decoded) == paths  # each file once, for all 3 targets
  want, _ = tracker.track(frames, boxes)
  np.testing.assert_array_equal(got, want)


def test_gray_twin_is_chosen_once_per_video_for_all_targets():
  colour_net = model.init(SPEC, jax.random.key(0))
  gray_net = model.init(SPEC, jax.random.key(1))
  twin = tracker_lib.Tracker(SPEC, colour_net, PARAMS,
                             gray_variables=gray_net)
  gray_only = tracker_lib.Tracker(SPEC, gray_net, PARAMS)
  frames, boxes = _three_targets(4)
  gray_frames = _gray(frames)
  got, _ = twin.track(gray_frames, boxes)
  for k in range(3):
    want, _ = gray_only.track(gray_frames, boxes[k])
    np.testing.assert_allclose(got[:, k], want, atol=TARGETS_PX)


@pytest.mark.parametrize("boxes, match", [
    (np.zeros((0, 4)), r"\[K, 4\] with K >= 1"),
    (np.ones((2, 3)), r"\[K, 4\] with K >= 1"),
    ([[1, 1, 5, 5], [1, 1, np.nan, 5]], "target 1: box must be 4 finite"),
    ([[1, 1, 5, 5], [500, 1, 5, 5]], "target 1: box .* lies outside"),
])
def test_bad_target_boxes_name_the_target(tracker, boxes, match):
  with pytest.raises(ValueError, match=match):
    tracker.init(np.zeros((60, 90, 3), np.uint8), boxes)
