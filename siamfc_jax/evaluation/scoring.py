"""Scores of stored results, per protocol kind (`benchmarks.Protocol.kind`).

Scores are those of `metrics` (checked equal to the got10k toolkit where it
has the experiment). Speeds follow the toolkit too: fps = mean(1 / t) over
frames with t > 0, per sequence; the one-pass overall fps is the mean over
sequences, the GOT-10k and VOT ones pool all frames. A batched run
(`tracker.track_many`) cannot time single sequences: each of its frames
gets the batch's wall time divided by the number of frames it tracked
(throughput, decoding and compilation included).

Frames without ground truth (NaN rows: absent targets, or the end of a
ground truth shorter than the frames, see `sequences.match_lengths`) are
tracked; how they score is the protocol's `absent` rule. VOT runs are cut
after the last annotated frame, so EAO does not count those frames as zero
overlap.

One-pass sequences with no ground truth after frame 0 (TrackingNet and
GOT-10k test splits) have no local score (None): their results go to the
benchmark's evaluation server.
"""

from __future__ import annotations

import collections
import math
import os
import pathlib
from typing import Any, Sequence

import numpy as np
from PIL import Image

from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import results

# got10k ExperimentVOT's default version.
DEFAULT_EAO_INTERVAL = metrics.EAO_INTERVALS[2017]
VOT_BURNIN = 10  # frames from each (re)initialisation on, not in accuracy
_OPE_SCORES = ("auc", "precision20", "success_rate", "norm_precision")
_OPE_CURVES = ("success_curve", "precision_curve", "norm_precision_curve")
# metrics.trackingnet_report key -> report key.
_SERVER_SCORES = {"success": "server_success",
                  "precision": "server_precision",
                  "norm_precision": "server_norm_precision"}


def check_names(seqs: Sequence[sequences_lib.Sequence]) -> None:
  """Raises ValueError when two sequences share a name."""
  counts = collections.Counter(s.name for s in seqs)
  repeated = sorted(n for n, c in counts.items() if c > 1)
  if repeated:
    raise ValueError(f"sequence names must be unique (they name the result "
                     f"files); repeated: {repeated}")


def frame_size(seq: sequences_lib.Sequence) -> tuple[int, int]:
  """(W, H) of the first frame (read from the file header only)."""
  with Image.open(seq.frames[0]) as img:
    return img.size


def fps(seconds: np.ndarray | None) -> float | None:
  """The toolkit's speed: mean(1 / t) over frames with t > 0, or None."""
  if seconds is None:
    return None
  seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
  return float(np.mean(1.0 / seconds)) if seconds.size else None


def has_ground_truth(seq: sequences_lib.Sequence) -> bool:
  """Whether any frame after the first has a finite ground-truth box."""
  return bool(np.any(np.all(np.isfinite(seq.boxes[1:]), axis=-1)))


def _check_length(path: pathlib.Path, n_results: int,
                  seq: sequences_lib.Sequence) -> None:
  if n_results != len(seq):
    raise ValueError(
        f"{path}: {n_results} results but {seq.name} has {len(seq)} frames "
        "(written with another max_frames? re-run with overwrite)")


def _read_run(seqs, protocol, output, tracker_name):
  """Yields (seq, results, seconds) with results boxes or VOT records."""
  vot = benchmarks.get(protocol).kind == "vot"
  for seq in seqs:
    path = results.result_file(output, protocol, tracker_name, seq.name)
    origin = results.annotation_origin(seq)
    if vot:
      found = results.read_vot_records(path, origin)
    else:
      found = results.read_boxes(path, origin)
    _check_length(path, len(found), seq)
    seconds = results.read_times(
        results.time_file(output, protocol, tracker_name, seq.name))
    if seconds is not None and len(seconds) != len(seq):
      seconds = None  # a stale times file: no speed rather than a wrong one
    yield seq, found, seconds


