"""OTB readers: any folder of OTB-layout sequences, and the official
OTB-2013 / OTB-50 / OTB-100 subsets; DTB70 (same layout).

Layout: `<root>/<Name>/img/0001.jpg ...` + `groundtruth_rect.txt`
(`x,y,w,h`; commas, tabs or spaces), or `groundtruth_rect.1.txt`,
`.2.txt` for two targets (Jogging, Skating2: sequences `Jogging.1`,
`Jogging.2`, as the got10k toolkit names them). An empty target file is
skipped with a warning (OTB-100's `Human4/groundtruth_rect.1.txt`); a
folder left with one target is named after the folder (`Human4`), as in
got10k.

Frame ranges: some sequences use only part of their `img/` folder
(`sequences.OTB_FRAMES`, the OTB toolkit's table, applied by
`sequences.otb_frame_range` exactly as `experiments.track` reads a single
folder). Frames are picked by the number in their names, so a folder
holding only the range (BlurCar1: 0247.jpg ...) reads the same. Tiger1
uses all 354 frames as in the OTB toolkit and got10k (pytracking skips its
first 5: a difference of theirs).

Subsets (`SUBSETS`): the got10k toolkit's lists (`otb2013` 50 folders / 51
targets, `tb50` 49 / 50, `tb100` 98 / 100). Listed folders missing from the
root give one warning.

Coordinates: 1-based (`meta['origin']` 1; x, y - 1 here). No absence flags.
Mismatched lengths: `sequences.match_lengths` (got10k asserts equality).

DTB70: the same layout (comma-separated, 1-based), the 70 sequences of
`tables/dtb70.txt` (the `_get_sequence_list` of a `DTB70Dataset` class of
the OSTrack-family `lib/test/evaluation/dtb70dataset.py`; the four shared
DTB70 sequences are in it);
every sequence folder of the root is read, as got10k's `datasets/dtb70.py`.
"""

import pathlib
import warnings

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files

_OTB2013 = (
    "Basketball Bolt Boy Car4 CarDark CarScale Coke Couple Crossing David "
    "David2 David3 Deer Dog1 Doll Dudek FaceOcc1 FaceOcc2 Fish FleetFace "
    "Football Football1 Freeman1 Freeman3 Freeman4 Girl Ironman Jogging "
    "Jumping Lemming Liquor Matrix Mhyang MotorRolling MountainBike Shaking "
    "Singer1 Singer2 Skating1 Skiing Soccer Subway Suv Sylvester Tiger1 "
    "Tiger2 Trellis Walking Walking2 Woman").split()
_TB50 = (
    "Basketball Biker Bird1 BlurBody BlurCar2 BlurFace BlurOwl Bolt Box "
    "Car1 Car4 CarDark CarScale ClifBar Couple Crowds David Deer Diving "
    "DragonBaby Dudek Football Freeman4 Girl Human3 Human4 Human6 Human9 "
    "Ironman Jump Jumping Liquor Matrix MotorRolling Panda RedTeam Shaking "
    "Singer2 Skating1 Skating2 Skiing Soccer Surfer Sylvester Tiger2 "
    "Trellis Walking Walking2 Woman").split()
_TB100_REST = (
    "Bird2 BlurCar1 BlurCar3 BlurCar4 Board Bolt2 Boy Car2 Car24 Coke "
    "Coupon Crossing Dancer Dancer2 David2 David3 Dog Dog1 Doll FaceOcc1 "
    "FaceOcc2 Fish FleetFace Football1 Freeman1 Freeman3 Girl2 Gym Human2 "
    "Human5 Human7 Human8 Jogging KiteSurf Lemming Man Mhyang MountainBike "
    "Rubik Singer1 Skater Skater2 Subway Suv Tiger1 Toy Trans Twinnings "
    "Vase").split()
SUBSETS = {"otb2013": tuple(_OTB2013), "otb50": tuple(_TB50),
           "otb100": tuple(sorted(_TB50 + _TB100_REST))}


def dtb70_names() -> list[str]:
  """The 70 DTB70 sequence names (`tables/dtb70.txt`)."""
  return files.table_lines("dtb70.txt")


