"""Tests of the OTB / VOT / GOT-10k sequence readers."""

import json
import math
import pathlib
import warnings

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import sequences

REAL_SEQUENCES = (
    "aarentai_Basketball", "arcf_UAV10_boat1", "arcf_UAV10_wakeboard10",
    "bicf_person11", "cf2_MotorRolling", "eco_Crossing", "hervat_vot15_ball2",
    "lasith_Dudek", "mscf_DTB70_MountainBike6", "recf_DTB70_Surfing06",
    "strcf_Human3", "tsd_DTB70_Animal3", "tsd_DTB70_BMX3", "vot15_bag")


def _write_frames(folder: pathlib.Path, names) -> list[pathlib.Path]:
  """Tiny 8x6 frames, PNG or JPEG by extension."""
  folder.mkdir(parents=True, exist_ok=True)
  paths = []
  for i, name in enumerate(names):
    Image.new("RGB", (8, 6), (10 * i, 0, 0)).save(folder / name)
    paths.append(folder / name)
  return paths


def _otb(root: pathlib.Path, gt_text: str, n: int = 3, name: str = "Seq",
         gt_name: str = "groundtruth_rect.txt") -> pathlib.Path:
  folder = root / name
  _write_frames(folder / "img", [f"{i + 1:04d}.jpg" for i in range(n)])
  (folder / gt_name).write_text(gt_text)
  return folder


OTB_BOXES_1_BASED = [[11, 21, 5, 6], [12, 22, 5, 6], [13.5, 23, 4, 7]]


@pytest.mark.parametrize("text", [
    "11,21,5,6\n12,22,5,6\n13.5,23,4,7\n",
    "11\t21\t5\t6\n12\t22\t5\t6\n13.5\t23\t4\t7\n",
    "11 21 5 6\n12 22 5 6\n13.5 23 4 7\n",
    "11, 21,\t5 6\n12\t22,5,6\n13.5  23\t4,7\n",
    "11,21,5,6\n12,22,5,6\n13.5,23,4,7",  # no final newline
    "11,21,5,6\r\n12,22,5,6\r\n13.5,23,4,7\r\n\r\n\n",
], ids=["comma", "tab", "space", "mixed", "no_final_newline", "crlf_blank"])
def test_otb_boxes_become_zero_based_whatever_the_separator(tmp_path, text):
  seq = sequences.read_otb(_otb(tmp_path, text))
  expected = np.array(OTB_BOXES_1_BASED) - [1, 1, 0, 0]
  np.testing.assert_array_equal(seq.boxes, expected)
  assert seq.name == "Seq" and len(seq) == 3
  assert [pathlib.Path(f).name for f in seq.frames] == [
      "0001.jpg", "0002.jpg", "0003.jpg"]
  assert seq.meta["format"] == "otb"


def test_frames_sort_by_the_number_in_their_names(tmp_path):
  names = ["frame10.png", "frame2.PNG", "frame1.bmp", "frame3.jpeg"]
  _write_frames(tmp_path, names)
  (tmp_path / "notes.txt").write_text("not a frame")
  (tmp_path / ".hidden1.jpg").write_bytes(b"")
  frames = sequences.list_frames(tmp_path)
  assert [f.name for f in frames] == [
      "frame1.bmp", "frame2.PNG", "frame3.jpeg", "frame10.png"]


def test_otb_targets_become_sequences_named_with_their_number(tmp_path):
  folder = _otb(tmp_path, "1,1,2,2\n1,1,2,2\n", n=2, name="Jogging",
                gt_name="groundtruth_rect.1.txt")
  (folder / "groundtruth_rect.2.txt").write_text("5,5,3,3\n6,6,3,3\n")
  seqs = sequences.read_dataset(tmp_path, "otb")
  assert [s.name for s in seqs] == ["Jogging.1", "Jogging.2"]
  np.testing.assert_array_equal(seqs[1].boxes[1], [5, 5, 3, 3])
  with pytest.raises(ValueError, match=r"several targets \[1, 2\]"):
    sequences.read_sequence(folder)
  assert sequences.read_sequence(folder, target=2).name == "Jogging.2"


def test_longer_ground_truth_uses_the_first_lines_with_one_warning(tmp_path):
  folder = _otb(tmp_path, "2,2,2,2\n3,3,2,2\n4,4,2,2\n5,5,2,2\n6,6,2,2\n",
                n=3)
  with pytest.warns(sequences.GroundTruthWarning) as record:
    seq = sequences.read_otb(folder)
  assert len(record) == 1
  assert str(record[0].message) == (
      f"{folder / 'groundtruth_rect.txt'}: 5 ground-truth lines but 3 "
      "frames: using the first 3 lines")
  assert len(seq) == 3
  np.testing.assert_array_equal(seq.boxes[-1], [3, 3, 2, 2])


