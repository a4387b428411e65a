"""File helpers shared by the benchmark readers: numbered frames, flag files,
name lists and the tables shipped in `tables/`.
"""

import importlib.resources
import pathlib
import re

import numpy as np

from siamfc_jax.data import sequences

def frames(folder: pathlib.Path, start: int | None = None,
           end: int | None = None) -> list[pathlib.Path]:
  """Frames of `folder` (see `sequences.list_frames`), optionally those
  numbered `start..end` (1-based, inclusive, by the number in the name).

  Raises:
    FileNotFoundError: no folder, no frames, or a frame of the range missing.
  """
  if not folder.is_dir():
    raise FileNotFoundError(f"{folder}: frames folder not found")
  found = sequences.list_frames(folder)
  if not found:
    raise FileNotFoundError(f"{folder}: no frames (expected *.jpg, *.png)")
  if start is None:
    return found
  return sequences.frames_numbered(found, start, end)


def read_flags(path: pathlib.Path, n: int) -> np.ndarray:
  """[n] bool per-frame 0/1 flags of a file (commas, spaces or newlines).

  Raises:
    FileNotFoundError: no file.
    ValueError: a value that is not a number, or not n values.
  """
  if not path.is_file():
    raise FileNotFoundError(f"{path}: flag file not found")
  tokens = [t for t in re.split(r"[,\s]+", path.read_text()) if t]
  try:
    values = np.array([float(t) for t in tokens])
  except ValueError:
    raise ValueError(f"{path}: expected 0/1 values only") from None
  if len(values) != n:
    raise ValueError(f"{path}: {len(values)} values but {n} frames "
                     "(expected one per frame)")
  return values != 0


def read_names(path: pathlib.Path) -> list[str]:
  """Non-blank, stripped lines of a text file (a sequence list)."""
  return [line.strip() for line in
          path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def table_lines(name: str) -> list[str]:
  """Non-blank, non-comment lines of a table shipped in `tables/`."""
  text = (importlib.resources.files("siamfc_jax.data.datasets") / "tables" /
          name).read_text(encoding="utf-8")
  return [line.strip() for line in text.splitlines()
          if line.strip() and not line.startswith("#")]


def subfolders(root: pathlib.Path) -> list[pathlib.Path]:
  """Non-hidden subfolders of `root`, sorted by name."""
  return sorted(p for p in root.iterdir()
                if p.is_dir() and not p.name.startswith("."))


def one_based_to_zero(boxes: np.ndarray) -> np.ndarray:
  """[N, 4] boxes of a 1-based file -> the 0-based `siamfc_jax.boxes` ones."""
  boxes = np.array(boxes, dtype=np.float64)
  boxes[:, :2] -= 1
  return boxes
