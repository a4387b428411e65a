"""What the app tracks: a video (uploaded or on the server) or a sequence
folder under the server's data root, with its frames as JPEGs for the page.

The tracker always runs on the decoded frames themselves (a video is decoded
again from the start of each run, so the boxes are those of
`Tracker.track` on the same frames); the JPEGs are only what the page shows.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
from typing import Iterator

import numpy as np

from siamfc_jax import frames as frames_lib
from siamfc_jax.data import curation
from siamfc_jax.data import sequences
from siamfc_jax.data import video

JPEG_QUALITY = curation.JPEG_QUALITY
# Frames over this many are refused: each is kept as a JPEG for the page.
MAX_FRAMES = 20000


@dataclasses.dataclass
class Clip:
  """A video or image sequence opened by a session.

  Attributes:
    name: shown in the page and in output file names.
    source: the video file, or the sequence folder.
    frames: frame paths of a folder; None for a video (decoded per run).
    count: number of frames.
    size: (width, height) of the frames.
    ground_truth: [N, 4] boxes, or None.
    jpegs: folder of the page's JPEGs (`<i>.jpg`) of a video.
  """

  name: str
  source: pathlib.Path
  frames: list[str] | None
  count: int
  size: tuple[int, int]
  ground_truth: np.ndarray | None
  jpegs: pathlib.Path | None = None

  def iter_frames(self, start: int = 0) -> Iterator:
    """The frames from `start` on: paths of a folder, arrays of a video."""
    if self.frames is not None:
      return iter(self.frames[start:])
    return itertools.islice(video.read_video(self.source), start, None)

  def jpeg(self, index: int) -> bytes:
    """Frame `index` as a JPEG for the page."""
    if not 0 <= index < self.count:
      raise ValueError(f"frame {index} is not in 0..{self.count - 1}")
    if self.jpegs is not None:
      return (self.jpegs / f"{index}.jpg").read_bytes()
    return encode_jpeg(frames_lib.load_frame(self.frames[index]))

  def first_box(self) -> list[float] | None:
    """The ground truth's first box, if it has one."""
    if self.ground_truth is None or not np.all(
        np.isfinite(self.ground_truth[0])):
      return None
    return [float(v) for v in self.ground_truth[0]]

  def describe(self) -> dict:
    """What the page needs to know about the clip (JSON-ready)."""
    return {"name": self.name, "frames": self.count,
            "width": self.size[0], "height": self.size[1],
            "ground_truth": self.first_box(),
            "has_ground_truth": self.ground_truth is not None,
            "gt_boxes": None if self.ground_truth is None else [
                [float(v) for v in b] if np.all(np.isfinite(b)) else None
                for b in self.ground_truth]}


def encode_jpeg(frame: np.ndarray) -> bytes:
  """An [H, W, 3] uint8 frame as the page's JPEG bytes."""
  return curation.encode_jpeg(frame, JPEG_QUALITY)


def decode_jpeg(data: bytes, what: str = "frame") -> np.ndarray:
  """JPEG (or PNG) bytes as an [H, W, 3] uint8 frame.

  Raises:
    ValueError: the bytes are not an image (naming `what`).
  """
  try:
    return curation.decode_jpeg(data)
  except Exception as e:  # PIL raises several kinds for bad bytes
    raise ValueError(f"{what}: not a JPEG image ({first_line(e)})") from None


def first_line(error: BaseException | str, limit: int = 300) -> str:
  """The first non-empty line of an error message, at most `limit` chars
  (ffmpeg's messages run to pages)."""
  lines = [s.strip() for s in str(error).splitlines() if s.strip()]
  text = lines[0] if lines else type(error).__name__
  return text if len(text) <= limit else text[:limit - 3] + "..."


