"""Curves of training runs, read back from their TensorBoard event files.

A comparison of training recipes (`experiments.compare_runs`) is a folder of
workdirs named `<recipe>-s<seed>` (`logistic-s0`, `triplet-s2`, ...), each
written by `training.train_and_evaluate` with `config.tensorboard` on. This
module reads their scalars (`track_val/auc`, `validation/peak_error`, ...)
without TensorFlow or TensorBoard: an event file is a TFRecord file (each
record: uint64 length, uint32 CRC, the serialized `Event`, uint32 CRC) of
`Event` protos, parsed with tensorboardX's own proto classes. It then groups
the runs by recipe, summarises each over its seeds and plots a scalar (the
validation AUC, the training loss) against the pairs seen.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import struct
from typing import Mapping, Sequence

import numpy as np

from siamfc_jax.evaluation import results

# A workdir of a comparison: `<recipe>-s<seed>`.
_RUN_NAME = re.compile(r"^(?P<recipe>.+)-s(?P<seed>\d+)$")
# Scalars summarised per recipe (tag, column, higher is better).
AUC_TAG = "track_val/auc"
PRECISION_TAG = "track_val/precision"
PEAK_ERROR_TAG = "validation/peak_error"


def read_scalars(event_dir: str | os.PathLike
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Every scalar of the event files in `event_dir`, by tag.

  Args:
    event_dir: a folder of `events.out.tfevents.*` files (a run's
      `tensorboard/`); a resumed run writes one file per start.

  Returns:
    {tag: ([N] int64 steps, [N] float64 values)}, sorted by step; a step
    written twice (a resumed run repeats the steps after its checkpoint)
    keeps the value written last. A record cut short at the end of a file
    (a run still writing) is ignored.

  Raises:
    FileNotFoundError: no event file in `event_dir`.
  """
  # pylint: disable-next=g-import-not-at-top
  from tensorboardX.proto import event_pb2
  files = sorted(pathlib.Path(event_dir).glob("events.out.tfevents.*"),
                 key=lambda p: p.stat().st_mtime)
  if not files:
    raise FileNotFoundError(f"no TensorBoard event file in {event_dir}")
  by_tag: dict[str, dict[int, float]] = {}
  for path in files:
    for record in _records(path.read_bytes()):
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        if value.WhichOneof("value") == "simple_value":
          by_tag.setdefault(value.tag, {})[int(event.step)] = (
              value.simple_value)
  return {tag: (np.array(sorted(points), dtype=np.int64),
                np.array([points[s] for s in sorted(points)],
                         dtype=np.float64))
          for tag, points in by_tag.items()}


