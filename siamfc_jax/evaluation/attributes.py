"""Scores per attribute (challenge factor) of one-pass benchmarks.

    attrs = datasets.attributes.read("otb100", root, seqs)
    report["attributes"] = attributes.scores(report, attrs)
    attributes.plot([ours, theirs], folder)   # one PNG per attribute

An attribute's scores are those of the sequences that have it, averaged as
the benchmark's overall scores are: the mean of their per-sequence curves
(pysot-toolkit's `draw_success_precision(..., videos=dataset.attr[a])` and
`show_result`: success AUC = the mean of the mean success curve, precision
and normalised precision the mean curves at 20 px and 0.20; the LaSOT and
OTB toolkits' `plot_draw_save` / `perfPlot` over `idx_seq_set`). The
per-sequence curves are the protocol's (`scoring.score`: got10k's for OTB
and UAV, the LaSOT toolkit's absent rule for LaSOT). Where we differ, and
say so: the LaSOT toolkit's plots drop sequences whose curve is all 0, and
pysot counts UAV frames without ground truth in the denominator; we do
neither (as our overall scores).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Mapping, Sequence

import numpy as np

from siamfc_jax.data.datasets import attributes as attributes_lib
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import reports

FOLDER = "attributes"  # under a report folder: <ABBR>.png
_CURVES = ("success_curve", "precision_curve", "norm_precision_curve")


def scores(report: Mapping[str, Any],
           attrs: attributes_lib.Attributes) -> dict[str, dict[str, Any]]:
  """Per-attribute scores of a one-pass report (`scoring.score`).

  Args:
    report: its `sequences` hold per-sequence curves (arrays or lists).
    attrs: the sequences' attributes.

  Returns:
    Abbreviation -> `name` (the attribute's), `sequences` (how many scored
    sequences have it), `auc`, `precision20`, `norm_precision`,
    `success_rate` and the mean `success_curve` [21], `precision_curve`
    [51], `norm_precision_curve` [51] (float64 arrays), in the
    benchmark's attribute order. Attributes none of whose sequences is
    scored are left out.

  Raises:
    ValueError: not a one-pass report.
  """
  if benchmarks.get(report["protocol"]).kind != "ope":
    raise ValueError(f"{report['protocol']}: attribute scores are for "
                     "one-pass benchmarks")
  per_seq = report["sequences"]
  out = {}
  for abbreviation, name in attrs.names:
    scored = [per_seq[n] for n in attrs.sequences(abbreviation)
              if n in per_seq and per_seq[n].get("success_curve") is not None]
    if not scored:
      continue
    mean = {k: np.mean([np.asarray(s[k], dtype=np.float64) for s in scored],
                       axis=0) for k in _CURVES}
    out[abbreviation] = {
        "name": name, "sequences": len(scored),
        "auc": float(np.mean(mean["success_curve"])),
        "precision20": float(mean["precision_curve"][20]),
        "norm_precision": float(
            mean["norm_precision_curve"][metrics.NORM_PRECISION_INDEX]),
        "success_rate": float(mean["success_curve"][10]), **mean}
  return out


def plot(reports_: Sequence[Mapping[str, Any]],
         folder: os.PathLike | str) -> list[pathlib.Path]:
  """One PNG per attribute, every tracker in it: success, precision and
  normalised precision plots side by side (got10k style, the score in the
  legend), titled with the attribute and its number of sequences.

  Args:
    reports_: one-pass reports of one protocol with `attributes` (`scores`);
      the attributes of the first are drawn.
    folder: the plots go to `folder/attributes/<ABBR>.png`.

  Returns:
    The files written.
  """
  if not reports_ or not reports_[0].get("attributes"):
    return []
  spec = benchmarks.get(reports_[0]["protocol"])
  written = []
  for abbreviation, first in reports_[0]["attributes"].items():
    fig = reports.new_figure(5.0 * len(reports.OPE_PLOTS), 4.6)
    legends = []
    for i, (_, x, curve, key, xlabel, ylabel, title) in enumerate(
        reports.OPE_PLOTS):
      curves = [(r["tracker"], r["attributes"][abbreviation][curve],
                 r["attributes"][abbreviation][key]) for r in reports_
                if abbreviation in r.get("attributes", {})]
      # Success curves fall to the right, precision curves rise.
      legends.append(reports.draw_curves(
          fig.add_subplot(1, len(reports.OPE_PLOTS), i + 1), x, curves,
          xlabel, ylabel, title.replace(" of OPE", ""),
          inside="lower left" if i == 0 else "lower right"))
    legends.append(fig.suptitle(
        f"{spec.title}, {first['name']} ({abbreviation}): "
        f"{first['sequences']} sequences", y=1.0))
    fig.tight_layout()
    written.append(reports.save_figure(
        fig, pathlib.Path(folder) / FOLDER / f"{abbreviation}.png",
        legends))
  return written
