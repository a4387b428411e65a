"""TC-128 (Temple Color 128) reader.

Layout: `<root>/<seq>/<seq>_gt.txt` (one `x,y,w,h` line per frame of the
range), `<root>/<seq>/<seq>_frames.txt` (`start,end`, 1-based frame
numbers) and `<root>/<seq>/img/0001.jpg ...`; the sequence reads the frames
numbered start..end (all frames when there is no `_frames.txt`). Files are
found by their suffix (`*_gt.txt`, `*_frames.txt`, one of each), as the got10k
toolkit does (`datasets/tcolor128.py`, 0.1.3); sequences are sorted by
folder name.

Coordinates: MATLAB toolkit (OTB's), 1-based (`meta['origin']` 1; x, y - 1
here). Absence: NaN rows (if any) stay NaN and are `meta['absent']`.

Differences from got10k: it asserts equal lengths; here
`sequences.match_lengths`.
"""

import pathlib

import numpy as np

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files


def _one(folder: pathlib.Path, suffix: str) -> pathlib.Path | None:
  found = sorted(folder.glob(f"*{suffix}"))
  if len(found) > 1:
    raise ValueError(f"{folder}: several *{suffix} files "
                     f"({', '.join(p.name for p in found)}), expected one")
  return found[0] if found else None


def read_sequence(folder: pathlib.Path) -> sequences.Sequence:
  """Reads one TC-128 sequence folder.

  Raises:
    FileNotFoundError: no `*_gt.txt`, frames or range frame.
    ValueError: malformed files.
  """
  gt_file = _one(folder, "_gt.txt")
  if gt_file is None:
    raise FileNotFoundError(f"{folder}: no *_gt.txt ground truth")
  boxes = sequences.read_numbers(gt_file, (4,))
  range_file = _one(folder, "_frames.txt")
  start = end = None
  if range_file is not None:
    span = sequences.read_numbers(range_file, (2,))
    if len(span) != 1 or span[0, 0] < 1 or span[0, 1] < span[0, 0]:
      raise ValueError(f"{range_file}: expected one line 'start,end' with "
                       "1 <= start <= end")
    start, end = int(span[0, 0]), int(span[0, 1])
  frames = files.frames(folder / "img", start, end)
  boxes, frames = sequences.match_lengths(gt_file, boxes, frames)
  meta = {"format": "tc128", "gt_file": str(gt_file), "origin": 1,
          "absent": np.isnan(boxes).any(axis=1)}
  return sequences.Sequence(folder.name, tuple(frames),
                            files.one_based_to_zero(boxes), meta)


def _folders(root: pathlib.Path) -> list[pathlib.Path]:
  return [f for f in files.subfolders(root) if any(f.glob("*_gt.txt"))]


def read(root: pathlib.Path) -> list[sequences.Sequence]:
  """Every TC-128 sequence folder of the root.

  Raises:
    FileNotFoundError: none found.
  """
  folders = _folders(root)
  if not folders:
    raise FileNotFoundError(f"{root}: no TC-128 sequences (<seq>/*_gt.txt)")
  return [read_sequence(f) for f in folders]


def detect(root: pathlib.Path) -> bool:
  return bool(_folders(root))