def _records(data: bytes) -> list[bytes]:
  """The payloads of a TFRecord file's complete records."""
  out, pos = [], 0
  while pos + 12 <= len(data):
    (length,) = struct.unpack_from("<Q", data, pos)
    end = pos + 12 + length + 4
    if end > len(data):
      break
    out.append(data[pos + 12:pos + 12 + length])
    pos = end
  return out


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run of a comparison.

  Attributes:
    recipe: the workdir's name without its `-s<seed>`.
    seed: the seed in the workdir's name.
    workdir: the run's folder.
    scalars: `read_scalars` of its `tensorboard/`.
    batch_size: pairs per step (its `config.json`), to turn steps into pairs.
  """
  recipe: str
  seed: int
  workdir: pathlib.Path
  scalars: Mapping[str, tuple[np.ndarray, np.ndarray]]
  batch_size: int


def read_runs(folder: str | os.PathLike) -> list[Run]:
  """The runs `<recipe>-s<seed>/` of `folder` that wrote event files.

  Raises:
    FileNotFoundError: `folder` holds no such run.
  """
  runs = []
  for workdir in sorted(pathlib.Path(folder).iterdir()):
    match = _RUN_NAME.match(workdir.name)
    if not (match and (workdir / "tensorboard").is_dir()):
      continue
    config = json.loads((workdir / "config.json").read_text())
    runs.append(Run(match["recipe"], int(match["seed"]), workdir,
                    read_scalars(workdir / "tensorboard"),
                    int(config["batch_size"])))
  if not runs:
    raise FileNotFoundError(
        f"no training run <recipe>-s<seed>/tensorboard in {folder}")
  return sorted(runs, key=lambda r: (r.recipe, r.seed))


def summarise(runs: Sequence[Run]) -> list[dict[str, object]]:
  """One row per recipe: its seeds' tracking validation at start and end.

  Every value is the mean over the recipe's seeds, with the standard
  deviation over seeds (ddof 0) beside the AUCs. `final_*` is the last
  validation of each run, `best_auc` the best (the `best/` checkpoint);
  `pairs` the pairs seen at the last validation (the fewest over seeds, so a
  run still going shows).

  Returns:
    Rows {recipe, seeds, pairs, start_auc, final_auc, final_auc_std,
    best_auc, best_auc_std, final_precision, final_peak_error}, in the
    order the recipes first appear in `runs`.

  Raises:
    ValueError: a run without validation by tracking.
  """
  for r in runs:
    if AUC_TAG not in r.scalars:
      raise ValueError(f"{r.workdir} has no {AUC_TAG}: train it with "
                       "--config.track_val.root set")
  rows = []
  for recipe in dict.fromkeys(r.recipe for r in runs):
    group = [r for r in runs if r.recipe == recipe]
    auc = [r.scalars[AUC_TAG] for r in group]
    final = np.array([a[1][-1] for a in auc])
    best = np.array([a[1].max() for a in auc])
    rows.append(dict(
        recipe=recipe,
        seeds=[r.seed for r in group],
        pairs=min(int(a[0][-1]) * r.batch_size for a, r in zip(auc, group)),
        start_auc=float(np.mean([a[1][0] for a in auc])),
        final_auc=float(final.mean()), final_auc_std=float(final.std()),
        best_auc=float(best.mean()), best_auc_std=float(best.std()),
        final_precision=float(np.mean(
            [r.scalars[PRECISION_TAG][1][-1] for r in group])),
        final_peak_error=float(np.mean(
            [r.scalars[PEAK_ERROR_TAG][1][-1] for r in group])),
    ))
  return rows


def markdown_table(rows: Sequence[Mapping[str, object]]) -> str:
  """`summarise`'s rows as a Markdown table."""
  lines = ["| recipe | seeds | pairs | AUC at start | final AUC | best AUC "
           "| final precision@20 | final peak error (px) |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(
        f"| {r['recipe']} | {','.join(map(str, r['seeds']))} | {r['pairs']} "
        f"| {r['start_auc']:.3f} "
        f"| {r['final_auc']:.3f} ± {r['final_auc_std']:.3f} "
        f"| {r['best_auc']:.3f} ± {r['best_auc_std']:.3f} "
        f"| {r['final_precision']:.3f} | {r['final_peak_error']:.2f} |")
  return "\n".join(lines)


def plot(runs: Sequence[Run], path: str | os.PathLike, tag: str = AUC_TAG,
         title: str = "Validation by tracking") -> pathlib.Path:
  """A scalar against pairs seen: each seed thin, the mean over seeds bold.

  One colour per recipe; the mean is over the seeds at the steps they all
  reached. Drawn with matplotlib's Agg canvas, written atomically as PNG.

  Raises:
    ValueError: a run without `tag`.
  """
  # pylint: disable=g-import-not-at-top
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  # pylint: enable=g-import-not-at-top
  for r in runs:
    if tag not in r.scalars:
      raise ValueError(f"{r.workdir} has no scalar {tag!r} (it has "
                       f"{sorted(r.scalars)})")
  fig = Figure(figsize=(6.4, 4.2))
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  for i, recipe in enumerate(dict.fromkeys(r.recipe for r in runs)):
    colour = f"C{i}"
    group = [r for r in runs if r.recipe == recipe]
    for r in group:
      steps, values = r.scalars[tag]
      ax.plot(steps * r.batch_size, values, color=colour, lw=0.6, alpha=0.5)
    n = min(len(r.scalars[tag][0]) for r in group)
    steps = group[0].scalars[tag][0][:n]
    mean = np.mean([r.scalars[tag][1][:n] for r in group], axis=0)
    ax.plot(steps * group[0].batch_size, mean, color=colour, lw=2,
            marker="o" if n <= 20 else None, ms=3,
            label=f"{recipe} ({len(group)} seed{'s' * (len(group) > 1)})")
  ax.set(xlabel="training pairs seen", title=title,
         ylabel="success AUC (OTB)" if tag == AUC_TAG else tag)
  ax.grid(True, alpha=0.4)
  ax.legend(fontsize=8)
  path = pathlib.Path(path)
  results.write_atomic(path, lambda p: fig.savefig(
      p, format="png", dpi=120, bbox_inches="tight"))
  return path