def test_shorter_ground_truth_keeps_every_frame_with_nan_rows(tmp_path):
  folder = _otb(tmp_path, "2,2,2,2\n3,3,2,2\n", n=4)
  with pytest.warns(sequences.GroundTruthWarning,
                    match=r"2 ground-truth lines but 4 frames: tracking all "
                    r"4 frames, scoring the first 2") as record:
    seq = sequences.read_otb(folder)
  assert len(record) == 1 and len(seq) == 4
  np.testing.assert_array_equal(seq.boxes[1], [2, 2, 2, 2])
  assert np.all(np.isnan(seq.boxes[2:]))


def test_match_lengths_cuts_or_pads_rows_of_any_width(tmp_path):
  frames = [tmp_path / f"{i}.jpg" for i in (7, 8, 9)]
  rows = np.arange(16.0).reshape(2, 8)
  with pytest.warns(sequences.GroundTruthWarning, match="gt.txt: 2 "):
    out, out_frames = sequences.match_lengths("gt.txt", rows, frames)
  assert out.shape == (3, 8) and out_frames == frames
  np.testing.assert_array_equal(out[:2], rows)
  assert np.all(np.isnan(out[2]))
  with pytest.warns(sequences.GroundTruthWarning, match="using the first 1"):
    out, _ = sequences.match_lengths("gt.txt", rows, frames[:1])
  np.testing.assert_array_equal(out, rows[:1])


@pytest.mark.parametrize("names,message", [
    (["0001.jpg", "0002.jpg", "0004.jpg"],
     r"img: frame 3 missing between 0002\.jpg and 0004\.jpg"),
    (["0001.jpg", "0002.jpg", "0006.jpg"], r"frame 3 to 5 missing"),
    (["0001.jpg", "0002.jpg", "2.png"],
     r"frames 0002\.jpg and 2\.png have the same number 2"),
])
def test_gap_in_frame_numbering_is_an_error(tmp_path, names, message):
  folder = tmp_path / "Seq"
  _write_frames(folder / "img", names)
  (folder / "groundtruth_rect.txt").write_text("1,1,2,2\n" * 3)
  with pytest.raises(ValueError, match=message):
    sequences.read_otb(folder)


def test_numbering_may_start_anywhere(tmp_path):
  folder = tmp_path / "BlurCar1"
  _write_frames(folder / "img", ["0247.jpg", "0248.jpg"])
  (folder / "groundtruth_rect.txt").write_text("1,1,2,2\n" * 2)
  assert len(sequences.read_otb(folder)) == 2


def test_otb_david_starts_at_its_first_annotated_frame(tmp_path, monkeypatch):
  # OTB's David: 770 frames, 471 boxes for frames 300-770 (here 3-5 of 5).
  monkeypatch.setitem(sequences.OTB_FRAMES, "david", (3, 5))
  folder = _otb(tmp_path, "1,1,2,2\n2,2,2,2\n3,3,2,2\n", n=5, name="David")
  with warnings.catch_warnings():  # lines and frames match: no warning
    warnings.simplefilter("error", sequences.GroundTruthWarning)
    seq = sequences.read_otb(folder)
  assert [pathlib.Path(f).name for f in seq.frames] == [
      "0003.jpg", "0004.jpg", "0005.jpg"]
  np.testing.assert_array_equal(seq.boxes[0], [0, 0, 2, 2])


def test_otb_diving_stops_at_its_last_annotated_frame(tmp_path, monkeypatch):
  # OTB's Diving: 231 frames, 215 boxes (here 2 of 4), as the benchmark.
  monkeypatch.setitem(sequences.OTB_FRAMES, "diving", (1, 2))
  folder = _otb(tmp_path, "1,1,2,2\n2,2,2,2\n", n=4, name="Diving")
  with warnings.catch_warnings():
    warnings.simplefilter("error", sequences.GroundTruthWarning)
    seq = sequences.read_otb(folder)
  assert [pathlib.Path(f).name for f in seq.frames] == ["0001.jpg", "0002.jpg"]


def test_an_own_folder_named_like_an_otb_one_is_read_whole(tmp_path):
  # A box per frame: not the OTB download's David, so no frame range.
  folder = _otb(tmp_path, "1,1,2,2\n" * 4, n=4, name="David")
  assert len(sequences.read_otb(folder)) == 4


