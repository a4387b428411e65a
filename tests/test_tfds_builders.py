"""Tests of the TFDS builders of curated crops (VID, GOT-10k, folders).

Every builder is run on a fake tree of tiny 64x48 frames written to a
temporary folder; one integration test curates a few real sequences.
Building and reading must never import TensorFlow.
"""

import io
import json
import pathlib
import pickle
import re
import sys
import traceback

import numpy as np
from PIL import Image
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from siamfc_jax.data import curation  # noqa: E402
from siamfc_jax.data import pairs  # noqa: E402
from siamfc_jax.data import tfds_builders  # noqa: E402

W, H = 64, 48


def _save_frame(path: pathlib.Path, seed: int) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  Image.fromarray(rng.integers(0, 256, (H, W, 3), np.uint8)).save(path)


# VID synset of each fake trackid (dog, domestic cat, bird).
VID_CLASSES = {0: "n02084071", 1: "n02121808", 3: "n01503061"}


def _vid_xml(objects) -> str:
  """objects: [(trackid, xmin, ymin, xmax, ymax)] (inclusive pixels)."""
  parts = [f"<annotation><folder>x</folder><filename>x</filename>"
           f"<size><width>{W}</width><height>{H}</height></size>"]
  for trackid, x0, y0, x1, y1 in objects:
    parts.append(
        f"<object><trackid>{trackid}</trackid>"
        f"<name>{VID_CLASSES[trackid]}</name><bndbox>"
        f"<xmax>{x1}</xmax><xmin>{x0}</xmin><ymax>{y1}</ymax>"
        f"<ymin>{y0}</ymin></bndbox><occluded>0</occluded>"
        f"<generated>0</generated></object>")
  return "".join(parts) + "</annotation>"


# video -> frames -> objects. Track 1 of video b appears in one frame only
# (dropped: no pair); track 0 of video a misses frame 2.
FAKE_VID = {
    "train": {
        "ILSVRC2015_VID_train_0000/a": [
            [(0, 10, 10, 21, 19), (1, 30, 5, 39, 14)],
            [(0, 11, 10, 22, 19), (1, 31, 5, 40, 14)],
            [(1, 32, 6, 41, 15)],
            [(0, 12, 11, 23, 20), (1, 33, 6, 42, 15)],
        ],
        "ILSVRC2015_VID_train_0001/b": [
            [(0, 5, 5, 20, 20)],
            [(0, 6, 5, 21, 20), (1, 40, 30, 50, 40)],
            [(0, 7, 5, 22, 20)],
        ],
    },
    "val": {
        "c": [[(3, 20, 20, 30, 30)], [(3, 21, 20, 31, 30)],
              [(3, 22, 21, 32, 31)]],
    },
}


def write_fake_vid(root: pathlib.Path) -> pathlib.Path:
  """`root/ILSVRC2015/{Data,Annotations}/VID/{train,val}/...`."""
  base = root / "ILSVRC2015"
  seed = 0
  for split, videos in FAKE_VID.items():
    for video, frames in videos.items():
      for i, objects in enumerate(frames):
        _save_frame(base / "Data/VID" / split / video / f"{i:06d}.JPEG", seed)
        seed += 1
        xml = base / "Annotations/VID" / split / video / f"{i:06d}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_text(_vid_xml(objects))
  return root


GOT10K_CLASSES = {"GOT-10k_Train_000001": "ichneumon",
                  "GOT-10k_Train_000002": "sea lion",
                  "GOT-10k_Val_000001": "bear"}


def write_fake_got10k(root: pathlib.Path) -> pathlib.Path:
  """`root/{train,val}/<seq>` with labels; frame 1 of GOT-10k_Train_000001
  is absent and frame 3 fully covered."""
  seed = 100
  for split, names in (("train", ["GOT-10k_Train_000001",
                                  "GOT-10k_Train_000002"]),
                       ("val", ["GOT-10k_Val_000001"])):
    for name in names:
      folder = root / split / name
      n = 5
      for i in range(n):
        _save_frame(folder / f"{i + 1:08d}.jpg", seed)
        seed += 1
      boxes = [[10 + i, 8, 14, 12] for i in range(n)]
      absence, cover = [0] * n, [8] * n
      if name.endswith("Train_000001"):
        absence[1], cover[3] = 1, 0
      (folder / "groundtruth.txt").write_text(
          "\n".join(",".join(map(str, b)) for b in boxes) + "\n")
      (folder / "absence.label").write_text(
          "\n".join(map(str, absence)) + "\n")
      (folder / "cover.label").write_text("\n".join(map(str, cover)) + "\n")
      (folder / "cut_by_image.label").write_text("0\n" * n)
      (folder / "meta_info.ini").write_text(
          f"[METAINFO]\nobject_class: {GOT10K_CLASSES[name]}\n"
          f"resolution: ({W}, {H})\n")
    (root / split / "list.txt").write_text("\n".join(names) + "\n")
  return root


