"""LaSOT (test split) and LaSOT-ext readers.

Layout (both): `<root>/<class>/<class>-<n>/` with `img/00000001.jpg ...`,
`groundtruth.txt` (one `x,y,w,h` line per frame), `full_occlusion.txt` and
`out_of_view.txt` (one 0/1 per frame, comma separated on one line) and
`nlp.txt` (a sentence; optional here).

* Test split: the 280 sequences named in `<root>/testing_set.txt` when the
  root has one (the official file), else in `tables/lasot_test.txt` shipped
  here (the got10k toolkit's `datasets/lasot.json` "test" list, got10k 0.1.3,
  identical to the list of pytracking's `pytracking/evaluation/
  lasotdataset.py`, commit 7eb9e74). Listed sequences missing from the root
  give one warning; training sequences in the root are ignored.
* LaSOT-ext: every `<class>/<class>-<n>` of its 15 classes (from pytracking's
  `lasotextensionsubsetdataset.py`, commit 7eb9e74) found in the root.

Coordinates: LaSOT's toolkit is the OTB toolkit's descendant and its files
are taken as 1-based like OTB's (`meta['origin'] = 1`: x, y - 1 here, + 1
in result files). IoU and centre errors do not depend on this as long as
results are written back in the same origin.

Absence: frames flagged in `full_occlusion.txt` or `out_of_view.txt` keep
their annotation as given; the flags are `meta['full_occlusion']`,
`meta['out_of_view']` and their union `meta['absent']` ([N] bool).

Differences from the got10k toolkit (`datasets/lasot.py`): it loads the
frames with `*.jpg` only, always the shipped list, and fails when the
ground truth and frames differ in length; here any frame extension, the
root's own `testing_set.txt` first, and `sequences.match_lengths`.
"""

import pathlib
import re
import warnings

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files

EXT_CLASSES = ("atv", "badminton", "cosplay", "dancingshoe", "footbag",
               "frisbee", "jianzi", "lantern", "misc", "opossum", "paddle",
               "raccoon", "rhino", "skatingshoe", "wingsuit")
_NAME = re.compile(r"^(.+)-(\d+)$")


def test_names() -> list[str]:
  """The 280 official test sequences shipped in `tables/lasot_test.txt`."""
  return files.table_lines("lasot_test.txt")


def _class_of(name: str) -> str:
  match = _NAME.match(name)
  if not match:
    raise ValueError(f"{name!r} is not a LaSOT sequence name (<class>-<n>)")
  return match.group(1)


def read_sequence(folder: pathlib.Path) -> sequences.Sequence:
  """Reads one `<class>/<class>-<n>` folder (see the module docstring).

  Raises:
    FileNotFoundError: a missing file or frames folder.
    ValueError: malformed ground truth or flags.
  """
  gt_file = folder / "groundtruth.txt"
  boxes = sequences.read_numbers(gt_file, (4,))
  frames = files.frames(folder / "img")
  boxes, frames = sequences.match_lengths(gt_file, boxes, frames)
  full_occlusion = files.read_flags(folder / "full_occlusion.txt", len(frames))
  out_of_view = files.read_flags(folder / "out_of_view.txt", len(frames))
  meta = {"format": "lasot", "gt_file": str(gt_file), "origin": 1,
          "full_occlusion": full_occlusion, "out_of_view": out_of_view,
          "absent": full_occlusion | out_of_view}
  nlp = folder / "nlp.txt"
  if nlp.is_file():
    meta["nlp"] = nlp.read_text(encoding="utf-8").strip()
  return sequences.Sequence(folder.name, tuple(frames),
                            files.one_based_to_zero(boxes), meta)


def _folder(root: pathlib.Path, name: str) -> pathlib.Path:
  return root / _class_of(name) / name


def read_test(root: pathlib.Path) -> list[sequences.Sequence]:
  """The test-split sequences of a LaSOT root (see the module docstring).

  Raises:
    FileNotFoundError: none of the listed sequences is in the root.
  """
  list_file = root / "testing_set.txt"
  names = (files.read_names(list_file) if list_file.is_file()
           else test_names())
  present = [n for n in names if (_folder(root, n) / "groundtruth.txt")
             .is_file()]
  if not present:
    raise FileNotFoundError(
        f"{root}: none of the {len(names)} LaSOT test sequences "
        f"(<class>/<class>-<n>/groundtruth.txt) found")
  missing = [n for n in names if n not in present]
  if missing:
    warnings.warn(f"{root}: {len(missing)} of the {len(names)} LaSOT test "
                  f"sequences are missing (e.g. {missing[0]}); reading "
                  f"{len(present)}", stacklevel=2)
  return [read_sequence(_folder(root, n)) for n in present]


def _class_sequences(root: pathlib.Path, classes) -> list[pathlib.Path]:
  """`<class>/<class>-<n>` folders with a groundtruth.txt, by class and n."""
  found = []
  for cls in classes:
    if not (root / cls).is_dir():
      continue
    for folder in (root / cls).iterdir():
      match = _NAME.match(folder.name)
      if (match and match.group(1) == cls and
          (folder / "groundtruth.txt").is_file()):
        found.append((cls, int(match.group(2)), folder))
  return [f for _, _, f in sorted(found)]


def read_ext(root: pathlib.Path) -> list[sequences.Sequence]:
  """Every LaSOT-ext sequence of the root.

  Raises:
    FileNotFoundError: none found.
  """
  folders = _class_sequences(root, EXT_CLASSES)
  if not folders:
    raise FileNotFoundError(
        f"{root}: no LaSOT-ext sequences (<class>/<class>-<n>/"
        f"groundtruth.txt for a class of {', '.join(EXT_CLASSES)})")
  return [read_sequence(f) for f in folders]


def detect_test(root: pathlib.Path) -> bool:
  """A LaSOT root: `testing_set.txt`, or a listed test sequence present."""
  if (root / "testing_set.txt").is_file():
    return True
  classes = sorted({_class_of(n) for n in test_names()})
  return bool(_class_sequences(root, classes))


def detect_ext(root: pathlib.Path) -> bool:
  """A LaSOT-ext root: a sequence of one of its classes present."""
  return bool(_class_sequences(root, EXT_CLASSES))

