"""Reads tracking sequences (frames + ground truth) from OTB, VOT and GOT-10k.

Every reader returns a `Sequence` whose boxes follow the one convention of
`siamfc_jax.boxes`: float `[x, y, w, h]` in pixels, 0-based top-left, in
continuous coordinates (pixel column j covers [j, j + 1)). Conversions:

* OTB (`img/` + `groundtruth_rect.txt`): files are 1-based, so x and y get
  -1. Separators may be commas, tabs, spaces or a mix. Several targets
  (`groundtruth_rect.1.txt`, `.2.txt`, ...) become sequences `Name.1`,
  `Name.2`, as the got10k toolkit names them.
* VOT (`groundtruth.txt`, frames in the folder, `color/` or `img/`): 0-based
  polygons `x1,y1,...,x4,y4` become the axis-aligned box of the original
  SiamFC `get_axis_aligned_BB.m` (see `polygon_to_box`); 4-value lines are
  already `x,y,w,h`. The polygons are kept in `meta['polygons']`.
* GOT-10k (`groundtruth.txt` + `absence.label`, `cover.label`, ...; frames
  in the folder): 0-based `x,y,w,h`, comma separated. Frames whose
  `absence.label` is 1 get NaN boxes.

Frames are the `*.jpg`, `*.jpeg`, `*.png` and `*.bmp` files of the frame
folder, sorted by the last number in their names (`2.jpg` before `10.jpg`).

Ground truth is matched to the frames by one rule in every reader
(`match_lengths`), as the benchmark toolkits do with real downloads (VOT2015
car1 ships 742 lines for 252 frames): more lines than frames -> the first N
lines are used; fewer lines than frames -> every frame is kept (and tracked
from the first box) and the missing rows are NaN, so only the annotated
frames are scored. Either way one `GroundTruthWarning` names the file and
both counts. Per-frame label and tag files follow the ground truth. A gap or
a repeated number in the frame numbering is an error: the alignment of lines
and frames is then unknown. OTB sequences annotated on part of their
`img/` folder use that part (`OTB_FRAMES`, the OTB toolkit's frame table:
David starts at frame 300; Diving, Football1, Freeman3 and Freeman4 stop
early), in `read_otb` and the OTB benchmark readers alike
(`otb_frame_range`).

Malformed input raises `FileNotFoundError` (missing folder, no frames) or
`ValueError` naming the file and, for ground truth, the 1-based line and its
text; for frames, the missing or repeated number.
"""

import configparser
import dataclasses
import math
import os
import pathlib
import re
from typing import Any, Literal, Sequence as SequenceOf
import warnings

import numpy as np

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

_SEPARATORS = re.compile(r"[,\s]+")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_OTB_TARGET = re.compile(r"^groundtruth_rect\.(\d+)\.txt$")
# Files whose presence marks a GOT-10k sequence (VOT has none of them).
# OTB sequences annotated on part of their `img/` folder: name (lower case)
# -> (first, last) frame number, from the OTB toolkit's `configSeqs.m` (as
# in HonglinChu/visual_tracker_benchmark commit f656b18; got10k 0.1.3
# `datasets/otb.py` cuts David, Football1, Freeman3, Freeman4 and Diving the
# same way). Folders of BlurCar1/3/4 usually hold only their range.
OTB_FRAMES = {"david": (300, 770), "blurcar1": (247, 988),
              "blurcar3": (3, 359), "blurcar4": (18, 397),
              "football1": (1, 74), "freeman3": (1, 460),
              "freeman4": (1, 283), "diving": (1, 215)}
_GOT10K_MARKERS = ("absence.label", "cover.label", "cut_by_image.label",
                   "meta_info.ini")


class GroundTruthWarning(UserWarning):
  """A ground truth whose line count differs from the frames (see
  `match_lengths`): used as the toolkits use it, but worth knowing."""


