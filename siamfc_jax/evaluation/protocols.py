"""Benchmark protocols: track a dataset, store, score, report and plot.

    tracker = Tracker.pretrained()
    seqs = sequences.read_dataset("data/OTB", protocols.READ_KIND["otb"])
    result = protocols.evaluate(tracker, seqs, "otb", "eval_output")
    print(protocols.format_table(result.report))

Result files follow the got10k toolkit 0.1.3 (`ExperimentOTB`,
`ExperimentGOT10k`, `ExperimentVOT`), under `<output>/results/`:

* OTB: `OTB/<tracker>/<seq>.txt`, one `x,y,w,h` line per frame (`%.3f`),
  and `OTB/<tracker>/times/<seq>_time.txt`, seconds per frame (`%.8f`).
* GOT-10k: `GOT-10k/<tracker>/<seq>/<seq>_001.txt` (`%.3f`, comma separated)
  and `<seq>_time.txt` (one column: one run of a deterministic tracker).
* VOT supervised ("baseline"): `VOT/<tracker>/baseline/<seq>/<seq>_001.txt`,
  one line per frame: `1` (initialised), `2` (failure), `0` (skipped) or
  `x,y,w,h` (`%.4f`), and `<seq>_time.txt` (`%.4f` seconds, `NaN` on
  skipped frames).

Each tracker's folder also holds `tracker.json`, its `Tracker.settings()`
(network, weights hash, hyper-parameters): a later run under the same name
with other settings is refused instead of re-scoring the old results.

Boxes in these files are in the coordinates of the sequence's own
annotation file, as the toolkit writes them (it passes the annotation to the
tracker unchanged and stores what the tracker returns): 1-based for OTB
folders (x and y one more than `siamfc_jax.boxes`), 0-based for VOT and
GOT-10k folders. So the toolkit's `report` scores our files as they are, and
a folder mixing OTB and VOT layouts keeps each file comparable with its
ground truth. Reports and plots go to `<output>/reports/<OTB|GOT-10k|VOT>/
<tracker>/` (`report.json`, `success_plots.png`, `precision_plots.png`).

Frames without ground truth (NaN rows: absent targets, or the end of a
ground truth shorter than the frames, see `sequences.match_lengths`) are
tracked but not scored; VOT runs are cut after the last annotated frame, so
EAO does not count those frames as zero overlap. Scores are those of
`metrics` (checked equal to the toolkit). Speeds follow
the toolkit too: fps = mean(1 / t) over frames with t > 0, per sequence; the
OTB overall fps is the mean over sequences, the GOT-10k and VOT ones pool
all frames. A batched run (`tracker.track_many`) cannot time single
sequences: each of its frames gets the batch's wall time divided by the
number of frames it tracked (throughput, decoding and compilation included).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import os
import pathlib
import shutil
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.evaluation import metrics

PROTOCOLS = ("otb", "got10k", "vot")
# Folder names of the got10k toolkit (without its version suffix).
BENCHMARK_DIRS = {"otb": "OTB", "got10k": "GOT-10k", "vot": "VOT"}
# `read_dataset` kind per protocol. OTB and VOT protocols run on any layout
# (a folder may mix OTB and VOT sequences); a GOT-10k test folder has no
# label files and would be detected as VOT, whose reader rejects its
# one-line ground truth, so GOT-10k folders are read as GOT-10k.
READ_KIND = {"otb": "auto", "vot": "auto", "got10k": "got10k"}
DEFAULT_BATCH = 8
# A sequence joins a lock-step batch only if it is at least this fraction
# of the batch's longest: `track_step_batch` computes every slot each frame,
# so a short sequence next to a long one would waste the difference (at
# most a quarter of a batch's work here; on a CPU, where a batch of N costs
# about N single steps, that waste is the whole price of batching).
MIN_BATCH_LENGTH_RATIO = 0.75
# got10k ExperimentVOT's default version.
DEFAULT_EAO_INTERVAL = metrics.EAO_INTERVALS[2017]
VOT_SKIP = 5  # frames from a failure to the re-initialisation (VOT)
VOT_BURNIN = 10  # frames from each (re)initialisation on, not in accuracy
REPORT_FILE = "report.json"
SETTINGS_FILE = "tracker.json"  # `settings_file`
PROGRESS_EVERY = 100  # frames between progress lines of a single sequence

Log = Callable[[str], None]


def _check_protocol(protocol: str) -> None:
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def results_dir(output: os.PathLike | str, protocol: str,
                tracker_name: str) -> pathlib.Path:
  """`<output>/results/<OTB|GOT-10k|VOT>/<tracker>` (VOT adds `baseline/`)."""
  _check_protocol(protocol)
  folder = (pathlib.Path(output) / "results" / BENCHMARK_DIRS[protocol] /
            tracker_name)
  return folder / "baseline" if protocol == "vot" else folder


def reports_dir(output: os.PathLike | str, protocol: str,
                tracker_name: str) -> pathlib.Path:
  """`<output>/reports/<OTB|GOT-10k|VOT>/<tracker>`."""
  _check_protocol(protocol)
  return (pathlib.Path(output) / "reports" / BENCHMARK_DIRS[protocol] /
          tracker_name)


def result_file(output: os.PathLike | str, protocol: str, tracker_name: str,
                seq_name: str) -> pathlib.Path:
  """The boxes (or VOT records) file of one sequence."""
  folder = results_dir(output, protocol, tracker_name)
  if protocol == "otb":
    return folder / f"{seq_name}.txt"
  return folder / seq_name / f"{seq_name}_001.txt"


def time_file(output: os.PathLike | str, protocol: str, tracker_name: str,
              seq_name: str) -> pathlib.Path:
  """The per-frame seconds file of one sequence."""
  folder = results_dir(output, protocol, tracker_name)
  if protocol == "otb":
    return folder / "times" / f"{seq_name}_time.txt"
  return folder / seq_name / f"{seq_name}_time.txt"


def settings_file(output: os.PathLike | str, protocol: str,
                  tracker_name: str) -> pathlib.Path:
  """`<output>/results/<OTB|GOT-10k|VOT>/<tracker>/tracker.json`: the
  `Tracker.settings()` that made the results beside it."""
  _check_protocol(protocol)
  return (pathlib.Path(output) / "results" / BENCHMARK_DIRS[protocol] /
          tracker_name / SETTINGS_FILE)


def _settings_differences(path: pathlib.Path,
                          settings: Mapping[str, Any]) -> list[str]:
  """How the settings stored at `path` differ from `settings` ([] when the
  file is absent or equal)."""
  if not path.is_file():
    return []
  try:
    stored = json.loads(path.read_text())
  except (OSError, ValueError) as e:
    return [f"settings (unreadable: {e})"]
  differs = []
  for key in sorted(set(stored) | set(settings)):
    old, new = stored.get(key), settings.get(key)
    if isinstance(old, dict) and isinstance(new, dict):
      differs += [f"{key}.{k} ({old.get(k)!r} there, {new.get(k)!r} now)"
                  for k in sorted(set(old) | set(new))
                  if old.get(k) != new.get(k)]
    elif old != new:
      differs.append(key)
  return differs


def annotation_origin(seq: sequences_lib.Sequence) -> int:
  """1 for OTB folders (1-based annotation files), else 0."""
  return 1 if seq.meta.get("format") == "otb" else 0


def _shift(boxes: np.ndarray, origin: int) -> np.ndarray:
  """Adds `origin` to x and y of [..., 4] boxes (a copy)."""
  out = np.array(boxes, dtype=np.float64)
  out[..., :2] += origin
  return out


def truncate(seq: sequences_lib.Sequence,
             max_frames: int | None) -> sequences_lib.Sequence:
  """The first `max_frames` frames of a sequence (all when None or longer).

  Per-frame arrays in `meta` (VOT polygons and tags, GOT-10k labels) are cut
  to match.
  """
  if max_frames is not None and max_frames < 1:
    raise ValueError(f"max_frames must be >= 1, got {max_frames}")
  if max_frames is None or len(seq) <= max_frames:
    return seq
  n = len(seq)

  def cut(value):
    if isinstance(value, np.ndarray) and value.ndim and len(value) == n:
      return value[:max_frames]
    if isinstance(value, dict):
      return {k: cut(v) for k, v in value.items()}
    return value

  meta = {k: cut(v) for k, v in seq.meta.items()}
  return sequences_lib.Sequence(seq.name, seq.frames[:max_frames],
                                seq.boxes[:max_frames], meta)


# ----------------------------------------------------------------------------
# Result files.


def write_boxes(path: os.PathLike | str, boxes: np.ndarray,
                origin: int = 0) -> None:
  """Writes [N, 4] boxes (`siamfc_jax.boxes`) as `%.3f` CSV, x, y + origin."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savetxt(path, _shift(boxes, origin).reshape(-1, 4), fmt="%.3f",
             delimiter=",")


