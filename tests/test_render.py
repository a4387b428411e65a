"""Tests of box drawing and video writing."""

import imageio.v2 as imageio
import numpy as np
import pytest

from siamfc_jax.evaluation import render


def test_draw_boxes_outlines_the_box_and_skips_nan():
  frame = np.zeros((40, 60, 3), np.uint8)
  out = render.draw_boxes(frame, [np.array([10, 5, 20, 10]),
                                  np.array([np.nan] * 4)],
                          [render.PREDICTION_COLOUR, (0, 0, 255)])
  assert tuple(out[5, 15]) == render.PREDICTION_COLOUR   # top edge
  assert tuple(out[14, 29]) == render.PREDICTION_COLOUR  # bottom-right corner
  assert tuple(out[10, 20]) == (0, 0, 0)                 # inside stays
  assert frame.max() == 0                                # input untouched


def test_boxes_thinner_than_a_pixel_are_drawn_not_refused():
  frame = np.zeros((20, 30, 3), np.uint8)
  out = render.draw_boxes(frame, [[5.0, 6.0, 0.5, 0.2]], [(255, 0, 0)])
  assert out[6, 5, 0] == 255


@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_write_video_writes_every_frame_even_with_odd_sizes(tmp_path, ext):
  frames = [np.full((21, 33, 3), 40 * i, np.uint8) for i in range(5)]
  path = tmp_path / f"out{ext}"
  assert render.write_video(path, iter(frames)) == 5
  with imageio.get_reader(path) as reader:
    assert sum(1 for _ in reader) == 5


def test_write_video_refuses_unknown_extensions(tmp_path):
  with pytest.raises(ValueError, match=".avi"):
    render.write_video(tmp_path / "out.avi", [])


def test_each_target_has_its_own_colour_and_its_index():
  colours = [render.target_colour(k) for k in range(40)]
  assert len(set(colours)) == 40
  assert render.GROUND_TRUTH_COLOUR not in colours
  frame = np.zeros((60, 90, 3), np.uint8)
  boxes = np.array([[5, 5, 30, 30], [50, 20, 35, 35], [np.nan] * 4])
  out = render.draw_targets(frame, boxes, ground_truth=[0, 0, 90, 60])
  assert tuple(out[5, 20]) == render.target_colour(0)    # top edge of 0
  assert tuple(out[40, 50]) == render.target_colour(1)   # left edge of 1
  assert tuple(out[0, 45]) == render.GROUND_TRUTH_COLOUR
  # The index is written inside each box's top-left corner, in its colour
  # (antialiased: the brightest text pixel is nearly that colour).
  for k, (x, y) in enumerate([(5, 5), (50, 20)]):
    corner = out[y + 3:y + 16, x + 3:x + 14].reshape(-1, 3).astype(int)
    brightest = corner[np.argmax(corner.sum(axis=1))]
    assert np.abs(brightest - render.target_colour(k)).max() <= 30
  assert frame.max() == 0
