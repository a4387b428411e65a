"""TrackingNet reader.

Layout: `<root>/<chunk>/frames/<seq>/0.jpg, 1.jpg, ...` and
`<root>/<chunk>/anno/<seq>.txt` (comma separated `x,y,w,h`), chunks `TEST`
and `TRAIN_0` ... `TRAIN_11`. The benchmark reads the `TEST` chunk when the
root has one, else every `TRAIN_k` chunk present (in k order); a root that
is itself a chunk (`frames/` + `anno/`) is read as such. The sequences are
the annotation files, sorted by name; frames sorted by their number.

Test split: the annotation holds the first frame's box only; the other rows
are NaN (unannotated, no warning). Otherwise one line per frame
(`sequences.match_lengths`).

Coordinates: 0-based (`meta['origin']` 0), as written by the TrackingNet
devkit and read unchanged by the got10k toolkit and pytracking.

Differences from the got10k toolkit (`datasets/trackingnet.py`, 0.1.3): it
looks for frames in `<chunk>/<seq>/` (not `<chunk>/frames/<seq>/`, the
devkit's layout that pytracking reads) and asserts one box per frame, which
fails on the test split.
"""

import pathlib
import re

import numpy as np

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files

_TRAIN = re.compile(r"^TRAIN_(\d+)$")


def is_chunk(folder: pathlib.Path) -> bool:
  """Has `frames/` and `anno/` with at least one annotation file."""
  return ((folder / "frames").is_dir() and (folder / "anno").is_dir() and
          any((folder / "anno").glob("*.txt")))


def chunks(root: pathlib.Path) -> list[pathlib.Path]:
  """The chunks the benchmark reads (see the module docstring)."""
  if is_chunk(root / "TEST"):
    return [root / "TEST"]
  train = sorted((int(m.group(1)), p) for p in files.subfolders(root)
                 if (m := _TRAIN.match(p.name)) and is_chunk(p))
  if train:
    return [p for _, p in train]
  return [root] if is_chunk(root) else []


def read_sequence(chunk: pathlib.Path, name: str) -> sequences.Sequence:
  """Reads sequence `name` of a chunk.

  Raises:
    FileNotFoundError: no annotation or frames.
    ValueError: malformed annotation.
  """
  gt_file = chunk / "anno" / f"{name}.txt"
  boxes = sequences.read_numbers(gt_file, (4,))
  frames = files.frames(chunk / "frames" / name)
  if len(boxes) == 1:  # test split: first frame only
    boxes = np.concatenate([boxes, np.full((len(frames) - 1, 4), np.nan)])
  else:
    boxes, frames = sequences.match_lengths(gt_file, boxes, frames)
  meta = {"format": "trackingnet", "gt_file": str(gt_file), "origin": 0,
          "chunk": chunk.name}
  return sequences.Sequence(name, tuple(frames), boxes, meta)


def read(root: pathlib.Path) -> list[sequences.Sequence]:
  """The sequences of the chunks the benchmark reads.

  Raises:
    FileNotFoundError: no chunk.
  """
  found = chunks(root)
  if not found:
    raise FileNotFoundError(
        f"{root}: no TrackingNet chunk (TEST/ or TRAIN_k/ with frames/ and "
        "anno/*.txt)")
  return [read_sequence(c, p.stem) for c in found
          for p in sorted((c / "anno").glob("*.txt"))]


def detect(root: pathlib.Path) -> bool:
  return bool(chunks(root))
