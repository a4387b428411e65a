"""Tracking metrics of the one-pass benchmarks, GOT-10k and VOT, in NumPy.

Boxes follow `siamfc_jax.boxes`: float `[x, y, w, h]`, 0-based, continuous
pixels. All functions are pure and run on the host.

One-pass (OTB-style) and GOT-10k scores reproduce the got10k toolkit 0.1.3
(`got10k.utils.metrics`, `ExperimentOTB.report` and its subclasses
`ExperimentUAV123`, `ExperimentNfS`, `ExperimentTColor128`,
`ExperimentDTB70`; `ExperimentGOT10k.report`) to 1e-6, which
`tests/test_metrics.py` and `tests/test_scoring.py` check against the
toolkit itself:

* IoU of continuous boxes, no +1 (`rect_iou`): inter / (union + eps), eps
  the float64 machine epsilon, clipped to [0, 1].
* Centre `xy + (wh - 1) / 2` (`center_error`), Euclidean error in pixels.
* OTB: frame 0 is replaced by the ground truth before scoring (so it counts
  with IoU 1); success = mean(IoU > t) (strict) over 21 thresholds
  linspace(0, 1, 21), AUC = mean of that curve; precision = mean(error <= t)
  for t = 0..50 px, precision@20 = curve[20]; success rate = curve[10]
  (IoU > 0.5). A benchmark averages per-sequence curves (sequence-weighted).
* Normalised precision (Mueller et al., TrackingNet, ECCV'18; Fan et al.,
  LaSOT, CVPR'19): the centre error divided, per axis, by the ground-truth
  box's width and height, `sqrt((dx / w_gt)^2 + (dy / h_gt)^2)`; curve =
  mean(error <= t) for t = 0, 0.01, ..., 0.5 (51 thresholds); the score is
  the curve at 0.20. Checked against pytracking
  (`pytracking/analysis/extract_results.py` `calc_err_center(...,
  normalized=True)`, `threshold_set_center_norm = arange(51) / 100`;
  `plot_results.py` `get_prec_curve`: `prec_curve[:, 20]`) and the LaSOT
  toolkit (`utils/calc_seq_err_robust.m` with `norm_dst`,
  `run_tracker_performance_evaluation.m`: `threshold_set_error / 100`,
  ranked at `rank_idx = 21`, i.e. 0.20). The TrackingNet server reports
  areas instead: `trackingnet_report`.
* TrackingNet server (TrackingNet-devkit `metrics.py`, checked line by
  line): boxes rounded to integers (half to even, as pandas), frame 0
  replaced by the ground truth, pixel-inclusive IoU (`x2 = x + w - 1`, the
  intersection's sides `+ 1`, rounded, clipped at 0), centres
  `xy + (wh + 1) / 2`; success (IoU > t), precision and normalised precision
  (error <= t) on 21 thresholds linspace over [0, 1], [0, 50] px and
  [0, 0.5]; per-sequence curves averaged over sequences; each score is the
  trapezoid area under its curve on x = linspace(0, 1, 21) (`np.trapz(...,
  x=Success_X)`), i.e. the normalised area. Every frame is in the
  denominator (a NaN box or ground truth is a miss).
* Absent frames (`otb_scores(..., absent_rule=)`): 'exclude' leaves NaN
  ground-truth rows out (got10k `ExperimentUAV123._calc_metrics`; the
  UAV123 MATLAB toolkit and pytracking's 'uav' instead keep those frames in
  the denominator as success misses and precision hits); 'miss'
  scores frames flagged absent, and frames without ground truth, as misses
  at every threshold with all frames in the denominator, and a ground truth
  with a side <= 0 as a success miss but a precision hit (LaSOT toolkit
  `calc_seq_err_robust.m` + `eval_tracker.m`: absent frames removed, then
  divided by the full length; overlap and error -1 where a side is <= 0;
  its success thresholds 0:0.05:1 and precision 0:50 px are OTB's).
* GOT-10k: frame 0 is excluded, only frames with `cover > 0` count, IoUs are
  pooled over all frames of all sequences and runs (frame-weighted);
  AO = mean IoU, SR@t = mean(IoU > t).

Where got10k's behaviour is undefined or awkward we decide, and say so:

* NaN prediction rows (a tracker reporting a lost target) score IoU 0 and
  centre error +inf. For OTB this equals got10k exactly: its NaN IoU and
  error compare false with every threshold. got10k's GOT-10k AO would become
  NaN; ours counts those frames as 0.
* NaN ground-truth rows (target absent / frame not annotated) are left out
  of every mean under 'exclude'. got10k's plain `ExperimentOTB` (OTB, NfS,
  TColor128, DTB70) would score such rows as failures; those benchmarks have
  none.
* The LaSOT toolkit replaces an invalid prediction (NaN, a side <= 0) by the
  previous frame's; we score it as it is (NaN: a miss). The LaSOT toolkit's
  plots also drop sequences whose whole curve is 0 from the mean; we average
  over all sequences, as pytracking does.
* `iou(..., bound)` clips copies the way got10k does (x to [0, W], then w to
  [0, W - x]; a box partly left of the image is shifted, not cut). got10k
  clips its arguments in place.

VOT supervised ("baseline") follows the vot-toolkit 0.9.0 Python package
(`vot.experiment.multirun.SupervisedExperiment`, `vot.analysis.supervised`)
and got10k's `ExperimentVOT`: a run is a list of per-frame records, INIT (1),
FAILURE (2), SKIPPED (0) or a [4] box. See `run_vot_baseline`,
`vot_overlaps`, `vot_accuracy`, `vot_failures`, `eao_curve`, `eao` and
`vot_report`. The official toolkit rasterises regions to count pixel
overlap; we compute exact polygon/box overlap (got10k's `poly_iou` does the
same with shapely), which differs by the rasterisation error only.
"""

