"""Tests of the one-pass / GOT-10k / VOT metrics, against the got10k toolkit
and hand-worked examples.

The comparisons drive got10k 0.1.3's own metric functions and the curve code
of its experiments (`pip install got10k==0.1.3 six`); they skip when it is
not installed. Tolerance: 1e-6 absolute on every score.
"""

# The toolkit's report arithmetic lives in private methods.
# pylint: disable=protected-access

import types

import numpy as np
from PIL import Image
import pytest

from siamfc_jax.data import sequences
from siamfc_jax.evaluation import metrics
from tests import fake_datasets

TOL = 1e-6
# Real sequences whose ground truth is perturbed into "tracker results".
REAL = ("eco_Crossing", "cf2_MotorRolling", "vot15_bag")


@pytest.fixture(scope="module")
def got10k():
  """got10k's metric module and experiment classes, or skip."""
  reason = ("got10k toolkit not installed: pip install got10k==0.1.3 six "
            "(shapely, fire, wget, matplotlib) to compare with it")
  ref = pytest.importorskip("got10k.utils.metrics", reason=reason)
  otb = pytest.importorskip("got10k.experiments.otb", reason=reason)
  got = pytest.importorskip("got10k.experiments.got10k", reason=reason)
  return types.SimpleNamespace(metrics=ref, ExperimentOTB=otb.ExperimentOTB,
                               ExperimentGOT10k=got.ExperimentGOT10k)


def _toolkit_otb(tk, results):
  """ExperimentOTB.report's arithmetic, on an instance built without I/O."""
  exp = object.__new__(tk.ExperimentOTB)
  exp.nbins_iou, exp.nbins_ce = 21, 51
  succ, prec = [], []
  for pred, gt in results:
    boxes, anno = pred.copy(), gt.copy()
    boxes[0] = anno[0]
    ious, errors = exp._calc_metrics(boxes, anno)
    s, p = exp._calc_curves(ious, errors)
    succ.append(s)
    prec.append(p)
  succ, prec = np.mean(succ, axis=0), np.mean(prec, axis=0)
  return {"auc": np.mean(succ), "precision20": prec[20],
          "success_rate": succ[10]}


def _toolkit_got10k(tk, results):
  """ExperimentGOT10k.report (val) arithmetic: pooled IoU, AO, SR."""
  exp = object.__new__(tk.ExperimentGOT10k)
  pooled = []
  for pred, gt, cover, bound in results:
    ious = tk.metrics.rect_iou(pred[1:].copy(), gt[1:].copy(), bound=bound)
    pooled.append(ious[cover[1:] > 0])
  ao, sr, _, curve = exp._evaluate(np.concatenate(pooled), [])
  return {"ao": ao, "sr50": sr, "sr75": curve[75]}


def _real_results(data_dir, tmp_path, lost=True):
  """(pred, gt, resolution) for REAL, predictions through a result file."""
  root = data_dir / "sequences"
  if not root.is_dir():
    pytest.skip(f"{root} not found (real sequences of the shared data)")
  out = []
  for seed, name in enumerate(REAL):
    seq = sequences.read_sequence(root / name)
    gt = np.array(seq.boxes)
    # Written and read as got10k's ExperimentOTB.run / report do.
    path = tmp_path / f"{name}.txt"
    np.savetxt(path, fake_datasets.perturb(gt, seed, lost), fmt="%.3f",
               delimiter=",")
    pred = np.loadtxt(path, delimiter=",")
    with Image.open(seq.frames[0]) as image:
      out.append((pred, gt, image.size))
  return out


