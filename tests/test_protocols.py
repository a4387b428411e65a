"""Tests of `protocols` (run, evaluate) and `experiments.evaluate`."""

import json
import pathlib
import subprocess
import sys
import types
import zipfile

import jax
import numpy as np
import pytest

from siamfc_jax import model
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import datasets as datasets_lib
from siamfc_jax.data import sequences
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import protocols
from tests import clips
from tests import fake_datasets

REPO = pathlib.Path(__file__).resolve().parents[1]
SPEC, PARAMS = clips.SPEC, clips.PARAMS  # 1/8-width AlexNet, small crops
OTB_LENGTHS = {"Alpha": 6, "Beta": 4, "Gamma": 5}
GOT10K_LENGTHS = {"GOT-10k_Val_000001": 6, "GOT-10k_Val_000002": 5}
# The target of "jumpy" leaves the tracker's reach on frame 1.
VOT_LENGTHS = {"jumpy": 8, "steady": 6}
# The protocols of the layouts `sequences.read_dataset` reads.
LAYOUTS = ("otb", "got10k", "vot")


@pytest.fixture(scope="module")
def variables():
  return model.init(SPEC, jax.random.key(0))  # slow: once per module


@pytest.fixture(scope="module")
def tracker(variables):
  return tracker_lib.Tracker(SPEC, variables, PARAMS, name="tiny")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
  """protocol -> (root, 0-based boxes per sequence); written once."""
  root = tmp_path_factory.mktemp("datasets")
  return {
      "otb": (root / "otb", fake_datasets.write_otb(
          root / "otb", OTB_LENGTHS, two_targets="Gamma")),
      "got10k": (root / "got10k",
                 fake_datasets.write_got10k(root / "got10k", GOT10K_LENGTHS)),
      "vot": (root / "vot", fake_datasets.write_vot(
          root / "vot", VOT_LENGTHS, jump_at={"jumpy": 1})),
  }


def _read(datasets, protocol):
  root, _ = datasets[protocol]
  return datasets_lib.read(protocol, root)


@pytest.fixture(scope="module")
def evaluated(tracker, datasets, tmp_path_factory):
  """protocol -> (output folder, `Evaluation`) of one batched run each."""
  out = {}
  for protocol in LAYOUTS:
    output = tmp_path_factory.mktemp(f"eval_{protocol}")
    out[protocol] = (output, protocols.evaluate(
        tracker, _read(datasets, protocol), protocol, output))
  return out


def _result_files(output: pathlib.Path) -> dict[str, bytes]:
  """Relative path -> bytes of every result file except the timings."""
  root = output / "results"
  return {str(p.relative_to(root)): p.read_bytes()
          for p in sorted(root.rglob("*.txt")) if "_time" not in p.name}


def test_otb_results_follow_the_toolkit_layout_in_1_based_coordinates(
    evaluated, datasets):
  output, result = evaluated["otb"]
  _, gt = datasets["otb"]
  assert sorted(result.tracked) == ["Alpha", "Beta", "Gamma.1", "Gamma.2"]
  folder = output / "results" / "OTB" / "tiny"
  assert sorted(p.name for p in folder.glob("*.txt")) == [
      "Alpha.txt", "Beta.txt", "Gamma.1.txt", "Gamma.2.txt"]
  for name, boxes in gt.items():
    lines = (folder / f"{name}.txt").read_text().splitlines()
    assert len(lines) == len(boxes)
    # Row 0 is the annotation file's first box: 1-based, `%.3f`.
    x, y, w, h = boxes[0] + [1, 1, 0, 0]
    assert lines[0] == f"{x:.3f},{y:.3f},{w:.3f},{h:.3f}"
    times = np.loadtxt(folder / "times" / f"{name}_time.txt")
    assert times.shape == (len(boxes),) and np.all(times > 0)


def test_got10k_results_follow_the_toolkit_layout_in_0_based_coordinates(
    evaluated, datasets):
  output, _ = evaluated["got10k"]
  _, gt = datasets["got10k"]
  for name, boxes in gt.items():
    folder = output / "results" / "GOT-10k" / "tiny" / name
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{name}_001.txt", f"{name}_time.txt"]
    got = np.loadtxt(folder / f"{name}_001.txt", delimiter=",")
    assert got.shape == boxes.shape
    np.testing.assert_array_equal(got[0], boxes[0])
    assert np.loadtxt(folder / f"{name}_time.txt").shape == (len(boxes),)


