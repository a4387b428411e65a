"""Frames of a video file (.mp4, .avi, .mov, .mkv, .webm, .gif)."""

from __future__ import annotations

import os
import pathlib
from typing import Iterator

import imageio.v2 as imageio
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")


def is_video(path: os.PathLike | str) -> bool:
  """True for a file whose extension is a known video container."""
  path = pathlib.Path(path)
  return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def read_video(path: os.PathLike | str) -> Iterator[np.ndarray]:
  """Decodes a video lazily.

  Args:
    path: the video file.

  Yields:
    [H, W, 3] uint8 RGB frames.

  Raises:
    FileNotFoundError: no such file.
    ValueError: the file cannot be decoded (names it).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"video not found: {path}")
  try:
    reader = imageio.get_reader(path)
  except Exception as e:  # imageio raises many kinds; name the file.
    raise ValueError(f"cannot open video {path}: {e}") from e
  with reader:
    try:
      for frame in reader:
        yield np.asarray(frame)[..., :3]
    except (OSError, RuntimeError, IndexError) as e:
      raise ValueError(f"cannot decode video {path}: {e}") from e
