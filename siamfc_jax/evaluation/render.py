"""Draws tracked boxes on frames and writes them as a video (.mp4 or .gif)."""

from __future__ import annotations

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