from collections.abc import Callable, Iterable, Sequence
import math
from typing import Any

import numpy as np

from siamfc_jax.data.sequences import polygon_to_box

# got10k ExperimentOTB: nbins_iou = 21, nbins_ce = 51.
OTB_IOU_THRESHOLDS = np.linspace(0, 1, 21)
OTB_ERROR_THRESHOLDS = np.arange(51)
# Normalised precision: pytracking threshold_set_center_norm, LaSOT toolkit
# threshold_set_error / 100 (norm_dst); the score at 0.20 (index 20).
NORM_PRECISION_THRESHOLDS = np.arange(51) / 100
NORM_PRECISION_INDEX = 20
ABSENT_RULES = ("exclude", "miss")
# TrackingNet-devkit metrics.py: n = 21 thresholds per curve.
TRACKINGNET_IOU_THRESHOLDS = np.linspace(0, 1, 21)
TRACKINGNET_ERROR_THRESHOLDS = np.linspace(0, 50, 21)
TRACKINGNET_NORM_THRESHOLDS = np.linspace(0, 0.5, 21)
# got10k ExperimentGOT10k._evaluate: 101-bin success curve.
GOT10K_IOU_THRESHOLDS = np.linspace(0, 1, 101)
# got10k rect_iou / poly_iou: union + eps.
_EPS = np.finfo(float).eps

# VOT record codes (VOT result files, got10k ExperimentVOT, vot-toolkit).
SKIPPED = 0
INIT = 1
FAILURE = 2
_BOX = -1  # internal code of a frame with a box

# vot-toolkit stacks: EAO averaged over sequence lengths low..high
# (supervised_eao_score low/high), inclusive.
EAO_INTERVALS = {
    2015: (108, 371),
    2016: (108, 371),
    2017: (100, 356),
    2018: (100, 356),
    2019: (46, 291),
}


def _as_boxes(boxes, name: str) -> np.ndarray:
  """A float64 copy of [..., 4] boxes."""
  array = np.array(boxes, dtype=np.float64)
  if array.ndim == 0 or array.shape[-1] != 4:
    raise ValueError(f"{name} must be [..., 4] boxes [x, y, w, h], "
                     f"got shape {array.shape}")
  return array


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
  a, b = _as_boxes(a, "boxes a"), _as_boxes(b, "boxes b")
  if a.shape != b.shape:
    raise ValueError(f"box arrays differ in shape: {a.shape} vs {b.shape}")
  return a, b


def _clip_to_bound(boxes: np.ndarray, bound) -> np.ndarray:
  """got10k's bound clipping, on a copy: x, y into the image, then w, h."""
  width, height = float(bound[0]), float(bound[1])
  x = np.clip(boxes[..., 0], 0, width)
  y = np.clip(boxes[..., 1], 0, height)
  w = np.clip(boxes[..., 2], 0, width - x)
  h = np.clip(boxes[..., 3], 0, height - y)
  return np.stack([x, y, w, h], axis=-1)


def iou(a, b, bound=None) -> np.ndarray:
  """Intersection over union of continuous boxes (got10k `rect_iou`).

  Args:
    a: [..., 4] boxes `[x, y, w, h]` in pixels.
    b: [..., 4] boxes, same shape.
    bound: optional (W, H) image size in pixels; boxes are first clipped to
      it as got10k does (inputs are not modified).

  Returns:
    [...] float64 IoU in [0, 1]; NaN where a box has NaN values. Two empty
    boxes give 0.
  """
  a, b = _pair(a, b)
  if bound is not None:
    a, b = _clip_to_bound(a, bound), _clip_to_bound(b, bound)
  x1 = np.maximum(a[..., 0], b[..., 0])
  y1 = np.maximum(a[..., 1], b[..., 1])
  x2 = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
  y2 = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
  inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
  union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
  return np.clip(inter / (union + _EPS), 0.0, 1.0)