def read_boxes(path: os.PathLike | str, origin: int = 0) -> np.ndarray:
  """Reads a boxes file of `write_boxes`.

  Returns:
    [N, 4] float64 boxes in the convention of `siamfc_jax.boxes`.

  Raises:
    FileNotFoundError, ValueError: naming the file.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: result file not found")
  try:
    boxes = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
  except ValueError as e:
    raise ValueError(f"{path}: not comma separated x,y,w,h lines ({e})"
                     ) from None
  if boxes.shape[1:] != (4,):
    raise ValueError(f"{path}: expected 4 values per line, got "
                     f"{boxes.shape[1]}")
  return _shift(boxes, -origin)


def write_times(path: os.PathLike | str, seconds: np.ndarray,
                fmt: str = "%.8f") -> None:
  """Writes [N] per-frame seconds, one per line (`NaN` for none)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  lines = [("NaN" if not np.isfinite(t) else fmt % t) for t in seconds]
  path.write_text("\n".join(lines) + "\n")


def read_times(path: os.PathLike | str) -> np.ndarray | None:
  """[N] float64 seconds of a times file (first column), or None if absent."""
  path = pathlib.Path(path)
  if not path.is_file():
    return None
  try:
    values = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
  except ValueError as e:
    raise ValueError(f"{path}: not one number of seconds per line ({e})"
                     ) from None
  return values[:, 0] if values.size else np.zeros(0)