def test_vot_records_mark_init_failure_skip_and_reinitialise(evaluated):
  output, result = evaluated["vot"]
  folder = output / "results" / "VOT" / "tiny" / "baseline" / "jumpy"
  lines = (folder / "jumpy_001.txt").read_text().splitlines()
  # Fails on frame 1, skips 5 - 1 frames, re-initialises on frame 6.
  assert lines[:7] == ["1", "2", "0", "0", "0", "0", "1"]
  assert len(lines) == 8 and len(lines[7].split(",")) == 4
  times = (folder / "jumpy_time.txt").read_text().splitlines()
  assert times[2:6] == ["NaN"] * 4 and all(
      float(t) > 0 for t in times[:2] + times[6:])
  steady = (folder.parent / "steady" / "steady_001.txt").read_text()
  assert steady.splitlines()[0] == "1" and "\n2\n" not in steady
  assert result.report["sequences"]["jumpy"]["failures"] == 1
  assert result.report["sequences"]["steady"]["failures"] == 0


@pytest.mark.parametrize("protocol", LAYOUTS)
def test_rerun_rescores_without_tracking_unless_overwrite(
    protocol, evaluated, tracker, datasets):
  output, first = evaluated[protocol]
  report = first.report_file.read_text()
  before = {p: p.stat().st_mtime_ns for p in (output / "results").rglob("*")}
  again = protocols.evaluate(tracker, _read(datasets, protocol), protocol,
                             output)
  assert again.tracked == []
  assert {p: p.stat().st_mtime_ns
          for p in (output / "results").rglob("*")} == before
  assert again.report_file.read_text() == report


def test_overwrite_tracks_again(tracker, datasets, tmp_path):
  seqs = _read(datasets, "otb")[:1]
  protocols.run(tracker, seqs, "otb", tmp_path)
  assert protocols.run(tracker, seqs, "otb", tmp_path) == []
  assert protocols.run(tracker, seqs, "otb", tmp_path,
                       overwrite=True) == [seqs[0].name]


def _five_scales(tracker):
  """The same network and name, with 5 scales: another tracker."""
  return tracker_lib.Tracker(tracker.spec, tracker.variables,
                             tracker.params.override("num_scales=5"),
                             tracker.name)


def test_results_of_another_tracker_of_the_same_name_are_not_rescored(
    tracker, datasets, tmp_path):
  seqs = _read(datasets, "otb")[:1]
  protocols.run(tracker, seqs, "otb", tmp_path)
  five = _five_scales(tracker)
  with pytest.raises(ValueError, match=r"params.num_scales \(3 there, 5 now\)"):
    protocols.run(five, seqs, "otb", tmp_path)
  other_weights = tracker_lib.Tracker(
      tracker.spec, model.init(SPEC, jax.random.key(1)), tracker.params,
      tracker.name)
  with pytest.raises(ValueError, match="weights_sha256"):
    protocols.run(other_weights, seqs, "otb", tmp_path)
  assert protocols.run(five, seqs, "otb", tmp_path, overwrite=True) == [
      seqs[0].name]
  assert protocols.run(five, seqs, "otb", tmp_path) == []


def test_overwrite_by_another_tracker_leaves_none_of_the_old_results(
    tracker, datasets, tmp_path):
  seqs = _read(datasets, "otb")[:2]
  protocols.run(tracker, seqs, "otb", tmp_path)
  five = _five_scales(tracker)
  protocols.run(five, seqs[:1], "otb", tmp_path, overwrite=True)
  assert not protocols.result_file(tmp_path, "otb", five.name,
                                   seqs[1].name).exists()
  assert protocols.run(five, seqs, "otb", tmp_path) == [seqs[1].name]


@pytest.mark.parametrize("protocol", ["otb", "got10k"])
def test_batched_and_sequential_runs_write_identical_result_files(
    protocol, evaluated, tracker, datasets, tmp_path):
  batched, _ = evaluated[protocol]
  protocols.run(tracker, _read(datasets, protocol), protocol, tmp_path,
                batch_size=1)
  got, want = _result_files(tmp_path), _result_files(batched)
  assert len(want) >= 2 and got == want


class _OtherBackend:
  """`tracker` as if on a backend without lock-step batches.

  Notes the result files in `folder` as each sequence starts, and fails at
  the start of the `fail_at`-th, as a run that is killed stops.
  """

  def __init__(self, tracker, folder: pathlib.Path, fail_at: int):
    self._tracker, self._folder, self._fail_at = tracker, folder, fail_at
    self.backend = types.SimpleNamespace(name="onnxruntime")
    self.found = []

  def __getattr__(self, name):  # name, settings, ...: the tracker's
    return getattr(self._tracker, name)

  def track(self, frames, box, progress=None):
    self.found.append(sorted(p.name for p in self._folder.glob("*.txt")))
    if len(self.found) == self._fail_at:
      raise RuntimeError("stopped")
    return self._tracker.track(frames, box, progress)


