"""Tests of `siamfc_jax.data.datasets.attributes`: the shipped tables hold
the benchmarks' published facts, and the download's UAV files are read."""

import collections
import warnings

import pytest

from siamfc_jax.data import datasets
from siamfc_jax.data.datasets import attributes
from siamfc_jax.data.datasets import lasot
from siamfc_jax.data.datasets import otb
from tests import fake_datasets


def _counts(table):
  return collections.Counter(a for attrs in table.values() for a in attrs)


def test_otb2013_table_has_the_cvpr13_papers_counts():
  # Wu et al., "Online Object Tracking: A Benchmark", CVPR'13, Fig. 4-5.
  paper = {"IV": 25, "SV": 28, "OCC": 29, "DEF": 19, "MB": 12, "FM": 17,
           "IPR": 31, "OPR": 39, "OV": 6, "BC": 21, "LR": 4}
  table = attributes.table("otb2013")
  assert len(table) == 51
  assert _counts(table) == paper


def test_otb100_table_names_every_target_the_reader_makes():
  table = attributes.table("otb100")
  folders = otb.SUBSETS["otb100"]
  expected = {f"{f}.{t}" for f in ("Jogging", "Skating2") for t in (1, 2)}
  expected |= set(folders) - {"Jogging", "Skating2"}
  assert set(table) == expected and len(table) == 100
  # The OTB website's lists: a folder's attributes for each target.
  assert table["Jogging.1"] == table["Jogging.2"] == {"OCC", "DEF", "OPR"}
  assert table["Crossing"] == {"SV", "DEF", "FM", "OPR", "BC"}
  assert attributes.table("otb2013")["Crossing"] == {"SV", "DEF", "BC"}


def test_lasot_table_covers_the_test_split_with_the_toolkits_counts():
  table = attributes.table("lasot")
  assert list(table) == lasot.test_names()
  # LaSOT evaluation toolkit annos/att over testing_set.txt.
  assert _counts(table) == {
      "IV": 47, "POC": 187, "DEF": 142, "MB": 89, "CM": 86, "ROT": 175,
      "BC": 100, "VC": 33, "SV": 273, "FOC": 118, "FM": 53, "OV": 104,
      "LR": 141, "ARC": 249}
  assert table["airplane-1"] == {"POC", "ROT", "SV", "LR"}


def test_otb_attributes_of_a_root_leave_out_absent_ones_with_a_warning(
    tmp_path):
  fake_datasets.write_otb(tmp_path, {"Biker": 6, "Jogging": 6},
                          two_targets="Jogging")
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the subset's missing folders
    seqs = datasets.read("otb100", tmp_path)
  with pytest.warns(attributes.AttributeWarning) as caught:
    found = attributes.read("otb100", tmp_path, seqs)
  assert len(caught) == 1
  message = str(caught[0].message)
  assert "IV (Illumination Variation)" in message and "left out" in message
  assert "OCC" not in message.split("has")[1]
  assert [a for a, _ in found.names] == ["SV", "OCC", "DEF", "MB", "FM",
                                         "OPR", "OV", "LR"]
  assert found.sequences("DEF") == ["Jogging.1", "Jogging.2"]
  assert found.of["Biker"] == {"SV", "OCC", "MB", "FM", "OPR", "OV", "LR"}


def test_human4_is_read_as_its_second_target_and_found(tmp_path):
  fake_datasets.write_otb(tmp_path, {"Human4": 6}, two_targets="Human4")
  (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text("")
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the empty target, missing folders
    seqs = datasets.read("otb100", tmp_path)
    found = attributes.read("otb100", tmp_path, seqs)
  assert [s.name for s in seqs] == ["Human4"]
  assert found.of["Human4"] == {"IV", "SV", "OCC", "DEF"}


def test_a_folder_of_other_sequences_has_no_attributes_and_no_warning(
    tmp_path):
  fake_datasets.write_otb(tmp_path, {"mine": 5})
  seqs = datasets.read("otb", tmp_path)
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert attributes.read("otb", tmp_path, seqs) is None
    assert attributes.read("got10k", tmp_path, seqs) is None


def test_uav_attributes_are_read_from_the_download(tmp_path):
  flags = {"fakeA": [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
           "fakeB": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]}
  fake_datasets.write_uav(tmp_path, {"fakeA": 5, "fakeB": 6, "fakeC": 5},
                          flags)
  seqs = datasets.read("uav123", tmp_path)
  with pytest.warns(attributes.AttributeWarning) as caught:
    found = attributes.read("uav123", tmp_path, seqs)
  text = " ".join(str(w.message) for w in caught)
  assert "1 of 3 sequences have no attributes" in text and "fakeC" in text
  assert found.of == {"fakeA": {"SV", "FM", "CM"},
                      "fakeB": {"SV", "ARC", "SOB"}}
  assert [a for a, _ in found.names] == ["SV", "ARC", "FM", "CM", "SOB"]


def test_a_malformed_uav_attribute_file_is_named(tmp_path):
  fake_datasets.write_uav(tmp_path, {"fakeA": 5}, {"fakeA": [1, 0, 2]})
  seqs = datasets.read("uav123", tmp_path)
  path = tmp_path / "anno" / "UAV123" / "att" / "fakeA.txt"
  with pytest.raises(ValueError, match=f"{path}: expected 12 0/1"):
    attributes.read("uav123", tmp_path, seqs)


def test_a_download_without_attribute_files_says_so_once(tmp_path):
  fake_datasets.write_uav(tmp_path, {"fakeA": 5})
  seqs = datasets.read("uav123", tmp_path)
  with pytest.warns(attributes.AttributeWarning,
                    match="no attribute analysis") as caught:
    assert attributes.read("uav123", tmp_path, seqs) is None
  assert len(caught) == 1