@dataclasses.dataclass(frozen=True, eq=False)
class Sequence:
  """One annotated video: frame paths and one box per frame.

  Attributes:
    name: sequence name (folder name; `Name.k` for target k of OTB).
    frames: N frame paths in temporal order.
    boxes: [N, 4] float64 read-only ground truth `[x, y, w, h]` (convention of
      `siamfc_jax.boxes`), NaN rows where the target is absent or the frame
      is not annotated.
    meta: format-specific extras: always `format` ('otb', 'vot', 'got10k',
      'folder') and `gt_file` (or None); VOT adds `polygons` ([N, 8] float64)
      and `tags` (name -> [N] bool); GOT-10k adds `absence`, `cut_by_image`
      ([N] bool), `cover` ([N] int, 0-8), `info` (meta_info.ini, str -> str)
      and `resolution` ((W, H) ints) when present; OTB adds `target`.
  """

  name: str
  frames: tuple[str, ...]
  boxes: np.ndarray
  meta: dict[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    frames = tuple(str(f) for f in self.frames)
    boxes = np.array(self.boxes, dtype=np.float64)
    if boxes.shape != (len(frames), 4):
      raise ValueError(
          f"sequence {self.name!r}: boxes must be [{len(frames)}, 4] (one per "
          f"frame), got shape {boxes.shape}")
    boxes.setflags(write=False)
    object.__setattr__(self, "frames", frames)
    object.__setattr__(self, "boxes", boxes)

  def __len__(self) -> int:
    return len(self.frames)


def first_box(seq: Sequence) -> np.ndarray:
  """The box tracking starts from: frame 0's, checked.

  Args:
    seq: a sequence.

  Returns:
    [4] float64 box `[x, y, w, h]` of the first frame.

  Raises:
    ValueError: the box is not finite (not annotated, absent) or has a width
      or height <= 0, naming the ground-truth file's first line.
  """
  box = seq.boxes[0]
  where = (f"{seq.meta['gt_file']}:1" if seq.meta.get("gt_file")
           else f"sequence {seq.name}")
  if not np.all(np.isfinite(box)):
    raise ValueError(f"{where}: the first frame has no box to start "
                     f"tracking from, got {box.tolist()}")
  if box[2] <= 0 or box[3] <= 0:
    raise ValueError(f"{where}: the first box has width {box[2]:g} and "
                     f"height {box[3]:g}, expected both > 0")
  return box


def polygon_to_box(polygons: np.ndarray) -> np.ndarray:
  """Axis-aligned boxes of VOT polygons, as the original SiamFC computes them.

  Follows `get_axis_aligned_BB.m` (and got10k's `VOT._corner2rect`): the
  centre is the mean of the four corners; the min/max bounding rectangle is
  scaled by s = sqrt(A_poly / A_bbox) to keep the polygon's area, where
  `A_poly = |p1 - p2| * |p2 - p3|` (two adjacent edges: a rectangle assumption,
  not the shoelace area); then w = s (x2 - x1) + 1 and h = s (y2 - y1) + 1.
  A degenerate polygon (zero-area bounding rectangle) uses s = 1.

  Args:
    polygons: [..., 8] float corners `x1, y1, ..., x4, y4`, 0-based pixels.

  Returns:
    [..., 4] float64 boxes `[cx - w / 2, cy - h / 2, w, h]`.
  """
  p = np.asarray(polygons, dtype=np.float64)
  if p.shape[-1] != 8:
    raise ValueError(f"polygons must have 8 values per row, got {p.shape}")
  xs, ys = p[..., 0::2], p[..., 1::2]
  cx, cy = xs.mean(-1), ys.mean(-1)
  x1, x2 = xs.min(-1), xs.max(-1)
  y1, y2 = ys.min(-1), ys.max(-1)
  a_poly = (np.hypot(p[..., 0] - p[..., 2], p[..., 1] - p[..., 3]) *
            np.hypot(p[..., 2] - p[..., 4], p[..., 3] - p[..., 5]))
  a_bbox = (x2 - x1) * (y2 - y1)
  with np.errstate(divide="ignore", invalid="ignore"):
    s = np.where(a_bbox > 0, np.sqrt(a_poly / a_bbox), 1.0)
  w = s * (x2 - x1) + 1
  h = s * (y2 - y1) + 1
  return np.stack([cx - w / 2, cy - h / 2, w, h], axis=-1)


def box_to_polygon(boxes: np.ndarray) -> np.ndarray:
  """[..., 4] boxes -> [..., 8] corners (top-left, clockwise in image)."""
  b = np.asarray(boxes, dtype=np.float64)
  x, y, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
  return np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=-1)


