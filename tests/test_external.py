"""Tests of `external`: other trackers' raw results in their published
layouts, scored equal to the got10k toolkit's own `report` on the same
numbers (1e-6), and bad files refused in one line naming file and line.

The toolkit comparisons reuse the fake benchmark trees of
`tests/test_scoring.py`; the toolkit reads a got10k-layout copy of the
results, we read the same numbers in another layout (pytracking's tabs,
spaces, pysot's names, got10k's `<seq>/<seq>_001.txt`). They skip without
the toolkit (`pip install got10k==0.1.3 six`).
"""

# pylint: disable=protected-access

import os
import pathlib

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import datasets
from siamfc_jax.data import sequences
from siamfc_jax.evaluation import external
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring
from tests import fake_datasets
from tests import test_scoring as toolkit_cases

TOL = 1e-6
TRACKER = toolkit_cases.TRACKER


def _seq(name, gt, origin=1, **meta):
  return sequences.Sequence(name, [f"{i}.jpg" for i in range(len(gt))], gt,
                            {"origin": origin, **meta})


def _gt(n, seed):
  return toolkit_cases._boxes(n, seed)


def _write(path: pathlib.Path, rows, sep=",", fmt="%.3f") -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(sep.join(fmt % v for v in row) + "\n"
                          for row in rows))


