"""Training pairs from curated crops: sampling and augmentation (Sec. 2.2).

Pair i of a stream is a pure function of (seed, i): its random numbers come
from `np.random.default_rng([seed, i])`. Batches are consecutive pairs, so a
stream is resumed by its next batch number alone (`PairIterator.get_state`),
and it is the same whatever the number of loading workers.

Sampling (`PairSampler`, after `vid_get_random_batch.m: choose_pos_pair`):
a video uniformly at random (as the original: one random video per pair; or,
with `sample_by='track'`, a track uniformly), a track of it, an exemplar
frame among the track's curated frames, and a search frame at most
`frame_range` positions (T = 100) away in that list, never the exemplar
itself. The original draws the videos of a batch without replacement; we
draw every pair independently, so a batch may repeat a video (rarely, with
thousands of videos). Tracks with fewer than 2 curated frames are never
built (`curation.py`).

Same-class batches (`same_class_batches`, an option beyond the paper): each
global batch of G pairs is one group. Its first pair is drawn as above (the
same random numbers as without the option); each other pair comes from
another video with a track of the first pair's object class (a video
uniformly among them, then one of its tracks of that class; with
`sample_by='track'`, a track of the class in another video, uniformly).
With the train step's in-batch negatives (`training.py`), an exemplar then
meets search crops of other objects of its class: the hard negatives of
Dong & Shen (ECCV 2018). A class seen in one video only has no other video:
its batch's other pairs come from any other video (of any class). Only the
first pair's video is avoided, so two other pairs of a batch may share a
video (often, when the class has few videos). The class is the track
table's (`TrackRecords.object_class`: VID synsets, GOT-10k
`object_class`); a track table without classes is refused.

Crops (each record is the 255 x 255 crop of `curation.py`; the exemplar is
its centre 127 x 127):

  * z: the centre 127 square, then stretch and shift as the original's
    `acquire_augment` with imageSize 127 (erratum 5): size round(127 * (1 +
    0.05 U[-1, 1])) per axis, clipped to 127 (it can only zoom in), shifted
    by at most floor((127 - size) / 2) px;
  * x: a 239 x 239 window of the 255 crop (255 - 2 * 8: 15 x 15 training
    score maps, siamese-fc#5), size round(239 * (1 + 0.05 U[-1, 1])) per axis
    clipped to 255, shifted by at most min(4, floor((255 - size) / 2)) px;
  * both resampled to the output size by index rounding (nearest neighbour,
    MATLAB `round(linspace(...))`), as the original;
  * colour jitter (`AugmentConfig.colour`): the original subtracts
    `rgbVariance * randn(3, 1)`, which (erratum 4) is a normal offset per RGB
    channel with standard deviation 0.1 sqrt(lambda_c), lambda_c the c-th
    ascending eigenvalue of the RGB covariance of the stored crops, with
    separate statistics for z and x. We do exactly that, with the covariance
    estimated over `STAT_RECORDS` evenly spaced curated crops (or given
    explicitly), and then round and clip to uint8 (the original keeps floats);
  * grayscale: with probability `grayscale`, both z and x become
    0.2989 R + 0.5870 G + 0.1140 B (MATLAB `rgb2gray`), after the jitter.

Validation pairs (`AugmentConfig.for_validation`) get no stretch, shift or
colour jitter; grayscale still applies (erratum addition 5).

Reading: the crops of a prepared TFDS dataset (`tfds_builders.py`) are read
through TFDS's random-access source (`as_data_source`: array_record, no
TensorFlow) and decoded by Pillow (`TfdsCrops`); the track table comes from
its `metadata.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any, Literal, Protocol, Sequence as SequenceT

import numpy as np

from siamfc_jax.data import curation

# experiment.m: `frameRange` (T of Sec. 2.2), in curated positions.
FRAME_RANGE = 100
# experiment.m: exemplarSize, instanceSize = 255 - 2 * 8.
EXEMPLAR_SIZE = 127
INSTANCE_SIZE = 239
# experiment.m: augment.maxStretch, augment.maxTranslate.
MAX_STRETCH = 0.05
MAX_TRANSLATE = 4
# Curated crops over which the RGB covariance of the jitter is estimated.
STAT_RECORDS = 256
# MATLAB rgb2gray weights.
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])
# Used for the infinite stream: far more pairs than any run reads.
_ENDLESS = 2**62


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
  """Augmentation of the pairs (defaults: the original's training settings).

  Attributes:
    max_stretch: largest relative change of the window side per axis.
    max_translate: largest shift of the x window in pixels (z: limited by
      the room left in its 127 square only).
    augment_z: stretch and shift the exemplar too (the original does).
    colour: add the per-channel colour jitter.
    colour_std_z: [3] standard deviations of the z jitter in grey levels;
      None: 0.1 sqrt(eigenvalues) of the estimated RGB covariance.
    colour_std_x: the same for x.
    grayscale: fraction of pairs turned grayscale (0; 0.25 for the OTB net).
  """

  max_stretch: float = MAX_STRETCH
  max_translate: int = MAX_TRANSLATE
  augment_z: bool = True
  colour: bool = True
  colour_std_z: tuple[float, float, float] | None = None
  colour_std_x: tuple[float, float, float] | None = None
  grayscale: float = 0.0

  def for_validation(self) -> AugmentConfig:
    """No stretch, shift or jitter; the same grayscale fraction."""
    return dataclasses.replace(self, max_stretch=0.0, max_translate=0,
                               augment_z=False, colour=False)


NO_AUGMENT = AugmentConfig(max_stretch=0.0, max_translate=0, augment_z=False,
                           colour=False, grayscale=0.0)


class RecordSource(Protocol):
  """Random access to a split's curated crops."""

  def __len__(self) -> int:
    ...

  def __getitem__(self, record: int) -> np.ndarray:
    """[S, S, 3] uint8 curated crop of a record."""
    ...


@dataclasses.dataclass(frozen=True, eq=False)
class CuratedCrops:
  """One split of curated crops: the records and their track table.

  Attributes:
    crops: random access to the [255, 255, 3] uint8 crops by record number.
    tracks: where each track's records lie (`curation.TrackRecords`).
    name: where the data came from (for messages and resume checks).
  """

  crops: RecordSource
  tracks: tuple[curation.TrackRecords, ...]
  name: str = ""

  @classmethod
  def from_directory(cls, path: os.PathLike | str, split: str
                     ) -> CuratedCrops:
    """A split of a dataset prepared by `tfds_builders` (its version folder,
    holding `dataset_info.json`, `metadata.json` and the `*.array_record-*`
    shards).

    Raises:
      FileNotFoundError: no metadata or no shards of the split.
      ValueError: the split has no track table, or the record count does
        not match it.
    """
    path = pathlib.Path(path)
    meta_file = path / "metadata.json"
    if not meta_file.is_file():
      raise FileNotFoundError(
          f"{meta_file}: not found; expected a dataset folder prepared by "
          "siamfc_jax.data.tfds_builders (e.g. <data_dir>/siamfc_vid/"
          "default/1.0.0)")
    table = json.loads(meta_file.read_text()).get("tracks", {})
    if split not in table:
      raise ValueError(f"{meta_file}: no split {split!r} (have "
                       f"{sorted(table)})")
    tracks = tuple(curation.TrackRecords.from_row(row)
                   for row in table[split])
    shards = sorted(path.glob(f"*-{split}.array_record-*"))
    if not shards:
      raise FileNotFoundError(f"{path}: no array_record shards of split "
                              f"{split!r}")
    crops = TfdsCrops(path, split)
    expected = sum(t.count for t in tracks)
    if len(crops) != expected:
      raise ValueError(f"{path}: split {split!r} has {len(crops)} records but "
                       f"its track table counts {expected}")
    return cls(crops, tracks, f"{path}:{split}")


class TfdsCrops:
  """The curated crops of a prepared split, decoded on access.

  Read with TFDS's random-access source (`as_data_source`, array_record; no
  TensorFlow, no builder class). TFDS would decode the JPEGs with OpenCV
  when it is installed, else Pillow; we take the stored bytes
  (`SkipDecoding`) and decode them with Pillow (`curation.decode_jpeg`), so
  the pixels, and the pair streams, never depend on whether OpenCV is there.
  Picklable: loading workers get a copy.

  Args:
    path: the prepared dataset's version folder (`dataset_info.json`).
    split: the split to read.
  """

  def __init__(self, path: os.PathLike | str, split: str):
    # Imported here so that in-memory sources need no TFDS.
    # pylint: disable-next=g-import-not-at-top
    import tensorflow_datasets as tfds
    builder = tfds.builder_from_directory(str(path))
    self._source = builder.as_data_source(
        split, decoders={"image": tfds.decode.SkipDecoding()})

  def __len__(self) -> int:
    return len(self._source)

  def image_bytes(self, record: int) -> bytes:
    """The stored JPEG file bytes of a record (as curation encoded them)."""
    return self._source[record]["image"]

  def __getitem__(self, record: int) -> np.ndarray:
    return curation.decode_jpeg(self.image_bytes(record))


def tracks_without_class(tracks: SequenceT[curation.TrackRecords]
                         ) -> int:
  """How many tracks that can make a pair (2 curated frames) have no
  object class."""
  return sum(1 for t in tracks if t.count >= 2 and not t.object_class)


class PairSampler:
  """Draws (exemplar record, search record) of positive pairs.

  Args:
    tracks: the split's track table.
    frame_range: T, the largest distance in curated positions.
    sample_by: 'video' (a video, then one of its tracks: the original) or
      'track' (uniform over tracks).
    same_class: prepare `sample_beside` (every usable track needs its
      `object_class`, and there must be 2 videos or more).

  Raises:
    ValueError: no track with 2 frames, or a bad argument; with
      `same_class`, a track without class or a single video.
  """

  def __init__(self, tracks: SequenceT[curation.TrackRecords],
               frame_range: int = FRAME_RANGE,
               sample_by: Literal["video", "track"] = "video",
               same_class: bool = False):
    if frame_range < 1:
      raise ValueError(f"frame_range must be >= 1, got {frame_range}")
    if sample_by not in ("video", "track"):
      raise ValueError(f"sample_by must be 'video' or 'track', got "
                       f"{sample_by!r}")
    usable = [t for t in tracks if t.count >= 2]
    if not usable:
      raise ValueError("no track has 2 curated frames: no pair can be made")
    self.frame_range = frame_range
    self.sample_by = sample_by
    self.same_class = same_class
    self._starts = np.array([t.start for t in usable], np.int64)
    self._counts = np.array([t.count for t in usable], np.int64)
    by_video: dict[str, list[int]] = {}
    for i, t in enumerate(usable):
      by_video.setdefault(t.sequence, []).append(i)
    self._videos = [np.array(v, np.int64) for v in by_video.values()]
    if same_class:
      self._index_classes(usable, list(by_video))

  def _index_classes(self, usable: list[curation.TrackRecords],
                     video_names: list[str]) -> None:
    """Per class: its videos and, per video, its tracks of that class."""
    missing = tracks_without_class(usable)
    if missing:
      raise ValueError(f"same-class sampling needs the object class of "
                       f"every track; {missing} of {len(usable)} have none")
    if len(self._videos) < 2:
      raise ValueError("same-class sampling needs 2 videos or more, got "
                       f"{len(self._videos)}")
    video_of = {name: v for v, name in enumerate(video_names)}
    self._track_video = np.array([video_of[t.sequence] for t in usable],
                                 np.int64)
    self._track_class = [t.object_class for t in usable]
    per_class: dict[str, dict[int, list[int]]] = {}
    for i, t in enumerate(usable):
      per_class.setdefault(t.object_class, {}).setdefault(
          int(self._track_video[i]), []).append(i)
    # class -> ([V] video indices, their tracks of the class).
    self._class_videos = {
        c: (np.array(list(v), np.int64),
            [np.array(k, np.int64) for k in v.values()])
        for c, v in per_class.items()}
    self._class_tracks = {
        c: np.concatenate(k) for c, (_, k) in self._class_videos.items()}

  def draw_track(self, rng: np.random.Generator) -> int:
    """The track of a pair (index into the usable tracks): the first draws
    of `sample`, so `draw_track(g)` with a fresh `g` names the track that
    `sample(g)` with the same fresh generator uses."""
    if self.sample_by == "video":
      video = self._videos[rng.integers(len(self._videos))]
      return int(video[rng.integers(len(video))])
    return int(rng.integers(len(self._counts)))

  def sample(self, rng: np.random.Generator) -> tuple[int, int]:
    """(z record, x record) of one pair."""
    return self._sample_frames(rng, self.draw_track(rng))

  def sample_beside(self, rng: np.random.Generator, anchor: int
                    ) -> tuple[int, int]:
    """(z record, x record) of a pair from another video than the track
    `anchor`'s, of that track's class: a video uniformly among the other
    videos with a track of the class, then one of those tracks (with
    `sample_by='track'`: a track uniformly among those of the class in the
    other videos). A class seen in one video only: any other video (then
    any of its tracks), or any track of another video.

    Raises:
      ValueError: the sampler was not made with `same_class`.
    """
    if not self.same_class:
      raise ValueError("sample_beside needs PairSampler(..., "
                       "same_class=True)")
    video = self._track_video[anchor]
    object_class = self._track_class[anchor]
    if self.sample_by == "video":
      videos, tracks = self._class_videos[object_class]
      others = np.flatnonzero(videos != video)
      if len(others):
        pick = tracks[int(others[rng.integers(len(others))])]
      else:  # the class's only video: any other one
        other = int(rng.integers(len(self._videos) - 1))
        pick = self._videos[other + (other >= video)]
      track = pick[rng.integers(len(pick))]
    else:
      candidates = self._class_tracks[object_class]
      candidates = candidates[self._track_video[candidates] != video]
      if not len(candidates):
        candidates = np.flatnonzero(self._track_video != video)
      track = candidates[rng.integers(len(candidates))]
    return self._sample_frames(rng, int(track))

  def _sample_frames(self, rng: np.random.Generator, track: int
                     ) -> tuple[int, int]:
    """(z record, x record): an exemplar frame of the track and a search
    frame at most `frame_range` positions away, never the same."""
    n = int(self._counts[track])
    z_pos = int(rng.integers(n))
    lo = max(0, z_pos - self.frame_range)
    hi = min(n - 1, z_pos + self.frame_range)
    # Uniform over [lo, hi] without z_pos.
    x_pos = int(rng.integers(lo, hi))
    if x_pos >= z_pos:
      x_pos += 1
    start = int(self._starts[track])
    return start + z_pos, start + x_pos


def _round_half_away(x: np.ndarray) -> np.ndarray:
  """MATLAB `round`: halves away from zero."""
  return np.sign(x) * np.floor(np.abs(x) + 0.5)


def draw_window(rng: np.random.Generator, source_size: int, out_size: int,
                max_stretch: float, max_translate: int | None
                ) -> tuple[np.ndarray, np.ndarray]:
  """Random window of the original's `acquire_augment` (stretch, shift).

  Args:
    rng: the pair's generator.
    source_size: side of the stored image (255 for x, 127 for z).
    out_size: network input side (239 for x, 127 for z).
    max_stretch: largest relative change of the side, per axis.
    max_translate: largest shift from the centred window in pixels (None:
      anywhere the window fits).

  Returns:
    ([2] int (row, col) top-left corner, [2] int (height, width)) of the
    window in the stored image.
  """
  scale = 1 + max_stretch * rng.uniform(-1, 1, 2)
  size = np.minimum(_round_half_away(out_size * scale),
                    source_size).astype(np.int64)
  slack = (source_size - size) // 2
  reach = slack if max_translate is None else np.minimum(slack,
                                                         max_translate)
  shift = rng.integers(-reach, reach + 1)
  return slack + shift, size


def window_indices(start: int, size: int, out_size: int) -> np.ndarray:
  """[out_size] int source indices: MATLAB `round(linspace(start, start +
  size - 1, out_size))` (nearest-neighbour resampling by index rounding)."""
  return _round_half_away(np.linspace(start, start + size - 1,
                                      out_size)).astype(np.int64)


def resample_window(image: np.ndarray, start, size, out_size: int
                    ) -> np.ndarray:
  """[out_size, out_size, C] window of `image` by index rounding."""
  rows = window_indices(int(start[0]), int(size[0]), out_size)
  cols = window_indices(int(start[1]), int(size[1]), out_size)
  # One gather with broadcast indices gives a C-contiguous result
  # (`image[rows][:, cols]` would not, and grain then pipes batches instead
  # of sharing their memory).
  return image[rows[:, None], cols[None, :]]


def rgb_statistics(crops: RecordSource, exemplar_size: int = EXEMPLAR_SIZE,
                   num_records: int = STAT_RECORDS
                   ) -> tuple[np.ndarray, np.ndarray]:
  """RGB covariances of stored z and x crops (`vid_image_stats.m`).

  Args:
    crops: the curated crops.
    exemplar_size: side of the z square at the centre of each crop.
    num_records: evenly spaced records to use (all if fewer).

  Returns:
    ([3, 3] float64 covariance of z pixels, [3, 3] of x pixels), grey
    levels squared.
  """
  n = len(crops)
  picks = np.unique(np.linspace(0, n - 1, min(n, num_records)).astype(int))
  z_sum, x_sum = np.zeros(3), np.zeros(3)
  z_outer, x_outer = np.zeros((3, 3)), np.zeros((3, 3))
  z_count = x_count = 0
  for record in picks:
    crop = np.asarray(crops[int(record)], np.float64)
    lo = (crop.shape[0] - exemplar_size) // 2
    z = crop[lo:lo + exemplar_size, lo:lo + exemplar_size].reshape(-1, 3)
    x = crop.reshape(-1, 3)
    z_sum += z.sum(0)
    x_sum += x.sum(0)
    z_outer += z.T @ z
    x_outer += x.T @ x
    z_count += len(z)
    x_count += len(x)

  def cov(total, outer, count):
    mean = total / count
    return outer / count - np.outer(mean, mean)

  return cov(z_sum, z_outer, z_count), cov(x_sum, x_outer, x_count)


def jitter_std(covariance: np.ndarray) -> np.ndarray:
  """[3] per-channel jitter std of the original: 0.1 sqrt(eigenvalues),
  ascending (`rgbVariance = 0.1 sqrt(D) V'` applied as erratum 4 says)."""
  eigenvalues = np.linalg.eigvalsh(np.asarray(covariance, np.float64))
  return 0.1 * np.sqrt(np.clip(eigenvalues, 0, None))


@dataclasses.dataclass(frozen=True)
class PairMaker:
  """Pair i of a stream: `make(i)` -> {'z': [127, 127, 3], 'x': [239, 239,
  3]} uint8. Picklable (sent to the loading workers).

  `class_group` G > 0 (the global batch size; the sampler made with
  `same_class`): pairs [g G, (g + 1) G) form a group whose first pair is
  drawn as without groups and whose other pairs come from other videos of
  that pair's track's class (`PairSampler.sample_beside`); each still
  depends on (seed, its index) only, as the first pair's track is drawn
  again from (seed, g G). 0: every pair on its own (`PairSampler.sample`).
  """

  crops: RecordSource
  sampler: PairSampler
  augment: AugmentConfig
  seed: int
  colour_std_z: np.ndarray
  colour_std_x: np.ndarray
  exemplar_size: int = EXEMPLAR_SIZE
  instance_size: int = INSTANCE_SIZE
  class_group: int = 0

  def sample(self, index: int) -> tuple[int, int, np.random.Generator]:
    """(z record, x record, the pair's generator for its augmentation)."""
    index = int(index)
    rng = np.random.default_rng([self.seed, index])
    group = self.class_group
    if group <= 0 or index % group == 0:
      return (*self.sampler.sample(rng), rng)
    first = np.random.default_rng([self.seed, index - index % group])
    anchor = self.sampler.draw_track(first)
    return (*self.sampler.sample_beside(rng, anchor), rng)

  def make(self, index: int) -> dict[str, np.ndarray]:
    z_record, x_record, rng = self.sample(index)
    z_crop = np.asarray(self.crops[z_record])
    x_crop = np.asarray(self.crops[x_record])
    aug = self.augment
    lo = (z_crop.shape[0] - self.exemplar_size) // 2
    z_src = z_crop[lo:lo + self.exemplar_size, lo:lo + self.exemplar_size]
    if aug.augment_z:
      z = resample_window(z_src, *draw_window(
          rng, self.exemplar_size, self.exemplar_size, aug.max_stretch, None),
                          self.exemplar_size)
    else:
      z = z_src
    x = resample_window(x_crop, *draw_window(
        rng, x_crop.shape[0], self.instance_size, aug.max_stretch,
        aug.max_translate), self.instance_size)
    if aug.colour:
      z = _jitter(z, self.colour_std_z * rng.standard_normal(3))
      x = _jitter(x, self.colour_std_x * rng.standard_normal(3))
    if aug.grayscale > 0 and rng.random() < aug.grayscale:
      z, x = _gray(z), _gray(x)
    return {"z": _to_uint8(z), "x": _to_uint8(x)}


def _jitter(image: np.ndarray, offset: np.ndarray) -> np.ndarray:
  """[H, W, 3] float32 image minus a per-channel offset (as the original)."""
  return image.astype(np.float32) - offset.astype(np.float32)


def _gray(image: np.ndarray) -> np.ndarray:
  """[H, W, 3] float32 MATLAB `rgb2gray` replicated to 3 channels."""
  gray = image.astype(np.float32) @ GRAY_WEIGHTS.astype(np.float32)
  return np.repeat(gray[..., None], 3, axis=-1)


def _to_uint8(image: np.ndarray) -> np.ndarray:
  """Rounded and clipped to uint8 (the original keeps floats)."""
  if image.dtype != np.uint8:
    image = np.rint(image, out=image)
    image = np.clip(image, 0, 255, out=image).astype(np.uint8)
  return np.ascontiguousarray(image)


@dataclasses.dataclass(frozen=True)
class _ShardPair:
  """Local pair j of shard `index` of `count` -> the pair of its global
  index: shard k holds rows [k B, (k + 1) B) of every global batch of
  `count` B pairs. A class, not a closure: loading workers pickle it."""

  maker: PairMaker
  batch_size: int
  index: int
  count: int

  def __call__(self, j: int) -> dict[str, np.ndarray]:
    b = self.batch_size
    return self.maker.make((j // b) * b * self.count + self.index * b + j % b)


class PairIterator:
  """Batches {'z': [B, 127, 127, 3], 'x': [B, 239, 239, 3]} uint8, resumable.

  `get_state()` is a JSON-serialisable dict; `set_state()` (or
  `make_pair_iterator(..., start_state=...)`) continues with exactly the
  batches an uninterrupted stream would give next. The state is the same
  for every shard, so one saved state resumes all hosts.
  """

  def __init__(self, maker: PairMaker, batch_size: int,
               num_pairs: int | None, worker_count: int, read_threads: int,
               fingerprint: dict[str, Any], shard: tuple[int, int] = (0, 1)):
    self._maker = maker
    self._batch_size = batch_size
    self._num_pairs = num_pairs
    self._shard = shard
    self._worker_count = worker_count
    self._read_threads = read_threads
    self._fingerprint = fingerprint
    self._next_batch = 0
    self._iterator = None

  @property
  def num_batches(self) -> int | None:
    """Batches in the stream (None: endless)."""
    if self._num_pairs is None:
      return None
    return self._num_pairs // (self._batch_size * self._shard[1])

  def _open(self):
    import grain  # pylint: disable=g-import-not-at-top
    index, count = self._shard
    pairs = (_ENDLESS if self._num_pairs is None
             else self._num_pairs // count)
    make = _ShardPair(self._maker, self._batch_size, index, count)
    batches = (grain.MapDataset.range(pairs)
               .map(make)
               .batch(self._batch_size, drop_remainder=True))
    batches = batches[self._next_batch:]
    threads = max(self._read_threads, 0)
    dataset = batches.to_iter_dataset(grain.ReadOptions(
        num_threads=threads, prefetch_buffer_size=2 * threads))
    if self._worker_count > 0:
      # Grain's workers read its absl flags, which only an absl app parses;
      # elsewhere (tests, notebooks) take their defaults.
      from absl import flags  # pylint: disable=g-import-not-at-top
      if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
      dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(
          num_workers=self._worker_count))
    return iter(dataset)

  def __iter__(self) -> PairIterator:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    if self._iterator is None:
      self._iterator = self._open()
    batch = next(self._iterator)
    self._next_batch += 1
    return batch

  def get_state(self) -> dict[str, Any]:
    """{'next_batch': k, ...the stream's settings}: JSON-serialisable."""
    return {"next_batch": self._next_batch, **self._fingerprint}

  def set_state(self, state: dict[str, Any]) -> None:
    """Continues from a `get_state()` of the same stream.

    Raises:
      ValueError: the state is of another stream (seed, batch size, data,
        split or augmentation differ).
    """
    state = dict(state)
    next_batch = int(state.pop("next_batch"))
    theirs = json.loads(json.dumps(state))
    ours = json.loads(json.dumps(self._fingerprint))
    if theirs != ours:
      diff = sorted(k for k in set(theirs) | set(ours)
                    if theirs.get(k) != ours.get(k))
      raise ValueError(f"state is of another pair stream (differs in "
                       f"{diff}): {theirs} vs {ours}")
    self.close()
    self._next_batch = next_batch

  def close(self) -> None:
    """Stops the loading workers (also done when garbage collected)."""
    if self._iterator is not None and hasattr(self._iterator, "close"):
      self._iterator.close()
    self._iterator = None


def _as_crops(data: Any, split: str) -> CuratedCrops:
  if isinstance(data, CuratedCrops):
    return data
  if isinstance(data, (str, os.PathLike)):
    return CuratedCrops.from_directory(data, split)
  data_path = getattr(data, "data_path", None) or getattr(data, "data_dir",
                                                          None)
  if data_path is not None:  # a tfds.core.DatasetBuilder
    return CuratedCrops.from_directory(str(data_path), split)
  raise TypeError(f"expected a CuratedCrops, a prepared dataset folder or a "
                  f"TFDS builder, got {type(data).__name__}")


def make_pair_iterator(data: Any, split: str, batch_size: int, seed: int,
                       frame_range: int = FRAME_RANGE,
                       augment: AugmentConfig | None = None,
                       *, sample_by: Literal["video", "track"] = "video",
                       num_pairs: int | None = None, worker_count: int = 0,
                       read_threads: int = 2,
                       exemplar_size: int = EXEMPLAR_SIZE,
                       instance_size: int = INSTANCE_SIZE,
                       start_state: dict[str, Any] | None = None,
                       shard: tuple[int, int] = (0, 1),
                       same_class_batches: bool = False
                       ) -> PairIterator:
  """The stream of training (or validation) pair batches of a split.

  Args:
    data: a prepared `tfds_builders` dataset: its builder, its version
      folder, or a `CuratedCrops`.
    split: 'train' or 'validation'.
    batch_size: pairs per batch B (per shard).
    seed: non-negative stream seed; pair i depends on (seed, i) only.
    frame_range: T, in curated positions of the track (100).
    augment: the augmentation; None: the original's training augmentation
      for 'train' and `NO_AUGMENT` for other splits.
    sample_by: 'video' (the original) or 'track'.
    num_pairs: length of the stream (None: endless).
    worker_count: loading processes (grain `mp_prefetch`); 0 loads in this
      process. The batches do not depend on it.
    read_threads: threads prefetching batches in each loading process.
    exemplar_size: z side (127).
    instance_size: x side (239; at most the stored 255).
    start_state: a `get_state()` to resume from.
    shard: (k, n): this host's share, rows [k B, (k + 1) B) of every global
      batch of n B pairs (the stream of one host with batch n B); `num_pairs`
      counts global pairs.
    same_class_batches: every global batch (n B pairs) from one object
      class: its first pair as usual, the others from other videos of that
      pair's class (`PairMaker.class_group`; a class with one video: from
      any other video). Needs the classes of the track table (VID,
      GOT-10k).

  Returns:
    The iterator (`get_state`, `set_state`, `close`).

  Raises:
    ValueError: bad arguments (crop sizes larger than the stored crops),
      or data without usable tracks; `same_class_batches` on tracks without
      classes.
  """
  if seed < 0:
    raise ValueError(f"seed must be >= 0, got {seed}")
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  if not 0 <= shard[0] < shard[1]:
    raise ValueError(f"shard (index, count) must have 0 <= index < count, "
                     f"got {shard}")
  crops = _as_crops(data, split)
  side = np.asarray(crops.crops[crops.tracks[0].start]).shape[0]
  if not 0 < exemplar_size <= side or not 0 < instance_size <= side:
    raise ValueError(f"exemplar_size {exemplar_size} and instance_size "
                     f"{instance_size} must fit in the {side}-pixel crops")
  if augment is None:
    augment = AugmentConfig() if split == "train" else NO_AUGMENT
  if same_class_batches:
    _require_classes(crops)
  sampler = PairSampler(crops.tracks, frame_range, sample_by,
                        same_class_batches)
  std_z, std_x = np.zeros(3), np.zeros(3)
  if augment.colour:
    if augment.colour_std_z is None or augment.colour_std_x is None:
      cov_z, cov_x = rgb_statistics(crops.crops, exemplar_size)
      std_z, std_x = jitter_std(cov_z), jitter_std(cov_x)
    if augment.colour_std_z is not None:
      std_z = np.asarray(augment.colour_std_z, np.float64)
    if augment.colour_std_x is not None:
      std_x = np.asarray(augment.colour_std_x, np.float64)
  group = batch_size * shard[1] if same_class_batches else 0
  maker = PairMaker(crops.crops, sampler, augment, int(seed), std_z, std_x,
                    exemplar_size, instance_size, group)
  fingerprint = {
      "records": len(crops.crops), "tracks": len(crops.tracks),
      "split": split, "seed": int(seed),
      "batch_size": int(batch_size), "frame_range": int(frame_range),
      "sample_by": sample_by, "num_pairs": num_pairs,
      "augment": dataclasses.asdict(augment),
      "exemplar_size": exemplar_size, "instance_size": instance_size,
      "shards": int(shard[1]),
  }
  if same_class_batches:
    # Only when on: the states of streams without it stay as they were, so
    # runs checkpointed before the option existed still resume.
    fingerprint["same_class_batches"] = True
  iterator = PairIterator(maker, batch_size, num_pairs, worker_count,
                          read_threads, fingerprint, tuple(shard))
  if start_state is not None:
    iterator.set_state(start_state)
  return iterator


def _require_classes(crops: CuratedCrops) -> None:
  """Raises ValueError unless every usable track of `crops` has a class."""
  missing = tracks_without_class(crops.tracks)
  if missing:
    raise ValueError(
        f"{crops.name}: same_class_batches needs the object class of every "
        f"track, but {missing} of its tracks have none. Classes come with "
        "VID and GOT-10k data (GOT-10k layout folders too; OTB and VOT "
        "sequences have none). A dataset prepared before classes were "
        "stored has none either: delete its prepared folder (named above, "
        "before the ':split') and it is rebuilt, with classes, on the next "
        "run")


def pair_iterator_from_config(config: Any, split: str, seed: int,
                              batch_size: int,
                              start_state: dict[str, Any] | None = None,
                              shard: tuple[int, int] = (0, 1)
                              ) -> PairIterator:
  """`make_pair_iterator` as a training config says, building the curated
  dataset first if needed (`experiments/configs/vid.py` fields:
  `data.kind`, `data.dir` (raw dataset), `data.tfds_dir`, `data.max_frame_gap`,
  `data.max_stretch`, `data.max_translate`, `data.color_jitter`,
  `data.grayscale`, `data.val_sequences` (folder kind), `data.workers`,
  `data.curation_threads`, `data.same_class_batches` (train split only),
  `exemplar_size`, `instance_size`). Validation streams are unaugmented
  (grayscale kept), never grouped by class, and load in this process."""
  # Imported here: only building needs TFDS.
  # pylint: disable-next=g-import-not-at-top
  from siamfc_jax.data import tfds_builders
  data = config.data
  builder_config = None
  if data.kind == "folder":
    builder_config = tfds_builders.folder_config(
        validation=data.get("val_sequences", 0))
  builder = tfds_builders.prepare(data.kind, data.dir,
                                  data.tfds_dir or None, builder_config,
                                  data.get("curation_threads", 0))
  augment = AugmentConfig(max_stretch=data.max_stretch,
                          max_translate=data.max_translate,
                          colour=data.color_jitter, grayscale=data.grayscale)
  training = split == "train"
  return make_pair_iterator(
      builder, split, batch_size, seed, data.max_frame_gap,
      augment if training else augment.for_validation(),
      worker_count=data.workers if training else 0,
      exemplar_size=config.exemplar_size, instance_size=config.instance_size,
      start_state=start_state, shard=shard,
      same_class_batches=training and bool(
          data.get("same_class_batches", False)))
