"""Tests of `results`: result, time and submission files, folder names."""

import zipfile

import numpy as np
import pytest

from siamfc_jax.data import sequences
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import results

# The benchmark names shared with `siamfc_jax.data.datasets` (issue 15).
NAMES = ("otb", "otb2013", "otb50", "otb100", "lasot", "lasot_ext", "uav123",
         "uav20l", "uav123_10fps", "trackingnet", "nfs", "nfs240", "tc128",
         "dtb70", "vot", "got10k")


def test_result_files_round_trip_in_annotation_coordinates(tmp_path):
  boxes = np.array([[0.5, 1.25, 10, 20], [np.nan] * 4])
  results.write_boxes(tmp_path / "b.txt", boxes, origin=1)
  assert (tmp_path / "b.txt").read_text().splitlines()[0] == (
      "1.500,2.250,10.000,20.000")
  np.testing.assert_array_equal(
      results.read_boxes(tmp_path / "b.txt", origin=1), boxes)
  records = [1, np.array([2.0, 3, 4, 5]), 2, 0, 1]
  results.write_vot_records(tmp_path / "r.txt", records, origin=1)
  assert (tmp_path / "r.txt").read_text().splitlines()[1] == (
      "3.0000,4.0000,4.0000,5.0000")
  got = results.read_vot_records(tmp_path / "r.txt", origin=1)
  assert got[0] == 1 and got[2:] == [2, 0, 1]
  np.testing.assert_array_equal(got[1], records[1])


def test_malformed_result_file_names_file_and_line(tmp_path):
  path = tmp_path / "r.txt"
  path.write_text("1\n1,2,3\n")
  with pytest.raises(ValueError, match=f"{path}:2"):
    results.read_vot_records(path)


def test_every_benchmark_name_has_a_protocol():
  assert sorted(benchmarks.PROTOCOLS) == sorted(NAMES)
  with pytest.raises(ValueError, match="protocol must be one of"):
    results.results_dir("out", "otb2015", "tiny")


@pytest.mark.parametrize("protocol, want", [
    ("otb", "results/OTB/tiny/Seq.txt"),
    ("lasot", "results/LaSOT/tiny/Seq.txt"),
    ("nfs240", "results/NfS/240/tiny/Seq.txt"),
    ("got10k", "results/GOT-10k/tiny/Seq/Seq_001.txt"),
    ("vot", "results/VOT/tiny/baseline/Seq/Seq_001.txt"),
])
def test_result_files_follow_the_toolkit_layout(protocol, want, tmp_path):
  path = results.result_file(tmp_path, protocol, "tiny", "Seq")
  assert path.relative_to(tmp_path).as_posix() == want


@pytest.mark.parametrize("meta, origin", [
    ({"format": "otb"}, 1), ({"format": "vot"}, 0),
    ({"format": "otb", "origin": 0}, 0), ({"format": "dtb70", "origin": 1}, 1),
])
def test_annotation_origin_follows_the_reader(meta, origin):
  seq = sequences.Sequence("s", ["0.jpg"], np.zeros((1, 4)), meta)
  assert results.annotation_origin(seq) == origin


def test_submission_zip_holds_one_result_file_per_sequence(tmp_path):
  boxes = {"a": np.array([[1.0, 2, 3, 4], [1.5, 2.25, 3, 4]]),
           "b": np.array([[5.0, 6, 7, 8]])}
  for name, b in boxes.items():
    results.write_boxes(results.result_file(tmp_path, "trackingnet", "tiny",
                                            name), b)
  path = results.write_submission(tmp_path, "trackingnet", "tiny", ["a", "b"])
  assert path == tmp_path / "results" / "TrackingNet" / "tiny.zip"
  with zipfile.ZipFile(path) as archive:
    assert sorted(archive.namelist()) == ["a.txt", "b.txt"]
    lines = archive.read("a.txt").decode().splitlines()
  # Comma separated x,y,w,h, as the TrackingNet server reads them.
  assert lines == ["1.000,2.000,3.000,4.000", "1.500,2.250,3.000,4.000"]


def test_submission_needs_every_result_file(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing.txt"):
    results.write_submission(tmp_path, "trackingnet", "tiny", ["missing"])
  with pytest.raises(ValueError, match="one-pass"):
    results.write_submission(tmp_path, "vot", "tiny", ["a"])