def _edge_cases():
  """Synthetic pairs: empty, outside, negative, NaN, identical boxes."""
  gt = np.array([[10, 10, 20, 30], [0, 0, 5, 5], [90, 50, 20, 20],
                 [10, 10, 20, 30], [-5, -5, 20, 20], [40, 40, 0, 10],
                 [30, 30, 10, 10], [1, 1, 1, 1], [50, 20, 30, 30]], float)
  pred = np.array([[10, 10, 20, 30],  # identical
                   [0, 0, 0, 5],  # empty prediction, w = 0
                   [105, 55, 20, 20],  # partly outside a 100x60 image
                   [200, 200, 10, 10],  # outside the image
                   [-10, -3, 20, 20],  # negative coordinates
                   [40, 40, 0, 10],  # both empty
                   [np.nan] * 4,  # lost
                   [1.5, 1.5, 1, 1],
                   [55, 25, 20, 20]], float)
  return pred, gt


@pytest.mark.parametrize("bound", [None, (100, 60)])
def test_iou_and_center_error_equal_got10k_on_edge_cases(got10k, bound):
  pred, gt = _edge_cases()
  ours = metrics.iou(pred, gt, bound=bound)
  theirs = got10k.metrics.rect_iou(pred.copy(), gt.copy(), bound=bound)
  np.testing.assert_allclose(ours, theirs, atol=TOL, equal_nan=True)
  np.testing.assert_allclose(metrics.center_error(pred, gt),
                             got10k.metrics.center_error(pred, gt),
                             atol=TOL, equal_nan=True)


def test_bounded_iou_leaves_its_inputs_unchanged():
  pred, gt = _edge_cases()
  before = pred.copy(), gt.copy()
  metrics.iou(pred, gt, bound=(100, 60))
  np.testing.assert_array_equal(pred, before[0])
  np.testing.assert_array_equal(gt, before[1])


def test_otb_scores_equal_got10k_on_edge_cases(got10k):
  pred, gt = _edge_cases()
  pred = np.concatenate([gt[:1], pred])  # frame 0 is the init
  gt = np.concatenate([gt[:1], gt])
  ours = metrics.otb_report([(pred, gt)])
  theirs = _toolkit_otb(got10k, [(pred, gt)])
  for key, value in theirs.items():
    assert ours[key] == pytest.approx(value, abs=TOL), key


def test_otb_scores_equal_got10k_on_real_sequences(got10k, data_dir, tmp_path):
  results = [(p, g) for p, g, _ in _real_results(data_dir, tmp_path)]
  ours = metrics.otb_report(results)
  theirs = _toolkit_otb(got10k, results)
  for key, value in theirs.items():
    assert ours[key] == pytest.approx(value, abs=TOL), key
  for (pred, gt), seq in zip(results, ours["sequences"]):
    single = _toolkit_otb(got10k, [(pred, gt)])
    assert seq["auc"] == pytest.approx(single["auc"], abs=TOL)
  assert 0.2 < ours["auc"] < 0.8  # noisy, drifting results: a real range


def test_got10k_scores_equal_the_toolkit_on_real_sequences(
    got10k, data_dir, tmp_path):
  rng = np.random.default_rng(7)
  results = []
  for pred, gt, bound in _real_results(data_dir, tmp_path, lost=False):
    cover = rng.integers(0, 9, len(gt))  # some fully occluded frames
    results.append((pred, gt, cover, bound))
  ours = metrics.got10k_scores(results)
  theirs = _toolkit_got10k(got10k, results)
  for key, value in theirs.items():
    assert ours[key] == pytest.approx(value, abs=TOL), key


def test_got10k_scores_count_nan_predictions_as_zero_overlap(got10k):
  pred, gt = _edge_cases()
  cover = np.array([8, 8, 8, 0, 8, 8, 8, 8, 8])
  ours = metrics.got10k_scores([(pred, gt, cover, (100, 60))])
  # got10k would give a NaN AO; with the lost box as an empty one it agrees.
  zeroed = np.nan_to_num(pred, nan=0.0)
  theirs = _toolkit_got10k(got10k, [(zeroed, gt, cover, (100, 60))])
  for key, value in theirs.items():
    assert ours[key] == pytest.approx(value, abs=TOL), key
  assert ours["frames"] == 7  # frame 0 and the cover = 0 frame left out