def test_without_lock_step_each_sequence_is_stored_once_tracked(
    evaluated, tracker, datasets, tmp_path):
  seqs = _read(datasets, "otb")
  stopped = _OtherBackend(tracker, tmp_path / "results" / "OTB" / "tiny",
                          fail_at=len(seqs))
  lines = []
  with pytest.raises(RuntimeError, match="stopped"):
    protocols.run(stopped, seqs, "otb", tmp_path, log=lines.append,
                  progress_bar=True)  # the default batch size
  # One at a time, longest first, each stored before the next starts.
  order = ["Alpha", "Gamma.1", "Gamma.2", "Beta"]
  assert stopped.found == [sorted(f"{n}.txt" for n in order[:i])
                           for i in range(len(order))]
  assert [line.split(":")[0] for line in lines] == order[:-1]
  # What the stopped run stored is kept: the next run tracks the rest.
  assert protocols.run(tracker, seqs, "otb", tmp_path) == order[-1:]
  assert _result_files(tmp_path) == _result_files(evaluated["otb"][0])


def test_otb_report_equals_metrics_computed_directly(evaluated, datasets):
  output, result = evaluated["otb"]
  report = json.loads(result.report_file.read_text())
  seqs = _read(datasets, "otb")
  pairs = []
  for seq in seqs:
    path = output / "results" / "OTB" / "tiny" / f"{seq.name}.txt"
    pred = np.loadtxt(path, delimiter=",") - [1, 1, 0, 0]  # 1-based files
    want = metrics.otb_scores(pred, seq.boxes)
    got = report["sequences"][seq.name]
    for key in ("auc", "precision20", "success_rate"):
      assert got[key] == pytest.approx(want[key], abs=1e-12)
    times = np.loadtxt(output / "results" / "OTB" / "tiny" / "times" /
                       f"{seq.name}_time.txt")
    assert got["fps"] == pytest.approx(np.mean(1 / times), rel=1e-12)
    pairs.append((pred, seq.boxes))
  want = metrics.otb_report(pairs)
  overall = report["overall"]
  for key in ("auc", "precision20", "success_rate"):
    assert overall[key] == pytest.approx(want[key], abs=1e-12)
  np.testing.assert_allclose(overall["success_curve"], want["success_curve"],
                             atol=1e-12)
  np.testing.assert_allclose(overall["precision_curve"],
                             want["precision_curve"], atol=1e-12)
  assert overall["fps"] == pytest.approx(
      np.mean([s["fps"] for s in report["sequences"].values()]))


def test_got10k_report_equals_metrics_computed_directly(evaluated, datasets):
  output, result = evaluated["got10k"]
  report = json.loads(result.report_file.read_text())
  items = []
  for seq in _read(datasets, "got10k"):
    pred = np.loadtxt(output / "results" / "GOT-10k" / "tiny" / seq.name /
                      f"{seq.name}_001.txt", delimiter=",")
    item = (pred, seq.boxes, seq.meta["cover"], seq.meta["resolution"])
    want = metrics.got10k_scores([item])
    got = report["sequences"][seq.name]
    assert got["scored_frames"] == len(seq) - 2  # frame 0, cover-0 frame 2
    for key in ("ao", "sr50", "sr75"):
      assert got[key] == pytest.approx(want[key], abs=1e-12)
    items.append(item)
  want = metrics.got10k_scores(items)
  for key in ("ao", "sr50", "sr75"):
    assert report["overall"][key] == pytest.approx(want[key], abs=1e-12)


def test_vot_report_equals_metrics_computed_directly(evaluated, datasets):
  output, result = evaluated["vot"]
  report = json.loads(result.report_file.read_text())
  runs = []
  for seq in _read(datasets, "vot"):
    folder = output / "results" / "VOT" / "tiny" / "baseline" / seq.name
    records = protocols.read_vot_records(folder / f"{seq.name}_001.txt")
    overlaps = metrics.vot_overlaps(records, seq.meta["polygons"],
                                    (fake_datasets.WIDTH,
                                     fake_datasets.HEIGHT))
    got = report["sequences"][seq.name]
    assert got["accuracy"] == pytest.approx(
        metrics.vot_accuracy(records, overlaps)[0], abs=1e-12)
    runs.append([(records, overlaps)])
  want = metrics.vot_report(runs, protocols.DEFAULT_EAO_INTERVAL)
  for key in ("accuracy", "failures", "total_failures", "robustness"):
    assert report["overall"][key] == pytest.approx(want[key], abs=1e-12)
  # 8-frame sequences are shorter than the EAO interval: undefined.
  assert np.isnan(want["eao"]) and report["overall"]["eao"] is None