def write_vot_records(path: os.PathLike | str, records: Sequence[Any],
                      origin: int = 0) -> None:
  """Writes `run_vot_baseline` records in the VOT / got10k layout.

  Codes (1 init, 2 failure, 0 skipped) as integers, boxes as `%.4f` CSV with
  x, y + origin.
  """
  lines = []
  for record in records:
    value = np.asarray(record, dtype=np.float64).reshape(-1)
    if value.size == 1:
      lines.append("%d" % int(value[0]))
    else:
      lines.append(",".join("%.4f" % v for v in _shift(value, origin)))
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("\n".join(lines) + "\n")


def read_vot_records(path: os.PathLike | str, origin: int = 0) -> list[Any]:
  """Reads a VOT records file: ints 0/1/2 or [4] float64 boxes (0-based).

  Raises:
    FileNotFoundError, ValueError: naming the file and line.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: result file not found")
  records: list[Any] = []
  for i, line in enumerate(path.read_text().strip().splitlines()):
    try:
      values = [float(v) for v in line.split(",")]
    except ValueError:
      values = []
    if len(values) == 1 and values[0] in (metrics.SKIPPED, metrics.INIT,
                                          metrics.FAILURE):
      records.append(int(values[0]))
    elif len(values) == 4:
      records.append(_shift(np.array(values), -origin))
    else:
      raise ValueError(f"{path}:{i + 1}: expected 0, 1, 2 or x,y,w,h, got "
                       f"{line!r}")
  return records


# ----------------------------------------------------------------------------
# Running.


def _first_box(seq: sequences_lib.Sequence) -> np.ndarray:
  return sequences_lib.first_box(seq)


def length_batches(seqs: Sequence[sequences_lib.Sequence],
                   batch_size: int) -> list[list[sequences_lib.Sequence]]:
  """Groups sequences for `track_many`, longest first.

  Batches hold at most `batch_size` sequences, each at least
  `MIN_BATCH_LENGTH_RATIO` times as long as the batch's first (longest).
  """
  if batch_size < 1:
    raise ValueError(f"batch size must be >= 1, got {batch_size}")
  batches: list[list[sequences_lib.Sequence]] = []
  for seq in sorted(seqs, key=lambda s: -len(s)):
    if (batches and len(batches[-1]) < batch_size and
        len(seq) >= MIN_BATCH_LENGTH_RATIO * len(batches[-1][0])):
      batches[-1].append(seq)
    else:
      batches.append([seq])
  return batches


def _track_batch(tracker: tracker_lib.Tracker,
                 batch: Sequence[sequences_lib.Sequence],
                 log: Log) -> list[tuple[np.ndarray, np.ndarray]]:
  """(boxes [N, 4], seconds [N]) per sequence, one at a time or lock-step."""
  if len(batch) == 1:
    seq = batch[0]

    def progress(done: int) -> None:
      if done % PROGRESS_EVERY == 0 and done < len(seq):
        log(f"  {seq.name}: {done}/{len(seq)} frames")

    return [tracker.track(seq.frames, _first_box(seq), progress)]
  start = time.perf_counter()
  boxes = tracker_lib.track_many(
      tracker, [(s.frames, _first_box(s)) for s in batch])
  per_frame = (time.perf_counter() - start) / sum(len(s) for s in batch)
  return [(b, np.full(len(b), per_frame)) for b in boxes]


def _vot_run(tracker: tracker_lib.Tracker, seq: sequences_lib.Sequence,
             bound: tuple[int, int]) -> tuple[list[Any], np.ndarray]:
  """Supervised run with re-initialisation: (records, [N] seconds).

  Seconds cover `init` / `update` (decoding excluded); NaN on skipped
  frames, as the toolkit records them.
  """
  seconds = np.full(len(seq), np.nan)

  def timed(call):
    def wrapped(item, *args):
      # Frames reach the tracker as (index, path) so the time lands on the
      # right frame.
      index, path = item
      image = tracker_lib.load_frame(path)
      start = time.perf_counter()
      out = call(image, *args)
      seconds[index] = time.perf_counter() - start
      return out
    return wrapped

  records = metrics.run_vot_baseline(
      timed(tracker.init), timed(tracker.update), list(enumerate(seq.frames)),
      seq.meta.get("polygons", seq.boxes), skip=VOT_SKIP, bound=bound)
  return records, seconds


def frame_size(seq: sequences_lib.Sequence) -> tuple[int, int]:
  """(W, H) of the first frame (read from the file header only)."""
  with Image.open(seq.frames[0]) as img:
    return img.size


def _write_atomic(path: pathlib.Path, write: Callable[[pathlib.Path], None]
                  ) -> None:
  """Writes through a temporary file, so a result file is whole or absent."""
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + ".tmp")
  write(tmp)
  os.replace(tmp, path)


def _check_names(seqs: Sequence[sequences_lib.Sequence]) -> None:
  counts = collections.Counter(s.name for s in seqs)
  repeated = sorted(n for n, c in counts.items() if c > 1)
  if repeated:
    raise ValueError(f"sequence names must be unique (they name the result "
                     f"files); repeated: {repeated}")


def _check_tracker_name(name: str) -> None:
  if not name or name in (".", "..") or "/" in name or os.sep in name:
    raise ValueError(f"tracker name {name!r} cannot name a results folder")


def run(tracker: tracker_lib.Tracker,
        seqs: Sequence[sequences_lib.Sequence],
        protocol: str,
        output: os.PathLike | str,
        batch_size: int = DEFAULT_BATCH,
        overwrite: bool = False,
        log: Log | None = None) -> list[str]:
  """Tracks the sequences and writes their result and time files.

  OTB and GOT-10k: one pass from the first ground-truth box. Sequences are
  tracked `batch_size` at a time in lock-step (`tracker.track_many`, the
  same boxes as separate runs), grouped by length (`length_batches`); a
  batch of one uses `Tracker.track`. VOT: supervised runs with
  re-initialisation after failures (`metrics.run_vot_baseline`), one
  sequence at a time. One run per sequence: the tracker is deterministic.

  Args:
    tracker: the tracker; its `name` names the results folder.
    seqs: the sequences (unique names).
    protocol: 'otb', 'got10k' or 'vot'.
    output: root of `results/` (see the module docstring).
    batch_size: most sequences tracked at once.
    overwrite: re-track sequences that already have a result file; by
      default they are skipped (the toolkit's behaviour).
    log: called with a line of progress now and then.

  Returns:
    Names of the sequences tracked (not skipped), in tracking order.

  Raises:
    ValueError: bad protocol, batch size or tracker name, repeated sequence
      names, a sequence without a first box, or (unless `overwrite`)
      results of another tracker of the same name (`settings_file`), all
      before any tracking.
  """
  _check_protocol(protocol)
  _check_tracker_name(tracker.name)
  _check_names(seqs)
  if batch_size < 1:
    raise ValueError(f"batch size must be >= 1, got {batch_size}")
  log = log or (lambda _: None)
  settings = _jsonable(tracker.settings())
  settings_path = settings_file(output, protocol, tracker.name)
  differs = _settings_differences(settings_path, settings)
  if differs and not overwrite:
    raise ValueError(
        f"{settings_path.parent} holds the results of another tracker with "
        f"the same name: its {', '.join(differs)} differ ({settings_path}). "
        "Give this one another name (--name) or replace them (--overwrite).")
  todo = [s for s in seqs
          if overwrite or not result_file(output, protocol, tracker.name,
                                          s.name).is_file()]
  for seq in todo:
    _first_box(seq)
  if differs:  # overwrite: no result of another tracker may pass for ours
    log(f"overwrite: deleting {settings_path.parent}, the results of "
        "another tracker of this name")
    shutil.rmtree(settings_path.parent)
  if len(todo) < len(seqs):
    log(f"{len(seqs) - len(todo)} of {len(seqs)} sequences already have "
        "results: re-scoring them")
  if todo or not settings_path.is_file():
    _write_atomic(settings_path,
                  lambda p: p.write_text(json.dumps(settings, indent=1)))
  done: list[str] = []

  def store(seq, write_result, results, seconds, time_fmt):
    # Times first: the result file marks the sequence as done.
    _write_atomic(time_file(output, protocol, tracker.name, seq.name),
                  functools.partial(write_times, seconds=seconds, fmt=time_fmt))
    _write_atomic(result_file(output, protocol, tracker.name, seq.name),
                  lambda p: write_result(p, results, annotation_origin(seq)))
    done.append(seq.name)

  if protocol == "vot":
    for i, seq in enumerate(todo):
      start = time.perf_counter()
      records, seconds = _vot_run(tracker, seq, frame_size(seq))
      store(seq, write_vot_records, records, seconds, "%.4f")
      log(f"[{i + 1}/{len(todo)}] {seq.name}: {len(seq)} frames, "
          f"{metrics.vot_failures(records)} failures, "
          f"{time.perf_counter() - start:.1f} s")
    return done
  batches = length_batches(todo, batch_size)
  for i, batch in enumerate(batches):
    frames = sum(len(s) for s in batch)
    log(f"[batch {i + 1}/{len(batches)}] {', '.join(s.name for s in batch)} "
        f"({frames} frames)")
    start = time.perf_counter()
    for seq, (boxes, seconds) in zip(batch,
                                     _track_batch(tracker, batch, log)):
      store(seq, write_boxes, boxes, seconds, "%.8f")
    wall = time.perf_counter() - start
    log(f"  done in {wall:.1f} s ({frames / wall:.1f} frames/s)")
  return done


# ----------------------------------------------------------------------------
# Scoring.


def _fps(seconds: np.ndarray | None) -> float | None:
  """The toolkit's speed: mean(1 / t) over frames with t > 0, or None."""
  if seconds is None:
    return None
  seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
  return float(np.mean(1.0 / seconds)) if seconds.size else None


def _check_length(path: pathlib.Path, n_results: int,
                  seq: sequences_lib.Sequence) -> None:
  if n_results != len(seq):
    raise ValueError(
        f"{path}: {n_results} results but {seq.name} has {len(seq)} frames "
        "(written with another max_frames? re-run with overwrite)")


def _read_run(seqs, protocol, output, tracker_name):
  """Yields (seq, results, seconds) with results boxes or VOT records."""
  for seq in seqs:
    path = result_file(output, protocol, tracker_name, seq.name)
    if protocol == "vot":
      results = read_vot_records(path, annotation_origin(seq))
    else:
      results = read_boxes(path, annotation_origin(seq))
    _check_length(path, len(results), seq)
    seconds = read_times(time_file(output, protocol, tracker_name, seq.name))
    if seconds is not None and len(seconds) != len(seq):
      seconds = None  # a stale times file: no speed rather than a wrong one
    yield seq, results, seconds


def _score_otb(runs) -> tuple[dict, dict]:
  per_seq, pairs = {}, []
  for seq, boxes, seconds in runs:
    s = metrics.otb_scores(boxes, seq.boxes)
    per_seq[seq.name] = {
        "frames": len(seq), "auc": s["auc"], "precision20": s["precision20"],
        "success_rate": s["success_rate"], "fps": _fps(seconds),
        "success_curve": s["success_curve"],
        "precision_curve": s["precision_curve"]}
    pairs.append((boxes, seq.boxes))
  total = metrics.otb_report(pairs)
  speeds = [s["fps"] for s in per_seq.values() if s["fps"] is not None]
  overall = {
      "sequences": len(per_seq),
      "frames": sum(s["frames"] for s in per_seq.values()),
      "auc": total["auc"], "precision20": total["precision20"],
      "success_rate": total["success_rate"],
      # got10k: the mean over sequences that have a speed.
      "fps": float(np.mean(speeds)) if speeds else None,
      "success_curve": total["success_curve"],
      "precision_curve": total["precision_curve"]}
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
    item = _got10k_item(seq, boxes)
    entry = {"frames": len(seq), "scored_frames": 0, "ao": None, "sr50": None,
             "sr75": None, "fps": _fps(seconds)}
    if item is not None:
      s = metrics.got10k_scores([item])
      entry.update(scored_frames=s["frames"], ao=s["ao"], sr50=s["sr50"],
                   sr75=s["sr75"])
      items.append(item)
    per_seq[seq.name] = entry
    if seconds is not None:
      all_seconds.append(seconds)
  overall = {"sequences": len(per_seq),
             "frames": sum(s["frames"] for s in per_seq.values()),
             "scored_frames": 0, "ao": None, "sr50": None, "sr75": None,
             "success_curve": None,
             # got10k pools the speed over all frames.
             "fps": _fps(np.concatenate(all_seconds)) if all_seconds else None}
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
  per_seq, results, all_seconds = {}, [], []
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
                         "fps": _fps(seconds)}
    results.append([(records, overlaps)])
    if seconds is not None:
      all_seconds.append(seconds)
  total = metrics.vot_report(results, eao_interval, burnin=VOT_BURNIN)
  eao = total["eao"]
  overall = {"sequences": len(per_seq),
             "frames": sum(s["frames"] for s in per_seq.values()),
             "accuracy": total["accuracy"], "failures": total["failures"],
             "total_failures": total["total_failures"],
             "robustness": total["robustness"],
             # NaN when every segment is shorter than the interval's start.
             "eao": None if eao is None or math.isnan(eao) else eao,
             "eao_interval": list(eao_interval) if eao_interval else None,
             "fps": _fps(np.concatenate(all_seconds)) if all_seconds else None}
  return overall, per_seq