def test_polygon_overlap_equals_got10k_poly_iou(got10k):
  rng = np.random.default_rng(3)
  n = 40
  centre = rng.uniform(-10, 110, (n, 2))
  half = rng.uniform(2, 30, (n, 2))
  angle = rng.uniform(0, np.pi, n)
  corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
  rot = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle),
                  np.cos(angle)], -1).reshape(n, 2, 2)
  polygons = (centre[:, None] + np.einsum(
      "nij,nkj->nki", rot, corners[None] * half[:, None])).reshape(n, 8)
  boxes = np.concatenate([centre + rng.normal(0, 15, (n, 2)) - 10,
                          rng.uniform(1, 40, (n, 2))], axis=1)
  for bound in (None, (100, 80)):
    ours = metrics.region_overlap(polygons, boxes, bound)
    theirs = got10k.metrics.poly_iou(polygons, boxes, bound=bound)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    assert np.sum(ours > 0) > n // 4  # the draw overlaps often enough


def test_vot_polygon_conversion_equals_got10k(got10k, data_dir):
  del got10k  # only to skip together with the toolkit
  vot = pytest.importorskip("got10k.datasets.vot")
  root = data_dir / "sequences" / "vot15_bag"
  if not root.is_dir():
    pytest.skip(f"{root} not found (real sequences of the shared data)")
  seq = sequences.read_vot(root)
  reference = object.__new__(vot.VOT)._corner2rect(seq.meta["polygons"])
  np.testing.assert_allclose(seq.boxes, reference, atol=1e-9)


def test_perfect_tracker_scores_twenty_of_twenty_one_bins():
  gt = np.array([[10, 10, 20, 30], [12, 11, 20, 30], [14, 12, 21, 30]], float)
  scores = metrics.otb_scores(gt, gt)
  # IoU 1 is not > 1, the last threshold (strict success, as got10k).
  assert scores["auc"] == pytest.approx(20 / 21)
  assert scores["precision20"] == 1 and scores["success_rate"] == 1


def test_nan_prediction_scores_like_a_box_that_misses():
  pred, gt = _edge_cases()
  missed = pred.copy()
  missed[6] = [500, 500, 10, 10]
  lost, far = metrics.otb_scores(pred, gt), metrics.otb_scores(missed, gt)
  for key in lost:
    np.testing.assert_array_equal(lost[key], far[key], err_msg=key)


def test_frames_without_ground_truth_are_not_scored():
  pred, gt = _edge_cases()
  gt_gaps = np.concatenate([gt, np.full((3, 4), np.nan)])
  pred_gaps = np.concatenate([pred, np.ones((3, 4))])
  ours = metrics.otb_scores(pred_gaps, gt_gaps)
  assert ours["auc"] == pytest.approx(metrics.otb_scores(pred, gt)["auc"])
  cover = np.full(len(gt_gaps), 8)
  assert metrics.got10k_scores([(pred_gaps, gt_gaps, cover)])["frames"] == 8


def test_success_is_strict_and_precision_inclusive():
  np.testing.assert_array_equal(
      metrics.success_curve([0.5, 0.5], [0.4, 0.5]), [1, 0])
  np.testing.assert_array_equal(
      metrics.precision_curve([20.0, 21.0], [20, 21]), [0.5, 1])


class _ScriptedTracker:
  """Returns prepared boxes; remembers where it was initialised."""

  def __init__(self, boxes):
    self.boxes = boxes
    self.inits = []
    self.frame = None

  def init(self, frame, box):
    self.inits.append((frame, list(box)))

  def update(self, frame):
    return self.boxes[frame]


