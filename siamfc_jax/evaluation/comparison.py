"""One tracker beside the others: plots, attribute plots and tables.

    theirs, _ = external.evaluate("SiamRPN", "path/to/SiamRPN", seqs,
                                  "otb100", "eval_output", attrs)
    result = protocols.evaluate(tracker, seqs, "otb100", "eval_output")
    found = comparison.compare(result.report, "eval_output", attrs, "latex")

The lead report (ours, or the first of the others when ours is not run)
is drawn with every comparable report under the output folder
(`reports.comparable_reports`: the same protocol, sequences and frames),
lead first, the others by name. Everything goes to the lead's report
folder (`results.reports_dir`): the overall plots (`reports.plot_curves`),
one plot per attribute (`attributes.plot`, one-pass benchmarks with
attributes), and the table file (`tables.write`). The lead's `report.json`
is rewritten with its `attributes` and `plots`; the other reports are read,
never written (their attribute scores are computed again in memory when
they lack them).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

from siamfc_jax.data.datasets import attributes as attributes_lib
from siamfc_jax.evaluation import attributes
from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import reports
from siamfc_jax.evaluation import results
from siamfc_jax.evaluation import tables


@dataclasses.dataclass(frozen=True)
class Comparison:
  """What `compare` drew and wrote.

  Attributes:
    reports: the lead report, then the others compared with it.
    report_file: the lead's `report.json`.
    plots: the overall plots, then one per attribute.
    table: the table file, or None.
  """

  reports: list[dict[str, Any]]
  report_file: pathlib.Path
  plots: list[pathlib.Path]
  table: pathlib.Path | None = None


def compare(lead: dict[str, Any], output: os.PathLike | str,
            attrs: attributes_lib.Attributes | None = None,
            table_format: str | None = None) -> Comparison:
  """Draws and tabulates `lead` beside the comparable reports in `output`.

  Args:
    lead: a report (`scoring.score`, `external.evaluate`); `attributes` is
      added to it (one-pass benchmarks, with `attrs`).
    output: the folder of `reports/`.
    attrs: the sequences' attributes, or None for no attribute analysis.
    table_format: 'latex' or 'markdown' to write the table file (see
      `tables`), or None.

  Returns:
    The reports compared, the lead's report file, the plots and the table.

  Raises:
    ValueError: an unknown table format.
  """
  if table_format is not None and table_format not in tables.FORMATS:
    raise ValueError(f"table format must be one of {tables.FORMATS}, got "
                     f"{table_format!r}")
  protocol = lead["protocol"]
  ope = benchmarks.get(protocol).kind == "ope"
  if attrs is not None and ope:
    lead["attributes"] = attributes.scores(lead, attrs)
  others = reports.comparable_reports(output, lead)
  if attrs is not None and ope:
    for other in others:
      if "attributes" not in other:
        other["attributes"] = attributes.scores(other, attrs)
  compared = [lead] + others
  folder = results.reports_dir(output, protocol, lead["tracker"])
  plots = reports.plot_curves(compared, folder)
  plots += attributes.plot(compared, folder)
  table = (tables.write(compared, folder, table_format)
           if table_format else None)
  lead["plots"] = [str(p) for p in plots]
  if table is not None:
    lead["table"] = str(table)
  path = reports.write_report(lead, folder / reports.REPORT_FILE)
  return Comparison(compared, path, plots, table)