def open_video(path: os.PathLike | str, jpegs: os.PathLike | str,
               name: str | None = None) -> Clip:
  """Decodes a whole video once: checks it and writes the page's JPEGs.

  Args:
    path: the video file.
    jpegs: folder for the JPEGs (made).
    name: the clip's name; default the file's stem.

  Raises:
    ValueError: not a video file, one that cannot be decoded (truncated,
      not a video inside), no frames, frames of changing size, or too many.
  """
  path = pathlib.Path(path)
  name = name or path.stem
  if path.suffix.lower() not in video.VIDEO_EXTENSIONS:
    raise ValueError(f"{path.name}: not a video file (expected one of "
                     f"{', '.join(video.VIDEO_EXTENSIONS)})")
  jpegs = pathlib.Path(jpegs)
  jpegs.mkdir(parents=True, exist_ok=True)
  count, size = 0, None
  try:
    for frame in video.read_video(path):
      if size is None:
        size = frame.shape[:2]
      elif frame.shape[:2] != size:
        raise ValueError(f"{path.name}: frame {count} has another size")
      if count >= MAX_FRAMES:
        raise ValueError(f"{path.name}: more than {MAX_FRAMES} frames")
      (jpegs / f"{count}.jpg").write_bytes(encode_jpeg(frame))
      count += 1
  except (ValueError, OSError, RuntimeError) as e:
    raise ValueError(f"{path.name}: cannot decode the video, is it a whole "
                     f"video file? ({first_line(e)})") from None
  if not count:
    raise ValueError(f"{path.name}: no frames could be decoded")
  return Clip(name, path, None, count, (size[1], size[0]), None, jpegs)


def open_folder(path: os.PathLike | str) -> Clip:
  """A sequence folder (OTB, VOT, GOT-10k with ground truth, or a plain
  folder of frames without).

  Raises:
    FileNotFoundError: no such folder, or no frames in it.
    ValueError: malformed ground truth (the readers' messages).
  """
  path = pathlib.Path(path)
  if sequences.detect_layout(path) is not None:
    seq = sequences.read_sequence(path)
    gt = seq.boxes if np.isfinite(seq.boxes).any() else None
  else:
    seq = sequences.read_folder(path, [0, 0, 1, 1])
    gt = None
  first = frames_lib.load_frame(seq.frames[0])
  return Clip(seq.name, path, list(seq.frames), len(seq.frames),
              (first.shape[1], first.shape[0]), gt)


def inside(root: os.PathLike | str, relative: str) -> pathlib.Path:
  """`root / relative`, refused when it leaves `root` (`..`, links).

  Raises:
    ValueError: the path is outside the root.
  """
  root = pathlib.Path(root).resolve()
  path = (root / relative).resolve()
  if path != root and root not in path.parents:
    raise ValueError(f"{relative}: outside the data root")
  return path


def open_path(root: os.PathLike | str, relative: str,
              jpegs: os.PathLike | str) -> Clip:
  """A video or sequence folder at `relative` under `root`.

  Raises:
    ValueError: outside the root, or neither a video nor a folder.
    FileNotFoundError: nothing there.
  """
  path = inside(root, relative)
  if not path.exists():
    raise FileNotFoundError(f"{relative}: not found under the data root")
  if path.is_dir():
    return open_folder(path)
  return open_video(path, jpegs)


def list_root(root: os.PathLike | str, depth: int = 3) -> list[dict]:
  """What can be opened under `root`: videos and sequence folders (with
  their layout: otb, vot, got10k, or frames), as relative paths, sorted."""
  root = pathlib.Path(root)
  found = []

  def walk(folder: pathlib.Path, level: int):
    try:
      entries = sorted(folder.iterdir())
    except OSError:
      return
    for entry in entries:
      if entry.name.startswith("."):
        continue
      relative = entry.relative_to(root).as_posix()
      if entry.is_file() and entry.suffix.lower() in video.VIDEO_EXTENSIONS:
        found.append({"path": relative, "kind": "video"})
      elif entry.is_dir():
        layout = sequences.detect_layout(entry)
        if layout is not None:
          found.append({"path": relative, "kind": layout})
        elif _has_frames(entry):
          found.append({"path": relative, "kind": "frames"})
        elif level < depth:
          walk(entry, level + 1)

  if root.is_dir():
    walk(root, 1)
  return found


def _has_frames(folder: pathlib.Path) -> bool:
  try:
    return any(p.suffix.lower() in sequences.FRAME_EXTENSIONS
               for p in itertools.islice(folder.iterdir(), 50))
  except OSError:
    return False
