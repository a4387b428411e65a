"""Result, time and settings files in the got10k toolkit's layouts.

Under `<output>/results/<folder>/<tracker>/`, `<folder>` the protocol's
`benchmarks.Protocol.results_dir` (got10k toolkit 0.1.3 names):

* One-pass benchmarks (OTB, LaSOT, UAV123, NfS, ...): `<seq>.txt`, one
  `x,y,w,h` line per frame (`%.3f`), and `times/<seq>_time.txt`, seconds
  per frame (`%.8f`), as `ExperimentOTB` and its subclasses write them.
* GOT-10k: `<seq>/<seq>_001.txt` (`%.3f`, comma separated) and
  `<seq>_time.txt` (one column: one run of a deterministic tracker).
* VOT supervised ("baseline"): `baseline/<seq>/<seq>_001.txt`, one line per
  frame: `1` (initialised), `2` (failure), `0` (skipped) or `x,y,w,h`
  (`%.4f`), and `<seq>_time.txt` (`%.4f` seconds, `NaN` on skipped frames).

Each tracker's folder also holds `tracker.json`, its `Tracker.settings()`
(network, weights hash, hyper-parameters): a later run under the same name
with other settings is refused instead of re-scoring the old results.

Boxes in these files are in the coordinates of the sequence's own
annotation file, as the toolkit writes them (it passes the annotation to the
tracker unchanged and stores what the tracker returns): x and y are
`annotation_origin(seq)` more than in `siamfc_jax.boxes` (1 for 1-based
annotation files such as OTB's). So the toolkit's `report` scores our files
as they are, and a folder mixing OTB and VOT layouts keeps each file
comparable with its ground truth.

TrackingNet's evaluation server takes a zip of `<seq>.txt` files, one
comma-separated `x,y,w,h` line per frame in the annotation's coordinates
(TrackingNet-devkit `metrics.py` reads them with `pandas.read_csv(sep=",")`
and matches each annotation file by its base name): `write_submission`.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
from typing import Any, Callable, Iterable, Mapping, Sequence
import zipfile

import numpy as np

from siamfc_jax.data import sequences as sequences_lib
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import metrics

SETTINGS_FILE = "tracker.json"  # `settings_file`


def results_dir(output: os.PathLike | str, protocol: str,
                tracker_name: str) -> pathlib.Path:
  """`<output>/results/<folder>/<tracker>` (VOT adds `baseline/`)."""
  spec = benchmarks.get(protocol)
  folder = pathlib.Path(output) / "results" / spec.results_dir / tracker_name
  return folder / "baseline" if spec.kind == "vot" else folder


def reports_dir(output: os.PathLike | str, protocol: str,
                tracker_name: str) -> pathlib.Path:
  """`<output>/reports/<folder>/<tracker>`."""
  spec = benchmarks.get(protocol)
  return pathlib.Path(output) / "reports" / spec.results_dir / tracker_name


def result_file(output: os.PathLike | str, protocol: str, tracker_name: str,
                seq_name: str) -> pathlib.Path:
  """The boxes (or VOT records) file of one sequence."""
  folder = results_dir(output, protocol, tracker_name)
  if benchmarks.get(protocol).kind == "ope":
    return folder / f"{seq_name}.txt"
  return folder / seq_name / f"{seq_name}_001.txt"


def time_file(output: os.PathLike | str, protocol: str, tracker_name: str,
              seq_name: str) -> pathlib.Path:
  """The per-frame seconds file of one sequence."""
  folder = results_dir(output, protocol, tracker_name)
  if benchmarks.get(protocol).kind == "ope":
    return folder / "times" / f"{seq_name}_time.txt"
  return folder / seq_name / f"{seq_name}_time.txt"


def settings_file(output: os.PathLike | str, protocol: str,
                  tracker_name: str) -> pathlib.Path:
  """`<output>/results/<folder>/<tracker>/tracker.json`: the
  `Tracker.settings()` that made the results beside it."""
  spec = benchmarks.get(protocol)
  return (pathlib.Path(output) / "results" / spec.results_dir /
          tracker_name / SETTINGS_FILE)


def submission_file(output: os.PathLike | str, protocol: str,
                    tracker_name: str) -> pathlib.Path:
  """`<output>/results/<folder>/<tracker>.zip`, the server submission."""
  spec = benchmarks.get(protocol)
  return (pathlib.Path(output) / "results" / spec.results_dir /
          f"{tracker_name}.zip")


def settings_differences(path: pathlib.Path,
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
  """The origin of the sequence's annotation file: `meta["origin"]` (set by
  the readers), else 1 for OTB folders (1-based files) and 0 otherwise."""
  origin = seq.meta.get("origin")
  if origin is None:
    return 1 if seq.meta.get("format") == "otb" else 0
  if origin not in (0, 1):
    raise ValueError(f"{seq.name}: meta['origin'] must be 0 or 1, got "
                     f"{origin!r}")
  return int(origin)


def shift(boxes: np.ndarray, origin: int) -> np.ndarray:
  """Adds `origin` to x and y of [..., 4] boxes (a float64 copy)."""
  out = np.array(boxes, dtype=np.float64)
  out[..., :2] += origin
  return out


def write_atomic(path: pathlib.Path, write: Callable[[pathlib.Path], None]
                 ) -> None:
  """Writes through a temporary file, so a result file is whole or absent.

  The temporary name is the writer's own (host and process id): processes
  of a multi-host evaluation write the same `tracker.json` side by side.
  """
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(
      f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
  write(tmp)
  os.replace(tmp, path)


def write_boxes(path: os.PathLike | str, boxes: np.ndarray,
                origin: int = 0) -> None:
  """Writes [N, 4] boxes (`siamfc_jax.boxes`) as `%.3f` CSV, x, y + origin."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savetxt(path, shift(boxes, origin).reshape(-1, 4), fmt="%.3f",
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
  return shift(boxes, -origin)


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
      lines.append(",".join("%.4f" % v for v in shift(value, origin)))
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("\n".join(lines) + "\n")