def list_frames(folder: os.PathLike | str) -> list[pathlib.Path]:
  """Image files of a folder, sorted by the last number in their names.

  Args:
    folder: a directory.

  Returns:
    Paths of the non-hidden `*.jpg`, `*.jpeg`, `*.png`, `*.bmp` files
    (any case), ordered by (last number in the stem, name); empty if none.
  """
  folder = pathlib.Path(folder)
  files = [
      folder / e.name for e in os.scandir(folder)
      if e.is_file() and not e.name.startswith(".")
      and e.name.lower().endswith(FRAME_EXTENSIONS)
  ]

  def key(path):
    match = _LAST_NUMBER.search(path.stem)
    return (int(match.group(1)) if match else math.inf, path.name)

  return sorted(files, key=key)


def _frames_in(folder: pathlib.Path, subdirs: tuple[str, ...],
               layout: str) -> list[pathlib.Path]:
  """Frames of the first of `subdirs` ('' = the folder) that has any."""
  searched = []
  for sub in subdirs:
    where = folder / sub if sub else folder
    if where.is_dir():
      frames = list_frames(where)
      if frames:
        return frames
      searched.append(str(where))
  if not searched:
    names = ", ".join(f"{s}/" for s in subdirs if s)
    raise FileNotFoundError(
        f"{folder}: no frames folder ({names}) of the {layout} layout")
  raise FileNotFoundError(
      f"{' or '.join(searched)}: no frames (expected "
      f"{', '.join('*' + e for e in FRAME_EXTENSIONS)})")


def read_numbers(path: os.PathLike | str, counts: tuple[int, ...],
                 return_counts: bool = False):
  """Parses a text file of numbers, one record per line.

  Values may be separated by commas, tabs, spaces or a mix; `nan`/`NaN` is a
  number. Trailing blank lines and a missing final newline are accepted.

  Args:
    path: the file.
    counts: allowed numbers of values per line (e.g. (4,) or (4, 8)).

    return_counts: also return how many values each line had.

  Returns:
    [L, max(counts)] float64 values; shorter rows are NaN padded (only when
    several counts are allowed). With `return_counts`, also [L] int counts.

  Raises:
    FileNotFoundError: the file does not exist.
    ValueError: empty file, blank line before the end, a non-numeric value or
      a wrong number of values; the message names the file, line and text.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: ground-truth file not found")
  lines = path.read_text(encoding="utf-8-sig").splitlines()
  while lines and not lines[-1].strip():
    lines.pop()
  if not lines:
    raise ValueError(f"{path}: empty file, expected one line per frame")
  rows = np.full((len(lines), max(counts)), np.nan)
  lengths = np.zeros(len(lines), dtype=np.int64)
  want = " or ".join(str(c) for c in counts)
  for i, line in enumerate(lines):
    text = line.strip()
    where = f"{path}:{i + 1}"
    if not text:
      raise ValueError(f"{where}: blank line, expected {want} numbers")
    tokens = _SEPARATORS.split(text)
    try:
      values = [float(t) for t in tokens]
    except ValueError:
      raise ValueError(f"{where}: non-numeric value in line {text!r}, "
                       f"expected {want} numbers") from None
    if len(values) not in counts:
      raise ValueError(f"{where}: {len(values)} values in line {text!r}, "
                       f"expected {want}")
    rows[i, :len(values)] = values
    lengths[i] = len(values)
  return (rows, lengths) if return_counts else rows


def _frame_number(frame: os.PathLike | str) -> float:
  """The last number in a frame's name (inf without one)."""
  match = _LAST_NUMBER.search(pathlib.Path(frame).stem)
  return int(match.group(1)) if match else math.inf