def center_error(a, b) -> np.ndarray:
  """Distance between box centres `xy + (wh - 1) / 2` (got10k convention).

  Args:
    a: [..., 4] boxes `[x, y, w, h]` in pixels.
    b: [..., 4] boxes, same shape.

  Returns:
    [...] float64 Euclidean distances in pixels (NaN where a box is NaN).
  """
  a, b = _pair(a, b)
  ca = a[..., :2] + (a[..., 2:] - 1) / 2
  cb = b[..., :2] + (b[..., 2:] - 1) / 2
  return np.sqrt(np.sum((ca - cb) ** 2, axis=-1))


def normalized_center_error(pred, gt) -> np.ndarray:
  """Centre error normalised by the ground-truth size (TrackingNet, LaSOT).

  `sqrt(((cx_p - cx_g) / w_g)^2 + ((cy_p - cy_g) / h_g)^2)`, centres as in
  `center_error` (pytracking `calc_err_center(..., normalized=True)`).

  Args:
    pred: [..., 4] predicted boxes `[x, y, w, h]` in pixels.
    gt: [..., 4] ground-truth boxes, same shape.

  Returns:
    [...] float64 errors in ground-truth box sizes (unitless); NaN where a
    box is NaN, inf (or NaN) where a ground-truth side is 0.
  """
  pred, gt = _pair(pred, gt)
  cp = pred[..., :2] + (pred[..., 2:] - 1) / 2
  cg = gt[..., :2] + (gt[..., 2:] - 1) / 2
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.sqrt(np.sum(((cp - cg) / gt[..., 2:]) ** 2, axis=-1))


def _scores(values, name: str) -> np.ndarray:
  values = np.asarray(values, dtype=np.float64)
  if values.ndim != 1 or values.size == 0:
    raise ValueError(f"{name} must be a non-empty [N] array, "
                     f"got shape {values.shape}")
  return values


def success_curve(ious, thresholds=OTB_IOU_THRESHOLDS) -> np.ndarray:
  """Fraction of frames whose IoU exceeds each threshold (strict `>`).

  Args:
    ious: [N] float IoUs; NaN counts as a miss at every threshold.
    thresholds: [T] float IoU thresholds.

  Returns:
    [T] float64 success rates in [0, 1].
  """
  ious = _scores(ious, "ious")
  return np.mean(ious[:, None] > np.asarray(thresholds)[None, :], axis=0)


def precision_curve(errors, thresholds=OTB_ERROR_THRESHOLDS) -> np.ndarray:
  """Fraction of frames whose centre error is at most each threshold (`<=`).

  Args:
    errors: [N] float centre errors in pixels; NaN counts as a miss.
    thresholds: [T] float thresholds in pixels.

  Returns:
    [T] float64 precisions in [0, 1].
  """
  errors = _scores(errors, "errors")
  return np.mean(errors[:, None] <= np.asarray(thresholds)[None, :], axis=0)


def _frame_errors(pred: np.ndarray, gt: np.ndarray, absent,
                  absent_rule: str):
  """Per-frame (IoU, centre error, normalised error) under an absent rule,
  NaN-free: a miss is IoU 0 and error +inf, a hit error -1."""
  if absent_rule not in ABSENT_RULES:
    raise ValueError(f"absent_rule must be one of {ABSENT_RULES}, got "
                     f"{absent_rule!r}")
  annotated = np.all(np.isfinite(gt), axis=-1)
  if absent_rule == "exclude":
    if not np.any(annotated):
      raise ValueError("no frame has a finite ground-truth box")
    pred, gt = pred[annotated], gt[annotated]
    ious = iou(pred, gt)
    errors = center_error(pred, gt)
    norm_errors = normalized_center_error(pred, gt)
  else:
    n = len(gt)
    flagged = (np.zeros(n, bool) if absent is None
               else np.asarray(absent, dtype=bool))
    if flagged.shape != (n,):
      raise ValueError(f"absent must be [{n}] (one flag per frame), got "
                       f"shape {flagged.shape}")
    scored = annotated & ~flagged
    ious, errors = np.zeros(n), np.full(n, np.inf)
    norm_errors = np.full(n, np.inf)
    ious[scored] = iou(pred[scored], gt[scored])
    errors[scored] = center_error(pred[scored], gt[scored])
    norm_errors[scored] = normalized_center_error(pred[scored], gt[scored])
    # LaSOT toolkit: a present target with a side <= 0 has overlap -1 (a
    # miss) and error -1 (a hit).
    degenerate = scored & np.any(gt[:, 2:] <= 0, axis=-1)
    ious[degenerate] = 0.0
    errors[degenerate] = norm_errors[degenerate] = -1.0
  ious[np.isnan(ious)] = 0.0
  errors[np.isnan(errors)] = np.inf
  norm_errors[np.isnan(norm_errors)] = np.inf
  return ious, errors, norm_errors


