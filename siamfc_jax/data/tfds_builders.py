"""TFDS builders of curated training crops: VID, GOT-10k, any sequence folder.

Each record is one object in one frame: the 255 x 255 context crop of
`curation.py` (already JPEG-encoded, so building and reading never import
TensorFlow), plus where it came from. The data cannot be downloaded: point
`manual_dir` at the extracted dataset.

  builder = tfds_builders.prepare("vid", manual_dir="/data/ILSVRC2015",
                                  data_dir="/data/tfds", curation_threads=8)
  batches = pairs.make_pair_iterator(builder, "train", batch_size=8, seed=0)
  source = builder.as_data_source("train")   # or TFDS's own random access

(`prepare` is `SiamfcVid(data_dir=...).download_and_prepare(download_config=
tfds.download.DownloadConfig(manual_dir=...))`; a built dataset is reused.)
Curation decodes every frame once and is CPU-bound (ImageNet VID train has
about a million frames), so use `curation_threads` (Pillow releases the GIL).
On a terminal, tqdm bars show the VID annotations read and the crops made,
with the time left; they are silent when stderr is not a terminal.

Builders (the names TFDS registers):

  * `siamfc_vid`: ImageNet VID 2015. `manual_dir` holds `Data/VID/{train,val}`
    and `Annotations/VID/{train,val}` (or an `ILSVRC2015/` folder that does);
    videos may sit one folder deeper (`ILSVRC2015_VID_train_0000/<video>`).
    Every `<object>` of a frame's XML is one observation of the track
    `<video>/<trackid>`, whose class is the `<name>` synset of its first
    annotation (e.g. `n02084071`). VID boxes are inclusive 0-based pixel
    indices, so
    `[x, y, w, h] = [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1]`; the
    `<occluded>` flag is ignored, as in the original. Splits:
    'train' (VID train) and 'validation' (VID val). The original instead moves
    val into train and holds out the last 10 % of all videos.
  * `siamfc_got10k`: GOT-10k `train/` and `val/` (each with `list.txt`), read
    with `sequences.read_got10k`; absence and cover labels decide which
    frames are curated, `meta_info.ini`'s `object_class` is the class.
    Splits 'train' and 'validation'.
  * `siamfc_folder`: any folder of OTB / VOT / GOT-10k sequences
    (`sequences.read_dataset`); `SiamfcFolderConfig` names the held-out
    validation sequences, or how many to take from the end of the list.
    GOT-10k sequences keep their `object_class`; OTB and VOT ones have none.

Records of a split are numbered track by track (`disable_shuffling`; keys
are the record numbers), frames in temporal order, and
`info.metadata['tracks'][split]` lists `[track, sequence, start, count,
object_class]` per track (`curation.TrackRecords.to_row`; the class is ''
when unknown): pair sampling finds a track's frames, and the videos of a
class, without reading any record. Tables written before the class column
existed have 4 columns and still read (no classes); the dataset VERSION was
not bumped for it, so such a dataset is rebuilt only by deleting its
prepared folder.
Which boxes are curated is `curation.CurationRule` (in the builder config);
`info.metadata['skipped'][split]` counts the others by reason.

Frame sizes for the curation rule come from the annotation (VID XML,
GOT-10k `meta_info.ini`) or else from the first frame of the sequence.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Any
import xml.etree.ElementTree as ET

import numpy as np
import tensorflow_datasets as tfds
import tqdm

from siamfc_jax.data import curation
from siamfc_jax.data import sequences as sequences_lib

# Beside a prepared dataset: the raw folder it was built from (`prepare`).
SOURCE_FILE = "siamfc_source.json"

VERSION = tfds.core.Version("1.0.0")


@dataclasses.dataclass(eq=False)
class CuratedConfig(tfds.core.BuilderConfig):
  """A builder config with the curation rule (it changes the data)."""

  rule: curation.CurationRule = curation.CurationRule()


@dataclasses.dataclass(eq=False)
class SiamfcFolderConfig(CuratedConfig):
  """Which sequences of a folder are curated, and which are held out.

  Attributes:
    kind: layout of the sequence folders: 'otb', 'vot', 'got10k' or 'auto'.
    sequences: names of the sequences to use (`Sequence.name`, e.g.
      `Basketball` or `Name.2`); empty: all of them, in the folder's order.
    validation: held-out sequences for the 'validation' split: their names,
      or how many to take from the end of the list (0: no validation split).
    max_frames: use only the first this many frames of each sequence (0:
      all); for smoke tests and tiny runs.
  """

  kind: str = "auto"
  sequences: tuple[str, ...] = ()
  validation: int | tuple[str, ...] = 0
  max_frames: int = 0


def _features(rule: curation.CurationRule) -> tfds.features.FeaturesDict:
  side = rule.crop_size
  return tfds.features.FeaturesDict({
      # The curated crop; given as encoded JPEG bytes, stored as they are.
      "image": tfds.features.Image(shape=(side, side, 3),
                                   encoding_format="jpeg"),
      # Unique track id (`<video>/<trackid>` for VID, else the sequence).
      "track": tfds.features.Text(),
      "sequence": tfds.features.Text(),
      # The object's id within its video (VID trackid; 0 elsewhere).
      "object_id": tfds.features.Scalar(np.int32),
      # 0-based index of the frame in its video.
      "frame_index": tfds.features.Scalar(np.int32),
      # The box in the frame, [x, y, w, h] float pixels (`boxes.py`).
      "box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
      # (W, H) of the frame in pixels.
      "frame_size": tfds.features.Tensor(shape=(2,), dtype=np.int32),
  })


class _CuratedBuilder(tfds.core.GeneratorBasedBuilder,
                      skip_registration=True):
  """Shared machinery: plan, curate, number records track by track."""

  VERSION = VERSION
  RELEASE_NOTES = {"1.0.0": "255x255 context crops, JPEG quality 90."}
  BUILDER_CONFIGS = [CuratedConfig(name="default")]

  def __init__(self, *, curation_threads: int = 0,
               file_format: str = "array_record", **kwargs: Any):
    """Args: `curation_threads` frames curated at once (0: in this thread);
    `file_format` of the records; the rest goes to `DatasetBuilder`."""
    self._curation_threads = curation_threads
    super().__init__(file_format=file_format, **kwargs)

  @property
  def rule(self) -> curation.CurationRule:
    config = self.builder_config
    return getattr(config, "rule", None) or curation.CurationRule()

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.__doc__,
        features=_features(self.rule),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _read_tracks(self, manual_dir: pathlib.Path
                   ) -> dict[str, list[curation.TrackAnnotation]]:
    """Split name -> the split's annotated tracks."""
    raise NotImplementedError

  def _split_generators(self, dl_manager):
    manual_dir = pathlib.Path(dl_manager.manual_dir)
    if not manual_dir.is_dir():
      raise FileNotFoundError(f"{manual_dir}: manual_dir not found. "
                              f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    rule = self.rule
    tracks_meta, skipped_meta = {}, {}
    generators = {}
    for split, tracks in self._read_tracks(manual_dir).items():
      plan = curation.plan_curation(tracks, rule)
      if not plan.tracks:
        raise ValueError(
            f"{manual_dir}: no track of the {split!r} split has 2 curated "
            f"frames (skipped: {plan.skipped})")
      tracks_meta[split] = [t.to_row() for t in plan.tracks]
      skipped_meta[split] = plan.skipped
      generators[split] = self._generate_examples(split, plan)
    self.info.metadata["tracks"] = tracks_meta
    self.info.metadata["skipped"] = skipped_meta
    self.info.metadata["rule"] = rule.to_json()
    return generators

  def _generate_examples(self, split: str, plan: curation.CurationPlan):
    # TFDS's own bar counts examples without a total; ours knows it, so it
    # shows the time left (hours for VID).
    with _progress_bar(f"Curating {split}", "crop",
                       total=plan.num_records) as bar:
      # Keys are record numbers; with shuffling disabled TFDS writes records
      # in key order, so each track is a contiguous block.
      for job, jpeg in curation.curate(plan, self.rule,
                                       self._curation_threads):
        bar.update()
        yield job.record, {
            "image": _BytesFile(jpeg),
            "track": job.track,
            "sequence": job.sequence,
            "object_id": job.object_id,
            "frame_index": job.frame_index,
            "box": np.asarray(job.box, np.float32),
            "frame_size": np.asarray(job.frame_size, np.int32),
        }


def _progress_bar(desc: str, unit: str, iterable: Any = None,
                  total: int | None = None) -> tqdm.tqdm:
  """A tqdm bar on stderr (of `iterable`, or updated by hand), silent when
  stderr is not a terminal (logs, pipes, tests); it leaves no line behind,
  as TFDS's own bars."""
  return tqdm.tqdm(iterable, desc, total, unit=unit, disable=None,
                   leave=False)


class _BytesFile:
  """Encoded image bytes that `tfds.features.Image` stores without decoding
  (it reads any object with `read()`); picklable, unlike an open stream."""

  def __init__(self, data: bytes):
    self._data = data

  def read(self) -> bytes:
    return self._data


# --- ImageNet VID -----------------------------------------------------------


def _xml_number(element: ET.Element, tag: str, path: pathlib.Path,
                where: str) -> float:
  node = element.find(tag)
  if node is None or node.text is None:
    raise ValueError(f"{path}: {where} has no <{tag}> (expected a number)")
  try:
    return float(node.text)
  except ValueError:
    raise ValueError(f"{path}: {where} <{tag}> is {node.text!r}, expected a "
                     "number") from None


def read_vid_annotation(path: os.PathLike | str
                        ) -> tuple[tuple[int, int],
                                   list[tuple[int, list, str]]]:
  """Parses one VID frame annotation (`Annotations/VID/.../<frame>.xml`).

  Args:
    path: the XML file.

  Returns:
    ((W, H) frame size, [(trackid, [x, y, w, h] box, class), ...]) with
    boxes in the convention of `siamfc_jax.boxes` (inclusive 0-based pixel
    bounds xmin..xmax become x = xmin, w = xmax - xmin + 1) and the class
    the object's `<name>` synset (e.g. 'n02084071'; '' without `<name>`:
    the class is optional, the box is not).

  Raises:
    FileNotFoundError: the file is missing.
    ValueError: malformed XML or a missing / non-numeric field; the message
      names the file (and the object).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: VID annotation not found")
  try:
    root = ET.parse(path).getroot()
  except ET.ParseError as e:
    raise ValueError(f"{path}: malformed XML ({e})") from None
  size = root.find("size")
  if size is None:
    raise ValueError(f"{path}: no <size> (expected <width> and <height>)")
  frame_size = (int(_xml_number(size, "width", path, "<size>")),
                int(_xml_number(size, "height", path, "<size>")))
  objects = []
  for k, obj in enumerate(root.findall("object")):
    where = f"<object> {k + 1}"
    trackid = _xml_number(obj, "trackid", path, where)
    bndbox = obj.find("bndbox")
    if bndbox is None:
      raise ValueError(f"{path}: {where} has no <bndbox>")
    xmin, ymin, xmax, ymax = (_xml_number(bndbox, t, path, where)
                              for t in ("xmin", "ymin", "xmax", "ymax"))
    synset = (obj.findtext("name") or "").strip()
    objects.append((int(trackid),
                    [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1], synset))
  return frame_size, objects


def _vid_root(manual_dir: pathlib.Path) -> pathlib.Path:
  for root in (manual_dir, manual_dir / "ILSVRC2015", manual_dir / "ILSVRC"):
    if (root / "Data" / "VID").is_dir():
      return root
  raise FileNotFoundError(
      f"{manual_dir}: no Data/VID folder (expected the ILSVRC2015 root with "
      "Data/VID/train and Annotations/VID/train)")


def _video_folders(folder: pathlib.Path) -> list[pathlib.Path]:
  """Folders under `folder` (any depth) that hold frames, sorted."""
  out = []
  for dirpath, dirnames, filenames in os.walk(folder):
    dirnames.sort()
    if any(f.lower().endswith(sequences_lib.FRAME_EXTENSIONS)
           for f in filenames):
      out.append(pathlib.Path(dirpath))
  return sorted(out)


def read_vid_tracks(root: os.PathLike | str, split: str
                    ) -> list[curation.TrackAnnotation]:
  """All object tracks of one VID split ('train' or 'val').

  Args:
    root: the ILSVRC2015 folder (holding `Data/` and `Annotations/`).
    split: the VID folder name, 'train' or 'val'.

  Returns:
    One track per (video, trackid), videos sorted by path, tracks by id.

  Raises:
    FileNotFoundError: no such split, or a frame without its XML.
    ValueError: a malformed XML file (named in the message).
  """
  root = pathlib.Path(root)
  data = root / "Data" / "VID" / split
  notes = root / "Annotations" / "VID" / split
  if not data.is_dir():
    raise FileNotFoundError(f"{data}: VID frames folder not found")
  tracks = []
  # VID train has about a million annotation files: minutes to read.
  for video in _progress_bar(f"VID {split} annotations", "video",
                             _video_folders(data)):
    name = video.relative_to(data).as_posix()
    frames = sequences_lib.list_frames(video)
    per_track: dict[int, list] = {}
    for index, frame in enumerate(frames):
      size, objects = read_vid_annotation(
          notes / video.relative_to(data) / (frame.stem + ".xml"))
      for trackid, box, synset in objects:
        per_track.setdefault(trackid, []).append((index, frame, box, size,
                                                  synset))
    for trackid in sorted(per_track):
      obs = per_track[trackid]
      tracks.append(curation.TrackAnnotation(
          name=f"{name}/{trackid}", sequence=name, object_id=trackid,
          frames=tuple(str(o[1]) for o in obs),
          frame_indices=np.array([o[0] for o in obs], np.int64),
          boxes=np.array([o[2] for o in obs], np.float64).reshape(-1, 4),
          frame_sizes=np.array([o[3] for o in obs], np.int64).reshape(-1, 2),
          object_class=obs[0][4]))
  return tracks


class SiamfcVid(_CuratedBuilder):
  """ImageNet VID 2015 object tracks as curated SiamFC crops."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Download ILSVRC2015 VID (image-net.org) and extract it; manual_dir is "
      "the ILSVRC2015 folder holding Data/VID/{train,val} and "
      "Annotations/VID/{train,val}.")

  def _read_tracks(self, manual_dir):
    root = _vid_root(manual_dir)
    out = {"train": read_vid_tracks(root, "train")}
    if (root / "Data" / "VID" / "val").is_dir():
      out["validation"] = read_vid_tracks(root, "val")
    return out