def test_vot_frames_after_the_last_annotated_one_are_not_scored(
    evaluated, datasets):
  """A ground truth shorter than the frames (`sequences.match_lengths`)."""
  output, _ = evaluated["vot"]
  seq = next(s for s in _read(datasets, "vot") if s.name == "steady")
  n = len(seq) - 2
  boxes, polygons = seq.boxes.copy(), seq.meta["polygons"].copy()
  boxes[n:], polygons[n:] = np.nan, np.nan
  short = sequences.Sequence(seq.name, seq.frames, boxes,
                             dict(seq.meta, polygons=polygons))
  report = protocols.score([short], "vot", output, "tiny", (1, n))
  folder = output / "results" / "VOT" / "tiny" / "baseline" / seq.name
  records = protocols.read_vot_records(folder / f"{seq.name}_001.txt")
  size = (fake_datasets.WIDTH, fake_datasets.HEIGHT)

  def scores(k):
    overlaps = metrics.vot_overlaps(records[:k], polygons[:k], size)
    return metrics.vot_report([[(records[:k], overlaps)]], (1, n))

  want, uncut = scores(n), scores(len(seq))
  for key in ("accuracy", "failures", "eao"):
    assert report["overall"][key] == pytest.approx(want[key], abs=1e-12)
  # Uncut, EAO would count the unannotated frames as zero overlap.
  assert report["overall"]["eao"] > uncut["eao"] + 0.01


def test_plots_are_png_files_and_include_other_trackers(
    evaluated, datasets, variables):
  output, result = evaluated["otb"]
  png = b"\x89PNG\r\n\x1a\n"
  names = sorted(p.name for p in result.plots)
  assert names == ["norm_precision_plots.png", "precision_plots.png",
                   "success_plots.png"]
  assert all(p.read_bytes()[:8] == png for p in result.plots)
  assert result.report["plots"] == [str(p) for p in result.plots]
  _, got10k = evaluated["got10k"]
  assert [p.name for p in got10k.plots] == ["success_plot.png"]
  # A second tracker on the same sequences is drawn with the first.
  other = tracker_lib.Tracker(SPEC, variables, PARAMS, name="tiny-again")
  second = protocols.evaluate(other, _read(datasets, "otb")[:2], "otb",
                              output)
  assert protocols.comparable_reports(output, second.report) == []
  third = protocols.evaluate(other, _read(datasets, "otb"), "otb", output,
                             overwrite=False)
  assert [r["tracker"] for r in
          protocols.comparable_reports(output, third.report)] == ["tiny"]


def test_max_frames_truncates_and_a_later_full_run_names_the_stale_file(
    tracker, datasets, tmp_path):
  seqs = _read(datasets, "otb")[:1]
  short = protocols.evaluate(tracker, seqs, "otb", tmp_path, max_frames=3)
  name = seqs[0].name
  assert short.report["sequences"][name]["frames"] == 3
  path = tmp_path / "results" / "OTB" / "tiny" / f"{name}.txt"
  assert len(path.read_text().splitlines()) == 3
  with pytest.raises(ValueError, match=f"{path}: 3 results but"):
    protocols.evaluate(tracker, seqs, "otb", tmp_path)
  full = protocols.evaluate(tracker, seqs, "otb", tmp_path, overwrite=True)
  assert full.report["sequences"][name]["frames"] == len(seqs[0])


def test_length_batches_group_similar_lengths_longest_first():
  seqs = [sequences.Sequence(str(n), [f"{i}.jpg" for i in range(n)],
                             np.zeros((n, 4))) for n in (3, 20, 9, 10, 11, 4)]
  batches = protocols.length_batches(seqs, batch_size=2)
  assert [[len(s) for s in b] for b in batches] == [[20], [11, 10], [9],
                                                    [4, 3]]
  # 11 < 0.75 * 20 and 4 < 0.75 * 9 start new batches.
  batches = protocols.length_batches(seqs, batch_size=8)
  assert [[len(s) for s in b] for b in batches] == [[20], [11, 10, 9], [4, 3]]


def _relabelled(seqs, benchmark, **meta):
  """The sequences as another benchmark's reader would give them."""
  return [sequences.Sequence(s.name, s.frames, meta.pop("boxes", s.boxes),
                             {"format": benchmark, "benchmark": benchmark,
                              "origin": 0, **meta}) for s in seqs]