def score(seqs: Sequence[sequences_lib.Sequence], protocol: str,
          output: os.PathLike | str, tracker_name: str,
          eao_interval: tuple[int, int] | None = DEFAULT_EAO_INTERVAL
          ) -> dict[str, Any]:
  """Scores the stored results of a tracker (see the module docstring).

  Args:
    seqs: the sequences, as tracked (same frames).
    protocol: 'otb', 'got10k' or 'vot'.
    output: root of `results/`.
    tracker_name: names the results folder.
    eao_interval: VOT EAO (low, high) sequence lengths
      (`metrics.EAO_INTERVALS`), or None for no EAO.

  Returns:
    The report: `protocol`, `tracker`, `results_dir`, `overall` and
    `sequences` (name -> scores, in the order of `seqs`). OTB: `auc`,
    `precision20`, `success_rate`, `fps`, `success_curve` [21],
    `precision_curve` [51]; GOT-10k: `ao`, `sr50`, `sr75`, `fps`, and in
    `overall` `success_curve` [101] (scores None when nothing after frame 0
    is annotated); VOT: `accuracy`, `failures`, `fps`, and in `overall`
    `total_failures`, `robustness`, `eao` (None when undefined: sequences
    shorter than the interval). Curves are NumPy arrays, fps None without
    a times file. `frames` counts the frames.

  Raises:
    FileNotFoundError: a result file is missing.
    ValueError: a malformed result file, or one whose length differs from
      its sequence.
  """
  _check_protocol(protocol)
  _check_names(seqs)
  if not seqs:
    raise ValueError("no sequences to score")
  runs = list(_read_run(seqs, protocol, output, tracker_name))
  if protocol == "otb":
    overall, per_seq = _score_otb(runs)
  elif protocol == "got10k":
    overall, per_seq = _score_got10k(runs)
  else:
    overall, per_seq = _score_vot(runs, eao_interval)
  return {"protocol": protocol, "tracker": tracker_name,
          "results_dir": str(results_dir(output, protocol, tracker_name)),
          "overall": overall, "sequences": per_seq}