# --- Sequence datasets (GOT-10k, OTB, VOT) ------------------------------------


def sequence_track(seq: sequences_lib.Sequence,
                   max_frames: int = 0) -> curation.TrackAnnotation:
  """The one track of a single-object sequence.

  Args:
    seq: a sequence from `siamfc_jax.data.sequences`.
    max_frames: keep only the first this many frames (0: all).

  Returns:
    The track, named after the sequence; the frame size is the GOT-10k
    `meta_info.ini` resolution or that of the first frame, the class its
    `object_class` ('' for OTB and VOT sequences).
  """
  n = len(seq) if max_frames <= 0 else min(len(seq), max_frames)
  size = seq.meta.get("resolution") or curation.frame_size(seq.frames[0])
  labels = {k: seq.meta[k][:n] if k in seq.meta else None
            for k in ("absence", "cover")}
  return curation.TrackAnnotation(
      name=seq.name, sequence=seq.name, object_id=0,
      frames=seq.frames[:n], frame_indices=np.arange(n),
      boxes=np.asarray(seq.boxes[:n]),
      frame_sizes=np.tile(np.asarray(size, np.int64), (n, 1)),
      absence=labels["absence"], cover=labels["cover"],
      object_class=seq.meta.get("info", {}).get("object_class", "").strip())


