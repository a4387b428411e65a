"""Tests of the benchmark readers, the registry and layout detection."""

import io
import pathlib
import shutil
import subprocess
import sys
import warnings

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import datasets
from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import otb
from siamfc_jax.data.datasets import uav

REPO = pathlib.Path(__file__).resolve().parents[1]


def _jpeg() -> bytes:
  buffer = io.BytesIO()
  Image.new("RGB", (8, 8), (200, 0, 0)).save(buffer, "JPEG")
  return buffer.getvalue()


_JPEG = _jpeg()


def _frames(folder: pathlib.Path, numbers, fmt: str = "{:04d}.jpg"):
  """Tiny 8x8 JPEG frames named by `fmt` with the given numbers."""
  folder.mkdir(parents=True, exist_ok=True)
  for i in numbers:
    (folder / fmt.format(i)).write_bytes(_JPEG)


def _boxes(n: int, seed: int = 0) -> np.ndarray:
  """[n, 4] distinct 1-based boxes."""
  rng = np.random.default_rng(seed)
  return np.round(rng.uniform(1, 50, (n, 4)), 1)


def _write(path: pathlib.Path, rows, sep: str = ",") -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(sep.join(f"{v:g}" for v in r) + "\n"
                          for r in rows))


def _names(frames) -> list[str]:
  return [pathlib.Path(f).name for f in frames]


# --- match_lengths -------------------------------------------------------

def test_match_lengths_uses_first_lines_or_pads_with_nan_and_warns():
  boxes = np.arange(12.0).reshape(3, 4)
  with pytest.warns(UserWarning, match=r"gt\.txt: 3 ground-truth lines but "
                    r"2 frames"):
    got, frames = sequences.match_lengths("gt.txt", boxes, ["a", "b"])
  np.testing.assert_array_equal(got, boxes[:2])
  assert frames == ["a", "b"]
  with pytest.warns(UserWarning, match="3 ground-truth lines but 5 frames"):
    got, _ = sequences.match_lengths("gt.txt", boxes, list("abcde"))
  np.testing.assert_array_equal(got[:3], boxes)
  assert np.isnan(got[3:]).all()
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    got, _ = sequences.match_lengths("gt.txt", boxes, list("abc"))


# --- LaSOT ---------------------------------------------------------------

def _lasot_seq(root, name, n, absent_at=(), seed=0):
  folder = root / name.rsplit("-", 1)[0] / name
  _frames(folder / "img", range(1, n + 1), "{:08d}.jpg")
  boxes = _boxes(n, seed)
  _write(folder / "groundtruth.txt", boxes)
  occ = ["1" if i in absent_at else "0" for i in range(n)]
  (folder / "full_occlusion.txt").write_text(",".join(occ))
  oov = ["1" if i == n - 1 else "0" for i in range(n)]
  (folder / "out_of_view.txt").write_text(",".join(oov) + "\n")
  (folder / "nlp.txt").write_text("white airplane\n")
  return boxes


def test_lasot_reads_the_test_list_with_occlusion_flags(tmp_path):
  boxes = _lasot_seq(tmp_path, "airplane-1", 5, absent_at=(2,))
  _lasot_seq(tmp_path, "airplane-2", 4)  # a training sequence: ignored
  with pytest.warns(UserWarning, match="279 of the 280 LaSOT test"):
    seqs = datasets.read("lasot", tmp_path)
  seq, = seqs
  assert seq.name == "airplane-1" and len(seq) == 5
  assert _names(seq.frames)[0] == "00000001.jpg"
  np.testing.assert_allclose(seq.boxes, boxes - [1, 1, 0, 0])
  np.testing.assert_array_equal(seq.meta["full_occlusion"],
                                [0, 0, 1, 0, 0])
  np.testing.assert_array_equal(seq.meta["out_of_view"], [0, 0, 0, 0, 1])
  np.testing.assert_array_equal(seq.meta["absent"], [0, 0, 1, 0, 1])
  assert seq.meta["origin"] == 1 and seq.meta["format"] == "lasot"
  assert seq.meta["benchmark"] == "lasot" and seq.meta["nlp"]