def otb_scores(pred, gt, absent=None,
               absent_rule: str = "exclude") -> dict[str, Any]:
  """One-pass scores of one sequence (got10k `ExperimentOTB.report`).

  Args:
    pred: [N, 4] predicted boxes; row 0 is replaced by `gt[0]`; NaN rows
      score IoU 0 and error +inf.
    gt: [N, 4] ground-truth boxes; NaN rows are not annotated.
    absent: [N] bool, frames where the target is absent (used by 'miss').
    absent_rule: 'exclude' (NaN ground-truth rows left out, got10k) or
      'miss' (absent and unannotated frames are misses, LaSOT toolkit); see
      the module docstring.

  Returns:
    Dict with `auc` (mean of the success curve), `precision20` (precision at
    20 px), `success_rate` (IoU > 0.5), `norm_precision` (normalised
    precision at 0.20), `success_curve` ([21] float64), `precision_curve`
    ([51] float64), `norm_precision_curve` ([51] float64) and `frames` (the
    frames in the denominator).

  Raises:
    ValueError: shapes differ, a bad rule, or (under 'exclude') no frame has
      ground truth.
  """
  pred, gt = _pair(pred, gt)
  if pred.ndim != 2 or len(pred) == 0:
    raise ValueError(f"expected [N, 4] boxes with N >= 1, got {pred.shape}")
  pred[0] = gt[0]
  ious, errors, norm_errors = _frame_errors(pred, gt, absent, absent_rule)
  succ = success_curve(ious)
  prec = precision_curve(errors)
  norm = precision_curve(norm_errors, NORM_PRECISION_THRESHOLDS)
  return {"auc": float(np.mean(succ)), "precision20": float(prec[20]),
          "success_rate": float(succ[10]),
          "norm_precision": float(norm[NORM_PRECISION_INDEX]),
          "success_curve": succ, "precision_curve": prec,
          "norm_precision_curve": norm, "frames": int(len(ious))}


def otb_report(results: Iterable[tuple], absent_rule: str = "exclude"
               ) -> dict[str, Any]:
  """One-pass scores of a benchmark: the mean of per-sequence curves.

  Args:
    results: (pred [N_i, 4], gt [N_i, 4]) or (pred, gt, absent [N_i] bool)
      per sequence (see `otb_scores`).
    absent_rule: see `otb_scores`.

  Returns:
    Dict with `auc`, `precision20`, `success_rate`, `norm_precision` of the
    mean curves, the mean `success_curve` [21], `precision_curve` [51] and
    `norm_precision_curve` [51], and `sequences`, the list of per-sequence
    `otb_scores` dicts.
  """
  per_sequence = []
  for item in results:
    if len(item) not in (2, 3):
      raise ValueError("each result must be (pred, gt[, absent])")
    absent = item[2] if len(item) == 3 else None
    per_sequence.append(otb_scores(item[0], item[1], absent, absent_rule))
  if not per_sequence:
    raise ValueError("no sequences to score")
  mean = {key: np.mean([s[key] for s in per_sequence], axis=0)
          for key in ("success_curve", "precision_curve",
                      "norm_precision_curve")}
  succ, prec = mean["success_curve"], mean["precision_curve"]
  norm = mean["norm_precision_curve"]
  return {"auc": float(np.mean(succ)), "precision20": float(prec[20]),
          "success_rate": float(succ[10]),
          "norm_precision": float(norm[NORM_PRECISION_INDEX]),
          "success_curve": succ, "precision_curve": prec,
          "norm_precision_curve": norm, "sequences": per_sequence}


def trackingnet_curves(pred, gt) -> dict[str, np.ndarray]:
  """Per-sequence curves of the TrackingNet server (see the module
  docstring).

  Args:
    pred: [N, 4] predicted boxes `[x, y, w, h]` (row 0 is replaced).
    gt: [N, 4] ground-truth boxes, same coordinates.

  Returns:
    Dict with `success_curve`, `precision_curve`, `norm_precision_curve`,
    each [21] float64 (`TRACKINGNET_*_THRESHOLDS`).
  """
  pred, gt = _pair(np.round(_as_boxes(pred, "pred")), np.round(
      _as_boxes(gt, "gt")))
  if pred.ndim != 2 or len(pred) == 0:
    raise ValueError(f"expected [N, 4] boxes with N >= 1, got {pred.shape}")
  pred[0] = gt[0]
  lo = np.maximum(gt[:, :2], pred[:, :2])
  hi = np.minimum(gt[:, :2] + gt[:, 2:] - 1, pred[:, :2] + pred[:, 2:] - 1)
  inter = np.prod(np.maximum(np.round(hi - lo + 1), 0), axis=-1)
  offset = ((gt[:, :2] + (gt[:, 2:] + 1) / 2) -
            (pred[:, :2] + (pred[:, 2:] + 1) / 2))
  with np.errstate(divide="ignore", invalid="ignore"):
    ious = inter / (np.prod(gt[:, 2:], -1) + np.prod(pred[:, 2:], -1) - inter)
    norm_errors = np.sqrt(np.sum((offset / gt[:, 2:]) ** 2, axis=-1))
  errors = np.sqrt(np.sum(offset ** 2, axis=-1))
  return {
      "success_curve": success_curve(ious, TRACKINGNET_IOU_THRESHOLDS),
      "precision_curve": precision_curve(errors,
                                         TRACKINGNET_ERROR_THRESHOLDS),
      "norm_precision_curve": precision_curve(norm_errors,
                                              TRACKINGNET_NORM_THRESHOLDS)}


