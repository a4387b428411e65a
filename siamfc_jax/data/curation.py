"""Curation: one 255x255 context crop per object and frame (`save_crops.m`).

The original prepares ImageNet VID once (`ILSVRC15-curation/save_crops.m`):
for every annotated object in every frame it saves a crop centred on the
target whose side is s_x = s_z * 255 / 127 frame pixels, where s_z is the
context square of Sec. 2.4 (`boxes.context_side`, context 0.5), padded with
the frame's mean colour and resized to 255 x 255, as a JPEG of quality 90.
The exemplar is then the centre 127 x 127 of that crop (same scale: 127 / s_z
= 255 / s_x), and the training search image a 239 x 239 window of it
(`pairs.py`). We store only the 255 crop; the original also saved the 127
exemplar crop separately, which is the same pixels up to resampling.

Resampling (a deliberate choice): Pillow's bicubic `resize` (Keys a = -0.5,
antialiased when shrinking, half-pixel centres) of the exact sub-pixel window
on a mean-padded canvas. That is what MATLAB `imresize` does in the original
(bicubic, a = -0.5, antialiasing on), runs in C on the host, and does not
jit-compile once per frame shape as `crop.crop_and_resize` would (GOT-10k
alone has dozens of resolutions); the on-device crop stays bilinear for
tracking. The window is placed at the exact centre of the box (see
`boxes.py`), not at the original's rounded, half-pixel-shifted one.

Which boxes are curated (`CurationRule`, checked by `skip_reasons`; the
original applies no filter at all, its checks are commented out):

  * 'absent': the GOT-10k `absence.label` is 1 (the reader also makes such
    boxes NaN);
  * 'occluded': the GOT-10k `cover.label` (visible fraction in eighths,
    0 = fully covered) is below `min_cover` (default 1: only fully covered
    targets are skipped);
  * 'non-finite': a NaN or infinite value (unannotated frames);
  * 'small': w or h below `min_side` pixels (default 2): no target to see,
    and a context square of a few pixels blown up to 255;
  * 'outside': less than `min_inside` (default 25 %) of the box area lies in
    the frame (an annotation off the image shows only padding);
  * 'large': the box covers more than `max_area` (default 90 %) of the frame:
    the crop is then mostly padding and the target fills the exemplar.

A track with fewer than 2 curated frames can form no pair and is dropped
(the original deletes the whole video in that case, erratum 3; we drop only
the track).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import io
import os
from typing import Iterator, Sequence as SequenceT

import numpy as np
from PIL import Image
from PIL import ImageStat

# save_crops.m: side of the stored (instance) crop, `*.crop.x.jpg`.
CROP_SIZE = 255
# save_crops.m / experiment.m: exemplar side, the centre of the 255 crop.
EXEMPLAR_SIZE = 127
# save_crops.m: imwrite(..., 'Quality', 90).
JPEG_QUALITY = 90
# Sec. 2.4 and the original `contextAmount`.
CONTEXT = 0.5

SKIP_REASONS = ("absent", "occluded", "non-finite", "small", "outside",
                "large")


@dataclasses.dataclass(frozen=True)
class CurationRule:
  """What is curated and how (see the module docstring for the rules).

  Attributes:
    context: amount of context around the target (Sec. 2.4, 0.5).
    crop_size: side of the stored crop in pixels (255).
    exemplar_size: side of the exemplar in pixels (127); with `crop_size` it
      sets the crop's window side s_x = s_z * crop_size / exemplar_size.
    min_side: smallest box width and height in pixels.
    min_inside: smallest fraction of the box area inside the frame.
    max_area: largest fraction of the frame area the box may cover.
    min_cover: smallest GOT-10k cover label (0-8) of a curated frame.
    jpeg_quality: quality of the stored JPEGs.
  """

  context: float = CONTEXT
  crop_size: int = CROP_SIZE
  exemplar_size: int = EXEMPLAR_SIZE
  min_side: float = 2.0
  min_inside: float = 0.25
  max_area: float = 0.9
  min_cover: int = 1
  jpeg_quality: int = JPEG_QUALITY

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def skip_reasons(boxes: np.ndarray, frame_sizes: np.ndarray,
                 rule: CurationRule = CurationRule(),
                 absence: np.ndarray | None = None,
                 cover: np.ndarray | None = None) -> np.ndarray:
  """Why each box is not curated ('' for the boxes that are).

  The first rule that applies wins, in the order of `SKIP_REASONS`.

  Args:
    boxes: [N, 4] float `[x, y, w, h]` (convention of `siamfc_jax.boxes`).
    frame_sizes: [N, 2] or [2] int (W, H) of the frames.
    rule: the thresholds.
    absence: optional [N] bool GOT-10k absence labels.
    cover: optional [N] int GOT-10k cover labels (0-8).

  Returns:
    [N] str array of reasons, '' where the box is curated.
  """
  b = np.asarray(boxes, np.float64).reshape(-1, 4)
  size = np.broadcast_to(np.asarray(frame_sizes, np.float64), (len(b), 2))
  reasons = np.full(len(b), "", dtype=object)

  def mark(mask, reason):
    reasons[(reasons == "") & mask] = reason

  if absence is not None:
    mark(np.asarray(absence, bool), "absent")
  if cover is not None:
    mark(np.asarray(cover) < rule.min_cover, "occluded")
  finite = np.all(np.isfinite(b), axis=1)
  mark(~finite, "non-finite")
  b = np.where(finite[:, None], b, 1.0)  # keeps the arithmetic below quiet
  x, y, w, h = b.T
  mark((w < rule.min_side) | (h < rule.min_side), "small")
  inside_w = np.clip(np.minimum(x + w, size[:, 0]) - np.maximum(x, 0), 0, None)
  inside_h = np.clip(np.minimum(y + h, size[:, 1]) - np.maximum(y, 0), 0, None)
  area = np.maximum(w * h, 1e-12)
  mark(inside_w * inside_h < rule.min_inside * area, "outside")
  mark(w * h > rule.max_area * size[:, 0] * size[:, 1], "large")
  return reasons.astype(str)


def crop_sides(sizes: np.ndarray, rule: CurationRule = CurationRule()
               ) -> np.ndarray:
  """Window sides s_x = s_z * crop_size / exemplar_size of boxes.

  Args:
    sizes: [N, 2] float target sizes (w, h) in pixels.
    rule: context and crop sizes.

  Returns:
    [N] float64 sides in frame pixels.
  """
  # Imported here: the tracker's one definition of s_z, vectorised so JAX
  # runs once per dataset, not once per box.
  # pylint: disable-next=g-import-not-at-top
  from siamfc_jax import boxes as boxes_lib
  sizes = np.asarray(sizes, np.float32).reshape(-1, 2)
  if not len(sizes):
    return np.zeros(0)
  s_z = np.asarray(boxes_lib.context_side(sizes, rule.context), np.float64)
  return s_z * rule.crop_size / rule.exemplar_size


def read_frame(path: os.PathLike | str) -> np.ndarray:
  """[H, W, 3] uint8 RGB frame (grayscale and palette files converted)."""
  return np.asarray(_open_rgb(path))


def _open_rgb(path: os.PathLike | str) -> Image.Image:
  """A decoded RGB `PIL.Image` of an image file."""
  with Image.open(path) as image:
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image.copy()


def frame_size(path: os.PathLike | str) -> tuple[int, int]:
  """(W, H) of an image file, read from its header only."""
  with Image.open(path) as image:
    return image.size


def crop_context(frame: np.ndarray | Image.Image, centre, side: float,
                 out_size: int = CROP_SIZE, fill=None) -> np.ndarray:
  """A square window of the frame, padded and resized (bicubic, antialiased).

  Output pixel j samples the frame at `centre - side / 2 + (j + 0.5) * side /
  out_size` (the mapping of `crop.py` and MATLAB `imresize`); frame pixels
  outside the image take the `fill` colour.

  Args:
    frame: [H, W, 3] uint8 frame (or the same as an RGB `PIL.Image`).
    centre: (cx, cy) window centre in pixels (`boxes.py` convention).
    side: window side in pixels (> 0).
    out_size: output side in pixels.
    fill: [3] padding colour, rounded to integers; the frame's mean colour
      by default (the original's `avgChans`, per frame).

  Returns:
    [out_size, out_size, 3] uint8 crop.
  """
  image = frame if isinstance(frame, Image.Image) else Image.fromarray(
      np.asarray(frame, np.uint8))
  if fill is None:
    fill = mean_colour(image)
  fill = tuple(int(v) for v in np.clip(np.round(np.asarray(fill, float)), 0,
                                       255))
  w, h = image.size
  x0 = float(centre[0]) - side / 2
  y0 = float(centre[1]) - side / 2
  # A canvas a little larger than the window (the filter reaches 2 source
  # pixels, times the shrink factor), so the border taps see padding
  # instead of being renormalised away.
  margin = int(np.ceil(2 * max(1.0, side / out_size))) + 1
  left = int(np.floor(x0)) - margin
  top = int(np.floor(y0)) - margin
  extent = int(np.ceil(side)) + 2 * margin + 1
  canvas = Image.new("RGB", (extent, extent), fill)
  # The part of the frame that falls on the canvas.
  fx0, fy0 = max(left, 0), max(top, 0)
  fx1, fy1 = min(left + extent, w), min(top + extent, h)
  if fx0 < fx1 and fy0 < fy1:
    canvas.paste(image.crop((fx0, fy0, fx1, fy1)), (fx0 - left, fy0 - top))
  box = (x0 - left, y0 - top, x0 - left + side, y0 - top + side)
  return np.asarray(canvas.resize((out_size, out_size),
                                  Image.Resampling.BICUBIC, box=box))


def mean_colour(frame: np.ndarray | Image.Image) -> np.ndarray:
  """[3] float64 mean RGB of a frame (the original's `avgChans`)."""
  if isinstance(frame, Image.Image):
    return np.asarray(ImageStat.Stat(frame).mean, np.float64)
  return np.asarray(frame, np.float64).reshape(-1, 3).mean(0)


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
  """[H, W, 3] uint8 image -> JPEG file bytes."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="JPEG",
                                                    quality=quality)
  return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
  """JPEG (or any image) file bytes -> [H, W, 3] uint8 RGB."""
  with Image.open(io.BytesIO(data)) as image:
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


@dataclasses.dataclass(frozen=True, eq=False)
class TrackAnnotation:
  """One object followed through a video, before curation.

  Attributes:
    name: unique track id (e.g. `<video>/<trackid>` for VID, the sequence
      name for single-object datasets).
    sequence: the video's name.
    object_id: the object's id within the video (VID `trackid`, else 0).
    frames: N frame paths, in temporal order.
    frame_indices: [N] int 0-based index of each frame in its video.
    boxes: [N, 4] float boxes `[x, y, w, h]` (`siamfc_jax.boxes`).
    frame_sizes: [N, 2] int (W, H) of each frame.
    absence: optional [N] bool GOT-10k absence labels.
    cover: optional [N] int GOT-10k cover labels.
    object_class: the object's class ('' unknown): the VID synset of its
      first annotation (e.g. `n02084071`), the GOT-10k `object_class`.
  """

  name: str
  sequence: str
  object_id: int
  frames: tuple[str, ...]
  frame_indices: np.ndarray
  boxes: np.ndarray
  frame_sizes: np.ndarray
  absence: np.ndarray | None = None
  cover: np.ndarray | None = None
  object_class: str = ""


@dataclasses.dataclass(frozen=True)
class CropJob:
  """One crop to make: record `record` of the split."""

  record: int
  track: str
  sequence: str
  object_id: int
  frame_index: int
  box: tuple[float, float, float, float]
  frame_size: tuple[int, int]
  side: float


@dataclasses.dataclass(frozen=True)
class TrackRecords:
  """Where a curated track lies in its split: records [start, start + count),
  in temporal order, and the object's class ('' unknown)."""

  name: str
  sequence: str
  start: int
  count: int
  object_class: str = ""

  def to_row(self) -> list:
    """`[name, sequence, start, count, object_class]`: a row of the track
    table stored with a prepared dataset (`tfds_builders.py`)."""
    return [self.name, self.sequence, self.start, self.count,
            self.object_class]

  @classmethod
  def from_row(cls, row: SequenceT) -> TrackRecords:
    """A stored track table row; 4-column rows (tables written before
    classes were stored) have no class ('').

    Raises:
      ValueError: a row of neither 4 nor 5 entries.
    """
    if len(row) not in (4, 5):
      raise ValueError(f"track table row {row!r}: expected [name, sequence, "
                       "start, count(, object_class)]")
    object_class = str(row[4]) if len(row) == 5 else ""
    return cls(str(row[0]), str(row[1]), int(row[2]), int(row[3]),
               object_class)


@dataclasses.dataclass(frozen=True)
class CurationPlan:
  """Everything to curate in one split.

  Attributes:
    frames: (frame path, crops of the objects in that frame) in the order
      the frames are read; every frame is decoded once.
    tracks: the curated tracks; record indices run track by track, so each
      track is one contiguous block of records.
    skipped: reason -> number of boxes left out (including those of tracks
      with fewer than 2 curated frames, under 'short track').
  """

  frames: tuple[tuple[str, tuple[CropJob, ...]], ...]
  tracks: tuple[TrackRecords, ...]
  skipped: dict[str, int]

  @property
  def num_records(self) -> int:
    return sum(t.count for t in self.tracks)


def plan_curation(tracks: SequenceT[TrackAnnotation],
                  rule: CurationRule = CurationRule()) -> CurationPlan:
  """Selects the boxes to curate and numbers their records.

  Args:
    tracks: the annotated tracks of one split.
    rule: which boxes are curated.

  Returns:
    The plan: records numbered track by track (tracks in the given order,
    frames in temporal order), frames grouped so each is read once.
  """
  skipped = collections.Counter()
  kept = []  # (track, [indices into the track's arrays])
  for track in tracks:
    reasons = skip_reasons(track.boxes, track.frame_sizes, rule,
                           track.absence, track.cover)
    skipped.update(r for r in reasons if r)
    keep = np.flatnonzero(reasons == "")
    if len(keep) < 2:
      skipped["short track"] += len(keep)
      continue
    kept.append((track, keep))
  all_sizes = np.concatenate([t.boxes[k, 2:] for t, k in kept]) if kept \
      else np.zeros((0, 2))
  sides = crop_sides(all_sizes, rule)
  by_frame: dict[str, list[CropJob]] = {}
  records = []
  record = 0
  for track, keep in kept:
    records.append(TrackRecords(track.name, track.sequence, record, len(keep),
                                track.object_class))
    for i in keep:
      job = CropJob(record=record, track=track.name, sequence=track.sequence,
                    object_id=int(track.object_id),
                    frame_index=int(track.frame_indices[i]),
                    box=tuple(float(v) for v in track.boxes[i]),
                    frame_size=tuple(int(v) for v in track.frame_sizes[i]),
                    side=float(sides[record]))
      by_frame.setdefault(str(track.frames[i]), []).append(job)
      record += 1
  frames = tuple((path, tuple(jobs)) for path, jobs in by_frame.items())
  return CurationPlan(frames, tuple(records), dict(skipped))


def curate_frame(path: str, jobs: SequenceT[CropJob],
                 rule: CurationRule = CurationRule()
                 ) -> list[tuple[CropJob, bytes]]:
  """Reads one frame and makes the JPEG crops of its objects."""
  frame = _open_rgb(path)
  fill = mean_colour(frame)
  out = []
  for job in jobs:
    x, y, w, h = job.box
    crop = crop_context(frame, (x + w / 2, y + h / 2), job.side,
                        rule.crop_size, fill)
    out.append((job, encode_jpeg(crop, rule.jpeg_quality)))
  return out


def curate(plan: CurationPlan, rule: CurationRule = CurationRule(),
           threads: int = 0) -> Iterator[tuple[CropJob, bytes]]:
  """Makes every crop of a plan, frame by frame.

  Args:
    plan: from `plan_curation`.
    rule: crop sizes and JPEG quality (the plan's own rule).
    threads: decode/encode this many frames at once (Pillow releases the
      GIL); 0 works in the calling thread. The output order is the same.

  Yields:
    (job, JPEG bytes of the [crop_size, crop_size, 3] crop), in the plan's
    frame order (not record order: `job.record` says where each goes).
  """
  if threads <= 0:
    for path, jobs in plan.frames:
      yield from curate_frame(path, jobs, rule)
    return
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    # A bounded window of frames in flight keeps memory flat.
    pending = collections.deque()
    frames = iter(plan.frames)
    for path, jobs in frames:
      pending.append(pool.submit(curate_frame, path, jobs, rule))
      if len(pending) >= 4 * threads:
        yield from pending.popleft().result()
    while pending:
      yield from pending.popleft().result()