def check_numbering(frames: SequenceOf[os.PathLike | str]) -> None:
  """Checks that numbered frames have consecutive numbers.

  Frames are numbered by the last number in their names (`list_frames`);
  the first may have any number (OTB's BlurCar1 starts at 0247.jpg). Frames
  whose names hold no number are not checked.

  Args:
    frames: frame paths in temporal order (as `list_frames` sorts them).

  Raises:
    ValueError: a number is missing (a gap) or repeated, naming the folder
      and the frames on either side.
  """
  numbered = [(_frame_number(f), pathlib.Path(f)) for f in frames]
  numbered = [(k, f) for k, f in numbered if k != math.inf]
  for (a, path_a), (b, path_b) in zip(numbered, numbered[1:]):
    if b == a:
      raise ValueError(
          f"{path_b.parent}: frames {path_a.name} and {path_b.name} have the "
          f"same number {a}; the ground truth cannot be aligned with them")
    if b != a + 1:
      missing = f"{a + 1}" if b == a + 2 else f"{a + 1} to {b - 1}"
      raise ValueError(
          f"{path_b.parent}: frame {missing} missing between {path_a.name} "
          f"and {path_b.name}; the ground truth cannot be aligned with the "
          "frames")


def match_lengths(gt_file: os.PathLike | str, boxes: np.ndarray,
                  frames: SequenceOf[os.PathLike | str]
                  ) -> tuple[np.ndarray, list]:
  """Matches ground-truth rows to frames, as the toolkits do (one rule).

  More rows than frames: the first N rows are used. Fewer rows than frames:
  every frame is kept and the missing rows are NaN (unannotated, left out of
  the scores). Either mismatch warns once (`GroundTruthWarning`, naming the
  file and both counts). The frame numbering must have no gap
  (`check_numbering`): lines could not be matched to frames otherwise.

  Args:
    gt_file: the ground-truth file (named in the warning).
    boxes: [M, C] float rows, one per ground-truth line (C = 4 for boxes, 8
      for VOT polygons).
    frames: N frame paths in temporal order.

  Returns:
    ([N, C] float64 rows, the N frames as a list).

  Raises:
    ValueError: a gap or a repeated number in the frame numbering.
  """
  check_numbering(frames)
  frames = list(frames)
  boxes = np.asarray(boxes, dtype=np.float64)
  n, m = len(frames), len(boxes)
  if m > n:
    warnings.warn(GroundTruthWarning(
        f"{gt_file}: {m} ground-truth lines but {n} frames: using the first "
        f"{n} lines"), stacklevel=2)
    return boxes[:n], frames
  if m < n:
    warnings.warn(GroundTruthWarning(
        f"{gt_file}: {m} ground-truth lines but {n} frames: tracking all {n} "
        f"frames, scoring the first {m}"), stacklevel=2)
    pad = np.full((n - m,) + boxes.shape[1:], np.nan)
    return np.concatenate([boxes, pad]), frames
  return boxes, frames


def otb_targets(path: os.PathLike | str) -> list[int | None]:
  """Targets annotated in an OTB folder: [None] or [1, 2, ...] (or [])."""
  path = pathlib.Path(path)
  numbered = sorted(
      int(m.group(1)) for m in (_OTB_TARGET.match(e.name)
                                for e in os.scandir(path)) if m)
  if (path / "groundtruth_rect.txt").is_file():
    return [None]
  return numbered