def test_otb_range_frame_missing_is_named(tmp_path, monkeypatch):
  monkeypatch.setitem(sequences.OTB_FRAMES, "david", (3, 7))
  folder = _otb(tmp_path, "1,1,2,2\n" * 3, n=5, name="David")
  with pytest.raises(FileNotFoundError,
                     match=r"img: David uses frames 3\.\.7 .* 2 missing "
                     r"\(first: number 6\)"):
    sequences.read_otb(folder)


@pytest.mark.parametrize("text,message", [
    ("nan,nan,nan,nan\n1,1,2,2\n", r"groundtruth_rect\.txt:1: the first "
     r"frame has no box"),
    ("1,1,0,2\n1,1,2,2\n", r"groundtruth_rect\.txt:1: the first box has "
     r"width 0 and height 2, expected both > 0"),
])
def test_first_box_must_be_finite_with_positive_size(tmp_path, text, message):
  seq = sequences.read_otb(_otb(tmp_path, text, n=2))
  with pytest.raises(ValueError, match=message):
    sequences.first_box(seq)


@pytest.mark.parametrize("text,message", [
    ("1,2,3,4\n1,2,x,4\n1,2,3,4\n",
     r"groundtruth_rect\.txt:2: non-numeric value in line '1,2,x,4'"),
    ("1,2,3,4\n1,2,3\n1,2,3,4\n",
     r"groundtruth_rect\.txt:2: 3 values in line '1,2,3', expected 4"),
    ("1,2,3,4\n\n1,2,3,4\n", r"groundtruth_rect\.txt:2: blank line"),
    ("\n\n", r"groundtruth_rect\.txt: empty file"),
])
def test_malformed_ground_truth_names_file_and_line(tmp_path, text, message):
  with pytest.raises(ValueError, match=message):
    sequences.read_otb(_otb(tmp_path, text))


def test_missing_frames_folder_or_frames_name_the_folder(tmp_path):
  folder = tmp_path / "Seq"
  folder.mkdir()
  (folder / "groundtruth_rect.txt").write_text("1,2,3,4\n")
  with pytest.raises(FileNotFoundError, match=r"Seq: no frames folder \(img/"):
    sequences.read_otb(folder)
  (folder / "img").mkdir()
  (folder / "img" / "readme.txt").write_text("")
  with pytest.raises(FileNotFoundError, match=r"img: no frames"):
    sequences.read_otb(folder)
  with pytest.raises(FileNotFoundError, match="groundtruth_rect.txt"):
    sequences.read_otb(tmp_path / "Other")


@pytest.mark.parametrize("subdir", ["", "color", "img"])
def test_vot_frames_are_found_in_the_folder_color_or_img(tmp_path, subdir):
  folder = tmp_path / "ball"
  _write_frames(folder / subdir, ["00000001.jpg", "00000002.jpg"])
  (folder / "groundtruth.txt").write_text("1,2,3,4\n2,3,4,5\n")
  seq = sequences.read_sequence(folder)
  assert seq.meta["format"] == "vot" and len(seq) == 2
  assert pathlib.Path(seq.frames[0]).parent == folder / subdir


def test_vot_polygons_become_boxes_as_get_axis_aligned_bb(tmp_path):
  folder = tmp_path / "bag"
  _write_frames(folder / "color", ["1.jpg", "2.jpg", "3.jpg"])
  (folder / "groundtruth.txt").write_text(
      # Axis-aligned 30x40 rectangle: s = 1, w = 31, h = 41, centre (25, 40).
      "10,20,40,20,40,60,10,60\n"
      # Diamond of half-diagonal 10 about (50, 50): edges sqrt(200), so
      # A_poly = 200, A_bbox = 400, s = sqrt(1/2), w = h = 20 s + 1.
      "60,50,50,60,40,50,50,40\n"
      # A 4-value line is already x, y, w, h.
      "1.5,2.5,3,4\n")
  (folder / "occlusion.tag").write_text("0\n1\n")
  seq = sequences.read_vot(folder)
  side = 20 * math.sqrt(0.5) + 1
  np.testing.assert_allclose(seq.boxes, [
      [9.5, 19.5, 31, 41],
      [50 - side / 2, 50 - side / 2, side, side],
      [1.5, 2.5, 3, 4]], atol=1e-12)
  np.testing.assert_array_equal(seq.meta["polygons"][2],
                                [1.5, 2.5, 4.5, 2.5, 4.5, 6.5, 1.5, 6.5])
  np.testing.assert_array_equal(seq.meta["tags"]["occlusion"],
                                [False, True, False])