def read_folder(folder: pathlib.Path, fmt: str = "otb"
                ) -> list[sequences.Sequence]:
  """The sequences (one per target) of one OTB-layout folder.

  Args:
    folder: `img/` + `groundtruth_rect[.k].txt`.
    fmt: `meta['format']` ('otb' or 'dtb70').

  Raises:
    FileNotFoundError: no ground truth, no frames, or a frame of the range
      (`sequences.OTB_FRAMES`) missing.
    ValueError: malformed ground truth.
  """
  targets = sequences.otb_targets(folder)
  if not targets:
    raise FileNotFoundError(f"{folder}: no groundtruth_rect.txt")
  gt_files = {t: folder / ("groundtruth_rect.txt" if t is None else
                           f"groundtruth_rect.{t}.txt") for t in targets}
  for t, gt_file in list(gt_files.items()):
    if t is not None and not gt_file.read_text().strip():
      warnings.warn(f"{gt_file}: empty, target {t} skipped", stacklevel=2)
      del gt_files[t]
  frames_all = files.frames(folder / "img")
  found = []
  for t, gt_file in gt_files.items():
    boxes = sequences.read_numbers(gt_file, (4,))
    frames = sequences.otb_frame_range(folder.name, frames_all, len(boxes))
    boxes, frames = sequences.match_lengths(gt_file, boxes, frames)
    name = (folder.name if len(gt_files) == 1 else f"{folder.name}.{t}")
    meta = {"format": fmt, "gt_file": str(gt_file), "origin": 1,
            "target": t}
    found.append(sequences.Sequence(name, tuple(frames),
                                    files.one_based_to_zero(boxes), meta))
  return found


def read_any(root: pathlib.Path) -> list[sequences.Sequence]:
  """Every sequence folder of `root` (or of its `list.txt`): OTB-layout
  ones with `read_folder`, VOT / GOT-10k ones with `siamfc_jax.data.
  sequences` (the 'otb' benchmark mixes layouts as before).

  Raises:
    FileNotFoundError: a listed folder missing, or no sequence at all.
  """
  list_file = root / "list.txt"
  if list_file.is_file():
    folders = [root / n for n in files.read_names(list_file)]
    for folder in folders:
      if not folder.is_dir():
        raise FileNotFoundError(f"{list_file}: {folder} not found")
  else:
    folders = files.subfolders(root)
  found = []
  for folder in folders:
    layout = sequences.detect_layout(folder)
    if layout == "otb":
      found += read_folder(folder)
    elif layout is not None:
      seq = sequences.read_sequence(folder)
      seq.meta["origin"] = 0
      found.append(seq)
  if not found:
    raise FileNotFoundError(f"{root}: no sequence folders found")
  return found


def read_subset(root: pathlib.Path, subset: str) -> list[sequences.Sequence]:
  """The sequences of an official subset ('otb2013', 'otb50', 'otb100').

  Raises:
    FileNotFoundError: none of the subset's folders in the root.
  """
  names = SUBSETS[subset]
  present = [n for n in names
             if (root / n).is_dir() and sequences.otb_targets(root / n)]
  if not present:
    raise FileNotFoundError(f"{root}: none of the {len(names)} {subset} "
                            "sequence folders found")
  missing = [n for n in names if n not in present]
  if missing:
    warnings.warn(f"{root}: {len(missing)} of the {len(names)} {subset} "
                  f"folders are missing (e.g. {missing[0]}); reading "
                  f"{len(present)}", stacklevel=2)
  return [s for n in present for s in read_folder(root / n)]


def _otb_folders(root: pathlib.Path) -> list[pathlib.Path]:
  return [f for f in files.subfolders(root) if sequences.otb_targets(f)]


def read_dtb70(root: pathlib.Path) -> list[sequences.Sequence]:
  """Every OTB-layout folder of a DTB70 root.

  Raises:
    FileNotFoundError: none found.
  """
  folders = _otb_folders(root)
  if not folders:
    raise FileNotFoundError(
        f"{root}: no DTB70 sequences (<seq>/groundtruth_rect.txt + img/)")
  return [s for f in folders for s in read_folder(f, "dtb70")]


def _is_dtb70(folders: list[pathlib.Path]) -> bool:
  """All names DTB70 ones, and one at least not an OTB name (Basketball is
  both)."""
  names = {f.name for f in folders}
  otb_names = set(SUBSETS["otb100"]) | set(SUBSETS["otb2013"])
  return (bool(names) and names <= set(dtb70_names()) and
          not names <= otb_names)


def detect_dtb70(root: pathlib.Path) -> bool:
  return _is_dtb70(_otb_folders(root))


def detect_any(root: pathlib.Path) -> bool:
  """OTB-layout sequence folders in the root (not a DTB70 root)."""
  folders = _otb_folders(root)
  return bool(folders) and not _is_dtb70(folders)