def otb_frame_range(name: str, frames: SequenceOf[pathlib.Path],
                    gt_lines: int) -> list[pathlib.Path]:
  """The frames of an OTB folder that its ground truth annotates.

  A sequence of `OTB_FRAMES` whose ground truth is shorter than its folder
  (the OTB download) keeps the frames numbered in its range; any other
  folder, or one holding just the range, keeps every frame (a folder of
  one's own that happens to be called David, with a box per frame, is read
  whole).

  Args:
    name: the folder's name (`David`; case ignored).
    frames: the folder's frames in temporal order.
    gt_lines: lines of its ground-truth file.

  Raises:
    FileNotFoundError: a frame of the range is missing.
  """
  span = OTB_FRAMES.get(name.lower())
  if span is None or gt_lines >= len(frames):
    return list(frames)
  return frames_numbered(frames, *span,
                         f"{name} uses frames {span[0]}..{span[1]} (the OTB "
                         "toolkit's range)")


def frames_numbered(frames: SequenceOf[pathlib.Path], start: int, end: int,
                    what: str = "") -> list[pathlib.Path]:
  """The frames numbered `start..end` (inclusive, the last number in their
  names), in that order.

  Raises:
    FileNotFoundError: a frame of the range is missing; the message names
      the folder, `what` (default: the range) and the first missing number.
  """
  by_number = {_frame_number(f): f for f in frames}
  wanted = range(start, end + 1)
  missing = [i for i in wanted if i not in by_number]
  if missing:
    raise FileNotFoundError(
        f"{pathlib.Path(frames[0]).parent}: "
        f"{what or f'frames {start}..{end} expected'}, {len(missing)} "
        f"missing (first: number {missing[0]})")
  return [by_number[i] for i in wanted]


def read_otb(path: os.PathLike | str, target: int | None = None) -> Sequence:
  """Reads an OTB-style sequence folder (`img/` + `groundtruth_rect.txt`).

  Args:
    path: the sequence folder; its name names the sequence.
    target: for multi-target folders, k selects `groundtruth_rect.k.txt`
      and names the sequence `Name.k`; None reads `groundtruth_rect.txt`.

  Returns:
    The sequence; boxes converted from 1-based to 0-based (x - 1, y - 1),
    matched to the frames by `match_lengths` (OTB sequences whose
    annotation stops early, like Diving, get NaN rows at the end).

  Raises:
    FileNotFoundError: no ground-truth file, no `img/` or no frames in it.
    ValueError: malformed ground truth, a gap in the frame numbering;
      several targets and `target` None.
  """
  path = pathlib.Path(path)
  if target is None:
    gt_file = path / "groundtruth_rect.txt"
    if not gt_file.is_file():
      found = otb_targets(path) if path.is_dir() else []
      if found:
        raise ValueError(
            f"{path}: several targets {found} "
            f"(groundtruth_rect.k.txt); pass target=k or use read_dataset")
      raise FileNotFoundError(f"{gt_file}: ground-truth file not found")
    name = path.name
  else:
    gt_file = path / f"groundtruth_rect.{target}.txt"
    name = f"{path.name}.{target}"
  boxes = read_numbers(gt_file, (4,))
  frames = _frames_in(path, ("img",), "OTB")
  frames = otb_frame_range(path.name, frames, len(boxes))
  boxes, frames = match_lengths(gt_file, boxes, frames)
  boxes = boxes.copy()
  boxes[:, :2] -= 1  # OTB is 1-based.
  meta = {"format": "otb", "gt_file": str(gt_file), "target": target}
  return Sequence(name, tuple(frames), boxes, meta)


