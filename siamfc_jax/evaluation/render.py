"""Draws tracked boxes on frames and writes them as a video (.mp4 or .gif).

Several targets (`draw_targets`) are drawn each in its own colour with its
index (0-based, the order in which they were given).
"""

from __future__ import annotations

import colorsys
import os
from typing import Iterable, Sequence
import warnings

import imageio.v2 as imageio
import numpy as np
from PIL import Image
from PIL import ImageDraw

PREDICTION_COLOUR = (255, 40, 40)
GROUND_TRUTH_COLOUR = (40, 220, 40)
VIDEO_EXTENSIONS = (".mp4", ".gif")


def draw_boxes(frame: np.ndarray, boxes: Sequence[np.ndarray],
               colours: Sequence[tuple[int, int, int]],
               label: str | None = None) -> np.ndarray:
  """Draws `[x, y, w, h]` boxes (see `boxes.py`) on an [H, W, 3] uint8 frame.

  Boxes with NaN values (absent target) are skipped.

  Returns:
    [H, W, 3] uint8 copy with the boxes.
  """
  img = Image.fromarray(frame)
  draw = ImageDraw.Draw(img)
  width = max(2, round(min(frame.shape[:2]) / 200))
  for box, colour in zip(boxes, colours):
    if box is None or not np.all(np.isfinite(box)):
      continue
    x, y, w, h = (float(v) for v in box)
    # At least one pixel: PIL refuses a rectangle whose corners cross.
    draw.rectangle([x, y, max(x, x + w - 1), max(y, y + h - 1)],
                   outline=colour, width=width)
  if label:
    draw.text((6, 4), label, fill=(255, 255, 0))
  return np.asarray(img)


# Colours of targets 0, 1, ... when several are tracked: target 0 has the
# single tracker's red; none is the ground truth's green.
TARGET_COLOURS = ((255, 40, 40), (40, 120, 255), (255, 160, 0),
                  (230, 40, 230), (0, 220, 230), (255, 255, 60),
                  (150, 80, 255), (160, 100, 40), (255, 150, 190),
                  (255, 255, 255))


def target_colour(k: int) -> tuple[int, int, int]:
  """RGB colour of target k: `TARGET_COLOURS`, then hues spread by the
  golden ratio (distinct from their neighbours for any number)."""
  if k < len(TARGET_COLOURS):
    return TARGET_COLOURS[k]
  rgb = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.85, 1.0)
  return tuple(int(round(255 * c)) for c in rgb)


def draw_targets(frame: np.ndarray, boxes: np.ndarray,
                 ground_truth: np.ndarray | None = None,
                 label: str | None = None) -> np.ndarray:
  """Draws K targets, each in its colour (`target_colour`) with its index.

  Args:
    frame: [H, W, 3] uint8 frame.
    boxes: [K, 4] boxes [x, y, w, h] (see `boxes.py`), target k in row k;
      NaN rows are skipped.
    ground_truth: optional [4] box drawn in `GROUND_TRUTH_COLOUR` first.
    label: optional text in the top-left corner (the frame number).

  Returns:
    [H, W, 3] uint8 copy with the boxes and their indices.
  """
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  colours = [target_colour(k) for k in range(len(boxes))]
  out = draw_boxes(frame, [ground_truth, *boxes],
                   [GROUND_TRUTH_COLOUR, *colours], label)
  img = Image.fromarray(out)
  draw = ImageDraw.Draw(img)
  width = max(2, round(min(frame.shape[:2]) / 200))
  for k, (box, colour) in enumerate(zip(boxes, colours)):
    if np.all(np.isfinite(box)):
      # Inside the top-left corner, so it stays on the frame.
      draw.text((box[0] + width + 1, box[1] + width), str(k), fill=colour)
  return np.asarray(img)


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray],
                fps: float = 25.0) -> int:
  """Writes [H, W, 3] uint8 frames to .mp4 (H.264) or .gif, streaming.

  Args:
    path: output file; the extension picks the format.
    frames: the frames, all of one size.
    fps: frames per second.

  Returns:
    Number of frames written.

  Raises:
    ValueError: unknown extension.
  """
  ext = os.path.splitext(str(path))[1].lower()
  if ext not in VIDEO_EXTENSIONS:
    raise ValueError(f"cannot render to {path}: use one of {VIDEO_EXTENSIONS}")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  n = 0
  # The ffmpeg writer starts a subprocess; JAX warns about any fork in a
  # multithreaded process, but the child only execs ffmpeg.
  with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="os.fork")
    if ext == ".gif":
      writer = imageio.get_writer(path, mode="I", duration=1000 / fps, loop=0)
    else:
      writer = imageio.get_writer(path, fps=fps, codec="libx264",
                                  macro_block_size=1, quality=7)
    with writer:
      for frame in frames:
        if ext == ".mp4":  # yuv420p needs even sides
          frame = np.pad(frame, ((0, frame.shape[0] % 2),
                                 (0, frame.shape[1] % 2), (0, 0)))
        writer.append_data(frame)
        n += 1
  return n