class SiamfcGot10k(_CuratedBuilder):
  """GOT-10k training and validation sequences as curated SiamFC crops."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Download GOT-10k (got-10k.aitestunion.com) and extract it; manual_dir "
      "is the folder holding train/ and val/ (each with list.txt).")

  def _read_tracks(self, manual_dir):
    if not (manual_dir / "train").is_dir():
      raise FileNotFoundError(
          f"{manual_dir / 'train'}: GOT-10k train folder not found")
    out = {}
    for split, folder in (("train", "train"), ("validation", "val")):
      if (manual_dir / folder).is_dir():
        out[split] = [sequence_track(s) for s in sequences_lib.read_dataset(
            manual_dir / folder, "got10k")]
    return out


def split_sequences(seqs: list[sequences_lib.Sequence],
                    config: SiamfcFolderConfig
                    ) -> dict[str, list[sequences_lib.Sequence]]:
  """Selects and splits the sequences of a folder as the config says."""
  if config.sequences:
    by_name = {s.name: s for s in seqs}
    missing = [n for n in config.sequences if n not in by_name]
    if missing:
      raise ValueError(f"sequences {missing} not found (known: "
                       f"{sorted(by_name)})")
    seqs = [by_name[n] for n in config.sequences]
  if isinstance(config.validation, int):
    if not 0 <= config.validation < len(seqs):
      raise ValueError(
          f"validation={config.validation} held-out sequences out of "
          f"{len(seqs)}: at least one must stay for training")
    names = [s.name for s in seqs[len(seqs) - config.validation:]]
  else:
    names = list(config.validation)
    missing = [n for n in names if n not in {s.name for s in seqs}]
    if missing:
      raise ValueError(f"validation sequences {missing} are not among the "
                       f"used ones {[s.name for s in seqs]}")
  held = set(names)
  out = {"train": [s for s in seqs if s.name not in held]}
  if not out["train"]:
    raise ValueError("every sequence is held out for validation")
  if held:
    out["validation"] = [s for s in seqs if s.name in held]
  return out


class SiamfcFolder(_CuratedBuilder):
  """Any folder of OTB / VOT / GOT-10k sequences as curated SiamFC crops."""

  BUILDER_CONFIGS = [SiamfcFolderConfig(name="default")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "manual_dir is a folder of sequence folders in the OTB, VOT or GOT-10k "
      "layout (see siamfc_jax.data.sequences.read_dataset).")

  def _read_tracks(self, manual_dir):
    config = self.builder_config
    seqs = sequences_lib.read_dataset(manual_dir, config.kind)
    return {split: [sequence_track(s, config.max_frames) for s in chosen]
            for split, chosen in split_sequences(seqs, config).items()}


def load(path: os.PathLike | str) -> tfds.core.DatasetBuilder:
  """A prepared dataset from its directory (`<data_dir>/<name>/<config>/
  <version>` or `<data_dir>/<name>/<version>`), without its builder class."""
  return tfds.builder_from_directory(str(path))


def tracks_of(builder: tfds.core.DatasetBuilder, split: str
              ) -> list[curation.TrackRecords]:
  """The track table of a prepared split (see the module docstring)."""
  table = builder.info.metadata or {}
  tracks = table.get("tracks", {})
  if split not in tracks:
    raise ValueError(f"{builder.name}: no split {split!r} with a track table "
                     f"(have {sorted(tracks)}); was it built by "
                     "siamfc_jax.data.tfds_builders?")
  return [curation.TrackRecords.from_row(row) for row in tracks[split]]



BUILDERS = {"vid": SiamfcVid, "got10k": SiamfcGot10k, "folder": SiamfcFolder}


def folder_config(kind: str = "auto", sequences: tuple[str, ...] = (),
                  validation: int | tuple[str, ...] = 0, max_frames: int = 0,
                  rule: curation.CurationRule = curation.CurationRule()
                  ) -> SiamfcFolderConfig:
  """A `SiamfcFolderConfig` named after its content (`default` for the
  defaults), so different selections never share a prepared folder."""
  config = SiamfcFolderConfig(name="default", kind=kind,
                              sequences=tuple(sequences),
                              validation=validation if isinstance(
                                  validation, int) else tuple(validation),
                              max_frames=max_frames, rule=rule)
  content = (kind, config.sequences, config.validation, max_frames, rule)
  if content != ("auto", (), 0, 0, curation.CurationRule()):
    text = repr(content[:4] + (rule.to_json(),))
    config.name = "c" + hashlib.sha1(text.encode()).hexdigest()[:10]
  return config


def prepare(kind: str, manual_dir: os.PathLike | str,
            data_dir: os.PathLike | str | None,
            config: tfds.core.BuilderConfig | None = None,
            curation_threads: int = 0) -> tfds.core.DatasetBuilder:
  """Builds a curated dataset unless already built; returns its builder.

  The raw folder it was built from is recorded beside it (`SOURCE_FILE`), so
  a dataset of another raw folder is never taken for it.

  Args:
    kind: 'vid', 'got10k' or 'folder'.
    manual_dir: the extracted raw dataset.
    data_dir: where TFDS datasets are kept; None: TFDS's default.
    config: a builder config (`folder_config(...)` for folders); None: the
      default one.
    curation_threads: frames curated at once.

  Returns:
    The prepared builder (pass it to `pairs.make_pair_iterator`).

  Raises:
    ValueError: an unknown kind, no `manual_dir` for a dataset not built
      yet, or a dataset at `data_dir` built from another raw folder.
  """
  if kind not in BUILDERS:
    raise ValueError(f"kind must be one of {sorted(BUILDERS)}, got {kind!r}")
  builder = BUILDERS[kind](data_dir=None if data_dir is None else str(data_dir),
                           config=config, curation_threads=curation_threads)
  source = os.path.abspath(manual_dir) if manual_dir else None
  record = pathlib.Path(builder.data_dir) / SOURCE_FILE
  if builder.is_prepared():
    built_from = json.loads(record.read_text())["manual_dir"] if (
        record.is_file()) else None
    if source and built_from and built_from != source:
      raise ValueError(
          f"{builder.data_dir} was built from {built_from}, not {source}: "
          "give this dataset another TFDS folder (data.tfds_dir)")
    return builder
  if not source:
    raise ValueError(f"no raw dataset folder (data.dir) to build "
                     f"{builder.data_dir} from")
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=source))
  record.write_text(json.dumps({"manual_dir": source}) + "\n")
  return builder
