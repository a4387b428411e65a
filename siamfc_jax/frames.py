"""Frames in: decode one frame, check its shape and the first box.

What every reader of frames shares (the tracker, int8 calibration, the
benchmarks and the app), kept in a leaf module so that none of them needs
the tracker for it. Boxes are `[x, y, w, h]` (see `boxes.py`).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from PIL import Image

Frame = Any  # a path, a PIL image or an [H, W(, C)] array


def load_frame(frame: Frame) -> np.ndarray:
  """Reads and converts one frame to [H, W, 3] uint8 RGB.

  Args:
    frame: a file path, a PIL image, or an array [H, W], [H, W, 1],
      [H, W, 3] or [H, W, 4] of uint8, uint16 (scaled by 1/257; also 16-bit
      image files), other integers within [0, 255], or float (rounded,
      clipped to [0, 255]). Grayscale is replicated, alpha dropped.

  Returns:
    [H, W, 3] uint8 array.

  Raises:
    FileNotFoundError, ValueError: naming the file or the shape/dtype.
  """
  if isinstance(frame, (str, os.PathLike)):
    if not os.path.isfile(frame):
      raise FileNotFoundError(f"frame not found: {frame}")
    try:
      with Image.open(frame) as img:
        img.load()
        return load_frame(img)
    except (OSError, SyntaxError, ValueError) as e:
      raise ValueError(f"cannot decode frame {frame}: {e}") from e
  if isinstance(frame, Image.Image):
    if frame.mode != "I" and not frame.mode.startswith("I;16"):
      return np.asarray(frame.convert("RGB"))
    # 16-bit files (PNG, PGM, TIFF) open as "I;16*" or as 32-bit "I".
    frame = np.asarray(frame)
    if frame.size and (frame.min() < 0 or frame.max() > 65535):
      raise ValueError(f"32-bit integer frame with values outside the "
                       f"16-bit range: [{frame.min()}, {frame.max()}]")
    frame = frame.astype(np.uint16)
  a = np.asarray(frame)
  if a.ndim == 3 and a.shape[2] in (1, 3, 4):
    a = a[..., :3] if a.shape[2] != 1 else a[..., 0]
  if a.ndim == 2:
    a = np.repeat(a[..., None], 3, axis=2)
  if a.ndim != 3 or a.shape[2] != 3 or min(a.shape[:2]) < 1:
    raise ValueError(f"frame must be [H, W], [H, W, 1|3|4]; got {a.shape}")
  if a.dtype == np.uint8:
    return a
  # By type, not content, so a dark 16-bit frame is scaled like a bright one.
  if a.dtype.kind == "u" and a.dtype.itemsize == 2:
    return np.clip(np.rint(a / 257.0), 0, 255).astype(np.uint8)
  if a.dtype.kind in "iu":
    if a.min() < 0 or a.max() > 255:
      raise ValueError(
          f"{a.dtype} frame with values in [{a.min()}, {a.max()}]: integer "
          "frames must be uint8, uint16 or within [0, 255]")
    return a.astype(np.uint8)
  if a.dtype.kind == "f":
    if not np.all(np.isfinite(a)):
      raise ValueError("frame has NaN or infinite pixels")
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)
  raise ValueError(f"unsupported frame dtype {a.dtype}")


def check_frame_shape(frame: np.ndarray, first_shape: Sequence[int],
                      source: Frame | None = None,
                      index: int | None = None) -> None:
  """Checks that a decoded frame has the first frame's shape.

  Raises:
    ValueError: naming the frame's file (when `source` is a path) or its
      index, and both shapes.
  """
  if tuple(frame.shape) == tuple(first_shape):
    return
  if isinstance(source, (str, os.PathLike)):
    where = f"{os.fspath(source)}: "
  else:
    where = "" if index is None else f"frame {index}: "
  raise ValueError(f"{where}frame shape {tuple(frame.shape)} differs from "
                   f"the first frame's {tuple(first_shape)}")


def check_box(box, frame_shape: Sequence[int]) -> np.ndarray:
  """Validates a box against its frame.

  Args:
    box: 4 numbers [x, y, w, h] (see `boxes.py`).
    frame_shape: (H, W, ...) of the frame.

  Returns:
    [4] float32 box.

  Raises:
    ValueError: not 4 finite numbers, w or h <= 0, or no overlap with the
      frame.
  """
  b = np.asarray(box, np.float64).reshape(-1)
  if b.size != 4 or not np.all(np.isfinite(b)):
    raise ValueError(f"box must be 4 finite numbers [x, y, w, h]; got {box}")
  x, y, w, h = b
  if w <= 0 or h <= 0:
    raise ValueError(f"box width and height must be > 0; got {box}")
  height, width = frame_shape[:2]
  if x >= width or y >= height or x + w <= 0 or y + h <= 0:
    raise ValueError(f"box {box} lies outside the {width}x{height} frame")
  return b.astype(np.float32)


def check_boxes(box, frame_shape: Sequence[int]) -> np.ndarray:
  """Validates K target boxes against their frame (`check_box` each).

  Args:
    box: [K, 4] numbers, one [x, y, w, h] per target, K >= 1.
    frame_shape: (H, W, ...) of the frame.

  Returns:
    [K, 4] float32 boxes.

  Raises:
    ValueError: not [K, 4] with K >= 1, or a bad box (naming its index).
  """
  b = np.asarray(box, np.float64)
  if b.ndim != 2 or b.shape[0] < 1 or b.shape[1] != 4:
    raise ValueError(f"target boxes must be [K, 4] with K >= 1, one "
                     f"[x, y, w, h] per target; got shape {b.shape}")
  out = []
  for k, one in enumerate(b):
    try:
      out.append(check_box(one, frame_shape))
    except ValueError as e:
      raise ValueError(f"target {k}: {e}") from None
  return np.stack(out)
