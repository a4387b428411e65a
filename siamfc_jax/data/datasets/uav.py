"""UAV123, UAV20L and UAV123@10fps readers.

Layout (the toolkit's download):

  UAV123 / UAV20L: `<root>/data_seq/UAV123/<folder>/000001.jpg ...` and
    `<root>/anno/UAV123/<seq>.txt` (UAV20L: `anno/UAV20L/<seq>.txt`, same
    frame folders);
  UAV123@10fps: `<root>/data_seq/UAV123_10fps/<folder>/...` and
    `<root>/anno/UAV123_10fps/<seq>.txt`.

Each annotation file holds one `x,y,w,h` line per frame of the sequence's
frame range; `NaN,NaN,NaN,NaN` where the target is fully occluded or out of
view (UAV123_10fps `ReadMe.txt`). The sequences are the annotation files
present, sorted by name (as the got10k toolkit lists them).

Frame ranges: several sequences are sub-ranges of one frame folder
(`group2_1..3` are frames 1-907, 907-1771, 1771-2683 of `group2`), so each
sequence reads the frames numbered `start..end` of its folder from
`tables/uav_ranges.csv` (benchmark, sequence, folder, start, end):

* uav123, uav20l: the got10k toolkit's `datasets/uav123.json` (got10k
  0.1.3), itself from the toolkit's `configSeqs.m`; the 123 UAV123 rows
  equal pytracking's `pytracking/evaluation/uavdataset.py` (commit 7eb9e74).
* uav123_10fps: the UAV123_10fps toolkit's `configSeqs.m` as published in
  vision4robotics/OMAL-tracker `UAV123_10fps/configSeqs.m` (commit ee3f8a8);
  checked against another copy (group2_2 = 303-591) and the shared real
  sequences boat1 (301 frames), person11 (241), wakeboard10 (157).

A sequence missing from the table reads its whole folder of the same name.

Coordinates: MATLAB toolkit (OTB's descendant), 1-based (`meta['origin']`
1; x, y - 1 here). Absence: NaN rows stay NaN; `meta['absent']` marks them.

Differences from the got10k toolkit (`datasets/uav123.py`): it has no
UAV123@10fps and asserts equal lengths; here `sequences.match_lengths`.
"""

import pathlib

import numpy as np

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files

# benchmark -> (annotation folder, frames folder) under anno/ and data_seq/.
FOLDERS = {"uav123": ("UAV123", "UAV123"), "uav20l": ("UAV20L", "UAV123"),
           "uav123_10fps": ("UAV123_10fps", "UAV123_10fps")}


def ranges(benchmark: str) -> dict[str, tuple[str, int, int]]:
  """Sequence -> (frame folder, first, last frame) of a benchmark's table."""
  table = {}
  for line in files.table_lines("uav_ranges.csv"):
    bench, name, folder, start, end = line.split(",")
    if bench == benchmark:
      table[name] = (folder, int(start), int(end))
  return table


def read_sequence(root: pathlib.Path, benchmark: str,
                  name: str) -> sequences.Sequence:
  """Reads sequence `name` of `benchmark` ('uav123', 'uav20l',
  'uav123_10fps') under `root`.

  Raises:
    FileNotFoundError: no annotation file, frame folder or range frame.
    ValueError: malformed annotation.
  """
  anno_dir, data_dir = FOLDERS[benchmark]
  gt_file = root / "anno" / anno_dir / f"{name}.txt"
  boxes = sequences.read_numbers(gt_file, (4,))
  folder, start, end = ranges(benchmark).get(name, (name, None, None))
  frames = files.frames(root / "data_seq" / data_dir / folder, start, end)
  boxes, frames = sequences.match_lengths(gt_file, boxes, frames)
  meta = {"format": "uav123", "gt_file": str(gt_file), "origin": 1,
          "absent": np.isnan(boxes).any(axis=1), "folder": folder}
  return sequences.Sequence(name, tuple(frames),
                            files.one_based_to_zero(boxes), meta)


def _anno_files(root: pathlib.Path, benchmark: str) -> list[pathlib.Path]:
  anno = root / "anno" / FOLDERS[benchmark][0]
  if not anno.is_dir():
    return []
  return sorted(p for p in anno.glob("*.txt") if p.is_file())


def read(root: pathlib.Path, benchmark: str) -> list[sequences.Sequence]:
  """Every annotated sequence of `benchmark` under `root`.

  Raises:
    FileNotFoundError: no annotation files.
  """
  anno_files = _anno_files(root, benchmark)
  if not anno_files:
    raise FileNotFoundError(
        f"{root}: no {benchmark} annotations (anno/"
        f"{FOLDERS[benchmark][0]}/*.txt)")
  return [read_sequence(root, benchmark, f.stem) for f in anno_files]


def detect(root: pathlib.Path, benchmark: str) -> bool:
  """Annotation files and the frames folder of `benchmark` present."""
  return (bool(_anno_files(root, benchmark)) and
          (root / "data_seq" / FOLDERS[benchmark][1]).is_dir())