def test_vot_baseline_reinitialises_and_scores_a_hand_worked_run():
  n = 30
  gt = np.tile([10.0, 10, 10, 10], (n, 1))
  third = [15.0, 10, 10, 10]  # shifted by half a box: IoU 50 / 150
  far = [100.0, 100, 10, 10]  # no overlap: failure
  boxes = {f: third for f in range(n)}
  boxes[12] = far
  boxes.update({f: gt[f] for f in range(18, n)})
  tracker = _ScriptedTracker(boxes)
  records = metrics.run_vot_baseline(tracker.init, tracker.update,
                                     list(range(n)), gt, skip=5)
  codes = [r if isinstance(r, int) else -1 for r in records]
  # init, 11 boxes, failure at 12, skipped 13-16, re-init at 17, 12 boxes.
  assert codes == [1] + [-1] * 11 + [2] + [0] * 4 + [1] + [-1] * 12
  assert tracker.inits == [(0, [10, 10, 10, 10]), (17, [10, 10, 10, 10])]
  overlaps = metrics.vot_overlaps(records, gt)
  # Burn-in blanks frames 0-9 and 17-26: left are 10, 11 (IoU 1/3) and
  # 27, 28, 29 (IoU 1).
  accuracy, frames = metrics.vot_accuracy(records, overlaps)
  assert frames == 5
  assert accuracy == pytest.approx((2 / 3 + 3) / 5, abs=1e-12)
  assert metrics.vot_failures(records) == 1


def test_vot_accuracy_and_failures_equal_got10k_on_a_real_sequence(
    got10k, data_dir):
  root = data_dir / "sequences" / "vot15_bag"
  if not root.is_dir():
    pytest.skip(f"{root} not found (real sequences of the shared data)")
  seq = sequences.read_vot(root)
  polygons = seq.meta["polygons"]
  pred = fake_datasets.perturb(np.array(seq.boxes), seed=11, lost=False)
  pred[[40, 41, 90, 150]] = [900, 900, 10, 10]  # forced failures
  tracker = _ScriptedTracker(pred)
  bound = (480, 360)
  records = metrics.run_vot_baseline(tracker.init, tracker.update,
                                     range(len(seq)), polygons, bound=bound)
  accuracy, _ = metrics.vot_accuracy(
      records, metrics.vot_overlaps(records, polygons, bound))
  # ExperimentVOT._calc_iou(burnin=True) step by step (0.1.3's own method
  # no longer runs on NumPy 2): records as lists, [1] starts 10 blank
  # frames, then shapely poly_iou per frame.
  as_read = [[float(r)] if isinstance(r, int) else list(r) for r in records]
  blanked = list(as_read)
  for i in [i for i, r in enumerate(as_read) if r == [1.0]]:
    blanked[i:i + 10] = [[0]] * 10
  theirs = [got10k.metrics.poly_iou(np.array(r), p, bound)[0]
            if len(r) > 1 else np.nan for r, p in zip(blanked, polygons)]
  assert accuracy == pytest.approx(np.nanmean(theirs), abs=TOL)
  failures = sum(len(r) == 1 and r[0] == 2 for r in as_read)
  assert metrics.vot_failures(records) == failures >= 4
  # Re-initialised 5 frames after every failure that leaves room for it.
  reinits = [i + 5 for i, r in enumerate(as_read) if r == [2.0]]
  assert [f for f, _ in tracker.inits] == [0] + [
      f for f in reinits if f < len(seq)]


def test_failure_is_judged_on_the_polygon_not_its_box():
  diamond = [60, 50, 50, 60, 40, 50, 50, 40]  # |x - 50| + |y - 50| <= 10
  corner = [40, 40, 3, 3]  # inside the axis-aligned box, outside the diamond
  assert metrics.iou([corner], sequences.polygon_to_box(
      np.array([diamond], float)))[0] > 0
  tracker = _ScriptedTracker({1: corner})
  records = metrics.run_vot_baseline(tracker.init, tracker.update, [0, 1],
                                     np.array([diamond, diamond], float))
  assert records == [metrics.INIT, metrics.FAILURE]