def _build(builder_cls, data_dir, manual_dir, **kwargs):
  builder = builder_cls(data_dir=str(data_dir), **kwargs)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir)))
  return builder


class _ImportRecorder:
  """A meta-path finder that notes every attempt to import TensorFlow (even
  one that fails or is caught) and lets the import go on as usual.

  Probes with `importlib.util.find_spec` (etils asks whether TensorFlow is
  installed before opening a file) import nothing and are not counted.
  """

  def __init__(self):
    self.attempts = []

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name == "tensorflow" or name.startswith("tensorflow."):
      probe = any(f.name == "find_spec" and "importlib" in f.filename
                  and "util" in f.filename
                  for f in traceback.extract_stack())
      if not probe:
        self.attempts.append(name)
    return None


@pytest.fixture(scope="module")
def tf_imports():
  recorder = _ImportRecorder()
  sys.meta_path.insert(0, recorder)
  yield recorder.attempts
  sys.meta_path.remove(recorder)


@pytest.fixture(scope="module")
def vid_builder(tmp_path_factory, tf_imports):
  del tf_imports  # recording from the start of the build
  root = write_fake_vid(tmp_path_factory.mktemp("vid_raw"))
  return _build(tfds_builders.SiamfcVid, tmp_path_factory.mktemp("tfds"),
                root, curation_threads=2)


def _records(builder, split):
  source = builder.as_data_source(split)
  return [source[i] for i in range(len(source))]


def test_vid_records_run_track_by_track_in_frame_order(vid_builder):
  meta = vid_builder.info.metadata
  # The last column is the track's VID synset.
  assert meta["tracks"]["train"] == [
      ["ILSVRC2015_VID_train_0000/a/0", "ILSVRC2015_VID_train_0000/a", 0, 3,
       "n02084071"],
      ["ILSVRC2015_VID_train_0000/a/1", "ILSVRC2015_VID_train_0000/a", 3, 4,
       "n02121808"],
      ["ILSVRC2015_VID_train_0001/b/0", "ILSVRC2015_VID_train_0001/b", 7, 3,
       "n02084071"],
  ]
  assert meta["tracks"]["validation"] == [["c/3", "c", 0, 3, "n01503061"]]
  assert meta["skipped"]["train"] == {"short track": 1}
  records = _records(vid_builder, "train")
  got = [(r["track"].decode(), int(r["frame_index"]), int(r["object_id"]))
         for r in records]
  assert got == [
      ("ILSVRC2015_VID_train_0000/a/0", 0, 0),
      ("ILSVRC2015_VID_train_0000/a/0", 1, 0),
      ("ILSVRC2015_VID_train_0000/a/0", 3, 0),
      ("ILSVRC2015_VID_train_0000/a/1", 0, 1),
      ("ILSVRC2015_VID_train_0000/a/1", 1, 1),
      ("ILSVRC2015_VID_train_0000/a/1", 2, 1),
      ("ILSVRC2015_VID_train_0000/a/1", 3, 1),
      ("ILSVRC2015_VID_train_0001/b/0", 0, 0),
      ("ILSVRC2015_VID_train_0001/b/0", 1, 0),
      ("ILSVRC2015_VID_train_0001/b/0", 2, 0),
  ]


def test_vid_boxes_are_inclusive_pixel_bounds(vid_builder):
  first = _records(vid_builder, "train")[0]
  # xmin 10, ymin 10, xmax 21, ymax 19 -> x 10, y 10, w 12, h 10.
  np.testing.assert_array_equal(first["box"], [10, 10, 12, 10])
  np.testing.assert_array_equal(first["frame_size"], [W, H])
  assert first["sequence"] == b"ILSVRC2015_VID_train_0000/a"


def test_vid_crops_are_the_curated_crops_of_their_frames(vid_builder,
                                                         tmp_path):
  record = _records(vid_builder, "validation")[1]  # video c, frame 1
  assert record["image"].shape == (255, 255, 3)
  root = write_fake_vid(tmp_path)  # same seeds: the same frames
  frame = curation.read_frame(root / "ILSVRC2015/Data/VID/val/c/000001.JPEG")
  box = np.array([21.0, 20.0, 11.0, 11.0])
  side = curation.crop_sides(box[None, 2:])[0]
  want = curation.crop_context(frame, box[:2] + box[2:] / 2, side)
  # JPEG quality 90 on noise: a few grey levels on average.
  assert np.abs(record["image"].astype(float) - want).mean() < 6.0


