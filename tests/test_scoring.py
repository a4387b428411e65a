"""Tests of `scoring`: our scores of stored results against the got10k
toolkit's own `report` on the same files, and the absent-frame rules.

Each toolkit test writes a tiny fake tree in the layout the toolkit's
dataset class reads (annotation files and empty frame files: `report` reads
only the annotations, the result files and the time files), writes tracker
results with our writers under the folder the toolkit's experiment names,
and compares its `report` with our `score` to 1e-6. They skip without the
toolkit (`pip install got10k==0.1.3 six`).
"""

# The toolkit's experiments are built around partial trees.
# pylint: disable=protected-access

import functools
import json

import numpy as np
import pytest

from siamfc_jax.data import sequences
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring
from tests import fake_datasets

TOL = 1e-6
TRACKER = "tk"


def _toolkit(module: str):
  return pytest.importorskip(
      module, reason="got10k toolkit not installed: pip install "
      "got10k==0.1.3 six (shapely, fire, wget, matplotlib)")


def _boxes(n: int, seed: int) -> np.ndarray:
  """[n, 4] 0-based boxes of a target wandering over a 640 x 360 frame."""
  rng = np.random.default_rng(seed)
  xy = 100 + np.cumsum(rng.normal(0, 3, (n, 2)), axis=0)
  wh = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, 2)), axis=0))
  return np.round(np.concatenate([xy, wh], axis=1), 2)


def _touch_frames(folder, n: int, pattern: str = "{:04d}.jpg") -> None:
  folder.mkdir(parents=True, exist_ok=True)
  for i in range(1, n + 1):
    (folder / pattern.format(i)).touch()


def _save(path, rows, fmt="%.2f", sep=","):
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savetxt(path, rows, fmt=fmt, delimiter=sep)


# Builders: (root, lengths) -> {name: (0-based gt with NaN rows, origin)},
# writing the toolkit's layout; the toolkit reads the files with the origin
# added, as the benchmark ships them.


