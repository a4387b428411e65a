"""Benchmark protocols: track a dataset, store, score, report and plot.

    tracker = Tracker.pretrained()
    seqs = datasets.read("otb", "data/OTB")
    result = protocols.evaluate(tracker, seqs, "otb", "eval_output")
    print(protocols.format_table(result.report))

The protocol of each benchmark name (folder names, scoring kind, absent
frames) is `benchmarks.PROTOCOLS`; the files are `results`, the scores
`scoring`, the JSON reports, tables and plots `reports`. This module runs
the tracker (`run`) and chains the steps (`evaluate`); it re-exports the
public names of the others, so `protocols.score(...)` etc. keep working.

One-pass benchmarks (OTB and its subsets, LaSOT, UAV123, TrackingNet, NfS,
TC-128, DTB70) and GOT-10k track each sequence once from its first box;
VOT runs supervised with re-initialisation. For a protocol with a server
submission (TrackingNet), sequences without ground truth after frame 0 are
also packed as the server's zip (`results.write_submission`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import shutil
import time
from typing import Any, Callable, Iterable, Sequence

import jax
import numpy as np
import tqdm

from siamfc_jax import frames as frames_lib
from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import reports
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring

# Re-exported: the public names callers use through `protocols`.
# pylint: disable=g-importing-member,unused-import
from siamfc_jax.evaluation.benchmarks import PROTOCOLS  # noqa: F401
from siamfc_jax.evaluation.reports import comparable_reports  # noqa: F401
from siamfc_jax.evaluation.reports import format_table  # noqa: F401
from siamfc_jax.evaluation.reports import plot_curves  # noqa: F401
from siamfc_jax.evaluation.reports import read_report  # noqa: F401
from siamfc_jax.evaluation.reports import REPORT_FILE  # noqa: F401
from siamfc_jax.evaluation.reports import write_report  # noqa: F401
from siamfc_jax.evaluation.results import annotation_origin  # noqa: F401
from siamfc_jax.evaluation.results import read_boxes  # noqa: F401
from siamfc_jax.evaluation.results import read_times  # noqa: F401
from siamfc_jax.evaluation.results import read_vot_records  # noqa: F401
from siamfc_jax.evaluation.results import reports_dir  # noqa: F401
from siamfc_jax.evaluation.results import result_file  # noqa: F401
from siamfc_jax.evaluation.results import results_dir  # noqa: F401
from siamfc_jax.evaluation.results import settings_file  # noqa: F401
from siamfc_jax.evaluation.results import SETTINGS_FILE  # noqa: F401
from siamfc_jax.evaluation.results import time_file  # noqa: F401
from siamfc_jax.evaluation.results import write_boxes  # noqa: F401
from siamfc_jax.evaluation.results import write_submission  # noqa: F401
from siamfc_jax.evaluation.results import write_times  # noqa: F401
from siamfc_jax.evaluation.results import write_vot_records  # noqa: F401
from siamfc_jax.evaluation.scoring import DEFAULT_EAO_INTERVAL  # noqa: F401
from siamfc_jax.evaluation.scoring import frame_size  # noqa: F401
from siamfc_jax.evaluation.scoring import score  # noqa: F401
from siamfc_jax.evaluation.scoring import VOT_BURNIN  # noqa: F401
# pylint: enable=g-importing-member,unused-import

DEFAULT_BATCH = 8
# A sequence joins a lock-step batch only if it is at least this fraction
# of the batch's longest: `track_step_batch` computes every slot each frame,
# so a short sequence next to a long one would waste the difference (at
# most a quarter of a batch's work here; on a CPU, where a batch of N costs
# about N single steps, that waste is the whole price of batching).
MIN_BATCH_LENGTH_RATIO = 0.75
VOT_SKIP = 5  # frames from a failure to the re-initialisation (VOT)

Log = Callable[[str], None]


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
                 advance: Callable[[int], Any],
                 mesh: jax.sharding.Mesh | None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
  """(boxes [N, 4], seconds [N]) per sequence, one at a time or lock-step.

  `advance` is called with the number of frames just tracked: after each
  frame of a single sequence, once for a lock-step batch.
  """
  if len(batch) == 1:
    seq = batch[0]
    return [tracker.track(seq.frames, sequences_lib.first_box(seq),
                          lambda _: advance(1))]
  start = time.perf_counter()
  boxes = tracker_lib.track_many(
      tracker, [(s.frames, sequences_lib.first_box(s)) for s in batch], mesh)
  per_frame = (time.perf_counter() - start) / sum(len(s) for s in batch)
  advance(sum(len(s) for s in batch))
  return [(b, np.full(len(b), per_frame)) for b in boxes]


def _progress_bar(seqs: Sequence[sequences_lib.Sequence],
                  show: bool) -> tqdm.tqdm:
  """A bar of the frames of `seqs` on stderr, if `show` and it is a TTY."""
  # disable=None: silent when stderr is not a terminal (logs, pipes, tests).
  return tqdm.tqdm(total=sum(len(s) for s in seqs), desc="tracking",
                   unit="frame", disable=None if show and seqs else True)


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
      image = frames_lib.load_frame(path)
      start = time.perf_counter()
      out = call(image, *args)
      seconds[index] = time.perf_counter() - start
      return out
    return wrapped

  records = metrics.run_vot_baseline(
      timed(tracker.init), timed(tracker.update), list(enumerate(seq.frames)),
      seq.meta.get("polygons", seq.boxes), skip=VOT_SKIP, bound=bound)
  return records, seconds


def _check_tracker_name(name: str) -> None:
  if not name or name in (".", "..") or "/" in name or os.sep in name:
    raise ValueError(f"tracker name {name!r} cannot name a results folder")


def run(tracker: tracker_lib.Tracker,
        seqs: Sequence[sequences_lib.Sequence],
        protocol: str,
        output: os.PathLike | str,
        batch_size: int = DEFAULT_BATCH,
        overwrite: bool = False,
        log: Log | None = None,
        mesh: jax.sharding.Mesh | None = None,
        progress_bar: bool = False) -> list[str]:
  """Tracks the sequences and writes their result and time files.

  One-pass benchmarks and GOT-10k: one pass from the first ground-truth
  box. With the jax backend, sequences are tracked `batch_size` at a time
  in lock-step (`tracker.track_many`, the same boxes as separate runs),
  grouped by length (`length_batches`); a batch of one uses
  `Tracker.track`. A lock-step batch is sharded over the devices of `mesh`,
  and a `batch_size` above 1 is rounded up to a multiple of their number,
  so that only the last batch has idle slots (`sharding.py`). Other
  backends track one sequence at a time, longest first. VOT: supervised
  runs with re-initialisation after failures (`metrics.run_vot_baseline`),
  one sequence at a time. One run per sequence: the tracker is deterministic.

  Each sequence's files are written as soon as it is tracked (a lock-step
  batch's when the batch ends), so a run that is stopped keeps them and the
  next one tracks only the rest.

  Args:
    tracker: the tracker; its `name` names the results folder.
    seqs: the sequences (unique names).
    protocol: a name of `benchmarks.PROTOCOLS`.
    output: root of `results/` (see `results`).
    batch_size: most sequences tracked at once in lock-step (jax).
    overwrite: re-track sequences that already have a result file; by
      default they are skipped (the toolkit's behaviour).
    log: called with a line per sequence (lock-step batch) tracked.
    mesh: the devices of lock-step batches; default: every local device.
    progress_bar: show a tqdm bar of the frames tracked on stderr, when it
      is a terminal.

  Returns:
    Names of the sequences tracked (not skipped), in tracking order.

  Raises:
    ValueError: bad protocol, batch size or tracker name, repeated sequence
      names, a sequence without a first box, or (unless `overwrite`)
      results of another tracker of the same name (`settings_file`), all
      before any tracking.
  """
  spec = benchmarks.get(protocol)
  _check_tracker_name(tracker.name)
  scoring.check_names(seqs)
  if batch_size < 1:
    raise ValueError(f"batch size must be >= 1, got {batch_size}")
  log = log or (lambda _: None)
  settings = reports.jsonable(tracker.settings())
  settings_path = results.settings_file(output, protocol, tracker.name)
  differs = results.settings_differences(settings_path, settings)
  if differs and not overwrite:
    raise ValueError(
        f"{settings_path.parent} holds the results of another tracker with "
        f"the same name: its {', '.join(differs)} differ ({settings_path}). "
        "Give this one another name (--name) or replace them (--overwrite).")
  todo = [s for s in seqs
          if overwrite or not results.result_file(
              output, protocol, tracker.name, s.name).is_file()]
  for seq in todo:
    sequences_lib.first_box(seq)
  if differs:  # overwrite: no result of another tracker may pass for ours
    log(f"overwrite: deleting {settings_path.parent}, the results of "
        "another tracker of this name")
    shutil.rmtree(settings_path.parent)
  if len(todo) < len(seqs):
    log(f"{len(seqs) - len(todo)} of {len(seqs)} sequences already have "
        "results: re-scoring them")
  if todo or not settings_path.is_file():
    results.write_atomic(
        settings_path, lambda p: p.write_text(json.dumps(settings, indent=1)))
  done: list[str] = []

  def store(seq, write_result, found, seconds, time_fmt):
    # Times first: the result file marks the sequence as done.
    results.write_atomic(
        results.time_file(output, protocol, tracker.name, seq.name),
        functools.partial(results.write_times, seconds=seconds, fmt=time_fmt))
    results.write_atomic(
        results.result_file(output, protocol, tracker.name, seq.name),
        lambda p: write_result(p, found, results.annotation_origin(seq)))
    done.append(seq.name)

  if spec.kind == "vot":
    with _progress_bar(todo, progress_bar) as bar:
      for seq in todo:
        bar.set_postfix_str(seq.name)
        start = time.perf_counter()
        records, seconds = _vot_run(tracker, seq, scoring.frame_size(seq))
        store(seq, results.write_vot_records, records, seconds, "%.4f")
        bar.update(len(seq))
        log(f"{seq.name}: {len(seq)} frames, "
            f"{metrics.vot_failures(records)} failures, "
            f"{time.perf_counter() - start:.1f} s")
    return done
  # Only JAX runs a batch in lock-step; elsewhere `track_many` would track
  # its sequences one after the other and store none until the last ended.
  if batch_size > 1 and tracker.backend.name == "jax":
    batch_size = sharding.padded_size(batch_size,
                                      mesh or sharding.local_mesh())
  else:
    batch_size = 1
  with _progress_bar(todo, progress_bar) as bar:
    for batch in length_batches(todo, batch_size):
      frames = sum(len(s) for s in batch)
      names = ", ".join(s.name for s in batch)
      bar.set_postfix_str(batch[0].name if len(batch) == 1 else
                          f"{len(batch)} sequences in lock-step")
      start = time.perf_counter()
      for seq, (boxes, seconds) in zip(
          batch, _track_batch(tracker, batch, bar.update, mesh)):
        store(seq, results.write_boxes, boxes, seconds, "%.8f")
      wall = time.perf_counter() - start
      log(f"{names}: {frames} frames, {wall:.1f} s "
          f"({frames / wall:.1f} frames/s)")
  return done


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """What `evaluate` did.

  Attributes:
    report: the scores (see `scoring.score`), as written to `report_file`.
    tracked: names of the sequences tracked this time (others re-scored).
    report_file: the JSON report.
    plots: the PNG plots written.
    submission: the evaluation-server zip written, or None.
  """

  report: dict[str, Any]
  tracked: list[str]
  report_file: pathlib.Path
  plots: list[pathlib.Path]
  submission: pathlib.Path | None = None


def evaluate(tracker: tracker_lib.Tracker,
             seqs: Iterable[sequences_lib.Sequence],
             protocol: str,
             output: os.PathLike | str,
             batch_size: int = DEFAULT_BATCH,
             overwrite: bool = False,
             max_frames: int | None = None,
             eao_interval: tuple[int, int] | None = DEFAULT_EAO_INTERVAL,
             compare: bool = True,
             log: Log | None = None,
             mesh: jax.sharding.Mesh | None = None,
             progress_bar: bool = False) -> Evaluation:
  """Runs a benchmark protocol: track (what is missing), score, report, plot.

  Args:
    tracker: the tracker; `tracker.name` names its folders.
    seqs: the dataset (e.g. `siamfc_jax.data.datasets.read(name, root)`).
    protocol: a name of `benchmarks.PROTOCOLS`.
    output: folder for `results/` and `reports/`.
    batch_size: most sequences tracked at once (see `run`).
    overwrite: re-track sequences that already have results.
    max_frames: track and score only the first frames of each sequence.
    eao_interval: VOT EAO interval (see `scoring.score`).
    compare: also draw, in the plots, other trackers' reports found under
      `output` for the same sequences (`comparable_reports`).
    log: progress lines.
    mesh: the devices of lock-step batches (see `run`).
    progress_bar: show a bar of the frames tracked (see `run`).

  Returns:
    The report, the sequences tracked, the report file, the plots and the
    submission zip (None unless the protocol has one and some sequence has
    no ground truth after frame 0).
  """
  seqs = [truncate(s, max_frames) for s in seqs]
  tracked = run(tracker, seqs, protocol, output, batch_size, overwrite, log,
                mesh, progress_bar)
  report = scoring.score(seqs, protocol, output, tracker.name, eao_interval)
  report["max_frames"] = max_frames
  submission = None
  unannotated = [s.name for s in seqs if not scoring.has_ground_truth(s)]
  if benchmarks.get(protocol).submission and unannotated:
    submission = results.write_submission(output, protocol, tracker.name,
                                          unannotated)
    report["submission"] = str(submission)
  folder = results.reports_dir(output, protocol, tracker.name)
  others = reports.comparable_reports(output, report) if compare else []
  plots = reports.plot_curves([report] + others, folder)
  report["plots"] = [str(p) for p in plots]
  path = reports.write_report(report, folder / reports.REPORT_FILE)
  return Evaluation(report, tracked, path, plots, submission)