def _unit_area(curve: np.ndarray) -> float:
  """Trapezoid area under a curve sampled evenly on [0, 1]."""
  return float(np.sum(curve[1:] + curve[:-1]) / 2 / (len(curve) - 1))


def trackingnet_report(results: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
  """The TrackingNet server's scores of a benchmark.

  Args:
    results: (pred [N_i, 4], gt [N_i, 4]) per sequence.

  Returns:
    Dict with `success`, `precision`, `norm_precision` (areas in [0, 1];
    the server prints them times 100), the mean curves, and `sequences`,
    the per-sequence curves and areas.
  """
  per_sequence = []
  for pred, gt in results:
    curves = trackingnet_curves(pred, gt)
    per_sequence.append({
        **curves, "success": _unit_area(curves["success_curve"]),
        "precision": _unit_area(curves["precision_curve"]),
        "norm_precision": _unit_area(curves["norm_precision_curve"])})
  if not per_sequence:
    raise ValueError("no sequences to score")
  out = {}
  for key in ("success", "precision", "norm_precision"):
    curve = np.mean([s[f"{key}_curve"] for s in per_sequence], axis=0)
    out[key], out[f"{key}_curve"] = _unit_area(curve), curve
  out["sequences"] = per_sequence
  return out


def got10k_scores(results: Iterable[tuple]) -> dict[str, Any]:
  """GOT-10k AO and success rates (got10k `ExperimentGOT10k.report`, val).

  Args:
    results: per sequence and run, (pred, gt, cover) or
      (pred, gt, cover, resolution): pred and gt [N, 4] boxes, cover [N]
      visible ratio labels (0 = fully occluded or absent; None counts every
      frame), resolution (W, H) pixels to clip boxes to, or None. Several
      runs of one sequence are several entries.

  Returns:
    Dict with `ao` (mean IoU over all scored frames, pooled), `sr50` and
    `sr75` (fraction with IoU > 0.5 / 0.75), `success_curve` ([101] float64,
    IoU > linspace(0, 1, 101)) and `frames` (number of scored frames).

  Raises:
    ValueError: mismatched shapes or nothing to score.
  """
  pooled = []
  for item in results:
    if len(item) not in (3, 4):
      raise ValueError("each result must be (pred, gt, cover[, resolution])")
    pred, gt = _pair(item[0], item[1])
    if pred.ndim != 2:
      raise ValueError(f"expected [N, 4] boxes, got {pred.shape}")
    n = len(gt)
    cover = (np.ones(n) if item[2] is None
             else np.asarray(item[2], dtype=np.float64))
    if cover.shape != (n,):
      raise ValueError(f"cover must be [{n}] (one per frame), "
                       f"got shape {cover.shape}")
    bound = item[3] if len(item) == 4 else None
    # Frame 0 is the initialisation; only visible, annotated frames count.
    keep = (cover[1:] > 0) & np.all(np.isfinite(gt[1:]), axis=-1)
    ious = iou(pred[1:][keep], gt[1:][keep], bound=bound)
    ious[np.isnan(ious)] = 0.0
    pooled.append(ious)
  ious = np.concatenate(pooled) if pooled else np.zeros(0)
  if ious.size == 0:
    raise ValueError("no frame to score (after frame 0, cover > 0)")
  return {"ao": float(np.mean(ious)), "sr50": float(np.mean(ious > 0.5)),
          "sr75": float(np.mean(ious > 0.75)),
          "success_curve": success_curve(ious, GOT10K_IOU_THRESHOLDS),
          "frames": int(ious.size)}


# ----------------------------------------------------------------------------
# VOT supervised (baseline) experiment.


def _polygon_area(points: np.ndarray) -> float:
  """Shoelace area of a [K, 2] polygon (0 for fewer than 3 points)."""
  if len(points) < 3:
    return 0.0
  x, y = points[:, 0], points[:, 1]
  return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def _clip_polygon(points: np.ndarray, x_min: float, y_min: float,
                  x_max: float, y_max: float) -> np.ndarray:
  """Sutherland-Hodgman clipping of a [K, 2] polygon to a rectangle."""
  for axis, limit, keep_above in ((0, x_min, True), (0, x_max, False),
                                  (1, y_min, True), (1, y_max, False)):
    if len(points) == 0:
      break
    side = points[:, axis] - limit
    inside = side >= 0 if keep_above else side <= 0
    out = []
    for i in range(len(points)):
      j = i - 1  # previous vertex (wraps around)
      if inside[i] != inside[j]:
        t = side[j] / (side[j] - side[i])
        out.append(points[j] + t * (points[i] - points[j]))
      if inside[i]:
        out.append(points[i])
    points = np.array(out, dtype=np.float64).reshape(-1, 2)
  return points


def region_overlap(regions, boxes, bound=None) -> np.ndarray:
  """Exact IoU of ground-truth regions (polygons or boxes) and boxes.

  Matches got10k `poly_iou` (shapely): with `bound`, both regions are first
  intersected with the image [0, W] x [0, H]. Loops over frames in Python
  (polygon clipping); meant for VOT runs of a few hundred frames.

  Args:
    regions: [N, 8] polygons `x1, y1, ..., x4, y4` or [N, 4] boxes.
    boxes: [N, 4] predicted boxes `[x, y, w, h]`.
    bound: optional (W, H) image size in pixels.

  Returns:
    [N] float64 IoU in [0, 1]: 0 where the box is not finite, NaN where the
    region is not finite (not annotated).
  """
  regions = np.asarray(regions, dtype=np.float64)
  boxes = _as_boxes(boxes, "boxes")
  if regions.ndim != 2 or regions.shape[1] not in (4, 8):
    raise ValueError(f"regions must be [N, 8] polygons or [N, 4] boxes, got "
                     f"shape {regions.shape}")
  if boxes.shape != (len(regions), 4):
    raise ValueError(f"boxes must be [{len(regions)}, 4], got {boxes.shape}")
  if regions.shape[1] == 4:
    x, y, w, h = regions.T
    regions = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=-1)
  out = np.empty(len(regions))
  for i, (region, box) in enumerate(zip(regions, boxes)):
    if not np.all(np.isfinite(region)):
      out[i] = np.nan
      continue
    if not np.all(np.isfinite(box)):
      out[i] = 0.0
      continue
    polygon = region.reshape(4, 2)
    x0, x1 = sorted((box[0], box[0] + box[2]))
    y0, y1 = sorted((box[1], box[1] + box[3]))
    if bound is not None:
      polygon = _clip_polygon(polygon, 0, 0, bound[0], bound[1])
      x0, x1 = min(max(x0, 0), bound[0]), min(max(x1, 0), bound[0])
      y0, y1 = min(max(y0, 0), bound[1]), min(max(y1, 0), bound[1])
    inter = _polygon_area(_clip_polygon(polygon, x0, y0, x1, y1))
    union = _polygon_area(polygon) + (x1 - x0) * (y1 - y0) - inter
    out[i] = min(max(inter / (union + _EPS), 0.0), 1.0)
  return out