def _otb_tree(root, lengths):
  out = {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    gt = _boxes(n, seed)
    _save(root / name / "groundtruth_rect.txt", gt + [1, 1, 0, 0])
    _touch_frames(root / name / "img", n)
    out[name] = (gt, 1)
  return out


def _uav_tree(version):
  def build(root, lengths):
    meta = json.loads((_uav_json()).read_text())[version]
    out = {}
    for seed, name in enumerate(sorted(lengths)):
      n = meta[name]["end_frame"] - meta[name]["start_frame"] + 1
      gt = _boxes(n, seed)
      gt[n // 3:n // 3 + 7] = np.nan  # the target leaves the view
      _save(root / "anno" / version / f"{name}.txt", gt + [1, 1, 0, 0])
      (root / "data_seq" / "UAV123" / meta[name]["folder_name"]).mkdir(
          parents=True, exist_ok=True)
      out[name] = (gt, 1)
    for extra in ("configSeqs", "readme"):  # the toolkit wants > 3 entries
      (root / extra).mkdir(exist_ok=True)
    return out
  return build


def _uav_json():
  datasets = _toolkit("got10k.datasets.uav123")
  import pathlib  # pylint: disable=g-import-not-at-top
  return pathlib.Path(datasets.__file__).parent / "uav123.json"


def _nfs_tree(fps):
  def build(root, lengths):
    out = {}
    for seed, (name, n) in enumerate(sorted(lengths.items())):
      gt = _boxes(n, seed)
      folder = root / name / str(fps)
      # NfS lines: track id, x1, y1, x2, y2, frame, lost, occluded, ...
      x1y1, x2y2 = gt[:, :2], gt[:, :2] + gt[:, 2:]
      lines = [f"1 {a:.2f} {b:.2f} {c:.2f} {d:.2f} {i + 1} 0 0 0 \"x\""
               for i, (a, b, c, d) in enumerate(np.c_[x1y1, x2y2])]
      folder.mkdir(parents=True)
      (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
      _touch_frames(folder / name, n, "{:05d}.jpg")
      # The toolkit converts x2 - x1 in float64 from the 2-decimal text.
      out[name] = (np.c_[np.round(x1y1, 2), np.round(x2y2, 2)
                         - np.round(x1y1, 2)], 0)
    return out
  return build


def _tc128_tree(root, lengths):
  out = {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    gt = _boxes(n, seed)
    _save(root / name / f"{name}_gt.txt", gt + [1, 1, 0, 0])
    (root / name / f"{name}_frames.txt").write_text(f"1,{n}\n")
    out[name] = (gt, 1)
  return out


def _dtb70_tree(root, lengths):
  out = {}
  for seed, (name, n) in enumerate(sorted(lengths.items())):
    gt = _boxes(n, seed)
    _save(root / name / "groundtruth_rect.txt", gt)
    _touch_frames(root / name / "img", n, "{:05d}.jpg")
    out[name] = (gt, 0)
  return out


def _otb_experiment(version):
  def make(root, result_dir, monkeypatch):
    module = _toolkit("got10k.experiments.otb")
    datasets = _toolkit("got10k.datasets.otb")
    # ExperimentOTB.__init__ asks for a download of the missing sequences.
    def no_download(root_dir, version, download=True):
      del download
      return datasets.OTB(root_dir, version, download=False)
    monkeypatch.setattr(module, "OTB", no_download)
    return module.ExperimentOTB(str(root), version, result_dir=result_dir,
                                report_dir=result_dir + "_reports")
  return make


def _tc128_experiment(root, result_dir, monkeypatch):
  module = _toolkit("got10k.experiments.tcolor128")
  datasets = _toolkit("got10k.datasets.tcolor128")
  monkeypatch.setattr(module, "TColor128", functools.partial(
      datasets.TColor128, download=False))
  return module.ExperimentTColor128(str(root), result_dir=result_dir,
                                    report_dir=result_dir + "_reports")


def _experiment(module, cls, **kwargs):
  def make(root, result_dir, monkeypatch):
    del monkeypatch
    experiment = getattr(_toolkit(module), cls)
    return experiment(str(root), result_dir=result_dir,
                      report_dir=result_dir + "_reports", **kwargs)
  return make


OTB13 = {"Crossing": 30, "Mhyang": 25, "Walking": 28}
CASES = {
    "otb2013": (_otb_tree, OTB13, _otb_experiment(2013)),
    "otb100": (_otb_tree, {"Biker": 26, "Crossing": 30, "Vase": 22},
               _otb_experiment(2015)),
    "otb50": (_otb_tree, {"Biker": 26, "Box": 24}, _otb_experiment("tb50")),
    "uav123": (_uav_tree("UAV123"), {"uav6": 0, "uav2": 0},
               _experiment("got10k.experiments.uav123", "ExperimentUAV123",
                           version="UAV123")),
    "uav20l": (_uav_tree("UAV20L"), {"car3": 0},
               _experiment("got10k.experiments.uav123", "ExperimentUAV123",
                           version="UAV20L")),
    "nfs": (_nfs_tree(30), {"Gymnastics": 24, "bee": 31},
            _experiment("got10k.experiments.nfs", "ExperimentNfS", fps=30)),
    "nfs240": (_nfs_tree(240), {"bee": 40},
               _experiment("got10k.experiments.nfs", "ExperimentNfS",
                           fps=240)),
    "tc128": (_tc128_tree, {"Airport_ce": 27, "Ball_ce1": 21},
              _tc128_experiment),
    "dtb70": (_dtb70_tree, {"Animal1": 23, "Car2": 29},
              _experiment("got10k.experiments.dtb70", "ExperimentDTB70")),
}


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_scores_equal_the_toolkit_report(protocol, tmp_path, monkeypatch):
  build, lengths, make_experiment = CASES[protocol]
  root, output = tmp_path / "data", tmp_path / "out"
  root.mkdir()
  truth = build(root, lengths)
  experiment = make_experiment(root, str(output / "results"), monkeypatch)
  # The plots are not scores (and slow): the toolkit's report skips them.
  monkeypatch.setattr(type(experiment), "plot_curves", lambda *_: None)
  assert sorted(experiment.dataset.seq_names) == sorted(truth)

  seqs = []
  rng = np.random.default_rng(5)
  for seed, (name, (gt, origin)) in enumerate(sorted(truth.items())):
    n = len(gt)
    pred = fake_datasets.perturb(np.nan_to_num(gt, nan=50.0), seed)
    # Our writers, under the folder names of our protocol table.
    results.write_boxes(results.result_file(output, protocol, TRACKER, name),
                        pred, origin)
    results.write_times(results.time_file(output, protocol, TRACKER, name),
                        rng.uniform(0.01, 0.05, n))
    seqs.append(sequences.Sequence(
        name, [f"{i}.jpg" for i in range(n)], gt,
        {"format": protocol, "origin": origin, "benchmark": protocol,
         "absent": np.isnan(gt[:, 0])}))
  ours = scoring.score(seqs, protocol, output, TRACKER)
  theirs = experiment.report([TRACKER])[TRACKER]

  pairs = [("success_score", "auc"), ("precision_score", "precision20"),
           ("success_rate", "success_rate"), ("speed_fps", "fps")]
  for name, scores in theirs["seq_wise"].items():
    for their_key, our_key in pairs:
      assert ours["sequences"][name][our_key] == pytest.approx(
          scores[their_key], abs=TOL), (name, our_key)
  for their_key, our_key in pairs:
    assert ours["overall"][our_key] == pytest.approx(
        theirs["overall"][their_key], abs=TOL), our_key
  for curve in ("success_curve", "precision_curve"):
    np.testing.assert_allclose(ours["overall"][curve],
                               theirs["overall"][curve], atol=TOL)
  # A real range: the noisy results neither all hit nor all miss.
  assert 0.2 < ours["overall"]["auc"] < 0.9


def test_lasot_scores_absent_frames_as_misses(tmp_path):
  gt = np.tile([10.0, 10, 10, 10], (6, 1))
  absent = np.array([False, False, True, True, False, False])
  seqs = [sequences.Sequence(
      "cat-1", [f"{i}.jpg" for i in range(6)], gt,
      {"format": "lasot", "origin": 1, "absent": absent})]
  results.write_boxes(results.result_file(tmp_path, "lasot", TRACKER,
                                          "cat-1"), gt, origin=1)
  report = scoring.score(seqs, "lasot", tmp_path, TRACKER)
  # 4 of 6 frames perfect (20 of 21 thresholds), 2 absent: misses.
  overall = report["overall"]
  assert overall["auc"] == pytest.approx(4 / 6 * 20 / 21, abs=1e-12)
  assert overall["precision20"] == pytest.approx(4 / 6, abs=1e-12)
  assert overall["norm_precision"] == pytest.approx(4 / 6, abs=1e-12)
  assert report["sequences"]["cat-1"]["scored_frames"] == 6


def test_sequences_without_ground_truth_are_not_scored(tmp_path):
  gt = np.full((5, 4), np.nan)
  gt[0] = [3, 4, 20, 10]
  seq = sequences.Sequence("test-seq", [f"{i}.jpg" for i in range(5)], gt,
                           {"format": "trackingnet", "origin": 0})
  results.write_boxes(results.result_file(tmp_path, "trackingnet", TRACKER,
                                          seq.name), np.tile(gt[0], (5, 1)))
  report = scoring.score([seq], "trackingnet", tmp_path, TRACKER)
  assert report["sequences"]["test-seq"]["auc"] is None
  assert report["overall"]["auc"] is None
  assert "evaluation server" in report["overall"]["note"]
