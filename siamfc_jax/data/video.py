"""Frames of a video file (.mp4, .avi, .mov, .mkv, .webm, .gif)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
from typing import Iterator

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")

# imageio-ffmpeg starts ffmpeg with preexec_fn=os.setpgrp (so that Ctrl-C
# does not reach it), which makes CPython fork and run Python code in the
# child of a process that JAX has made multithreaded: JAX's "os.fork() was
# called" RuntimeWarning on every video read or written, and a real if small
# deadlock risk (imageio-ffmpeg #58). Without it no Python runs between fork
# and exec; ffmpeg then gets our Ctrl-C too, which ends us anyway. A value
# the user set is kept.
os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")


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


def frame_count(path: os.PathLike | str) -> int | None:
  """The number of frames of a video, or None when ffmpeg cannot tell.

  Counted by ffmpeg from the container's packets (`-c copy`: nothing is
  decoded, the file is read once), so it is exact where the duration times
  the frame rate is not.

  Args:
    path: the video file.
  """
  command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin",
             "-i", os.fspath(path), "-map", "0:v:0", "-c", "copy", "-f",
             "null", "-"]
  try:
    run = subprocess.run(command, capture_output=True, text=True,
                         errors="replace", timeout=120, check=False)
  except (OSError, subprocess.TimeoutExpired):
    return None
  counts = re.findall(r"frame=\s*(\d+)", run.stderr)
  if run.returncode != 0 or not counts or int(counts[-1]) == 0:
    return None
  return int(counts[-1])