def test_crops_read_for_training_equal_the_builders_own_decoding(vid_builder):
  crops = pairs.CuratedCrops.from_directory(vid_builder.data_dir, "train")
  source = vid_builder.as_data_source("train")
  assert len(crops.crops) == len(source) == 10
  for i in (0, 4, 9):
    np.testing.assert_array_equal(crops.crops[i], source[i]["image"])
  assert [t.count for t in crops.tracks] == [3, 4, 3]


def test_crops_read_are_the_jpeg_bytes_curation_wrote(vid_builder,
                                                      tmp_path):
  crops = pairs.CuratedCrops.from_directory(vid_builder.data_dir, "train")
  root = write_fake_vid(tmp_path)  # same seeds: the same frames
  plan = curation.plan_curation(
      tfds_builders.read_vid_tracks(root / "ILSVRC2015", "train"))
  written = dict((job.record, jpeg) for job, jpeg in curation.curate(plan))
  assert sorted(written) == list(range(len(crops.crops)))
  for record, jpeg in written.items():
    assert crops.crops.image_bytes(record) == jpeg
    # Decoded by Pillow, whatever TFDS would decode with.
    np.testing.assert_array_equal(crops.crops[record],
                                  curation.decode_jpeg(jpeg))


def test_crops_of_a_prepared_folder_pickle_for_loading_workers(vid_builder):
  crops = pairs.CuratedCrops.from_directory(vid_builder.data_dir,
                                            "validation").crops
  copy = pickle.loads(pickle.dumps(crops))
  assert len(copy) == len(crops) == 3
  for i in range(3):
    np.testing.assert_array_equal(copy[i], crops[i])


class _Terminal(io.StringIO):
  """A stderr that says it is a terminal, so tqdm draws on it."""

  def isatty(self):
    return True


@pytest.mark.parametrize("terminal", [True, False])
def test_curation_progress_is_drawn_on_a_terminal_only(tmp_path, monkeypatch,
                                                       terminal):
  root = write_fake_vid(tmp_path / "raw")
  stderr = _Terminal() if terminal else io.StringIO()
  monkeypatch.setattr(sys, "stderr", stderr)
  _build(tfds_builders.SiamfcVid, tmp_path / "tfds", root)
  shown = stderr.getvalue()
  for bar in ("VID train annotations", "VID val annotations",
              "Curating train", "Curating validation"):
    assert (bar in shown) == terminal, bar
  # The curation bars know their totals (10 and 3 crops): time left.
  assert bool(re.search(r"Curating train:[^\r\n]*/10 \[", shown)) == terminal
  assert bool(re.search(r"Curating validation:[^\r\n]*/3 \[",
                        shown)) == terminal


def test_building_and_reading_never_import_tensorflow(vid_builder,
                                                       tf_imports):
  batches = pairs.make_pair_iterator(vid_builder, "train", batch_size=2,
                                     seed=0, frame_range=2, num_pairs=4)
  batch = next(batches)
  assert batch["z"].shape == (2, 127, 127, 3)
  assert batch["x"].shape == (2, 239, 239, 3)
  _records(vid_builder, "validation")
  tfds_builders.load(vid_builder.data_dir).as_data_source("train")[0]
  assert "tensorflow" not in sys.modules
  assert not tf_imports


def test_prepared_folder_loads_without_the_builder_class(vid_builder):
  loaded = tfds_builders.load(vid_builder.data_dir)
  assert loaded.info.splits["train"].num_examples == 10
  tracks = tfds_builders.tracks_of(loaded, "validation")
  assert tracks == [curation.TrackRecords("c/3", "c", 0, 3, "n01503061")]
  assert json.loads((pathlib.Path(vid_builder.data_dir) /
                     "metadata.json").read_text())["rule"]["jpeg_quality"] == 90


@pytest.mark.parametrize("xml, message", [
    ("<annotation><size>", "malformed XML"),
    ("<annotation><object><trackid>0</trackid></object></annotation>",
     "no <size>"),
    (f"<annotation><size><width>{W}</width><height>{H}</height></size>"
     "<object><trackid>0</trackid></object></annotation>", "no <bndbox>"),
    (f"<annotation><size><width>{W}</width><height>{H}</height></size>"
     "<object><trackid>0</trackid><bndbox><xmin>a</xmin><ymin>1</ymin>"
     "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
     "<xmin> is 'a'"),
])
def test_malformed_vid_annotation_names_the_file(tmp_path, xml, message):
  root = write_fake_vid(tmp_path / "raw")
  bad = root / "ILSVRC2015/Annotations/VID/train/ILSVRC2015_VID_train_0001/b"
  (bad / "000001.xml").write_text(xml)
  builder = tfds_builders.SiamfcVid(data_dir=str(tmp_path / "tfds"))
  with pytest.raises(ValueError) as error:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(root)))
  assert str(bad / "000001.xml") in str(error.value)
  assert message in str(error.value)