def _initial_boxes(gt: np.ndarray) -> np.ndarray:
  """[N, 4] initialisation boxes from [N, 8] polygons or [N, 4] boxes."""
  return polygon_to_box(gt) if gt.shape[1] == 8 else gt


def run_vot_baseline(
    tracker_init: Callable[[Any, np.ndarray], Any],
    tracker_update: Callable[[Any], Any],
    frames: Sequence[Any],
    gt,
    skip: int = 5,
    bound=None,
    failure_overlap: float = 0.0,
) -> list[Any]:
  """Runs a tracker with re-initialisation (VOT supervised experiment).

  As got10k `ExperimentVOT.run_supervised` and vot-toolkit
  `SupervisedExperiment`: initialise on frame 0; on each later frame, if
  the overlap of the tracker's box with the ground truth is <=
  `failure_overlap` (0: no overlap at all) record FAILURE and re-initialise
  `skip` frames later, recording SKIPPED in between. The overlap is exact
  polygon/box IoU (`region_overlap`), not the toolkit's raster overlap.

  Args:
    tracker_init: called as `tracker_init(frame, box)` with box a [4] float64
      `[x, y, w, h]` (VOT polygons converted by `polygon_to_box`).
    tracker_update: called as `tracker_update(frame)`, returns a [4] box.
    frames: the N frames, passed to the tracker as they are (paths, arrays).
    gt: [N, 8] polygons or [N, 4] boxes, 0-based pixels.
    skip: frames from a failure to the re-initialisation (VOT: 5).
    bound: optional (W, H) image size for the overlap (got10k uses it).
    failure_overlap: overlap at or below which a frame is a failure.

  Returns:
    N records: INIT (1), FAILURE (2), SKIPPED (0) as ints, or a [4] float64
    box. A NaN box is a failure.
  """
  gt = np.asarray(gt, dtype=np.float64)
  if gt.ndim != 2 or gt.shape[1] not in (4, 8) or len(gt) != len(frames):
    raise ValueError(f"gt must be [{len(frames)}, 8] or [{len(frames)}, 4] "
                     f"(one per frame), got shape {gt.shape}")
  if skip < 1:
    raise ValueError(f"skip must be >= 1, got {skip}")
  init_boxes = _initial_boxes(gt)
  records: list[Any] = []
  failed, next_init = False, 0
  for f, frame in enumerate(frames):
    if f == 0 or (failed and f == next_init):
      tracker_init(frame, init_boxes[f].copy())
      records.append(INIT)
      failed = False
    elif failed:
      records.append(SKIPPED)
    else:
      box = _as_boxes(tracker_update(frame), "tracker_update output")
      box = box.reshape(4)
      overlap = region_overlap(gt[f:f + 1], box[None], bound)[0]
      # A NaN box overlaps 0 (a failure); an unannotated frame (NaN overlap)
      # cannot be judged and is no failure.
      if overlap <= failure_overlap:
        records.append(FAILURE)
        failed, next_init = True, f + skip
      else:
        records.append(box)
  return records