def test_lasot_prefers_the_roots_testing_set_file(tmp_path):
  _lasot_seq(tmp_path, "airplane-1", 3)
  _lasot_seq(tmp_path, "airplane-2", 3)
  (tmp_path / "testing_set.txt").write_text("airplane-2\nairplane-1\n")
  assert [s.name for s in datasets.read("lasot", tmp_path)] == [
      "airplane-2", "airplane-1"]


def test_lasot_ext_reads_its_classes_only(tmp_path):
  _lasot_seq(tmp_path, "atv-10", 3)
  _lasot_seq(tmp_path, "atv-2", 3)
  _lasot_seq(tmp_path, "airplane-1", 3)
  assert [s.name for s in datasets.read("lasot_ext", tmp_path)] == [
      "atv-2", "atv-10"]


def test_lasot_flags_of_the_wrong_length_are_refused(tmp_path):
  _lasot_seq(tmp_path, "airplane-1", 3)
  (tmp_path / "airplane" / "airplane-1" / "out_of_view.txt").write_text("0,0")
  with pytest.raises(ValueError, match="out_of_view.txt: 2 values but 3"), \
       pytest.warns(UserWarning, match="279 of the 280"):
    datasets.read("lasot", tmp_path)


# --- UAV123 --------------------------------------------------------------

def test_uav_sub_ranges_read_their_frames_and_nan_rows(tmp_path):
  _frames(tmp_path / "data_seq" / "UAV123" / "group2", range(1, 2684),
          "{:06d}.jpg")
  boxes = _boxes(1771 - 907 + 1)
  boxes[3] = np.nan
  _write(tmp_path / "anno" / "UAV123" / "group2_2.txt", boxes)
  _write(tmp_path / "anno" / "UAV20L" / "group2.txt", _boxes(2683))
  seq, = datasets.read("uav123", tmp_path)
  assert seq.name == "group2_2" and len(seq) == 865
  assert _names(seq.frames)[0] == "000907.jpg"
  assert _names(seq.frames)[-1] == "001771.jpg"
  np.testing.assert_allclose(seq.boxes[:3], boxes[:3] - [1, 1, 0, 0])
  assert np.isnan(seq.boxes[3]).all()
  assert seq.meta["absent"].tolist() == [i == 3 for i in range(865)]
  long, = datasets.read("uav20l", tmp_path)
  assert len(long) == 2683
  assert datasets.detect(tmp_path) == ["uav123", "uav20l"]


def test_uav_range_table_matches_known_entries():
  assert uav.ranges("uav123")["group2_1"] == ("group2", 1, 907)
  assert uav.ranges("uav123")["uav1_3"] == ("uav1", 2473, 3469)
  assert uav.ranges("uav123_10fps")["group2_2"] == ("group2", 303, 591)
  assert len(uav.ranges("uav123")) == 123
  assert len(uav.ranges("uav123_10fps")) == 123
  assert len(uav.ranges("uav20l")) == 20


def test_uav_missing_range_frame_is_named(tmp_path):
  _frames(tmp_path / "data_seq" / "UAV123_10fps" / "bike3", range(1, 100),
          "{:06d}.jpg")
  _write(tmp_path / "anno" / "UAV123_10fps" / "bike3.txt", _boxes(145))
  with pytest.raises(FileNotFoundError, match="frames 1..145 expected, 46 "
                     "missing"):
    datasets.read("uav123_10fps", tmp_path)


# --- TrackingNet ---------------------------------------------------------

def test_trackingnet_test_split_annotates_the_first_frame_only(tmp_path):
  _frames(tmp_path / "TEST" / "frames" / "seqA", range(0, 12), "{}.jpg")
  _write(tmp_path / "TEST" / "anno" / "seqA.txt", [[5, 6, 7, 8]])
  _frames(tmp_path / "TRAIN_0" / "frames" / "seqB", range(0, 3), "{}.jpg")
  _write(tmp_path / "TRAIN_0" / "anno" / "seqB.txt", _boxes(3))
  seq, = datasets.read("trackingnet", tmp_path)
  assert seq.name == "seqA" and len(seq) == 12
  assert _names(seq.frames)[:3] == ["0.jpg", "1.jpg", "2.jpg"]
  assert _names(seq.frames)[-1] == "11.jpg"
  np.testing.assert_array_equal(seq.boxes[0], [5, 6, 7, 8])  # 0-based
  assert np.isnan(seq.boxes[1:]).all() and seq.meta["origin"] == 0
  shutil.rmtree(tmp_path / "TEST")
  seq, = datasets.read("trackingnet", tmp_path)
  assert seq.name == "seqB" and seq.meta["chunk"] == "TRAIN_0"