def test_lasot_runs_one_pass_and_scores_absent_frames_as_misses(
    tracker, datasets, tmp_path):
  seqs = []
  for seq in _read(datasets, "otb"):
    absent = np.zeros(len(seq), bool)
    absent[2] = True  # full occlusion: a miss whatever the tracker says
    seqs += _relabelled([seq], "lasot", absent=absent)
  result = protocols.evaluate(tracker, seqs, "lasot", tmp_path)
  pairs = []
  for seq in seqs:
    path = tmp_path / "results" / "LaSOT" / "tiny" / f"{seq.name}.txt"
    pairs.append((np.loadtxt(path, delimiter=","), seq.boxes,
                  seq.meta["absent"]))
  want = metrics.otb_report(pairs, absent_rule="miss")
  for key in ("auc", "precision20", "norm_precision"):
    assert result.report["overall"][key] == pytest.approx(want[key],
                                                          abs=1e-12)
  # Frame 2 of each sequence is a miss: precision cannot reach 1.
  for scores in result.report["sequences"].values():
    assert scores["precision20"] <= 1 - 1 / scores["frames"]
  assert result.submission is None


def test_trackingnet_test_split_is_packed_for_the_server(
    tracker, datasets, tmp_path):
  seqs = []
  for seq in _read(datasets, "otb")[:2]:
    first_only = np.full_like(seq.boxes, np.nan)
    first_only[0] = seq.boxes[0]
    seqs += _relabelled([seq], "trackingnet", boxes=first_only)
  result = protocols.evaluate(tracker, seqs, "trackingnet", tmp_path)
  assert result.submission == (tmp_path / "results" / "TrackingNet" /
                               "tiny.zip")
  with zipfile.ZipFile(result.submission) as archive:
    assert sorted(archive.namelist()) == sorted(f"{s.name}.txt"
                                                for s in seqs)
    for seq in seqs:
      assert archive.read(f"{seq.name}.txt") == protocols.result_file(
          tmp_path, "trackingnet", "tiny", seq.name).read_bytes()
  assert result.report["overall"]["auc"] is None
  assert "evaluation server" in result.report["overall"]["note"]
  assert result.plots == []
  assert "submission: " in protocols.format_table(result.report)


def _evaluate_cli(*args):
  return subprocess.run(
      [sys.executable, "-m", "experiments.evaluate", *args], cwd=REPO,
      capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("make_root", [
    lambda tmp: tmp / "missing",
    lambda tmp: tmp,  # exists, but holds no sequence folder
])
def test_cli_names_a_missing_or_empty_dataset_root(make_root, tmp_path):
  root = make_root(tmp_path)
  run = _evaluate_cli("--dataset=otb", f"--root={root}",
                      f"--output={tmp_path / 'out'}")
  assert run.returncode != 0
  assert str(root) in run.stderr and "Traceback" not in run.stderr


def test_cli_evaluates_real_sequences_end_to_end(data_dir, tmp_path):
  """Two real sequences, one OTB and one VOT layout, 8 frames each."""
  root = tmp_path / "data"
  root.mkdir()
  for name in ("eco_Crossing", "vot15_bag"):
    source = data_dir / "sequences" / name
    if not source.is_dir():
      pytest.skip(f"{source} not found")
    (root / name).symlink_to(source)
  output = tmp_path / "out"
  run = _evaluate_cli("--dataset=otb", f"--root={root}", f"--output={output}",
                      "--max_frames=8")
  assert run.returncode == 0, run.stderr
  report = json.loads((output / "reports" / "OTB" / "siamfc-3s" /
                       "report.json").read_text())
  assert set(report["sequences"]) == {"eco_Crossing", "vot15_bag"}
  assert report["max_frames"] == 8
  # The original network follows both targets over 8 easy frames.
  for scores in report["sequences"].values():
    assert scores["frames"] == 8 and scores["auc"] > 0.6
  assert "eco_Crossing" in run.stdout and "mean" in run.stdout
  # The OTB file is in the annotation file's 1-based coordinates.
  gt_first = open(root / "eco_Crossing" / "groundtruth_rect.txt").readline()
  result = output / "results" / "OTB" / "siamfc-3s" / "eco_Crossing.txt"
  np.testing.assert_allclose(
      np.loadtxt(result, delimiter=",")[0],
      [float(v) for v in gt_first.replace(",", " ").split()])
  for plot in ("success_plots.png", "precision_plots.png"):
    assert (output / "reports" / "OTB" / "siamfc-3s" / plot).is_file()