def test_eao_of_a_hand_worked_pair_of_runs():
  b = [0, 0, 1, 1]
  # Run 1: fails at frame 3, re-initialised at 5, then tracks to the end.
  run1 = ([1, b, b, 2, 0, 1, b, b],
          [np.nan, 0.5, 1.0, np.nan, np.nan, np.nan, 0.4, 0.8])
  # Run 2: never fails.
  run2 = ([1] + [b] * 7, [np.nan] + [0.2] * 7)
  curve = metrics.eao_curve([run1, run2])
  # Segments: [0, .5, 1] failed (zero after its end), [0, .4, .8] done after
  # 3 frames, [0, .2 x 7] done after 8. Running means exclude frame 0.
  expected = [0, (0.5 + 0.4 + 0.2) / 3, (0.75 + 0.6 + 0.2) / 3,
              (0.5 + 0.2) / 2, (0.375 + 0.2) / 2, (0.3 + 0.2) / 2,
              (0.25 + 0.2) / 2, (1.5 / 7 + 0.2) / 2]
  np.testing.assert_allclose(curve, expected, atol=1e-12)
  assert metrics.eao([run1, run2], (2, 4)) == pytest.approx(
      np.mean(expected[2:5]), abs=1e-12)
  assert np.isnan(metrics.eao([run1, run2], metrics.EAO_INTERVALS[2017]))


def test_vot_report_weights_sequences_by_length():
  b = [0, 0, 1, 1]
  short = [([1] + [b] * 10 + [2, 0], [np.nan] + [0.6] * 10 + [np.nan] * 2)]
  long_ = [([1] + [b] * 25, [np.nan] + [0.9] * 25)]
  report = metrics.vot_report([short, long_])
  # Accuracy frames after burn-in: 1 of `short` (frame 10), 16 of `long_`.
  assert report["accuracy"] == pytest.approx((0.6 * 13 + 0.9 * 26) / 39)
  assert report["failures"] == pytest.approx(13 / 39)
  assert report["total_failures"] == 1
  assert report["robustness"] == pytest.approx(np.exp(-30 * (13 / 39) / 19.5))
  assert report["eao"] is None


def test_normalised_precision_of_a_hand_worked_sequence():
  """pytracking `calc_err_center(normalized=True)` / LaSOT `norm_dst`."""
  gt = np.tile([10.0, 20, 40, 20], (4, 1))  # centre (29.5, 29.5), 40 x 20
  pred = np.array([[0.0, 0, 1, 1],  # frame 0: replaced by the ground truth
                   [14, 23, 40, 20],  # (+4, +3) px: sqrt(.1^2 + .15^2)
                   [30, 20, 40, 20],  # (+20, 0) px: 20 / 40 = 0.5
                   [10, 20, 20, 10]])  # centre (19.5, 24.5): (-10, -5) px
  np.testing.assert_allclose(
      metrics.normalized_center_error(pred[1:], gt[1:]),
      [np.sqrt(0.0325), 0.5, np.sqrt(0.125)], atol=1e-12)
  scores = metrics.otb_scores(pred, gt)
  # Errors 0, 0.1803, 0.5, 0.3536 against thresholds 0, 0.01, ..., 0.5.
  want = np.array([1] * 19 + [2] * 17 + [3] * 14 + [4]) / 4
  np.testing.assert_allclose(scores["norm_precision_curve"], want, atol=1e-12)
  assert scores["norm_precision"] == 0.5  # at 0.20: frames 0 and 1
  # In pixels all four are within 20 px (0, 5, 20, 11.2).
  assert scores["precision20"] == 1.0


@pytest.mark.parametrize("absent_rule, auc, precision", [
    # Absent frame 2 is a miss, all 4 frames in the denominator (LaSOT).
    ("miss", 15 / 21, 0.75),
    # The flag is ignored; only NaN ground-truth rows are left out.
    ("exclude", 20 / 21, 1.0),
])
def test_absent_frames_follow_the_rule(absent_rule, auc, precision):
  gt = np.tile([10.0, 10, 10, 10], (4, 1))
  absent = np.array([False, False, True, False])
  scores = metrics.otb_scores(gt, gt, absent, absent_rule)
  # A perfect box succeeds at 20 of the 21 thresholds (IoU 1 is not > 1).
  assert scores["auc"] == pytest.approx(auc, abs=1e-12)
  assert scores["precision20"] == pytest.approx(precision, abs=1e-12)
  assert scores["norm_precision"] == pytest.approx(precision, abs=1e-12)
  assert scores["frames"] == 4


