"""Tiny fake OTB, GOT-10k and VOT dataset trees for evaluation tests.

Also `perturb`, tracker-like results made from ground truth.

Frames are noise with a bright square (the target); boxes are 0-based
`[x, y, w, h]` (`siamfc_jax.boxes`) and written in each format's own
convention (OTB files 1-based).
"""

import pathlib

import numpy as np
from PIL import Image

HEIGHT, WIDTH = 72, 96
SIZE = 12  # target side in pixels


def frames_and_boxes(n: int, seed: int, jump_at: int | None = None
                     ) -> tuple[list[np.ndarray], np.ndarray]:
  """n frames [H, W, 3] uint8 and [n, 4] float64 boxes.

  The target drifts 1 px per frame to the right; from frame `jump_at` on it
  sits in the opposite corner, too far for the tracker to follow.
  """
  rng = np.random.default_rng(seed)
  frames, boxes = [], []
  for t in range(n):
    frame = rng.integers(0, 80, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    if jump_at is not None and t >= jump_at:
      x, y = WIDTH - SIZE - 4, HEIGHT - SIZE - 4
    else:
      x, y = 8 + t, 8
    frame[y:y + SIZE, x:x + SIZE] = (250, 200, 30)
    frames.append(frame)
    boxes.append([x, y, SIZE, SIZE])
  return frames, np.asarray(boxes, np.float64)


def perturb(gt: np.ndarray, seed: int, lost=True) -> np.ndarray:
  """Tracker-like [n, 4] boxes from [n, 4] ground truth (n >= 5): jitter,
  scale noise, a drift, far-away and empty boxes, NaN (lost) rows."""
  rng = np.random.default_rng(seed)
  n = len(gt)
  pred = gt.copy()
  size = gt[:, 2:]
  pred[:, :2] += rng.normal(0, 0.1, (n, 2)) * size
  pred[:, 2:] *= np.exp(rng.normal(0, 0.1, (n, 2)))
  drift = np.cumsum(rng.normal(0.3, 0.5, (n, 2)), axis=0) * (
      np.arange(n)[:, None] > n // 2)
  pred[:, :2] += drift * size / 10
  pred[rng.choice(n, 3, replace=False)] = [5000, 5000, 20, 20]  # far away
  pred[rng.choice(n, 2, replace=False), 2] = 0  # empty boxes
  if lost:
    pred[rng.choice(n, 4, replace=False)] = np.nan
  return pred


def _save_frames(folder: pathlib.Path, frames, digits: int) -> None:
  folder.mkdir(parents=True, exist_ok=True)
  for i, frame in enumerate(frames):
    Image.fromarray(frame).save(folder / f"{i + 1:0{digits}d}.jpg",
                                quality=95)


def _save_boxes(path: pathlib.Path, boxes, sep: str = ",") -> None:
  path.write_text("\n".join(sep.join(f"{v:g}" for v in b) for b in boxes)
                  + "\n")


def write_otb(root: pathlib.Path, lengths: dict[str, int],
              two_targets: str | None = None) -> dict[str, np.ndarray]:
  """OTB folders `root/<name>/img/0001.jpg` + `groundtruth_rect.txt`.

  Args:
    root: dataset folder.
    lengths: sequence name -> number of frames.
    two_targets: a name of `lengths` to annotate with two targets
      (`groundtruth_rect.1.txt`, `.2.txt`: sequences `name.1`, `name.2`).

  Returns:
    Sequence name -> [n, 4] 0-based boxes.
  """
  out = {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    frames, boxes = frames_and_boxes(n, seed)
    folder = root / name
    _save_frames(folder / "img", frames, 4)
    one_based = boxes + [1, 1, 0, 0]
    if name == two_targets:
      _save_boxes(folder / "groundtruth_rect.1.txt", one_based)
      second = one_based + [2, 1, 0, 0]
      _save_boxes(folder / "groundtruth_rect.2.txt", second, "\t")
      out[f"{name}.1"] = boxes
      out[f"{name}.2"] = boxes + [2, 1, 0, 0]
    else:
      _save_boxes(folder / "groundtruth_rect.txt", one_based)
      out[name] = boxes
  return out


def write_got10k(root: pathlib.Path, lengths: dict[str, int]
                 ) -> dict[str, np.ndarray]:
  """GOT-10k val folders with `list.txt`, labels and `meta_info.ini`.

  Frame 2 of every sequence has cover 0 (left out of the scores).

  Returns:
    Sequence name -> [n, 4] 0-based boxes.
  """
  out = {}
  root.mkdir(parents=True, exist_ok=True)
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    frames, boxes = frames_and_boxes(n, 100 + seed)
    folder = root / name
    _save_frames(folder, frames, 8)
    _save_boxes(folder / "groundtruth.txt", boxes)
    cover = np.full(n, 8)
    cover[2] = 0
    (folder / "cover.label").write_text("\n".join(map(str, cover)) + "\n")
    (folder / "absence.label").write_text("0\n" * n)
    (folder / "cut_by_image.label").write_text("0\n" * n)
    (folder / "meta_info.ini").write_text(
        f"[METAINFO]\nobject_class: box\nresolution: ({WIDTH}, {HEIGHT})\n")
    out[name] = boxes
  (root / "list.txt").write_text("\n".join(sorted(lengths)) + "\n")
  return out


def write_vot(root: pathlib.Path, lengths: dict[str, int],
              jump_at: dict[str, int] | None = None
              ) -> dict[str, np.ndarray]:
  """VOT folders: frames in `color/`, `groundtruth.txt` of polygons.

  Args:
    root: dataset folder.
    lengths: sequence name -> number of frames.
    jump_at: sequence name -> frame where the target jumps away (a sure
      tracking failure).

  Returns:
    Sequence name -> [n, 4] 0-based boxes.
  """
  out = {}
  jump_at = jump_at or {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    frames, boxes = frames_and_boxes(n, 200 + seed, jump_at.get(name))
    folder = root / name
    _save_frames(folder / "color", frames, 8)
    x, y, w, h = boxes.T
    polygons = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], -1)
    _save_boxes(folder / "groundtruth.txt", polygons)
    out[name] = boxes
  return out


def write_lasot(root: pathlib.Path, lengths: dict[str, int],
                absent: dict[str, list[int]] | None = None
                ) -> dict[str, np.ndarray]:
  """LaSOT folders `root/<class>/<class>-<n>/img/00000001.jpg` with
  `groundtruth.txt` (1-based), `full_occlusion.txt` and `out_of_view.txt`.

  Args:
    root: dataset folder.
    lengths: sequence name (`<class>-<n>`) -> number of frames.
    absent: sequence name -> 0-based frames flagged fully occluded.

  Returns:
    Sequence name -> [n, 4] 0-based boxes.
  """
  out = {}
  absent = absent or {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    frames, boxes = frames_and_boxes(n, 300 + seed)
    folder = root / name.rsplit("-", 1)[0] / name
    _save_frames(folder / "img", frames, 8)
    _save_boxes(folder / "groundtruth.txt", boxes + [1, 1, 0, 0])
    flags = np.zeros(n, int)
    flags[absent.get(name, [])] = 1
    (folder / "full_occlusion.txt").write_text(",".join(map(str, flags)))
    (folder / "out_of_view.txt").write_text(",".join(["0"] * n))
    out[name] = boxes
  return out


def write_uav(root: pathlib.Path, lengths: dict[str, int],
              attributes: dict[str, list[int]] | None = None,
              folder: str = "UAV123") -> dict[str, np.ndarray]:
  """A UAV123 download: `data_seq/UAV123/<seq>/000001.jpg`,
  `anno/<folder>/<seq>.txt` (1-based) and, for the sequences of
  `attributes`, `anno/<folder>/att/<seq>.txt` (12 comma-separated flags).

  Names should not be UAV123's own (those read frame ranges of
  `tables/uav_ranges.csv`).

  Returns:
    Sequence name -> [n, 4] 0-based boxes.
  """
  out = {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    frames, boxes = frames_and_boxes(n, 400 + seed)
    _save_frames(root / "data_seq" / "UAV123" / name, frames, 6)
    anno = root / "anno" / folder
    anno.mkdir(parents=True, exist_ok=True)
    _save_boxes(anno / f"{name}.txt", boxes + [1, 1, 0, 0])
    if attributes and name in attributes:
      (anno / "att").mkdir(exist_ok=True)
      (anno / "att" / f"{name}.txt").write_text(
          ",".join(map(str, attributes[name])) + "\n")
    out[name] = boxes
  return out
