"""One benchmark evaluated by several processes (hosts), one report.

    jax.distributed.initialize(...)              # on every host
    result = distributed.evaluate(tracker, seqs, "lasot", "eval_output",
                                  process=(jax.process_index(),
                                           jax.process_count()))

Every process tracks its own share of the sequences (`sharding.share`: a
deterministic split by length and name, balanced in frames, computed alike
by each process with no communication) on its own devices, and writes their
result files into the shared `output` folder, exactly as a one-process run
writes them. Process 0 then waits for the result files of every sequence
(polling, up to `timeout` seconds: a process that died leaves its files
missing, and the error names them) and scores, reports and plots as
`protocols.evaluate` does, so the report equals a one-process run's. A
re-run resumes: each process tracks only its sequences without a result
file.

The processes talk through the file system only (`output` must be one
folder all of them see): no collective runs, so a process that fails does
not hang the others, and a re-run may even use another number of
processes. Settings (`tracker.json`) are checked by every process; when
`overwrite` replaces another tracker's results, process 0 deletes them and
the others wait until it has written the new settings before they write.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from typing import Callable, Iterable, Sequence

import jax

from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.evaluation import protocols
from siamfc_jax.evaluation import reports
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring

WAIT_TIMEOUT = 3600.0  # seconds process 0 waits for the others' files
POLL_SECONDS = 0.5  # between looks at the shared folder

Log = Callable[[str], None]


def wait_for_files(paths: Sequence[os.PathLike | str], timeout: float,
                   what: str, ready: Callable[[str], bool] = os.path.isfile,
                   poll: float = POLL_SECONDS) -> None:
  """Returns once every path is `ready`; raises after `timeout` seconds.

  Args:
    paths: the files to wait for.
    timeout: seconds (>= 0).
    what: what they are, for the error ("result files of process 1").
    ready: whether one file is there (default: it exists).
    poll: seconds between looks.

  Raises:
    TimeoutError: naming how many files are missing and the first ones.
  """
  deadline = time.monotonic() + timeout
  missing = [os.fspath(p) for p in paths]
  while True:
    missing = [p for p in missing if not ready(p)]
    if not missing or time.monotonic() >= deadline:
      break
    time.sleep(poll)
  if missing:
    shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    raise TimeoutError(
        f"after {timeout:g} s, {len(missing)} {what} are still missing "
        f"({shown}): did a process fail? Run again to track only what is "
        "missing")


def evaluate(tracker: tracker_lib.Tracker,
             seqs: Iterable[sequences_lib.Sequence],
             protocol: str,
             output: os.PathLike | str,
             process: tuple[int, int] = (0, 1),
             timeout: float = WAIT_TIMEOUT,
             batch_size: int = protocols.DEFAULT_BATCH,
             overwrite: bool = False,
             max_frames: int | None = None,
             eao_interval: tuple[int, int] | None = (
                 scoring.DEFAULT_EAO_INTERVAL),
             compare: bool = True,
             log: Log | None = None,
             mesh: jax.sharding.Mesh | None = None,
             progress_bar: bool = False
             ) -> protocols.Evaluation | None:
  """`protocols.evaluate` shared by `process[1]` processes.

  Args:
    tracker: the tracker (the same on every process).
    seqs: the whole dataset (the same on every process).
    protocol: a name of `benchmarks.PROTOCOLS`.
    output: the folder every process writes into (shared).
    process: (this process's index, number of processes), e.g.
      `(jax.process_index(), jax.process_count())`.
    timeout: seconds a process waits for another's files (process 0 for
      the results, the others for the settings process 0 writes on
      `overwrite`).
    batch_size, overwrite, max_frames, eao_interval: as `protocols.evaluate`.
    compare, log, mesh, progress_bar: as `protocols.evaluate` (`mesh`: this
      process's devices).

  Returns:
    Process 0: the `protocols.Evaluation` (`tracked`: the sequences it
    tracked itself). Other processes: None, once their share is written.

  Raises:
    ValueError: as `protocols.run`, on every process, before tracking.
    TimeoutError: files of another process still missing after `timeout`.
  """
  index, count = process
  seqs = [protocols.truncate(s, max_frames) for s in seqs]
  if count == 1:
    return protocols.evaluate(tracker, seqs, protocol, output, batch_size,
                              overwrite, max_frames, eao_interval, compare,
                              log, mesh, progress_bar)
  scoring.check_names(seqs)
  log = log or (lambda _: None)
  mine = [seqs[i] for i in sharding.share(
      [s.name for s in seqs], [len(s) for s in seqs], index, count)]
  log(f"process {index} of {count}: {len(mine)} of {len(seqs)} sequences "
      f"({sum(len(s) for s in mine)} of {sum(len(s) for s in seqs)} frames)")
  if index != 0:
    _wait_for_settings(tracker, protocol, output, overwrite, timeout)
  tracked = protocols.run(tracker, mine, protocol, output, batch_size,
                          overwrite, log, mesh, progress_bar)
  if index != 0:
    return None
  own = {s.name for s in mine}
  others = [s for s in seqs if s.name not in own]
  log(f"process 0: waiting for the results of {len(others)} sequences "
      "of the other processes")
  wait_for_files([results.result_file(output, protocol, tracker.name, s.name)
                  for s in others], timeout,
                 "result files of the other processes")
  # Every result file is there: this tracks nothing, it scores and reports.
  result = protocols.evaluate(tracker, seqs, protocol, output, batch_size,
                              False, max_frames, eao_interval, compare, log,
                              mesh)
  return dataclasses.replace(result, tracked=tracked)


def _wait_for_settings(tracker: tracker_lib.Tracker, protocol: str,
                       output: os.PathLike | str, overwrite: bool,
                       timeout: float) -> None:
  """Waits, on `overwrite`, until process 0 has replaced the settings of
  another tracker of this name; without it `protocols.run` refuses them."""
  if not overwrite:
    return
  settings = reports.jsonable(tracker.settings())
  path = results.settings_file(output, protocol, tracker.name)
  if not results.settings_differences(path, settings):
    return
  wait_for_files(
      [path], timeout, f"settings of this tracker (process 0 replaces {path})",
      ready=lambda p: os.path.isfile(p) and not results.settings_differences(
          pathlib.Path(p), settings))