# ----------------------------------------------------------------------------
# Reports, tables and plots.


def _jsonable(value):
  """NumPy arrays and scalars to lists and numbers; NaN and inf to None."""
  if isinstance(value, np.ndarray):
    value = value.tolist()
  if isinstance(value, Mapping):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, np.integer):
    return int(value)
  if isinstance(value, (float, np.floating)):
    return float(value) if math.isfinite(value) else None
  return value


def write_report(report: Mapping[str, Any],
                 path: os.PathLike | str) -> pathlib.Path:
  """Writes a report as JSON (arrays as lists, NaN as null)."""
  path = pathlib.Path(path)
  _write_atomic(path, lambda p: p.write_text(
      json.dumps(_jsonable(report), indent=2) + "\n"))
  return path


def read_report(path: os.PathLike | str) -> dict[str, Any]:
  """A report written by `write_report`; curves come back as lists."""
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def comparable_reports(output: os.PathLike | str, report: Mapping[str, Any]
                       ) -> list[dict[str, Any]]:
  """Other trackers' reports under `output` on the same sequences.

  Reports of the same protocol whose sequences and frame counts equal
  `report`'s, sorted by tracker name; unreadable files are skipped.
  """
  protocol = report["protocol"]
  frames = {k: v["frames"] for k, v in report["sequences"].items()}
  found = []
  root = pathlib.Path(output) / "reports" / BENCHMARK_DIRS[protocol]
  for path in sorted(root.glob(f"*/{REPORT_FILE}")):
    try:
      other = read_report(path)
    except (OSError, ValueError):
      continue
    if (other.get("protocol") == protocol and
        other.get("tracker") != report["tracker"] and
        {k: v.get("frames") for k, v in other.get("sequences", {}).items()}
        == frames):
      found.append(other)
  return found


