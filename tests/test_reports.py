"""Tests of `reports`: JSON reports, text tables and plots."""

import numpy as np
import pytest

from siamfc_jax.data import sequences
from siamfc_jax.evaluation import reports
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring
from tests import fake_datasets

PNG = b"\x89PNG\r\n\x1a\n"


def _scored(tmp_path, protocol, tracker="tiny", seed=0):
  """A report of noisy results on two synthetic sequences."""
  seqs = []
  for i, n in enumerate((12, 9)):
    rng = np.random.default_rng(i)
    gt = np.c_[50 + np.cumsum(rng.normal(0, 2, (n, 2)), axis=0),
               np.full((n, 2), 30.0)]
    name = f"seq-{i}"
    results.write_boxes(results.result_file(tmp_path, protocol, tracker,
                                            name),
                        fake_datasets.perturb(gt, seed + i))
    seqs.append(sequences.Sequence(name, [f"{f}.jpg" for f in range(n)], gt,
                                   {"format": protocol, "origin": 0}))
  return scoring.score(seqs, protocol, tmp_path, tracker)


def test_table_of_a_one_pass_benchmark_has_normalised_precision(tmp_path):
  report = _scored(tmp_path, "lasot")
  table = reports.format_table(report).splitlines()
  assert table[0] == "tiny on LaSOT (2 sequences)"
  assert table[1].split() == ["sequence", "frames", "AUC", "Prec@20",
                              "NPrec", "SR0.5", "fps"]
  mean = table[-1].split()
  assert mean[0] == "mean" and mean[1] == "21"
  assert float(mean[4]) == pytest.approx(
      report["overall"]["norm_precision"], abs=5e-4)


def test_report_json_round_trips_with_nan_as_null(tmp_path):
  report = _scored(tmp_path, "uav123")
  report["overall"]["extra"] = np.nan
  path = reports.write_report(report, tmp_path / "report.json")
  back = reports.read_report(path)
  assert back["overall"]["extra"] is None
  assert back["overall"]["norm_precision"] == pytest.approx(
      report["overall"]["norm_precision"])
  assert len(back["overall"]["norm_precision_curve"]) == 51


def test_one_pass_plots_include_normalised_precision(tmp_path):
  first = _scored(tmp_path, "nfs")
  second = _scored(tmp_path, "nfs", tracker="other", seed=7)
  plots = reports.plot_curves([first, second], tmp_path / "plots")
  assert sorted(p.name for p in plots) == [
      "norm_precision_plots.png", "precision_plots.png", "success_plots.png"]
  assert all(p.read_bytes()[:8] == PNG for p in plots)
  with pytest.raises(ValueError, match="one protocol"):
    reports.plot_curves([first, _scored(tmp_path, "dtb70")], tmp_path)


def test_unscored_trackers_are_not_plotted(tmp_path):
  report = _scored(tmp_path, "trackingnet")
  for key in ("auc", "precision20", "norm_precision"):
    report["overall"][key] = None  # as for a test split
  assert reports.plot_curves([report], tmp_path / "plots") == []


def test_trackingnet_reports_add_the_server_scores(tmp_path):
  report = _scored(tmp_path, "trackingnet")
  overall = report["overall"]
  server = [s["server_success"] for s in report["sequences"].values()]
  # The mean of per-sequence areas (areas are linear in the curves).
  assert overall["server_success"] == pytest.approx(np.mean(server))
  assert 0 < overall["server_success"] < 1
  line = reports.format_table(report).splitlines()[-1]
  assert line == (
      f"as the TrackingNet server scores: success "
      f"{overall['server_success']:.3f}, precision "
      f"{overall['server_precision']:.3f}, normalized precision "
      f"{overall['server_norm_precision']:.3f}")
  assert "server_success" not in _scored(tmp_path, "lasot")["overall"]
