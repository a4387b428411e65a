"""Tests of `siamfc_jax.evaluation.attributes`: per-attribute success AUC,
precision and normalised precision of raw result files equal
pysot-toolkit's definitions (`tests/references.py`, written again from its
source) on the same files, to 1e-6; one plot per attribute.

Synthetic result files (pysot's layout: `<seq>.txt`, frame 0 the initial
box, as pysot and the toolkits store it) over fake OTB-100 and LaSOT trees
whose sequence names carry the shipped attribute tables' attributes.
"""

import warnings

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import datasets
from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import attributes as attributes_lib
from siamfc_jax.evaluation import attributes
from siamfc_jax.evaluation import external
from tests import fake_datasets
from tests import references

TOL = 1e-6
OTB = {"Biker": 24, "Crossing": 30, "Vase": 22, "Jogging": 26, "Bolt": 28,
       "Car4": 25}
LASOT = {"airplane-1": 30, "airplane-9": 26, "basketball-1": 28,
         "bear-2": 24}
LASOT_ABSENT = {"airplane-1": [5, 6, 7], "bear-2": [10, 11, 12, 13, 20]}


def _read(benchmark, root):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the benchmark's folders not faked
    seqs = datasets.read(benchmark, root)
    return seqs, attributes_lib.read(benchmark, root, seqs)


def _write_results(folder, seqs, seed=0):
  """pysot-layout files: the first box, then perturbed ground truth."""
  for k, seq in enumerate(seqs):
    pred = fake_datasets.perturb(seq.boxes, seed + k, lost=False)
    pred[0] = seq.boxes[0]
    folder.mkdir(parents=True, exist_ok=True)
    np.savetxt(folder / f"{seq.name.replace('.', '-')}.txt",
               pred + [1, 1, 0, 0], fmt="%.3f", delimiter=",")


def _pysot(seqs, folder, present=None):
  """pysot's curves per video from the raw files (1-based, as stored)."""
  curves = {}
  for seq in seqs:
    gt = sequences.read_numbers(seq.meta["gt_file"], (4,))  # raw values
    pred = np.loadtxt(folder / f"{seq.name.replace('.', '-')}.txt",
                      delimiter=",", ndmin=2)
    curves[seq.name] = references.pysot_curves(
        gt, pred, None if present is None else present[seq.name])
  return curves


def _check(report, attrs, curves):
  for abbreviation, entry in report["attributes"].items():
    videos = attrs.sequences(abbreviation)
    theirs = references.pysot_scores([curves[v] for v in videos])
    assert entry["sequences"] == len(videos)
    for key, value in theirs.items():
      assert entry[key] == pytest.approx(value, abs=TOL), (abbreviation, key)
  overall = references.pysot_scores(list(curves.values()))
  for key, value in overall.items():
    assert report["overall"][key] == pytest.approx(value, abs=TOL), key


def test_otb_attribute_scores_equal_pysot_toolkit(tmp_path):
  root = tmp_path / "OTB100"
  fake_datasets.write_otb(root, OTB, two_targets="Jogging")
  seqs, attrs = _read("otb100", root)
  folder = tmp_path / "SiamRPN"
  _write_results(folder, seqs)
  report, _ = external.evaluate("SiamRPN", folder, seqs, "otb100",
                                tmp_path / "out", attrs)
  # Car4 brings IV, Biker MB, OV and LR, Crossing BC: all 11.
  assert list(report["attributes"]) == [a for a, _ in attributes_lib.OTB]
  _check(report, attrs, _pysot(seqs, folder))
  # Not all hits, not all misses: the curves decide something.
  assert 0.2 < report["overall"]["norm_precision"] < 0.95


def test_lasot_attribute_scores_with_absent_frames_equal_pysot_toolkit(
    tmp_path):
  root = tmp_path / "LaSOT"
  fake_datasets.write_lasot(root, LASOT, LASOT_ABSENT)
  seqs, attrs = _read("lasot", root)
  folder = tmp_path / "ToMP"
  _write_results(folder, seqs, seed=3)
  report, _ = external.evaluate("ToMP", folder, seqs, "lasot",
                                tmp_path / "out", attrs)
  # pysot's LaSOT.json 'absent' field is 1 where the target is visible.
  present = {s.name: ~s.meta["absent"] for s in seqs}
  assert sum(int(np.sum(~p)) for p in present.values()) == 8
  _check(report, attrs, _pysot(seqs, folder, present))
  assert len(report["attributes"]) >= 8


def test_attributes_without_scored_sequences_are_left_out():
  attrs = attributes_lib.Attributes(
      "otb100", (("IV", "Illumination Variation"), ("SV", "Scale")),
      {"a": frozenset({"IV"}), "b": frozenset({"SV"})})
  curve = {"success_curve": np.ones(21), "precision_curve": np.ones(51),
           "norm_precision_curve": np.ones(51)}
  report = {"protocol": "otb100", "sequences": {
      "a": curve, "b": {k: None for k in curve}}}
  found = attributes.scores(report, attrs)
  assert list(found) == ["IV"] and found["IV"]["auc"] == 1.0
  with pytest.raises(ValueError, match="one-pass"):
    attributes.scores({"protocol": "got10k", "sequences": {}}, attrs)


def test_one_plot_per_attribute_with_every_tracker(tmp_path):
  root = tmp_path / "OTB100"
  fake_datasets.write_otb(root, OTB, two_targets="Jogging")
  seqs, attrs = _read("otb100", root)
  found = []
  for seed, name in enumerate(("A", "B", "C")):
    _write_results(tmp_path / name, seqs, seed)
    found.append(external.evaluate(name, tmp_path / name, seqs, "otb100",
                                   tmp_path / "out", attrs)[0])
  plots = attributes.plot(found, tmp_path / "plots")
  assert [p.stem for p in plots] == list(found[0]["attributes"])
  assert all(p.parent == tmp_path / "plots" / attributes.FOLDER
             for p in plots)
  with Image.open(plots[0]) as image:
    width, height = image.size
  assert width > 2.5 * height  # three panels side by side