def _plot(path: pathlib.Path, x: np.ndarray,
          curves: Sequence[tuple[str, Any, float]], xlabel: str,
          ylabel: str, title: str) -> pathlib.Path:
  """One got10k-style plot: curves sorted by score, score in the legend."""
  # pylint: disable=g-import-not-at-top
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  # pylint: enable=g-import-not-at-top
  fig = Figure(figsize=(6.4, 4.8))
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  styles = [s for s in ("-", "--", "-.") for _ in range(10)]
  order = sorted(curves, key=lambda c: -c[2])
  for i, (name, curve, value) in enumerate(order):
    ax.plot(x, np.asarray(curve, dtype=np.float64), styles[i % len(styles)],
            label=f"{name}: [{value:.3f}]")
  legend = ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=7.4)
  ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(x[0], x[-1]), ylim=(0, 1),
         title=title)
  ax.grid(True)
  _write_atomic(path, lambda p: fig.savefig(
      p, format="png", dpi=150, bbox_extra_artists=(legend,),
      bbox_inches="tight"))
  return path


def plot_curves(reports: Sequence[Mapping[str, Any]],
                folder: os.PathLike | str) -> list[pathlib.Path]:
  """Success (and precision) plots of one or more trackers, as got10k draws.

  OTB: `success_plots.png` (success rate vs IoU threshold, AUC in the
  legend) and `precision_plots.png` (precision vs centre-error threshold,
  precision@20 in the legend). GOT-10k: `success_plot.png` (AO in the
  legend). VOT: none (its scores are not curves). Drawn with matplotlib's
  Agg canvas (no display, no global pyplot state).

  Args:
    reports: reports of one protocol (`score`), one curve each.
    folder: where the PNG files go.

  Returns:
    The files written.
  """
  if not reports:
    return []
  protocol = reports[0]["protocol"]
  if any(r["protocol"] != protocol for r in reports):
    raise ValueError("all reports must be of one protocol")
  folder = pathlib.Path(folder)
  if protocol == "otb":
    return [
        _plot(folder / "success_plots.png", metrics.OTB_IOU_THRESHOLDS,
              [(r["tracker"], r["overall"]["success_curve"],
                r["overall"]["auc"]) for r in reports],
              "Overlap threshold", "Success rate", "Success plots of OPE"),
        _plot(folder / "precision_plots.png",
              metrics.OTB_ERROR_THRESHOLDS.astype(np.float64),
              [(r["tracker"], r["overall"]["precision_curve"],
                r["overall"]["precision20"]) for r in reports],
              "Location error threshold", "Precision",
              "Precision plots of OPE")]
  if protocol == "got10k":
    curves = [(r["tracker"], r["overall"]["success_curve"], r["overall"]["ao"])
              for r in reports if r["overall"].get("ao") is not None]
    if not curves:
      return []
    return [_plot(folder / "success_plot.png", metrics.GOT10K_IOU_THRESHOLDS,
                  curves, "Overlap threshold", "Success rate",
                  "Success plots on GOT-10k")]
  return []