def _read_label(path: pathlib.Path, n: int, gt_lines: int,
                exact: bool = False) -> np.ndarray:
  """[n] float64 per-frame label values (0/1 tags, GOT-10k labels).

  A label file follows the ground truth (`match_lengths`): as many lines as
  the ground-truth file (`gt_lines`) or the `n` frames are cut or zero
  padded to the frames. Without `exact` (VOT tags, which the toolkits let
  stop early) any shorter file is zero padded too.
  """
  values = read_numbers(path, (1,))[:, 0]
  k = len(values)
  if k not in (n, gt_lines) and (exact or k > max(n, gt_lines)):
    allowed = sorted({n, gt_lines})
    raise ValueError(
        f"{path}: {k} lines but {n} frames and {gt_lines} ground-truth lines "
        f"(expected {' or '.join(map(str, allowed))} lines"
        f"{'' if exact else ', or fewer'})")
  return np.concatenate([values[:n], np.zeros(max(n - k, 0))])


def read_vot(path: os.PathLike | str) -> Sequence:
  """Reads a VOT sequence folder (`groundtruth.txt`; frames in `color/`,
  `img/` or the folder itself, searched in that order).

  Ground-truth lines are 0-based polygons `x1,y1,...,x4,y4` (converted with
  `polygon_to_box`) or rectangles `x,y,w,h`, matched to the frames by
  `match_lengths`. Per-frame attribute files (`*.tag`, `*.label`, one 0/1
  per line, possibly shorter than the sequence; cut like the ground truth)
  go to `meta['tags']`.

  Args:
    path: the sequence folder.

  Returns:
    The sequence; `meta['polygons']` holds [N, 8] float64 polygons (4-value
    lines as their rectangle's corners; NaN rows where `boxes` has them).

  Raises:
    FileNotFoundError: no `groundtruth.txt` or no frames.
    ValueError: malformed ground truth or tags, or a gap in the frame
      numbering.
  """
  path = pathlib.Path(path)
  gt_file = path / "groundtruth.txt"
  rows, lengths = read_numbers(gt_file, (4, 8), return_counts=True)
  gt_lines = len(rows)
  frames = _frames_in(path, ("color", "img", ""), "VOT")
  rows, frames = match_lengths(gt_file, rows, frames)
  # Padded rows (NaN) count as polygons: NaN boxes and NaN polygons.
  lengths = np.concatenate([lengths[:len(frames)],
                            np.full(max(len(frames) - gt_lines, 0), 8)])
  is_rect = lengths == 4
  boxes = np.where(is_rect[:, None], rows[:, :4], polygon_to_box(rows))
  polygons = np.where(is_rect[:, None], box_to_polygon(rows[:, :4]), rows)
  tags = {}
  for entry in sorted(os.scandir(path), key=lambda e: e.name):
    if entry.name.endswith((".tag", ".label")) and entry.is_file():
      label = _read_label(path / entry.name, len(frames), gt_lines)
      tags[entry.name.rsplit(".", 1)[0]] = label != 0
  meta = {"format": "vot", "gt_file": str(gt_file), "polygons": polygons,
          "tags": tags}
  return Sequence(path.name, tuple(frames), boxes, meta)


def _read_meta_info(path: pathlib.Path) -> dict[str, str]:
  """GOT-10k `meta_info.ini` ('key: value' lines under [METAINFO])."""
  parser = configparser.ConfigParser(interpolation=None)
  text = path.read_text(encoding="utf-8-sig")
  if not text.lstrip().startswith("["):
    text = "[METAINFO]\n" + text
  try:
    parser.read_string(text, source=str(path))
  except configparser.Error as e:
    raise ValueError(f"{path}: not a 'key: value' ini file ({e})") from None
  info = {}
  for section in parser.sections():
    info.update(parser[section])
  return info