# --- NfS -----------------------------------------------------------------

def _nfs_line(i, box, lost=0, occluded=0):
  x, y, w, h = box
  return (f"1 {x:g} {y:g} {x + w:g} {y + h:g} {i + 1} {lost} {occluded} 0 "
          f"\"person\"\n")


def test_nfs_30fps_takes_every_8th_line_of_the_240fps_file(tmp_path):
  n30 = 4
  boxes = _boxes(8 * n30)
  folder = tmp_path / "bee"
  _frames(folder / "30" / "bee", range(1, n30 + 1), "{:05d}.jpg")
  _frames(folder / "240" / "bee", range(1, 8 * n30 + 1), "{:05d}.jpg")
  lines = [_nfs_line(i, b, lost=int(i == 8), occluded=int(i == 16))
           for i, b in enumerate(boxes)]
  (folder / "30" / "bee.txt").write_text("".join(lines))
  (folder / "240" / "bee.txt").write_text("".join(lines))
  seq, = datasets.read("nfs", tmp_path)
  assert len(seq) == n30
  np.testing.assert_allclose(seq.boxes, boxes[::8], atol=1e-9)
  assert seq.meta["absent"].tolist() == [False, True, False, False]
  assert seq.meta["occluded"].tolist() == [False, False, True, False]
  assert seq.meta["origin"] == 0
  fast, = datasets.read("nfs240", tmp_path)
  assert len(fast) == 8 * n30
  np.testing.assert_allclose(fast.boxes, boxes, atol=1e-9)
  assert datasets.detect(tmp_path) == ["nfs", "nfs240"]


def test_nfs_malformed_line_is_named(tmp_path):
  folder = tmp_path / "bee" / "30"
  _frames(folder / "bee", [1])
  (folder / "bee.txt").write_text("1 2 3\n")
  with pytest.raises(ValueError, match=r"bee\.txt:1"):
    datasets.read("nfs", tmp_path)


# --- TC-128 --------------------------------------------------------------

def test_tc128_reads_the_frame_range(tmp_path):
  folder = tmp_path / "Ball_ce1"
  _frames(folder / "img", range(1, 9))
  boxes = _boxes(4)
  _write(folder / "Ball_ce1_gt.txt", boxes)
  (folder / "Ball_ce1_frames.txt").write_text("3,6\n")
  seq, = datasets.read("tc128", tmp_path)
  assert _names(seq.frames) == ["0003.jpg", "0004.jpg", "0005.jpg",
                                "0006.jpg"]
  np.testing.assert_allclose(seq.boxes, boxes - [1, 1, 0, 0])
  assert datasets.detect(tmp_path) == ["tc128"]


# --- OTB / DTB70 ---------------------------------------------------------

def _otb_seq(root, name, numbers, n_boxes, gt="groundtruth_rect.txt",
             seed=0):
  _frames(root / name / "img", numbers)
  boxes = _boxes(n_boxes, seed)
  _write(root / name / gt, boxes, "\t")
  return boxes


def test_otb_subset_cuts_late_starts_and_two_targets(tmp_path):
  david = _otb_seq(tmp_path, "David", range(1, 771), 471)
  car = _otb_seq(tmp_path, "BlurCar1", range(247, 989), 742)
  jog1 = _otb_seq(tmp_path, "Jogging", range(1, 6), 5,
                  "groundtruth_rect.1.txt")
  _write(tmp_path / "Jogging" / "groundtruth_rect.2.txt", _boxes(5, 1))
  with pytest.warns(UserWarning, match="missing"):
    seqs = {s.name: s for s in datasets.read("otb100", tmp_path)}
  assert sorted(seqs) == ["BlurCar1", "David", "Jogging.1", "Jogging.2"]
  assert len(seqs["David"]) == 471
  assert _names(seqs["David"].frames)[0] == "0300.jpg"
  np.testing.assert_allclose(seqs["David"].boxes, david - [1, 1, 0, 0])
  np.testing.assert_allclose(seqs["BlurCar1"].boxes, car - [1, 1, 0, 0])
  for name in ("David", "BlurCar1"):  # as experiments.track reads them
    assert sequences.read_otb(tmp_path / name).frames == seqs[name].frames
  np.testing.assert_allclose(seqs["Jogging.1"].boxes, jog1 - [1, 1, 0, 0])
  assert seqs["Jogging.2"].meta["target"] == 2
  with pytest.warns(UserWarning, match="48 of the 50 otb2013"):
    otb2013 = datasets.read("otb2013", tmp_path)
  assert [s.name for s in otb2013] == ["David", "Jogging.1", "Jogging.2"]
  # The 'otb' benchmark applies the same frame ranges.
  assert len({s.name: s for s in datasets.read("otb", tmp_path)}["David"]
             ) == 471