@pytest.mark.parametrize("gt_lines", [5, 2])
def test_vot_polygons_and_tags_are_cut_or_padded_with_the_boxes(
    tmp_path, gt_lines):
  folder = tmp_path / "car1"
  _write_frames(folder / "color", ["1.jpg", "2.jpg", "3.jpg"])
  polygons = np.arange(gt_lines * 8, dtype=np.float64).reshape(-1, 8)
  (folder / "groundtruth.txt").write_text(
      "\n".join(",".join(f"{v:g}" for v in row) for row in polygons) + "\n")
  (folder / "camera_motion.tag").write_text("1\n" * gt_lines)
  (folder / "occlusion.tag").write_text("0\n1\n")
  with pytest.warns(sequences.GroundTruthWarning,
                    match=f"{gt_lines} ground-truth lines but 3 frames"):
    seq = sequences.read_vot(folder)
  n = min(gt_lines, 3)
  assert len(seq) == 3 and seq.meta["polygons"].shape == (3, 8)
  np.testing.assert_array_equal(seq.meta["polygons"][:n], polygons[:n])
  np.testing.assert_array_equal(seq.boxes[:n],
                                sequences.polygon_to_box(polygons[:n]))
  assert np.all(np.isnan(seq.meta["polygons"][n:]))
  assert np.all(np.isnan(seq.boxes[n:]))
  np.testing.assert_array_equal(seq.meta["tags"]["camera_motion"],
                                [True] * n + [False] * (3 - n))
  np.testing.assert_array_equal(seq.meta["tags"]["occlusion"],
                                [False, True, False])


def test_vot_tag_longer_than_frames_and_ground_truth_is_an_error(tmp_path):
  folder = tmp_path / "car1"
  _write_frames(folder, ["1.jpg", "2.jpg"])
  (folder / "groundtruth.txt").write_text("1,2,3,4\n" * 2)
  (folder / "occlusion.tag").write_text("0\n" * 3)
  with pytest.raises(ValueError, match=r"occlusion\.tag: 3 lines but 2 "
                     r"frames and 2 ground-truth lines"):
    sequences.read_vot(folder)


def test_vot_line_with_six_values_is_rejected(tmp_path):
  folder = tmp_path / "bag"
  _write_frames(folder, ["1.jpg"])
  (folder / "groundtruth.txt").write_text("1,2,3,4,5,6\n")
  with pytest.raises(ValueError, match=r"groundtruth\.txt:1: 6 values .* "
                     r"expected 4 or 8"):
    sequences.read_sequence(folder)


def _got10k(root: pathlib.Path, name: str, gt: str, absence="0\n1\n0\n",
            cover="8\n0\n3\n") -> pathlib.Path:
  folder = root / name
  _write_frames(folder, [f"{i:08d}.jpg" for i in (1, 2, 3)])
  (folder / "groundtruth.txt").write_text(gt)
  (folder / "absence.label").write_text(absence)
  (folder / "cover.label").write_text(cover)
  (folder / "cut_by_image.label").write_text("0\n0\n1\n")
  (folder / "meta_info.ini").write_text(
      "[METAINFO]\nobject_class: bear\nresolution: (1280, 720)\n")
  return folder


def test_got10k_labels_go_to_meta_and_absent_frames_have_no_box(tmp_path):
  folder = _got10k(tmp_path, "GOT-10k_Val_000001",
                   "1,2,3,4\n0,0,0,0\n5,6,7,8\n")
  seq = sequences.read_sequence(folder)
  assert seq.meta["format"] == "got10k"
  np.testing.assert_array_equal(seq.boxes[[0, 2]], [[1, 2, 3, 4], [5, 6, 7, 8]])
  assert np.all(np.isnan(seq.boxes[1]))
  np.testing.assert_array_equal(seq.meta["cover"], [8, 0, 3])
  np.testing.assert_array_equal(seq.meta["cut_by_image"], [False, False, True])
  assert seq.meta["resolution"] == (1280, 720)
  assert seq.meta["info"]["object_class"] == "bear"