def read_got10k(path: os.PathLike | str) -> Sequence:
  """Reads a GOT-10k sequence folder.

  Layout: frames (`00000001.jpg`, ...) in the folder, `groundtruth.txt`
  (0-based `x,y,w,h`, comma separated), and in train/val also
  `absence.label`, `cover.label`, `cut_by_image.label` (one value per frame)
  and `meta_info.ini`. A ground truth of a single line (the test split
  annotates only the first frame) is padded with NaN rows without a
  warning; other line counts are matched to the frames by `match_lengths`,
  the label files with them. Frames marked absent get NaN boxes.

  Args:
    path: the sequence folder.

  Returns:
    The sequence, with the labels and `meta_info.ini` (and `resolution` as
    (W, H) when given there) in `meta`.

  Raises:
    FileNotFoundError: no `groundtruth.txt` or no frames.
    ValueError: malformed ground truth or labels, a label file that matches
      neither the frames nor the ground truth, or a gap in the frame
      numbering.
  """
  path = pathlib.Path(path)
  gt_file = path / "groundtruth.txt"
  boxes = read_numbers(gt_file, (4,))
  gt_lines = len(boxes)
  frames = _frames_in(path, ("",), "GOT-10k")
  n = len(frames)
  if gt_lines == 1:  # the test split: the first box only, as designed
    boxes = np.concatenate([boxes, np.full((n - 1, 4), np.nan)])
  boxes, frames = match_lengths(gt_file, boxes, frames)
  boxes = boxes.copy()
  meta: dict[str, Any] = {"format": "got10k", "gt_file": str(gt_file)}
  for label, dtype in (("absence", bool), ("cover", np.int64),
                       ("cut_by_image", bool)):
    label_file = path / f"{label}.label"
    if label_file.is_file():
      # Padded frames (no ground truth) get 0: present, cover 0 (unscored).
      values = _read_label(label_file, n, gt_lines, exact=True)
      meta[label] = values.astype(dtype)
  if "absence" in meta:
    boxes[meta["absence"]] = np.nan
  info_file = path / "meta_info.ini"
  if info_file.is_file():
    meta["info"] = _read_meta_info(info_file)
    numbers = re.findall(r"\d+", meta["info"].get("resolution", ""))
    if len(numbers) == 2:
      meta["resolution"] = (int(numbers[0]), int(numbers[1]))
  return Sequence(path.name, tuple(frames), boxes, meta)


def read_folder(path: os.PathLike | str, box) -> Sequence:
  """A plain folder of frames with only the first frame's box.

  Args:
    path: folder holding the frames (or their `img/` or `color/` subfolder).
    box: [4] float initial box `[x, y, w, h]` (convention of
      `siamfc_jax.boxes`), w and h > 0.

  Returns:
    The sequence; rows 1.. of `boxes` are NaN (unannotated).

  Raises:
    FileNotFoundError: no frames.
    ValueError: the box is not 4 finite numbers with positive size.
  """
  path = pathlib.Path(path)
  box = np.asarray(box, dtype=np.float64)
  if box.shape != (4,) or not np.all(np.isfinite(box)) or np.any(box[2:] <= 0):
    raise ValueError(f"initial box must be 4 finite numbers [x, y, w, h] "
                     f"with w, h > 0, got {box.tolist()}")
  frames = _frames_in(path, ("", "img", "color"), "plain")
  boxes = np.full((len(frames), 4), np.nan)
  boxes[0] = box
  return Sequence(path.name, tuple(frames), boxes,
                  {"format": "folder", "gt_file": None})


def detect_layout(path: os.PathLike | str) -> str | None:
  """'otb', 'vot', 'got10k' or None (not a sequence folder), by file names."""
  path = pathlib.Path(path)
  if not path.is_dir():
    return None
  if (path / "groundtruth.txt").is_file():
    if any((path / m).is_file() for m in _GOT10K_MARKERS):
      return "got10k"
    return "vot"
  if otb_targets(path):
    return "otb"
  return None