def test_missing_vid_annotation_names_the_file(tmp_path):
  root = write_fake_vid(tmp_path)
  missing = root / "ILSVRC2015/Annotations/VID/val/c/000002.xml"
  missing.unlink()
  with pytest.raises(FileNotFoundError, match=str(missing)):
    tfds_builders.read_vid_tracks(root / "ILSVRC2015", "val")


def test_got10k_skips_absent_and_covered_frames(tmp_path):
  root = write_fake_got10k(tmp_path / "raw")
  builder = _build(tfds_builders.SiamfcGot10k, tmp_path / "tfds", root)
  meta = builder.info.metadata
  # The last column is meta_info.ini's object_class.
  assert meta["tracks"]["train"] == [
      ["GOT-10k_Train_000001", "GOT-10k_Train_000001", 0, 3, "ichneumon"],
      ["GOT-10k_Train_000002", "GOT-10k_Train_000002", 3, 5, "sea lion"]]
  assert meta["tracks"]["validation"] == [
      ["GOT-10k_Val_000001", "GOT-10k_Val_000001", 0, 5, "bear"]]
  assert meta["skipped"]["train"] == {"absent": 1, "occluded": 1}
  frames = [int(r["frame_index"]) for r in _records(builder, "train")[:3]]
  assert frames == [0, 2, 4]


def test_folder_holds_out_the_named_or_last_sequences(tmp_path):
  root = tmp_path / "raw"
  write_fake_got10k(root)  # train/ and val/ hold GOT-10k sequences
  seqs = tfds_builders.sequences_lib.read_dataset(root / "train", "got10k")
  config = tfds_builders.folder_config(validation=1)
  split = tfds_builders.split_sequences(seqs, config)
  assert [s.name for s in split["train"]] == ["GOT-10k_Train_000001"]
  assert [s.name for s in split["validation"]] == ["GOT-10k_Train_000002"]
  named = tfds_builders.folder_config(validation=("GOT-10k_Train_000001",))
  split = tfds_builders.split_sequences(seqs, named)
  assert [s.name for s in split["validation"]] == ["GOT-10k_Train_000001"]
  assert "validation" not in tfds_builders.split_sequences(
      seqs, tfds_builders.folder_config())
  with pytest.raises(ValueError, match="at least one must stay"):
    tfds_builders.split_sequences(seqs, tfds_builders.folder_config(
        validation=2))
  with pytest.raises(ValueError, match="nope"):
    tfds_builders.split_sequences(seqs, tfds_builders.folder_config(
        validation=("nope",)))
  assert config.name != named.name != "default"
  assert tfds_builders.folder_config().name == "default"
  # GOT-10k sequences of a folder keep their class.
  assert [tfds_builders.sequence_track(s).object_class for s in seqs] == [
      "ichneumon", "sea lion"]


REAL = ("lasith_Dudek", "eco_Crossing", "vot15_bag")


def test_folder_of_real_sequences_gives_pairs(data_dir, tmp_path):
  root = data_dir / "sequences"
  if not all((root / name).is_dir() for name in REAL):
    pytest.skip(f"real sequences {REAL} not all in {root}")
  # A folder with only the chosen sequences (links, not copies).
  chosen = tmp_path / "raw"
  chosen.mkdir()
  for name in REAL:
    (chosen / name).symlink_to(root / name, target_is_directory=True)
  config = tfds_builders.folder_config(validation=("vot15_bag",),
                                       max_frames=4)
  builder = tfds_builders.prepare("folder", chosen, tmp_path / "tfds", config)
  tracks = builder.info.metadata["tracks"]
  assert [t[0] for t in tracks["train"]] == ["eco_Crossing", "lasith_Dudek"]
  assert [t[3] for t in tracks["train"]] == [4, 4]
  # OTB and VOT sequences have no class.
  assert tracks["validation"] == [["vot15_bag", "vot15_bag", 0, 4, ""]]
  records = _records(builder, "train")
  dudek = [r for r in records if r["track"] == b"lasith_Dudek"]
  # Dudek's frames are grayscale: curated as RGB with equal channels.
  assert dudek[0]["image"].shape == (255, 255, 3)
  assert np.abs(dudek[0]["image"][..., 0].astype(int)
                - dudek[0]["image"][..., 1]).max() <= 8
  # OTB ground truth is 1-based in the file, 0-based in the record.
  first = (root / "lasith_Dudek/groundtruth_rect.txt").read_text().split()[0]
  x1, y1, w, h = (float(v) for v in first.replace(",", " ").split())
  np.testing.assert_allclose(dudek[0]["box"], [x1 - 1, y1 - 1, w, h])
  batches = pairs.make_pair_iterator(builder, "validation", batch_size=3,
                                     seed=1, num_pairs=3)
  batch = next(batches)
  assert batch["z"].shape == (3, 127, 127, 3)
  assert "tensorflow" not in sys.modules