def test_otb_empty_target_file_is_skipped(tmp_path):
  _otb_seq(tmp_path, "Human4", range(1, 4), 3, "groundtruth_rect.2.txt")
  (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text("\n")
  with pytest.warns(UserWarning, match="empty, target 1 skipped"):
    seq, = otb.read_folder(tmp_path / "Human4")
  assert seq.name == "Human4" and len(seq) == 3


def test_otb_subset_lists_have_their_official_sizes():
  assert len(otb.SUBSETS["otb2013"]) == 50
  assert len(otb.SUBSETS["otb50"]) == 49
  assert len(otb.SUBSETS["otb100"]) == 98  # + Jogging, Skating2 targets
  assert len(otb.dtb70_names()) == 70


def test_dtb70_is_detected_by_its_sequence_names(tmp_path):
  _otb_seq(tmp_path, "Animal3", range(1, 4), 3)
  _otb_seq(tmp_path, "Basketball", range(1, 4), 3)
  assert datasets.detect(tmp_path) == ["dtb70"]
  assert {s.meta["format"] for s in datasets.read("dtb70", tmp_path)} == {
      "dtb70"}
  shutil.rmtree(tmp_path / "Animal3")
  assert datasets.detect(tmp_path) == ["otb"]


# --- VOT / GOT-10k / detection -------------------------------------------

def _vot_seq(root, name, n):
  _frames(root / name / "color", range(1, n + 1), "{:08d}.jpg")
  polygons = np.tile([1, 1, 6, 1, 6, 5, 1, 5], (n, 1))
  _write(root / name / "groundtruth.txt", polygons)


def test_vot_and_got10k_roots_are_told_apart(tmp_path):
  vot_root, got_root = tmp_path / "vot", tmp_path / "got"
  _vot_seq(vot_root, "bag", 3)
  (vot_root / "list.txt").write_text("bag\n")
  _frames(got_root / "GOT-10k_Test_000001", range(1, 4), "{:08d}.jpg")
  _write(got_root / "GOT-10k_Test_000001" / "groundtruth.txt", [[1, 2, 3, 4]])
  (got_root / "list.txt").write_text("GOT-10k_Test_000001\n")
  assert datasets.detect(vot_root) == ["vot"]
  assert datasets.detect(got_root) == ["got10k"]
  seq, = datasets.read("vot", vot_root)
  assert seq.meta["origin"] == 0 and seq.meta["benchmark"] == "vot"
  seq, = datasets.read("got10k", got_root)
  assert len(seq) == 3 and np.isnan(seq.boxes[1:]).all()


def test_detection_reports_every_layout_of_a_mixed_folder(tmp_path):
  _otb_seq(tmp_path, "Crossing", range(1, 4), 3)
  _vot_seq(tmp_path, "bag", 3)
  assert datasets.detect(tmp_path) == ["otb", "vot"]
  empty = tmp_path / "empty"
  empty.mkdir()
  assert datasets.detect(empty) == []


def test_unknown_benchmark_and_missing_root_are_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown benchmark 'otb2099'"):
    datasets.read("otb2099", tmp_path)
  with pytest.raises(FileNotFoundError, match="missing"):
    datasets.read("lasot", tmp_path / "missing")


def _cli(*args):
  return subprocess.run(
      [sys.executable, "-m", "experiments.evaluate", *args], cwd=REPO,
      capture_output=True, text=True, timeout=300, check=False)


def test_cli_without_dataset_names_the_layouts_of_a_mixed_folder(tmp_path):
  _otb_seq(tmp_path, "Crossing", range(1, 4), 3)
  _vot_seq(tmp_path, "bag", 3)
  run = _cli(f"--root={tmp_path}", f"--output={tmp_path / 'out'}")
  assert run.returncode != 0 and "Traceback" not in run.stderr
  assert "several benchmark layouts found (otb, vot)" in run.stderr
  assert "pass --dataset=" in run.stderr


# --- real sequences re-laid in each layout -------------------------------

def _real(data_dir, name) -> sequences.Sequence:
  source = data_dir / "sequences" / name
  if not source.is_dir():
    pytest.skip(f"{source} not found (shared data incomplete)")
  return sequences.read_sequence(source)


def _link_frames(frames, folder: pathlib.Path, fmt: str, first: int = 1):
  folder.mkdir(parents=True)
  for i, frame in enumerate(frames):
    (folder / fmt.format(first + i)).symlink_to(frame)


def _one_based_rows(boxes):
  return np.asarray(boxes) + [1, 1, 0, 0]


def test_real_sequences_read_back_in_every_layout(data_dir, tmp_path):
  boat = _real(data_dir, "arcf_UAV10_boat1")      # UAV123@10fps boat1
  animal = _real(data_dir, "tsd_DTB70_Animal3")   # DTB70 Animal3
  cross = _real(data_dir, "eco_Crossing")         # OTB Crossing
  checks = []

  root = tmp_path / "uav"  # the table's range for boat1 is 1..301
  _link_frames(boat.frames, root / "data_seq" / "UAV123_10fps" / "boat1",
               "{:06d}.jpg")
  _write(root / "anno" / "UAV123_10fps" / "boat1.txt",
         _one_based_rows(boat.boxes))
  checks.append((root, "uav123_10fps", boat))

  root = tmp_path / "lasot"
  folder = root / "airplane" / "airplane-1"
  _link_frames(cross.frames, folder / "img", "{:08d}.jpg")
  _write(folder / "groundtruth.txt", _one_based_rows(cross.boxes))
  for flag in ("full_occlusion", "out_of_view"):
    (folder / f"{flag}.txt").write_text(",".join(["0"] * len(cross)))
  (root / "testing_set.txt").write_text("airplane-1\n")
  checks.append((root, "lasot", cross))

  root = tmp_path / "trackingnet"
  _link_frames(animal.frames, root / "TRAIN_3" / "frames" / "Animal3",
               "{}.jpg", first=0)
  _write(root / "TRAIN_3" / "anno" / "Animal3.txt", animal.boxes)
  checks.append((root, "trackingnet", animal))

  root = tmp_path / "tc128"
  _link_frames(cross.frames, root / "Crossing" / "img", "{:04d}.jpg")
  _write(root / "Crossing" / "Crossing_gt.txt", _one_based_rows(cross.boxes))
  (root / "Crossing" / "Crossing_frames.txt").write_text(f"1,{len(cross)}")
  checks.append((root, "tc128", cross))

  root = tmp_path / "nfs"
  folder = root / "Animal3" / "30"
  _link_frames(animal.frames, folder / "Animal3", "{:05d}.jpg")
  (folder / "Animal3.txt").write_text("".join(
      _nfs_line(i, b) for i, b in enumerate(animal.boxes)))
  checks.append((root, "nfs", animal))

  root = tmp_path / "dtb70"
  (root).mkdir()
  (root / "Animal3").symlink_to(data_dir / "sequences" / "tsd_DTB70_Animal3")
  checks.append((root, "dtb70", animal))

  for root, name, original in checks:
    assert datasets.detect(root) == [name], name
    seq, = datasets.read(name, root)
    assert len(seq) == len(original), name
    assert [pathlib.Path(f).resolve() for f in seq.frames] == [
        pathlib.Path(f).resolve() for f in original.frames], name
    np.testing.assert_allclose(seq.boxes, original.boxes, atol=1e-6,
                               err_msg=name)


def test_choose_picks_the_one_layout_found_and_says_which(tmp_path):
  _otb_seq(tmp_path, "Crossing", range(1, 4), 3)
  said = []
  assert datasets.choose(None, tmp_path, said.append) == "otb"
  assert said == [f"{tmp_path} has the otb layout; using --dataset=otb"]
  assert datasets.choose("vot", tmp_path) == "vot"
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(ValueError, match="no known benchmark layout"):
    datasets.choose(None, empty)
  with pytest.raises(ValueError, match="unknown benchmark 'otb2"):
    datasets.choose("otb2", tmp_path)