def read_sequence(path: os.PathLike | str,
                  target: int | None = None) -> Sequence:
  """Reads a sequence folder of any supported layout (see `detect_layout`).

  Args:
    path: the sequence folder.
    target: for multi-target OTB folders, the target number (see
      `read_otb`).

  Returns:
    The sequence.

  Raises:
    FileNotFoundError: the folder does not exist.
    ValueError: the folder matches no layout, or its files are malformed.
  """
  path = pathlib.Path(path)
  if not path.is_dir():
    raise FileNotFoundError(f"{path}: sequence folder not found")
  layout = detect_layout(path)
  if layout == "otb":
    return read_otb(path, target)
  if layout == "vot":
    return read_vot(path)
  if layout == "got10k":
    return read_got10k(path)
  raise ValueError(
      f"{path}: not a sequence folder (expected groundtruth_rect.txt for OTB "
      f"or groundtruth.txt for VOT / GOT-10k)")


def _layout_as(folder: pathlib.Path, kind: str) -> str | None:
  """The layout to read `folder` with: detected for 'auto', else `kind` when
  the folder has that layout's ground-truth file (a GOT-10k test folder has
  no labels and would be detected as VOT), else None."""
  if kind == "auto":
    return detect_layout(folder)
  if kind == "otb":
    return "otb" if folder.is_dir() and otb_targets(folder) else None
  return kind if (folder / "groundtruth.txt").is_file() else None


def _read_as(path: pathlib.Path, layout: str) -> list[Sequence]:
  """All sequences (OTB targets expanded) of one folder of a known layout."""
  if layout == "otb":
    return [read_otb(path, t) for t in otb_targets(path)]
  if layout == "vot":
    return [read_vot(path)]
  return [read_got10k(path)]


def read_dataset(root: os.PathLike | str,
                 kind: Literal["otb", "vot", "got10k", "auto"] = "auto"
                 ) -> list[Sequence]:
  """Reads every sequence of a dataset folder.

  With a `list.txt` (VOT, GOT-10k) its names, one per line, are the
  sequences, in its order. Otherwise every subfolder of `root` that looks
  like a sequence of `kind` (has its ground-truth file; any layout, detected
  by `detect_layout`, for 'auto') is read, sorted by name; other subfolders
  are ignored. Multi-target OTB folders give one sequence
  per target (`Name.1`, `Name.2`).

  Args:
    root: the dataset folder.
    kind: 'otb', 'vot', 'got10k', or 'auto' to detect each folder's layout.

  Returns:
    The sequences.

  Raises:
    FileNotFoundError: `root` or a folder named in `list.txt` is missing, or
      no sequence was found.
    ValueError: unknown kind, a listed folder of another layout, or
      malformed sequence files.
  """
  if kind not in ("otb", "vot", "got10k", "auto"):
    raise ValueError(f"kind must be 'otb', 'vot', 'got10k' or 'auto', "
                     f"got {kind!r}")
  root = pathlib.Path(root)
  if not root.is_dir():
    raise FileNotFoundError(f"{root}: dataset folder not found")
  list_file = root / "list.txt"
  sequences = []
  if list_file.is_file():
    lines = list_file.read_text(encoding="utf-8-sig").splitlines()
    for i, line in enumerate(lines):
      name = line.strip()
      if not name:
        continue
      folder = root / name
      if not folder.is_dir():
        raise FileNotFoundError(
            f"{list_file}:{i + 1}: sequence folder {folder} not found")
      layout = _layout_as(folder, kind)
      if layout is None:
        raise ValueError(f"{list_file}:{i + 1}: {folder} is not a "
                         f"{'sequence' if kind == 'auto' else kind} folder "
                         "(no ground-truth file)")
      sequences += _read_as(folder, layout)
  else:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
      layout = _layout_as(folder, kind)
      if layout is not None:
        sequences += _read_as(folder, layout)
  if not sequences:
    raise FileNotFoundError(f"{root}: no {'' if kind == 'auto' else kind + ' '}"
                            "sequence folders found")
  return sequences
