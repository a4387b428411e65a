"""Other trackers' raw results, read in the layouts they are published in.

    runs = external.read("path/to/SiamRPN", seqs, "otb100")
    report, path = external.evaluate("SiamRPN", "path/to/SiamRPN", seqs,
                                     "otb100", "eval_output")

A folder of results is read, never written: its report goes to
`<output>/reports/<folder>/<name>/report.json` (`results.reports_dir`), as
ours does, so that our plots and tables draw it beside ours. A name that
holds our own tracker's results there (`results.settings_file`) is refused.

Layouts (per sequence, the first found):

* One-pass and GOT-10k: `<dir>/<seq>.txt` (the OTB toolkit's, got10k's
  `ExperimentOTB`, pysot-toolkit's and pytracking's raw results), or
  `<dir>/<seq>/<seq>_NNN.txt` (got10k's `ExperimentGOT10k`; every
  repetition `_001`, `_002`, ... is read and, for GOT-10k, pooled as its
  `report` pools them; one-pass protocols read `_001`). One box `x,y,w,h`
  a line, separated by commas, tabs, spaces or a mix.
* VOT: `<dir>/<seq>/<seq>_001.txt`, or under `<dir>/baseline/` (the VOT
  toolkit's and got10k's `ExperimentVOT`'s layout): `1` (initialised), `2`
  (failure), `0` (skipped), a box `x,y,w,h`, or a polygon
  `x1,y1,...,x4,y4`, which is scored as its axis-aligned box
  (`sequences.polygon_to_box`, as our reader makes VOT's first boxes): a
  deliberate approximation, the toolkits intersect the polygons. Only
  the first run is read (a deterministic tracker's).

Sequence names match exactly, else ignoring case and `-`, `_`, `.` (pysot
writes `Jogging-1.txt` and `fleetface.txt` where we name `Jogging.1` and
`FleetFace`); an OTB folder read as one of its targets also matches
`<folder>.<target>` (pysot's `Human4-2` for our `Human4`).

Coordinates: those of the benchmark's annotation files, as the toolkits
store results (`results.annotation_origin`: 1-based for OTB, LaSOT, UAV).

Speeds: a times file beside the results (`times/<seq>_time.txt`,
`<seq>_time.txt` or `<seq>/<seq>_time.txt`, seconds per frame) gives the
fps; without one the fps is None.

Checks, each a `ValueError` naming the file (and line) or the sequences:
every sequence of the benchmark has results; a file has a box (or record)
per frame, no fewer; every value is a number and every box finite (a NaN
box has no score: the toolkits differ on it). A file longer than its
sequence is cut to it (the LaSOT toolkit cuts `monkey-17`; with
`max_frames` every file is), with one warning naming how many.
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import Any, Sequence
import warnings

import numpy as np

from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.data.datasets import attributes as attributes_lib
from siamfc_jax.evaluation import attributes
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import reports
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import scoring

_REPEAT = re.compile(r"^(?P<stem>.+)_(?P<run>\d{3})\.txt$")
_SHOWN = 5  # missing sequences named in an error


class ExternalResultsWarning(UserWarning):
  """Result files longer than their sequences (cut)."""


def _key(name: str) -> str:
  return re.sub(r"[-_.]", ".", name.lower())


def _entries(folder: pathlib.Path, kind: str
             ) -> dict[str, list[pathlib.Path]]:
  """Stem -> result files (repetitions sorted) of a results folder."""
  found: dict[str, list[pathlib.Path]] = {}
  if kind != "vot":
    for path in sorted(folder.glob("*.txt")):
      if path.is_file() and not path.stem.endswith("_time"):
        found[path.stem] = [path]
  for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
    runs = sorted(p for p in sub.glob(f"{_glob_escape(sub.name)}_[0-9]"
                                      "[0-9][0-9].txt") if p.is_file())
    if runs and sub.name not in found:
      found[sub.name] = runs
  return found


def _glob_escape(name: str) -> str:
  return re.sub(r"([*?\[])", r"[\1]", name)


def _candidates(seq: sequences_lib.Sequence) -> list[str]:
  names = [seq.name]
  target = seq.meta.get("target")
  if target is not None and "." not in seq.name:
    names.append(f"{seq.name}.{target}")
  return names


def find(folder: os.PathLike | str, seqs: Sequence[sequences_lib.Sequence],
         protocol: str) -> dict[str, list[pathlib.Path]]:
  """The result files of every sequence in a folder of results.

  Args:
    folder: the tracker's results folder (see the module docstring).
    seqs: the benchmark's sequences.
    protocol: a name of `benchmarks.PROTOCOLS`.

  Returns:
    Sequence name -> its result files (repetitions in order).

  Raises:
    FileNotFoundError: no such folder.
    ValueError: sequences without results (named), or two files that
      match one sequence.
  """
  folder = pathlib.Path(folder)
  if not folder.is_dir():
    raise FileNotFoundError(f"{folder}: results folder not found")
  kind = benchmarks.get(protocol).kind
  if kind == "vot" and (folder / "baseline").is_dir():
    folder = folder / "baseline"
  entries = _entries(folder, kind)
  by_key: dict[str, list[str]] = {}
  for stem in entries:
    by_key.setdefault(_key(stem), []).append(stem)
  found, missing = {}, []
  for seq in seqs:
    names = _candidates(seq)
    stem = next((n for n in names if n in entries), None)
    if stem is None:
      matches = sorted({s for n in names for s in by_key.get(_key(n), [])})
      if len(matches) > 1:
        raise ValueError(f"{folder}: {', '.join(matches)} all match "
                         f"sequence {seq.name}; keep one")
      stem = matches[0] if matches else None
    if stem is None:
      missing.append(seq.name)
    else:
      found[seq.name] = entries[stem]
  if missing:
    shown = ", ".join(missing[:_SHOWN]) + (", ..." if len(missing) > _SHOWN
                                           else "")
    layout = ("<seq>/<seq>_001.txt" if kind == "vot" else
              "<seq>.txt or <seq>/<seq>_001.txt")
    raise ValueError(
        f"{folder}: no results ({layout}) for {len(missing)} of the "
        f"{len(seqs)} {protocol} sequences: {shown}")
  return found


def _check_finite(path: pathlib.Path, rows: np.ndarray,
                  used: np.ndarray) -> None:
  bad = np.flatnonzero(used & ~np.all(np.isfinite(rows), axis=-1))
  if bad.size:
    line = path.read_text(encoding="utf-8-sig").splitlines()[bad[0]].strip()
    raise ValueError(f"{path}:{bad[0] + 1}: NaN or infinite value in line "
                     f"{line!r}, expected a finite box")


def _check_length(path: pathlib.Path, n_found: int,
                  seq: sequences_lib.Sequence, what: str) -> None:
  if n_found < len(seq):
    raise ValueError(f"{path}: {n_found} {what} but {seq.name} has "
                     f"{len(seq)} frames")


def read_boxes(path: os.PathLike | str, seq: sequences_lib.Sequence
               ) -> np.ndarray:
  """One-pass / GOT-10k boxes of a sequence, cut to its frames.

  Returns:
    [len(seq), 4] float64 boxes (`siamfc_jax.boxes`).

  Raises:
    ValueError: a line that is not 4 numbers, a NaN box, or fewer lines
      than frames (naming the file and line).
  """
  path = pathlib.Path(path)
  rows = sequences_lib.read_numbers(path, (4,))
  _check_length(path, len(rows), seq, "boxes")
  used = np.arange(len(rows)) < len(seq)
  _check_finite(path, rows, used)
  return results.shift(rows[:len(seq)], -results.annotation_origin(seq))


def read_vot_records(path: os.PathLike | str, seq: sequences_lib.Sequence
                     ) -> list[Any]:
  """VOT records of a sequence (`results.read_vot_records`), cut to it.

  Raises:
    ValueError: a line that is not 0, 1, 2, a box or a polygon, a NaN
      value, or fewer lines than frames (naming the file and line).
  """
  path = pathlib.Path(path)
  records = results.read_vot_records(path, results.annotation_origin(seq),
                                     frames=len(seq))
  _check_length(path, _line_count(path), seq, "records")
  return records


def _line_count(path: pathlib.Path) -> int:
  lines = path.read_text(encoding="utf-8-sig").splitlines()
  while lines and not lines[-1].strip():
    lines.pop()
  return len(lines)


def _read_seconds(path: pathlib.Path,
                  seq: sequences_lib.Sequence) -> np.ndarray | None:
  """Seconds per frame from the times file beside result file `path`."""
  match = _REPEAT.match(path.name)
  if match and match.group("stem") == path.parent.name:
    candidates = [path.parent / f"{path.parent.name}_time.txt"]
  else:
    candidates = [path.parent / "times" / f"{path.stem}_time.txt",
                  path.parent / f"{path.stem}_time.txt"]
  for candidate in candidates:
    seconds = results.read_times(candidate)
    if seconds is not None:
      return seconds[:len(seq)] if len(seconds) >= len(seq) else None
  return None


def read(folder: os.PathLike | str, seqs: Sequence[sequences_lib.Sequence],
         protocol: str, max_frames: int | None = None
         ) -> list[tuple[sequences_lib.Sequence, Any, np.ndarray | None]]:
  """Reads a folder of another tracker's results for `scoring.score_runs`.

  Args:
    folder: the results (see the module docstring for the layouts).
    seqs: the benchmark's sequences, as scored (cut to `max_frames`).
    protocol: a name of `benchmarks.PROTOCOLS`.
    max_frames: the frames the sequences were cut to, if they were (longer
      files are then cut without a warning).

  Returns:
    Per sequence: (sequence, found, seconds or None); found is [N, 4] boxes
    (one-pass), [R, N, 4] boxes (GOT-10k, R repetitions) or VOT records.

  Raises:
    FileNotFoundError, ValueError: see `find`, `read_boxes`,
      `read_vot_records`.
  """
  kind = benchmarks.get(protocol).kind
  files = find(folder, seqs, protocol)
  runs, longer = [], []
  for seq in seqs:
    paths = files[seq.name]
    if kind == "vot":
      found = read_vot_records(paths[0], seq)
    elif kind == "got10k":
      found = np.stack([read_boxes(p, seq) for p in paths])
    else:
      found = read_boxes(paths[0], seq)
    lines = _line_count(paths[0])
    if lines > len(seq):
      longer.append(f"{paths[0]}: {lines} lines for {len(seq)} frames")
    runs.append((seq, found, _read_seconds(paths[0], seq)))
  if longer and max_frames is None:
    warnings.warn(f"{len(longer)} result files of {folder} are longer than "
                  f"their sequences (e.g. {longer[0]}): the extra lines are "
                  "not scored", ExternalResultsWarning, stacklevel=2)
  return runs


def check_name(name: str, output: os.PathLike | str, protocol: str) -> None:
  """Refuses a name that cannot name a report folder or that holds our own
  tracker's results under `output`.

  Raises:
    ValueError: naming the name and, for ours, its folder.
  """
  if not name or name in (".", "..") or "/" in name or os.sep in name:
    raise ValueError(f"results name {name!r} cannot name a report folder")
  ours = results.settings_file(output, protocol, name)
  if ours.is_file():
    raise ValueError(f"{name}: {ours.parent} holds our tracker's results of "
                     "that name; give the other results another name")


def evaluate(name: str, folder: os.PathLike | str,
             seqs: Sequence[sequences_lib.Sequence], protocol: str,
             output: os.PathLike | str,
             attrs: attributes_lib.Attributes | None = None,
             max_frames: int | None = None,
             eao_interval: tuple[int, int] | None = (
                 scoring.DEFAULT_EAO_INTERVAL)
             ) -> tuple[dict[str, Any], pathlib.Path]:
  """Scores another tracker's results and writes its report.

  Args:
    name: the tracker's name in reports, plots and tables.
    folder: its results (read only).
    seqs: the benchmark's sequences (cut to `max_frames`, if given).
    protocol: a name of `benchmarks.PROTOCOLS`.
    output: the folder of `reports/` (and of our `results/`).
    attrs: the sequences' attributes, for `attributes.scores` (one-pass).
    max_frames: as `read`.
    eao_interval: as `scoring.score`.

  Returns:
    (report, its file): `scoring.score_runs`'s report with `external`
    (True), `max_frames` and, with `attrs`, `attributes`.

  Raises:
    FileNotFoundError, ValueError: see `check_name` and `read`.
  """
  check_name(name, output, protocol)
  runs = read(folder, seqs, protocol, max_frames)
  report = scoring.score_runs(runs, protocol, name, folder, eao_interval)
  report["external"] = True
  report["max_frames"] = max_frames
  if attrs is not None and benchmarks.get(protocol).kind == "ope":
    report["attributes"] = attributes.scores(report, attrs)
  path = reports.write_report(
      report, results.reports_dir(output, protocol, name) /
      reports.REPORT_FILE)
  return report, path