def _split_records(records: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
  """Records -> ([N] int codes, _BOX for boxes; [N, 4] boxes, NaN else)."""
  codes = np.full(len(records), _BOX, dtype=np.int64)
  boxes = np.full((len(records), 4), np.nan)
  for i, record in enumerate(records):
    value = np.asarray(record, dtype=np.float64).reshape(-1)
    if value.size == 1 and value[0] in (SKIPPED, INIT, FAILURE):
      codes[i] = int(value[0])
    elif value.size == 4:
      boxes[i] = value
    else:
      raise ValueError(f"record {i}: expected 0, 1, 2 or a [4] box, "
                       f"got {record!r}")
  return codes, boxes


def vot_overlaps(records: Sequence[Any], gt, bound=None) -> np.ndarray:
  """Per-frame overlaps of a supervised run.

  Args:
    records: N records of `run_vot_baseline`.
    gt: [N, 8] polygons or [N, 4] boxes.
    bound: optional (W, H) image size in pixels.

  Returns:
    [N] float64 overlaps: NaN on INIT, FAILURE and SKIPPED frames (and
    unannotated ones), 0 for NaN boxes.
  """
  codes, boxes = _split_records(records)
  gt = np.asarray(gt, dtype=np.float64)
  if len(gt) != len(codes):
    raise ValueError(f"{len(records)} records but {len(gt)} ground-truth rows")
  out = np.full(len(codes), np.nan)
  tracked = codes == _BOX
  out[tracked] = region_overlap(gt[tracked], boxes[tracked], bound)
  return out


def vot_accuracy(records: Sequence[Any], overlaps,
                 burnin: int = 10) -> tuple[float, int]:
  """Accuracy of one supervised run: mean overlap after burn-in.

  As vot-toolkit `compute_accuracy` and got10k `ExperimentVOT._calc_iou`:
  each INIT frame and the `burnin - 1` frames after it are excluded, as are
  FAILURE and SKIPPED frames and NaN overlaps.

  Args:
    records: N records of `run_vot_baseline`.
    overlaps: [N] float overlaps (`vot_overlaps`).
    burnin: frames excluded from each (re)initialisation on (VOT: 10).

  Returns:
    (accuracy, number of frames averaged); (0.0, 0) when no frame is left,
    as vot-toolkit.
  """
  codes, _ = _split_records(records)
  overlaps = np.asarray(overlaps, dtype=np.float64)
  if overlaps.shape != codes.shape:
    raise ValueError(f"{len(codes)} records but overlaps of shape "
                     f"{overlaps.shape}")
  mask = (codes == _BOX) & ~np.isnan(overlaps)
  for i in np.flatnonzero(codes == INIT):
    mask[i:i + burnin] = False
  if not np.any(mask):
    return 0.0, 0
  return float(np.mean(overlaps[mask])), int(np.sum(mask))


def vot_failures(records: Sequence[Any]) -> int:
  """Number of FAILURE records of one supervised run."""
  codes, _ = _split_records(records)
  return int(np.sum(codes == FAILURE))


def eao_curve(runs: Iterable[tuple[Sequence[Any], Any]]) -> np.ndarray:
  """Expected average overlap curve (vot-toolkit `compute_eao_curve`).

  Every run is cut at its failures into segments, from an INIT frame up to
  (not including) the next FAILURE; the last segment of a run that does not
  fail again runs to the end. A failed segment counts as 0 overlap after its
  end (padded to the longest segment); a completed one counts only over its
  own length. With all segments weighted 1, the curve at length j >= 1 is
  the weighted mean over segments of mean(overlaps[1:j + 1]) (the INIT frame
  excluded); at j = 0 it is the INIT frame's overlap, 0.

  Args:
    runs: (records, overlaps) per run, all sequences and repetitions; see
      `run_vot_baseline` and `vot_overlaps`. NaN overlaps count as 0.

  Returns:
    [L] float64 curve, L the longest segment in frames; index j is the
    sequence length j + 1 frames.
  """
  segments, failed = [], []
  for records, overlaps in runs:
    codes, _ = _split_records(records)
    overlaps = np.nan_to_num(np.asarray(overlaps, dtype=np.float64), nan=0.0)
    if overlaps.shape != codes.shape:
      raise ValueError(f"{len(codes)} records but overlaps of shape "
                       f"{overlaps.shape}")
    overlaps[codes != _BOX] = 0.0
    fails = np.flatnonzero(codes == FAILURE)
    inits = np.flatnonzero(codes == INIT)
    if len(fails) == 0:
      segments.append(overlaps)
      failed.append(False)
      continue
    for start, stop in zip(inits, fails):
      segments.append(overlaps[start:stop])
      failed.append(True)
    if len(inits) > len(fails):
      segments.append(overlaps[inits[-1]:])
      failed.append(False)
  if not segments:
    raise ValueError("no runs to compute the EAO curve from")
  length = max(len(s) for s in segments)
  values = np.zeros((len(segments), length))
  mask = np.zeros((len(segments), length))
  for i, (segment, fail) in enumerate(zip(segments, failed)):
    values[i, :len(segment)] = segment
    if fail:
      mask[i, :] = 1.0
    else:
      mask[i, :len(segment)] = 1.0
  # Running mean over frames 1..j (the INIT frame 0 excluded).
  running = values.copy()
  counts = np.arange(1, length)
  running[:, 1:] = np.cumsum(values[:, 1:], axis=1) / counts
  return np.sum(running * mask, axis=0) / np.sum(mask, axis=0)


def eao(runs: Iterable[tuple[Sequence[Any], Any]],
        interval: tuple[int, int]) -> float:
  """Expected average overlap: the EAO curve averaged over an interval.

  As vot-toolkit `EAOScore`: mean(curve[low:high + 1]). When every segment
  is shorter than `low` frames the slice is empty and the score is NaN (as
  in the toolkit); runs on short sequences have no defined EAO.

  Args:
    runs: (records, overlaps) per run (see `eao_curve`).
    interval: (low, high) sequence lengths, e.g. `EAO_INTERVALS[2017]`.

  Returns:
    The EAO score in [0, 1], or NaN.
  """
  low, high = interval
  curve = eao_curve(runs)[low:high + 1]
  return float(np.mean(curve)) if curve.size else math.nan


def vot_report(results: Sequence[Sequence[tuple[Sequence[Any], Any]]],
               interval: tuple[int, int] | None = None,
               burnin: int = 10, sensitivity: float = 30.0
               ) -> dict[str, Any]:
  """VOT supervised scores of a benchmark, as vot-toolkit aggregates them.

  Per sequence, accuracy and failures are averaged over its runs; then
  both are averaged over sequences weighted by length (vot-toolkit
  `AverageAccuracyRobustness`); robustness = exp(-sensitivity * failures /
  mean length).

  Args:
    results: per sequence, a list of its runs' (records, overlaps).
    interval: EAO interval (low, high), or None to skip EAO.
    burnin: accuracy burn-in (see `vot_accuracy`).
    sensitivity: robustness sensitivity (vot-toolkit: 30).

  Returns:
    Dict with `accuracy`, `failures` (length-weighted mean failures per
    sequence), `total_failures` (sum over sequences of the mean failures per
    run, the VOT2015-17 "robustness" count), `robustness`, and `eao` (None
    without an interval).
  """
  accuracy = failures = total = weight = 0.0
  all_runs = []
  for runs in results:
    if not runs:
      raise ValueError("every sequence needs at least one run")
    n = len(runs[0][0])
    acc = np.mean([vot_accuracy(r, o, burnin)[0] for r, o in runs])
    fail = np.mean([vot_failures(r) for r, _ in runs])
    accuracy += acc * n
    failures += fail * n
    total += fail
    weight += n
    all_runs += list(runs)
  if weight == 0:
    raise ValueError("no sequences to score")
  failures /= weight
  mean_length = weight / len(results)
  return {
      "accuracy": accuracy / weight,
      "failures": failures,
      "total_failures": total,
      "robustness": math.exp(-sensitivity * failures / mean_length),
      "eao": None if interval is None else eao(all_runs, interval),
  }