def test_miss_rule_scores_unannotated_and_degenerate_frames_as_lasot():
  gt = np.tile([10.0, 10, 10, 10], (4, 1))
  gt[2] = np.nan  # no ground truth: a miss everywhere
  gt[3, 2] = 0  # a side of 0: overlap -1 (miss), error -1 (hit)
  pred = np.tile([10.0, 10, 10, 10], (4, 1))
  pred[3] = [50, 50, 10, 10]
  scores = metrics.otb_scores(pred, gt, absent_rule="miss")
  assert scores["auc"] == pytest.approx(2 / 4 * 20 / 21, abs=1e-12)
  assert scores["precision20"] == pytest.approx(3 / 4, abs=1e-12)
  assert scores["norm_precision"] == pytest.approx(3 / 4, abs=1e-12)
  excluded = metrics.otb_scores(pred, gt, absent_rule="exclude")
  assert excluded["frames"] == 3


def test_absent_flags_of_the_wrong_length_are_refused():
  gt = np.tile([10.0, 10, 10, 10], (4, 1))
  with pytest.raises(ValueError, match=r"absent must be \[4\]"):
    metrics.otb_scores(gt, gt, np.zeros(3, bool), "miss")
  with pytest.raises(ValueError, match="absent_rule"):
    metrics.otb_scores(gt, gt, None, "ignore")


def test_trackingnet_server_scores_of_a_hand_worked_sequence():
  """TrackingNet-devkit `metrics.py` by hand: integer boxes, +1 pixels."""
  gt = np.tile([10.0, 10, 10, 10], (3, 1))
  pred = np.array([[0.0, 0, 5, 5],  # replaced by the ground truth
                   [13.4, 11.2, 10, 10],  # rounds to [13, 11, 10, 10]
                   [12.6, 13, 10, 10]])  # rounds to [13, 13, 10, 10]
  # IoU 1, 7 * 9 / (200 - 63) = 0.4599, 7 * 7 / (200 - 49) = 0.3245;
  # centre offsets (0, 0), (3, 1), (3, 3) px; normalised by 10 px.
  report = metrics.trackingnet_report([(pred, gt)])
  third = 1 / 3
  np.testing.assert_allclose(
      report["success_curve"],
      [1] * 7 + [2 * third] * 3 + [third] * 10 + [0], atol=1e-12)
  np.testing.assert_allclose(report["precision_curve"],
                             [third, third] + [1] * 19, atol=1e-12)
  np.testing.assert_allclose(
      report["norm_precision_curve"],
      [third] * 13 + [2 * third] * 4 + [1] * 4, atol=1e-12)
  # Trapezoid areas on x = linspace(0, 1, 21): 0.05 * (sum - ends / 2).
  assert report["success"] == pytest.approx(0.05 * (37 / 3 - 0.5))
  assert report["precision"] == pytest.approx(0.05 * 19)
  assert report["norm_precision"] == pytest.approx(0.05 * (11 - 2 / 3))


def test_trackingnet_rounds_half_to_even_as_pandas():
  gt = np.tile([10.0, 10, 10, 10], (2, 1))
  half = np.array([[10.0, 10, 10, 10], [12.5, 10, 10, 10]])  # x -> 12
  exact = np.array([[10.0, 10, 10, 10], [12.0, 10, 10, 10]])
  for key, curve in metrics.trackingnet_curves(half, gt).items():
    np.testing.assert_array_equal(
        curve, metrics.trackingnet_curves(exact, gt)[key], err_msg=key)