def _score_ope(runs, spec: benchmarks.Protocol) -> tuple[dict, dict]:
  per_seq, items = {}, []
  for seq, boxes, seconds in runs:
    entry = {"frames": len(seq), "scored_frames": 0, "fps": fps(seconds)}
    entry.update({k: None for k in _OPE_SCORES + _OPE_CURVES})
    if has_ground_truth(seq):
      item = (boxes, seq.boxes, seq.meta.get("absent"))
      s = metrics.otb_scores(*item, absent_rule=spec.absent)
      entry.update({k: s[k] for k in _OPE_SCORES + _OPE_CURVES})
      entry["scored_frames"] = s["frames"]
      if spec.server_scores:
        server = metrics.trackingnet_report([item[:2]])
        entry.update({v: server[k] for k, v in _SERVER_SCORES.items()})
      items.append(item)
    per_seq[seq.name] = entry
  speeds = [s["fps"] for s in per_seq.values() if s["fps"] is not None]
  overall = {
      "sequences": len(per_seq),
      "frames": sum(s["frames"] for s in per_seq.values()),
      "scored_sequences": len(items),
      # got10k: the mean over sequences that have a speed.
      "fps": float(np.mean(speeds)) if speeds else None}
  overall.update({k: None for k in _OPE_SCORES + _OPE_CURVES})
  if items:
    total = metrics.otb_report(items, spec.absent)
    overall.update({k: total[k] for k in _OPE_SCORES + _OPE_CURVES})
    if spec.server_scores:
      server = metrics.trackingnet_report([item[:2] for item in items])
      overall.update({v: server[k] for k, v in _SERVER_SCORES.items()})
  if len(items) < len(per_seq):
    overall["note"] = (
        f"{len(per_seq) - len(items)} sequences have no ground truth after "
        "the first frame (a test split?): "
        + ("submit the zip to the evaluation server" if spec.submission
           else "they are not scored"))
  return overall, per_seq


def _got10k_item(seq: sequences_lib.Sequence, boxes: np.ndarray):
  """(pred, gt, cover, resolution) for `metrics.got10k_scores`, or None
  when no frame after the first can be scored (the test split)."""
  cover = seq.meta.get("cover")
  scored = np.all(np.isfinite(seq.boxes[1:]), axis=-1)
  if cover is not None:
    scored &= np.asarray(cover)[1:] > 0
  if not np.any(scored):
    return None
  return (boxes, seq.boxes, cover, seq.meta.get("resolution"))


def _score_got10k(runs) -> tuple[dict, dict]:
  per_seq, items, all_seconds = {}, [], []
  for seq, boxes, seconds in runs:
    # Repetitions ([R, N, 4]) are pooled, as got10k's report pools them.
    boxes = np.asarray(boxes, dtype=np.float64)
    repeats = [_got10k_item(seq, b)
               for b in (boxes if boxes.ndim == 3 else boxes[None])]
    entry = {"frames": len(seq), "scored_frames": 0, "ao": None, "sr50": None,
             "sr75": None, "fps": fps(seconds)}
    if repeats[0] is not None:
      s = metrics.got10k_scores(repeats)
      entry.update(scored_frames=s["frames"], ao=s["ao"], sr50=s["sr50"],
                   sr75=s["sr75"])
      items += repeats
    per_seq[seq.name] = entry
    if seconds is not None:
      all_seconds.append(seconds)
  overall = {"sequences": len(per_seq),
             "frames": sum(s["frames"] for s in per_seq.values()),
             "scored_frames": 0, "ao": None, "sr50": None, "sr75": None,
             "success_curve": None,
             # got10k pools the speed over all frames.
             "fps": fps(np.concatenate(all_seconds)) if all_seconds else None}
  if items:
    s = metrics.got10k_scores(items)
    overall.update(scored_frames=s["frames"], ao=s["ao"], sr50=s["sr50"],
                   sr75=s["sr75"], success_curve=s["success_curve"])
  else:
    overall["note"] = ("no ground truth after the first frame (GOT-10k test "
                       "split?): submit the results to the evaluation server")
  return overall, per_seq


def _annotated_length(seq: sequences_lib.Sequence) -> int:
  """Frames up to the last one with a finite ground-truth box."""
  annotated = np.flatnonzero(np.all(np.isfinite(seq.boxes), axis=-1))
  return int(annotated[-1]) + 1 if annotated.size else 0


