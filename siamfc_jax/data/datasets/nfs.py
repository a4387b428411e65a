"""NfS (Need for Speed) reader, 30 fps and 240 fps.

Layout (the official download): `<root>/<seq>/30/<seq>/00001.jpg ...` with
`<root>/<seq>/30/<seq>.txt`, and the same under `240/`. Every `*.txt` of a
`<seq>/<fps>/` folder is a sequence named after the file, its frames in the
folder of that name (as the got10k toolkit globs `*/<fps>/*.txt`).

Annotation lines are VATIC's format (github.com/cvondrick/vatic, the
columns as documented in the trackit NfS reader): `track_id xmin ymin xmax
ymax frame lost occluded generated "label"`, space separated, corners in
pixels; boxes here are `[xmin, ymin, xmax - xmin, ymax - ymin]` as the got10k
toolkit computes them (`datasets/nfs.py`, 0.1.3), origin 0 (`meta['origin']`
0: VATIC's pixel coordinates, read unchanged by got10k and pytracking).

The 30 fps folders ship the 240 fps annotation (about 8 lines per frame):
when the line count is within one frame of 8 per frame, every 8th line from
the first is kept, as got10k does (rows 0, 8, 16, ...: 240 fps frames 1, 9,
17, ... = 30 fps frames 1, 2, 3, ...).

Absence: `lost` (outside the view) -> `meta['absent']`, `occluded` ->
`meta['occluded']`, `generated` (interpolated) -> `meta['generated']`, all
[N] bool; boxes are kept as given.

Differences from got10k: a remaining length difference of one frame is
trimmed there (frames and boxes cut to the shorter); here
`sequences.match_lengths` applies (extra lines dropped, missing ones NaN,
with a warning), any other difference is not an assertion failure.
"""

import pathlib

import numpy as np

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files

FPS = (30, 240)
SUBSAMPLE = 8  # 240 fps lines per 30 fps frame


def read_annotation(path: pathlib.Path) -> np.ndarray:
  """[L, 8] float64 rows `xmin ymin xmax ymax frame lost occluded generated`.

  Raises:
    FileNotFoundError: no file.
    ValueError: an empty file or a line without those 9 leading numbers.
  """
  if not path.is_file():
    raise FileNotFoundError(f"{path}: annotation file not found")
  rows = []
  for i, line in enumerate(path.read_text().splitlines()):
    if not line.strip():
      continue
    tokens = line.split('"', 1)[0].split()
    try:
      values = [float(t) for t in tokens[:9]]
    except ValueError:
      values = []
    if len(values) != 9:
      raise ValueError(
          f"{path}:{i + 1}: expected 'id xmin ymin xmax ymax frame lost "
          f"occluded generated \"label\"', got {line.strip()!r}")
    rows.append(values[1:])
  if not rows:
    raise ValueError(f"{path}: empty annotation file")
  return np.array(rows)


def read_sequence(gt_file: pathlib.Path) -> sequences.Sequence:
  """Reads the sequence of one `<seq>/<fps>/<name>.txt`."""
  rows = read_annotation(gt_file)
  frames = files.frames(gt_file.parent / gt_file.stem)
  if abs(len(rows) / len(frames) - SUBSAMPLE) < 1:
    rows = rows[::SUBSAMPLE]
  rows, frames = sequences.match_lengths(gt_file, rows, frames)
  boxes = np.concatenate([rows[:, :2], rows[:, 2:4] - rows[:, :2]], axis=1)
  meta = {"format": "nfs", "gt_file": str(gt_file), "origin": 0,
          "absent": rows[:, 5] == 1, "occluded": rows[:, 6] == 1,
          "generated": rows[:, 7] == 1,
          "fps": int(gt_file.parent.name)}
  return sequences.Sequence(gt_file.stem, tuple(frames), boxes, meta)


def _anno_files(root: pathlib.Path, fps: int) -> list[pathlib.Path]:
  return sorted(p for folder in files.subfolders(root)
                for p in (folder / str(fps)).glob("*.txt")
                if (folder / str(fps)).is_dir() and p.is_file())


def read(root: pathlib.Path, fps: int) -> list[sequences.Sequence]:
  """Every sequence of the root at `fps` (30 or 240).

  Raises:
    FileNotFoundError: none found.
  """
  found = _anno_files(root, fps)
  if not found:
    raise FileNotFoundError(
        f"{root}: no NfS {fps} fps sequences (<seq>/{fps}/<seq>.txt)")
  return [read_sequence(p) for p in found]


def detect(root: pathlib.Path, fps: int) -> bool:
  return any((p.parent / p.stem).is_dir() for p in _anno_files(root, fps))