def read_vot_records(path: os.PathLike | str, origin: int = 0,
                     frames: int | None = None) -> list[Any]:
  """Reads a VOT records file: ours (`write_vot_records`) or another
  tracker's (the VOT toolkit's, got10k's `ExperimentVOT`).

  A line is a code (1 initialised, 2 failure, 0 skipped), a box x,y,w,h or
  a polygon x1,y1,...,x4,y4, which becomes its axis-aligned box
  (`sequences.polygon_to_box`); values separated by commas, tabs or spaces.

  Args:
    path: the file.
    origin: the file's pixel origin (`annotation_origin`).
    frames: the records of the first `frames` lines only (a longer file is
      cut); None: every line.

  Returns:
    ints 0/1/2 or [4] float64 boxes (0-based), one per line read.

  Raises:
    FileNotFoundError, ValueError: naming the file and line.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: result file not found")
  rows, counts = sequences_lib.read_numbers(path, (1, 4, 8),
                                            return_counts=True)
  lines = path.read_text(encoding="utf-8-sig").splitlines()
  records: list[Any] = []
  for i, (row, count) in enumerate(zip(rows[:frames], counts)):
    values = row[:count]
    if not np.all(np.isfinite(values)):
      raise ValueError(f"{path}:{i + 1}: NaN or infinite value in line "
                       f"{lines[i].strip()!r}, expected a finite region")
    if count == 1:
      if values[0] not in (metrics.SKIPPED, metrics.INIT, metrics.FAILURE):
        raise ValueError(f"{path}:{i + 1}: code {lines[i].strip()!r}, "
                         "expected 0 (skipped), 1 (init) or 2 (failure)")
      records.append(int(values[0]))
    else:
      box = sequences_lib.polygon_to_box(values) if count == 8 else values
      records.append(shift(box, -origin))
  return records


def write_submission(output: os.PathLike | str, protocol: str,
                     tracker_name: str, seq_names: Iterable[str]
                     ) -> pathlib.Path:
  """Packs one-pass result files as an evaluation-server zip.

  The zip holds `<seq>.txt` at its root, the bytes of each result file
  (`%.3f`, comma separated, annotation coordinates): the layout the
  TrackingNet server reads (TrackingNet-devkit `metrics.py`).

  Args:
    output: root of `results/`.
    protocol: a one-pass protocol ('trackingnet').
    tracker_name: names the results folder.
    seq_names: the sequences to pack (each must have a result file).

  Returns:
    The zip, `submission_file(output, protocol, tracker_name)`.

  Raises:
    ValueError: not a one-pass protocol, or no sequence.
    FileNotFoundError: a result file is missing.
  """
  if benchmarks.get(protocol).kind != "ope":
    raise ValueError(f"{protocol}: only one-pass results are submitted as "
                     "a zip of <seq>.txt files")
  files = [(name, result_file(output, protocol, tracker_name, name))
           for name in seq_names]
  if not files:
    raise ValueError("no sequences to submit")
  for _, path in files:
    if not path.is_file():
      raise FileNotFoundError(f"{path}: result file not found")
  zip_path = submission_file(output, protocol, tracker_name)

  def write(tmp: pathlib.Path) -> None:
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
      for name, path in files:
        archive.write(path, f"{name}.txt")

  write_atomic(zip_path, write)
  return zip_path