def _cell(value, fmt: str) -> str:
  return "-" if value is None else format(value, fmt)


_COLUMNS = {
    # (header, key, format) per protocol.
    "otb": [("AUC", "auc", ".3f"), ("Prec@20", "precision20", ".3f"),
            ("SR0.5", "success_rate", ".3f"), ("fps", "fps", ".1f")],
    "got10k": [("AO", "ao", ".3f"), ("SR0.5", "sr50", ".3f"),
               ("SR0.75", "sr75", ".3f"), ("fps", "fps", ".1f")],
    "vot": [("accuracy", "accuracy", ".3f"), ("failures", "failures", ".3g"),
            ("fps", "fps", ".1f")],
}


def format_table(report: Mapping[str, Any]) -> str:
  """The report as a text table: a row per sequence, then the overall row.

  The overall row is the benchmark score: OTB the mean of per-sequence
  curves (sequence-weighted), GOT-10k pooled over frames, VOT the
  length-weighted means (failures per sequence); VOT adds a line with the
  total failures, robustness and EAO.
  """
  protocol = report["protocol"]
  columns = _COLUMNS[protocol]
  names = list(report["sequences"])
  overall_name = {"otb": "mean", "got10k": "pooled",
                  "vot": "weighted mean"}[protocol]
  width = max([len(n) for n in names] + [len(overall_name), 8])
  header = f"{'sequence':<{width}}  {'frames':>6}" + "".join(
      f"  {h:>8}" for h, _, _ in columns)
  lines = [f"{report['tracker']} on {BENCHMARK_DIRS[protocol]} "
           f"({len(names)} sequences)", header, "-" * len(header)]

  def row(name, scores):
    return f"{name:<{width}}  {scores['frames']:>6}" + "".join(
        f"  {_cell(scores.get(k), f):>8}" for _, k, f in columns)

  for name in names:
    lines.append(row(name, report["sequences"][name]))
  lines.append("-" * len(header))
  lines.append(row(overall_name, report["overall"]))
  overall = report["overall"]
  if protocol == "vot":
    interval = overall.get("eao_interval")
    eao = ("undefined (sequences shorter than the interval)"
           if overall.get("eao") is None else f"{overall['eao']:.3f}")
    lines.append(f"total failures {overall['total_failures']:.3g}, robustness "
                 f"{overall['robustness']:.3f}, EAO {eao}"
                 + (f" over lengths {interval[0]}-{interval[1]}"
                    if interval else ""))
  if overall.get("note"):
    lines.append(overall["note"])
  return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """What `evaluate` did.

  Attributes:
    report: the scores (see `score`), as written to `report_file`.
    tracked: names of the sequences tracked this time (others re-scored).
    report_file: the JSON report.
    plots: the PNG plots written.
  """

  report: dict[str, Any]
  tracked: list[str]
  report_file: pathlib.Path
  plots: list[pathlib.Path]