# Each layout: (relative path of sequence `name`, separator).
LAYOUTS = {
    "got10k_otb": (lambda n: f"{n}.txt", ","),
    "pytracking": (lambda n: f"{n}.txt", "\t"),
    "spaces": (lambda n: f"{n}.txt", " "),
    "comma_space": (lambda n: f"{n}.txt", ", "),
    "got10k_folders": (lambda n: f"{n}/{n}_001.txt", ","),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_reads_the_boxes_written(layout, tmp_path):
  where, sep = LAYOUTS[layout]
  seqs, written = [], {}
  for seed, name in enumerate(["Biker", "Crossing"]):
    gt = _gt(7 + seed, seed)
    seqs.append(_seq(name, gt))
    pred = fake_datasets.perturb(gt, seed, lost=False)
    written[name] = np.round(pred + [1, 1, 0, 0], 3) - [1, 1, 0, 0]
    _write(tmp_path / where(name), pred + [1, 1, 0, 0], sep)
  runs = external.read(tmp_path, seqs, "otb100")
  for seq, boxes, seconds in runs:
    np.testing.assert_allclose(boxes, written[seq.name], atol=1e-9)
    assert seconds is None


def test_names_match_across_case_and_separators(tmp_path):
  gt = _gt(5, 0)
  seqs = [_seq("Jogging.1", gt), _seq("FleetFace", gt),
          _seq("Human4", gt, target=2), _seq("bird1_1", gt)]
  for stem in ("Jogging-1", "fleetface", "Human4-2", "bird1_1"):
    _write(tmp_path / f"{stem}.txt", gt + [1, 1, 0, 0])
  found = external.find(tmp_path, seqs, "otb100")
  assert {k: v[0].name for k, v in found.items()} == {
      "Jogging.1": "Jogging-1.txt", "FleetFace": "fleetface.txt",
      "Human4": "Human4-2.txt", "bird1_1": "bird1_1.txt"}


def test_two_files_for_one_sequence_are_refused(tmp_path):
  gt = _gt(5, 0)
  for stem in ("Jogging-1", "jogging_1"):
    _write(tmp_path / f"{stem}.txt", gt)
  with pytest.raises(ValueError, match="Jogging-1, jogging_1 all match "
                     "sequence Jogging.1"):
    external.find(tmp_path, [_seq("Jogging.1", gt)], "otb100")


def test_missing_sequences_are_named_in_one_line(tmp_path):
  gt = _gt(5, 0)
  seqs = [_seq(f"seq{i}", gt) for i in range(8)]
  _write(tmp_path / "seq0.txt", gt)
  with pytest.raises(ValueError) as caught:
    external.read(tmp_path, seqs, "otb100")
  message = str(caught.value)
  assert message.startswith(f"{tmp_path}: no results (<seq>.txt or "
                            "<seq>/<seq>_001.txt) for 7 of the 8 otb100 "
                            "sequences: seq1, seq2, seq3, seq4, seq5, ...")
  assert "\n" not in message


def _broken(tmp_path, case):
  """A result file broken as `case`; returns (sequence, expected text)."""
  gt = _gt(6, 0)
  lines = [",".join(f"{v:.3f}" for v in row) for row in gt + [1, 1, 0, 0]]
  path = tmp_path / "Biker.txt"
  if case == "fewer_boxes":
    lines = lines[:4]
    expected = f"{path}: 4 boxes but Biker has 6 frames"
  elif case == "nan_box":
    lines[3] = "NaN,NaN,NaN,NaN"
    expected = (f"{path}:4: NaN or infinite value in line "
                "'NaN,NaN,NaN,NaN', expected a finite box")
  elif case == "non_numeric_line":
    lines[2] = "10,9,twelve,12"
    expected = (f"{path}:3: non-numeric value in line '10,9,twelve,12', "
                "expected 4 numbers")
  elif case == "three_values":
    lines[1] = "1,2,3"
    expected = f"{path}:2: 3 values in line '1,2,3', expected 4"
  else:
    raise AssertionError(case)
  path.write_text("\n".join(lines) + "\n")
  return _seq("Biker", gt), expected


@pytest.mark.parametrize("case", ["fewer_boxes", "nan_box",
                                  "non_numeric_line", "three_values"])
def test_a_bad_file_is_refused_naming_the_file_and_line(case, tmp_path):
  seq, expected = _broken(tmp_path, case)
  with pytest.raises(ValueError) as caught:
    external.read(tmp_path, [seq], "otb100")
  assert str(caught.value) == expected


def test_longer_files_are_cut_with_one_warning(tmp_path):
  seqs = [_seq(f"s{i}", _gt(5, i)) for i in range(3)]
  for seq in seqs:
    _write(tmp_path / f"{seq.name}.txt",
           np.concatenate([seq.boxes, seq.boxes]) + [1, 1, 0, 0])
  with pytest.warns(external.ExternalResultsWarning) as caught:
    runs = external.read(tmp_path, seqs, "otb100")
  assert len(caught) == 1
  assert "3 result files" in str(caught[0].message)
  assert all(len(boxes) == 5 for _, boxes, _ in runs)
  # Sequences cut to max_frames: the files are cut silently.
  import warnings  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    external.read(tmp_path, seqs, "otb100", max_frames=5)


def test_times_beside_the_results_give_the_speed(tmp_path):
  seq = _seq("Biker", _gt(4, 0))
  _write(tmp_path / "Biker.txt", seq.boxes + [1, 1, 0, 0])
  results.write_times(tmp_path / "times" / "Biker_time.txt",
                      np.array([0.5, 0.25, 0.25, 0.5]))
  (_, _, seconds), = external.read(tmp_path, [seq], "otb100")
  np.testing.assert_allclose(seconds, [0.5, 0.25, 0.25, 0.5])
  report = scoring.score_runs([(seq, seq.boxes, seconds)], "otb100", "x",
                              tmp_path)
  assert report["overall"]["fps"] == pytest.approx(3.0)


def test_vot_records_codes_boxes_and_polygons(tmp_path):
  gt = _gt(6, 0)
  seq = _seq("bag", gt, origin=0)
  polygon = sequences.box_to_polygon(gt[4:5])[0]
  lines = ["1", ",".join(f"{v:.4f}" for v in gt[1]), "2", "0", "0",
           ",".join(f"{v:.4f}" for v in polygon)]
  path = tmp_path / "baseline" / "bag" / "bag_001.txt"
  path.parent.mkdir(parents=True)
  path.write_text("\n".join(lines) + "\n")
  (_, records, _), = external.read(tmp_path, [seq], "vot")
  assert records[0] == metrics.INIT and records[2] == metrics.FAILURE
  assert records[3] == records[4] == metrics.SKIPPED
  np.testing.assert_allclose(records[1], gt[1], atol=1e-4)
  np.testing.assert_allclose(records[5],
                             sequences.polygon_to_box(polygon), atol=1e-9)
  path.write_text("\n".join(["1", "3"] + lines[2:]) + "\n")
  with pytest.raises(ValueError, match=f"{path}:2: code '3', expected 0"):
    external.read(tmp_path, [seq], "vot")


def test_vot_scores_equal_ours_on_the_same_records(tmp_path):
  gt = _gt(8, 1)
  frame = tmp_path / "0001.jpg"  # VOT scores read the frame size
  Image.new("RGB", (640, 360)).save(frame)
  seq = sequences.Sequence("bag", [frame] * len(gt), gt, {"origin": 0})
  records = [1] + [gt[i] + 0.5 for i in range(1, 4)] + [2, 0, 0, 0]
  results.write_vot_records(tmp_path / "theirs" / "bag" / "bag_001.txt",
                            records)
  ours = scoring.score_runs([(seq, records, None)], "vot", "a", tmp_path,
                            None)
  runs = external.read(tmp_path / "theirs", [seq], "vot")
  theirs = scoring.score_runs(runs, "vot", "b", tmp_path, None)
  assert theirs["overall"] == ours["overall"]


def test_our_tracker_s_name_is_refused_and_nothing_of_ours_written(
    tmp_path):
  output = tmp_path / "out"
  ours = results.settings_file(output, "otb100", "siamfc-3s")
  ours.parent.mkdir(parents=True)
  ours.write_text("{}")
  theirs = tmp_path / "theirs"
  seq = _seq("Biker", _gt(4, 0))
  _write(theirs / "Biker.txt", seq.boxes + [1, 1, 0, 0])
  with pytest.raises(ValueError, match="holds our tracker's results"):
    external.evaluate("siamfc-3s", theirs, [seq], "otb100", output)
  before = {p: p.stat().st_mtime_ns for p in theirs.rglob("*")}
  report, path = external.evaluate("SiamRPN", theirs, [seq], "otb100",
                                   output)
  assert path == output / "reports" / "OTB2015" / "SiamRPN" / "report.json"
  assert report["external"] and report["results_dir"] == str(theirs)
  assert {p: p.stat().st_mtime_ns for p in theirs.rglob("*")} == before
  assert sorted(os.listdir(output / "results" / "OTB2015")) == ["siamfc-3s"]


# --- against the got10k toolkit --------------------------------------------

# protocol -> layout of the numbers we read (the toolkit reads got10k's).
TOOLKIT_LAYOUTS = {"otb2013": "pytracking", "otb100": "spaces",
                   "uav123": "got10k_folders", "uav20l": "comma_space"}


@pytest.mark.parametrize("protocol", sorted(TOOLKIT_LAYOUTS))
def test_raw_results_score_as_the_toolkit_reports_them(protocol, tmp_path,
                                                       monkeypatch):
  build, lengths, make_experiment = toolkit_cases.CASES[protocol]
  root, output, theirs = tmp_path / "data", tmp_path / "out", tmp_path / "raw"
  root.mkdir()
  truth = build(root, lengths)
  experiment = make_experiment(root, str(output / "results"), monkeypatch)
  monkeypatch.setattr(type(experiment), "plot_curves", lambda *_: None)
  where, sep = LAYOUTS[TOOLKIT_LAYOUTS[protocol]]
  seqs = []
  for seed, (name, (gt, origin)) in enumerate(sorted(truth.items())):
    pred = fake_datasets.perturb(np.nan_to_num(gt, nan=50.0), seed,
                                 lost=False)
    pred[0] = gt[0] if np.all(np.isfinite(gt[0])) else pred[0]
    results.write_boxes(results.result_file(output, protocol, TRACKER, name),
                        pred, origin)
    _write(theirs / where(name), results.shift(pred, origin), sep)
    seqs.append(_seq(name, gt, origin))
  ours = scoring.score_runs(external.read(theirs, seqs, protocol), protocol,
                            TRACKER, theirs)
  toolkit = experiment.report([TRACKER])[TRACKER]
  pairs = [("success_score", "auc"), ("precision_score", "precision20"),
           ("success_rate", "success_rate")]
  for name, scores in toolkit["seq_wise"].items():
    for their_key, our_key in pairs:
      assert ours["sequences"][name][our_key] == pytest.approx(
          scores[their_key], abs=TOL), (name, our_key)
  for their_key, our_key in pairs:
    assert ours["overall"][our_key] == pytest.approx(
        toolkit["overall"][their_key], abs=TOL), our_key
  np.testing.assert_allclose(ours["overall"]["success_curve"],
                             toolkit["overall"]["success_curve"], atol=TOL)
  assert 0.2 < ours["overall"]["auc"] < 0.9


def test_got10k_repetitions_pool_as_the_toolkit_reports_them(tmp_path,
                                                            monkeypatch):
  module = toolkit_cases._toolkit("got10k.experiments.got10k")
  root = tmp_path / "GOT-10k"
  fake_datasets.write_got10k(root / "val", {"GOT-10k_Val_000001": 9,
                                            "GOT-10k_Val_000002": 11})
  experiment = module.ExperimentGOT10k(
      str(root), subset="val", result_dir=str(tmp_path / "results"),
      report_dir=str(tmp_path / "reports"))
  monkeypatch.setattr(type(experiment), "plot_curves", lambda *_: None)
  seqs = datasets.read("got10k", root / "val")
  folder = tmp_path / "results" / "GOT-10k" / TRACKER
  rng = np.random.default_rng(0)
  for seq in seqs:
    for run in range(3):
      pred = fake_datasets.perturb(seq.boxes, 10 * run + len(seq),
                                   lost=False)
      pred[0] = seq.boxes[0]
      _write(folder / seq.name / f"{seq.name}_{run + 1:03d}.txt", pred)
    results.write_times(folder / seq.name / f"{seq.name}_time.txt",
                        rng.uniform(0.01, 0.05, len(seq)))
  runs = external.read(folder, seqs, "got10k")
  assert runs[0][1].shape == (3, len(seqs[0]), 4)
  ours = scoring.score_runs(runs, "got10k", TRACKER, folder)
  toolkit = experiment.report([TRACKER])[TRACKER]
  assert ours["overall"]["ao"] == pytest.approx(toolkit["overall"]["ao"],
                                                abs=TOL)
  assert ours["overall"]["sr50"] == pytest.approx(toolkit["overall"]["sr"],
                                                  abs=TOL)
  assert ours["overall"]["fps"] == pytest.approx(
      toolkit["overall"]["speed_fps"], abs=TOL)
  np.testing.assert_allclose(ours["overall"]["success_curve"],
                             toolkit["overall"]["succ_curve"], atol=TOL)
  for name, scores in toolkit["seq_wise"].items():
    assert ours["sequences"][name]["ao"] == pytest.approx(scores["ao"],
                                                          abs=TOL)
    assert ours["sequences"][name]["sr50"] == pytest.approx(scores["sr"],
                                                            abs=TOL)
  assert 0.2 < ours["overall"]["ao"] < 0.95
