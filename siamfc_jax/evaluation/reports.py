"""Reports of scored results: JSON files, text tables and plots.

Reports and plots go to `<output>/reports/<folder>/<tracker>/`
(`results.reports_dir`): `report.json`, and for one-pass benchmarks
`success_plots.png`, `precision_plots.png` and `norm_precision_plots.png`
(got10k `ExperimentOTB.plot_curves` style), for GOT-10k `success_plot.png`.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Mapping, Sequence

import numpy as np

from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import results

REPORT_FILE = "report.json"


def jsonable(value):
  """NumPy arrays and scalars to lists and numbers; NaN and inf to None."""
  if isinstance(value, np.ndarray):
    value = value.tolist()
  if isinstance(value, Mapping):
    return {str(k): jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(v) for v in value]
  if isinstance(value, np.integer):
    return int(value)
  if isinstance(value, (float, np.floating)):
    return float(value) if math.isfinite(value) else None
  return value


def write_report(report: Mapping[str, Any],
                 path: os.PathLike | str) -> pathlib.Path:
  """Writes a report as JSON (arrays as lists, NaN as null)."""
  path = pathlib.Path(path)
  results.write_atomic(path, lambda p: p.write_text(
      json.dumps(jsonable(report), indent=2) + "\n"))
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
  root = (pathlib.Path(output) / "reports" /
          benchmarks.get(protocol).results_dir)
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


def draw_curves(ax, x: np.ndarray,
                curves: Sequence[tuple[str, Any, float]], xlabel: str,
                ylabel: str, title: str, fontsize: float = 7.4,
                inside: str | None = None):
  """Draws got10k-style curves on a matplotlib axes: sorted by score, the
  score in the legend, right of the axes or, with `inside`, at that place
  in them ('lower left', ...). Returns the legend."""
  styles = [s for s in ("-", "--", "-.") for _ in range(10)]
  order = sorted(curves, key=lambda c: -c[2])
  for i, (name, curve, value) in enumerate(order):
    ax.plot(x, np.asarray(curve, dtype=np.float64), styles[i % len(styles)],
            label=f"{name}: [{value:.3f}]")
  if inside:
    legend = ax.legend(loc=inside, fontsize=fontsize)
  else:
    legend = ax.legend(loc="center left", bbox_to_anchor=(1, 0.5),
                       fontsize=fontsize)
  ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(x[0], x[-1]), ylim=(0, 1),
         title=title)
  ax.grid(True)
  return legend


def new_figure(width: float = 6.4, height: float = 4.8):
  """A matplotlib Figure on the Agg canvas (no display, no pyplot state)."""
  # pylint: disable=g-import-not-at-top
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  # pylint: enable=g-import-not-at-top
  fig = Figure(figsize=(width, height))
  FigureCanvasAgg(fig)
  return fig


def save_figure(fig, path: pathlib.Path, legends=()) -> pathlib.Path:
  """Writes a figure as PNG (150 dpi, legends kept), atomically."""
  results.write_atomic(path, lambda p: fig.savefig(
      p, format="png", dpi=150, bbox_extra_artists=tuple(legends),
      bbox_inches="tight"))
  return path


def _plot(path: pathlib.Path, x: np.ndarray,
          curves: Sequence[tuple[str, Any, float]], xlabel: str,
          ylabel: str, title: str) -> pathlib.Path:
  """One got10k-style plot: curves sorted by score, score in the legend."""
  fig = new_figure()
  legend = draw_curves(fig.add_subplot(), x, curves, xlabel, ylabel, title)
  return save_figure(fig, path, [legend])


# (file, x thresholds, curve key, score key, x label, y label, title).
OPE_PLOTS = (
    ("success_plots.png", metrics.OTB_IOU_THRESHOLDS, "success_curve", "auc",
     "Overlap threshold", "Success rate", "Success plots of OPE"),
    ("precision_plots.png", metrics.OTB_ERROR_THRESHOLDS.astype(np.float64),
     "precision_curve", "precision20", "Location error threshold",
     "Precision", "Precision plots of OPE"),
    ("norm_precision_plots.png", metrics.NORM_PRECISION_THRESHOLDS,
     "norm_precision_curve", "norm_precision",
     "Normalized location error threshold", "Precision",
     "Normalized precision plots of OPE"),
)


def plot_curves(reports: Sequence[Mapping[str, Any]],
                folder: os.PathLike | str) -> list[pathlib.Path]:
  """Success and precision plots of one or more trackers, as got10k draws.

  One-pass benchmarks: `success_plots.png` (success rate vs IoU threshold,
  AUC in the legend), `precision_plots.png` (precision vs centre-error
  threshold, precision@20 in the legend) and, where the protocol reports
  it, `norm_precision_plots.png` (normalised precision, its value at 0.20 in
  the legend). GOT-10k: `success_plot.png` (AO in the legend). VOT: none
  (its scores are not curves). Trackers without a score (no ground truth)
  are left out. Drawn with matplotlib's Agg canvas (no display, no global
  pyplot state).

  Args:
    reports: reports of one protocol (`scoring.score`), one curve each.
    folder: where the PNG files go.

  Returns:
    The files written.
  """
  if not reports:
    return []
  protocol = reports[0]["protocol"]
  if any(r["protocol"] != protocol for r in reports):
    raise ValueError("all reports must be of one protocol")
  spec = benchmarks.get(protocol)
  folder = pathlib.Path(folder)
  written = []
  if spec.kind == "ope":
    for name, x, curve, key, xlabel, ylabel, title in OPE_PLOTS:
      if curve == "norm_precision_curve" and not spec.norm_precision:
        continue
      curves = [(r["tracker"], r["overall"][curve], r["overall"][key])
                for r in reports if r["overall"].get(key) is not None]
      if curves:
        written.append(_plot(folder / name, x, curves, xlabel, ylabel,
                             f"{title} on {spec.title}"))
  elif spec.kind == "got10k":
    curves = [(r["tracker"], r["overall"]["success_curve"], r["overall"]["ao"])
              for r in reports if r["overall"].get("ao") is not None]
    if curves:
      written.append(_plot(folder / "success_plot.png",
                           metrics.GOT10K_IOU_THRESHOLDS, curves,
                           "Overlap threshold", "Success rate",
                           "Success plots on GOT-10k"))
  return written


def _cell(value, fmt: str) -> str:
  return "-" if value is None else format(value, fmt)


_COLUMNS = {
    # (header, key, format) per protocol kind.
    "ope": [("AUC", "auc", ".3f"), ("Prec@20", "precision20", ".3f"),
            ("NPrec", "norm_precision", ".3f"),
            ("SR0.5", "success_rate", ".3f"), ("fps", "fps", ".1f")],
    "got10k": [("AO", "ao", ".3f"), ("SR0.5", "sr50", ".3f"),
               ("SR0.75", "sr75", ".3f"), ("fps", "fps", ".1f")],
    "vot": [("accuracy", "accuracy", ".3f"), ("failures", "failures", ".3g"),
            ("fps", "fps", ".1f")],
}


def format_table(report: Mapping[str, Any]) -> str:
  """The report as a text table: a row per sequence, then the overall row.

  The overall row is the benchmark score: one-pass benchmarks the mean of
  per-sequence curves (sequence-weighted; NPrec is the normalised precision
  at 0.20), GOT-10k pooled over frames, VOT the length-weighted means
  (failures per sequence); VOT adds a line with the total failures,
  robustness and EAO, TrackingNet one with the server's scores.
  """
  spec = benchmarks.get(report["protocol"])
  columns = _COLUMNS[spec.kind]
  if not spec.norm_precision:
    columns = [c for c in columns if c[1] != "norm_precision"]
  names = list(report["sequences"])
  overall_name = {"ope": "mean", "got10k": "pooled",
                  "vot": "weighted mean"}[spec.kind]
  width = max([len(n) for n in names] + [len(overall_name), 8])
  header = f"{'sequence':<{width}}  {'frames':>6}" + "".join(
      f"  {h:>8}" for h, _, _ in columns)
  lines = [f"{report['tracker']} on {spec.title} "
           f"({len(names)} sequences)", header, "-" * len(header)]

  def row(name, scores):
    return f"{name:<{width}}  {scores['frames']:>6}" + "".join(
        f"  {_cell(scores.get(k), f):>8}" for _, k, f in columns)

  for name in names:
    lines.append(row(name, report["sequences"][name]))
  lines.append("-" * len(header))
  lines.append(row(overall_name, report["overall"]))
  overall = report["overall"]
  if spec.kind == "vot":
    interval = overall.get("eao_interval")
    eao = ("undefined (sequences shorter than the interval)"
           if overall.get("eao") is None else f"{overall['eao']:.3f}")
    lines.append(f"total failures {overall['total_failures']:.3g}, robustness "
                 f"{overall['robustness']:.3f}, EAO {eao}"
                 + (f" over lengths {interval[0]}-{interval[1]}"
                    if interval else ""))
  if overall.get("server_success") is not None:
    lines.append(f"as the {spec.title} server scores: success "
                 f"{overall['server_success']:.3f}, precision "
                 f"{overall['server_precision']:.3f}, normalized precision "
                 f"{overall['server_norm_precision']:.3f}")
  if overall.get("note"):
    lines.append(overall["note"])
  if report.get("submission"):
    lines.append(f"submission: {report['submission']}")
  return "\n".join(lines)