def evaluate(tracker: tracker_lib.Tracker,
             seqs: Iterable[sequences_lib.Sequence],
             protocol: str,
             output: os.PathLike | str,
             batch_size: int = DEFAULT_BATCH,
             overwrite: bool = False,
             max_frames: int | None = None,
             eao_interval: tuple[int, int] | None = DEFAULT_EAO_INTERVAL,
             compare: bool = True,
             log: Log | None = None) -> Evaluation:
  """Runs a benchmark protocol: track (what is missing), score, report, plot.

  Args:
    tracker: the tracker; `tracker.name` names its folders.
    seqs: the dataset (e.g. `read_dataset(root, READ_KIND[protocol])`).
    protocol: 'otb', 'got10k' or 'vot'.
    output: folder for `results/` and `reports/`.
    batch_size: most sequences tracked at once (see `run`).
    overwrite: re-track sequences that already have results.
    max_frames: track and score only the first frames of each sequence.
    eao_interval: VOT EAO interval (see `score`).
    compare: also draw, in the plots, other trackers' reports found under
      `output` for the same sequences (`comparable_reports`).
    log: progress lines.

  Returns:
    The report, the sequences tracked, the report file and the plots.
  """
  seqs = [truncate(s, max_frames) for s in seqs]
  tracked = run(tracker, seqs, protocol, output, batch_size, overwrite, log)
  report = score(seqs, protocol, output, tracker.name, eao_interval)
  report["max_frames"] = max_frames
  folder = reports_dir(output, protocol, tracker.name)
  others = comparable_reports(output, report) if compare else []
  plots = plot_curves([report] + others, folder)
  report["plots"] = [str(p) for p in plots]
  path = write_report(report, folder / REPORT_FILE)
  return Evaluation(report, tracked, path, plots)