def _score_vot(runs, eao_interval) -> tuple[dict, dict]:
  per_seq, found, all_seconds = {}, [], []
  for seq, records, seconds in runs:
    # Frames after the last annotated one (a ground truth shorter than the
    # frames: `sequences.match_lengths`) are tracked but not scored, not even
    # as the zero overlaps EAO gives unannotated frames inside a run.
    n = _annotated_length(seq)
    records = records[:n]
    regions = seq.meta.get("polygons", seq.boxes)[:n]
    overlaps = metrics.vot_overlaps(records, regions, frame_size(seq))
    accuracy, _ = metrics.vot_accuracy(records, overlaps, VOT_BURNIN)
    per_seq[seq.name] = {"frames": len(seq), "accuracy": accuracy,
                         "failures": metrics.vot_failures(records),
                         "fps": fps(seconds)}
    found.append([(records, overlaps)])
    if seconds is not None:
      all_seconds.append(seconds)
  total = metrics.vot_report(found, eao_interval, burnin=VOT_BURNIN)
  eao = total["eao"]
  overall = {"sequences": len(per_seq),
             "frames": sum(s["frames"] for s in per_seq.values()),
             "accuracy": total["accuracy"], "failures": total["failures"],
             "total_failures": total["total_failures"],
             "robustness": total["robustness"],
             # NaN when every segment is shorter than the interval's start.
             "eao": None if eao is None or math.isnan(eao) else eao,
             "eao_interval": list(eao_interval) if eao_interval else None,
             "fps": fps(np.concatenate(all_seconds)) if all_seconds else None}
  return overall, per_seq


def score(seqs: Sequence[sequences_lib.Sequence], protocol: str,
          output: os.PathLike | str, tracker_name: str,
          eao_interval: tuple[int, int] | None = DEFAULT_EAO_INTERVAL
          ) -> dict[str, Any]:
  """Scores the stored results of a tracker (see `results` for the files).

  Args:
    seqs: the sequences, as tracked (same frames).
    protocol: a name of `benchmarks.PROTOCOLS`.
    output: root of `results/`.
    tracker_name: names the results folder.
    eao_interval: VOT EAO (low, high) sequence lengths
      (`metrics.EAO_INTERVALS`), or None for no EAO.

  Returns:
    The report: `protocol`, `benchmark` (its title), `tracker`,
    `results_dir`, `overall` and `sequences` (name -> scores, in the order
    of `seqs`). One-pass: `auc`, `precision20`, `success_rate`,
    `norm_precision`, `fps`, `scored_frames`, `success_curve` [21],
    `precision_curve` [51], `norm_precision_curve` [51] (None without
    ground truth after frame 0); GOT-10k: `ao`, `sr50`, `sr75`, `fps`, and
    in `overall` `success_curve` [101] (scores None when nothing after
    frame 0 is annotated); VOT: `accuracy`, `failures`, `fps`, and in
    `overall` `total_failures`, `robustness`, `eao` (None when undefined:
    sequences shorter than the interval). Curves are NumPy arrays, fps None
    without a times file. `frames` counts the frames.

  Raises:
    FileNotFoundError: a result file is missing.
    ValueError: an unknown protocol, a malformed result file, or one whose
      length differs from its sequence.
  """
  check_names(seqs)
  if not seqs:
    raise ValueError("no sequences to score")
  runs = list(_read_run(seqs, protocol, output, tracker_name))
  return score_runs(runs, protocol, tracker_name,
                    results.results_dir(output, protocol, tracker_name),
                    eao_interval)


def score_runs(runs: Sequence[tuple[sequences_lib.Sequence, Any,
                                    np.ndarray | None]],
               protocol: str, tracker_name: str,
               results_dir: os.PathLike | str,
               eao_interval: tuple[int, int] | None = DEFAULT_EAO_INTERVAL
               ) -> dict[str, Any]:
  """Scores results already read, one (sequence, found, seconds) per
  sequence (`score` reads ours; `external` reads other trackers').

  Args:
    runs: per sequence: the sequence; what the tracker found, [N, 4] boxes
      (`siamfc_jax.boxes`) for one-pass protocols, [N, 4] or [R, N, 4]
      boxes (R repetitions, pooled as got10k pools them) for GOT-10k, VOT
      records (`metrics.run_vot_baseline`) for VOT; and [N] float64 seconds
      per frame or None.
    protocol: a name of `benchmarks.PROTOCOLS`.
    tracker_name: names the tracker in the report.
    results_dir: where the results were read from (for the report).
    eao_interval: as `score`.

  Returns:
    The report of `score`.
  """
  spec = benchmarks.get(protocol)
  check_names([seq for seq, _, _ in runs])
  if not runs:
    raise ValueError("no sequences to score")
  if spec.kind == "ope":
    overall, per_seq = _score_ope(runs, spec)
  elif spec.kind == "got10k":
    overall, per_seq = _score_got10k(runs)
  else:
    overall, per_seq = _score_vot(runs, eao_interval)
  return {"protocol": protocol, "benchmark": spec.title,
          "tracker": tracker_name, "results_dir": str(results_dir),
          "overall": overall, "sequences": per_seq}