def test_got10k_test_split_annotates_only_the_first_frame(tmp_path):
  folder = tmp_path / "GOT-10k_Test_000001"
  _write_frames(folder, ["00000001.jpg", "00000002.jpg"])
  (folder / "groundtruth.txt").write_text("1,2,3,4\n")
  (tmp_path / "list.txt").write_text("GOT-10k_Test_000001\n")
  # No labels: only kind='got10k' tells it from a (malformed) VOT folder.
  seq, = sequences.read_dataset(tmp_path, kind="got10k")
  assert seq.meta["format"] == "got10k"
  np.testing.assert_array_equal(seq.boxes[0], [1, 2, 3, 4])
  assert np.all(np.isnan(seq.boxes[1]))


def test_got10k_label_of_wrong_length_names_the_label_file(tmp_path):
  folder = _got10k(tmp_path, "a", "1,2,3,4\n1,2,3,4\n1,2,3,4\n",
                   cover="8\n8\n")
  with pytest.raises(ValueError, match=r"cover\.label: 2 lines but 3 frames"):
    sequences.read_got10k(folder)


def test_got10k_labels_follow_a_short_ground_truth(tmp_path):
  folder = _got10k(tmp_path, "a", "1,2,3,4\n5,6,7,8\n", absence="0\n1\n",
                   cover="8\n3\n")
  with pytest.warns(sequences.GroundTruthWarning, match="2 ground-truth "
                    "lines but 3 frames"):
    seq = sequences.read_got10k(folder)
  assert len(seq) == 3 and np.all(np.isnan(seq.boxes[1:]))
  np.testing.assert_array_equal(seq.meta["cover"], [8, 3, 0])
  np.testing.assert_array_equal(seq.meta["absence"], [False, True, False])
  np.testing.assert_array_equal(seq.meta["cut_by_image"], [False, False, True])


def test_dataset_follows_list_txt_order_else_sorted_folders(tmp_path):
  for name in ("b", "a"):
    _got10k(tmp_path, name, "1,2,3,4\n1,2,3,4\n1,2,3,4\n")
  (tmp_path / "not_a_sequence").mkdir()
  assert [s.name for s in sequences.read_dataset(tmp_path)] == ["a", "b"]
  (tmp_path / "list.txt").write_text("b\na\n")
  assert [s.name for s in sequences.read_dataset(tmp_path, "got10k")] == [
      "b", "a"]
  (tmp_path / "list.txt").write_text("b\nmissing\n")
  with pytest.raises(FileNotFoundError, match=r"list\.txt:2: .*missing"):
    sequences.read_dataset(tmp_path)


def test_plain_folder_has_only_the_initial_box(tmp_path):
  _write_frames(tmp_path, ["b_2.png", "b_1.png"])
  seq = sequences.read_folder(tmp_path, [1, 2, 3, 4])
  assert [pathlib.Path(f).name for f in seq.frames] == ["b_1.png", "b_2.png"]
  np.testing.assert_array_equal(seq.boxes[0], [1, 2, 3, 4])
  assert np.all(np.isnan(seq.boxes[1]))
  with pytest.raises(ValueError, match="w, h > 0"):
    sequences.read_folder(tmp_path, [1, 2, 0, 4])


def test_sequence_needs_one_read_only_box_per_frame():
  seq = sequences.Sequence("s", ("a.jpg",), [[1, 2, 3, 4]])
  with pytest.raises(ValueError, match="read-only"):
    seq.boxes[0, 0] = 5
  with pytest.raises(ValueError, match=r"boxes must be \[2, 4\]"):
    sequences.Sequence("s", ("a.jpg", "b.jpg"), [[1, 2, 3, 4]])


def test_real_sequences_read_with_the_verified_frame_counts(data_dir):
  root = data_dir / "sequences"
  if not root.is_dir():
    pytest.skip(f"{root} not found (real sequences of the shared data)")
  seqs = {s.name: s for s in sequences.read_dataset(root)}
  assert sorted(seqs) == sorted(REAL_SEQUENCES)
  for name, seq in seqs.items():
    verify = json.loads((root / name / "VERIFY.json").read_text())
    assert len(seq) == verify["frames"] == verify["gt_lines"], name
    assert np.all(np.isfinite(seq.boxes)), name
    with Image.open(seq.frames[0]) as image:
      assert list(image.size) == verify["resolution"][0], name
    if seq.meta["format"] == "otb":  # 1-based in the file, 0-based here.
      np.testing.assert_array_equal(
          seq.boxes[0], np.array(verify["first_box"]) - [1, 1, 0, 0])
  assert seqs["vot15_bag"].meta["format"] == "vot"
  assert seqs["hervat_vot15_ball2"].meta["polygons"].shape == (41, 8)