def test_training_config_builds_once_and_streams_pairs(tmp_path):
  ml_collections = pytest.importorskip("ml_collections")
  root = write_fake_got10k(tmp_path / "raw")
  config = ml_collections.ConfigDict({
      "data": {"kind": "got10k", "dir": str(root),
               "tfds_dir": str(tmp_path / "tfds"), "max_frame_gap": 100,
               "max_stretch": 0.05, "max_translate": 4, "color_jitter": True,
               "grayscale": 0.0, "val_sequences": 0, "workers": 0,
               "same_class_batches": True},
      "exemplar_size": 127, "instance_size": 239})
  train = pairs.pair_iterator_from_config(config, "train", seed=0,
                                          batch_size=2)
  batch = next(train)
  assert batch["x"].shape == (2, 239, 239, 3)
  state = train.get_state()
  assert state["augment"]["colour"] and state["next_batch"] == 1
  assert state["same_class_batches"]
  val = pairs.pair_iterator_from_config(config, "validation", seed=0,
                                        batch_size=2)
  assert val.get_state()["augment"]["max_stretch"] == 0.0
  # Validation pairs are never grouped by class.
  assert "same_class_batches" not in val.get_state()
  # The validation crops are the centres of the curated crops.
  crops = pairs.CuratedCrops.from_directory(
      tmp_path / "tfds/siamfc_got10k/default/1.0.0", "validation")
  centres = [crops.crops[i][8:247, 8:247] for i in range(5)]
  assert any(np.array_equal(next(val)["x"][0], c) for c in centres)
  for stream in (train, val):
    stream.close()


def test_track_tables_without_classes_read_and_refuse_same_class_batches(
    vid_builder, tmp_path):
  # A dataset prepared before the class column: 4-column rows.
  old = tmp_path / "siamfc_vid/1.0.0"
  old.mkdir(parents=True)
  for f in pathlib.Path(vid_builder.data_dir).iterdir():
    (old / f.name).symlink_to(f)
  (old / "metadata.json").unlink()
  meta = json.loads((pathlib.Path(vid_builder.data_dir) / "metadata.json")
                    .read_text())
  meta["tracks"] = {k: [row[:4] for row in v]
                    for k, v in meta["tracks"].items()}
  (old / "metadata.json").write_text(json.dumps(meta))
  crops = pairs.CuratedCrops.from_directory(old, "validation")
  assert crops.tracks == (curation.TrackRecords("c/3", "c", 0, 3, ""),)
  with pytest.raises(ValueError, match=f"{old}:train: same_class_batches "
                     "needs the object class") as error:
    pairs.make_pair_iterator(old, "train", 2, 0, same_class_batches=True)
  assert "delete its prepared folder" in str(error.value)
  # The same data with its classes streams same-class batches.
  stream = pairs.make_pair_iterator(vid_builder.data_dir, "train", 2, 0,
                                    same_class_batches=True)
  assert next(stream)["z"].shape == (2, 127, 127, 3)
  stream.close()


def test_a_dataset_built_from_another_raw_folder_is_refused(tmp_path):
  first = write_fake_got10k(tmp_path / "raw1")
  other = write_fake_got10k(tmp_path / "raw2")
  tfds_dir = tmp_path / "tfds"
  with pytest.raises(ValueError, match="no raw dataset folder"):
    tfds_builders.prepare("got10k", "", tfds_dir)
  built = tfds_builders.prepare("got10k", first, tfds_dir)
  # Reused as it is: from its own folder, or with none given.
  assert tfds_builders.prepare("got10k", first, tfds_dir).data_dir == (
      built.data_dir)
  tfds_builders.prepare("got10k", "", tfds_dir)
  with pytest.raises(ValueError, match=f"built from {first}, not {other}"):
    tfds_builders.prepare("got10k", other, tfds_dir)
