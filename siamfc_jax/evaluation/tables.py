"""Comparison tables of several trackers, as papers set them.

    text = tables.comparison([ours, theirs], "latex")
    path = tables.write([ours, theirs], folder, "markdown")

Two kinds of table: the overall scores (a row per tracker, a column per
score) and, where the reports carry `attributes` (`attributes.scores`),
one table per score (success AUC, precision, normalised precision) with a
row per attribute and a column per tracker. In each column (overall) or
row (attributes) the best value is set in bold and the second underlined
(LaTeX `\\textbf` / `\\underline`, Markdown `**` / `<u>`); ties share a
mark, and ranks are dense (after two tied best values the next is
second). Speeds are printed but not ranked: other trackers' fps were
measured on other machines.

Formats: 'text' (aligned columns, for a terminal), 'markdown' and 'latex'
(booktabs rules: `\\usepackage{booktabs}`).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Mapping, Sequence

from siamfc_jax.evaluation import benchmarks
from siamfc_jax.evaluation import results

FORMATS = ("text", "markdown", "latex")
EXTENSIONS = {"text": ".txt", "markdown": ".md", "latex": ".tex"}
FILE_STEM = "comparison"  # <report folder>/comparison.<ext>

# Per protocol kind: (header, key, format, ranked: +1 higher is better, -1
# lower is better, 0 not ranked).
_OVERALL = {
    "ope": [("AUC", "auc", ".3f", 1), ("Prec@20", "precision20", ".3f", 1),
            ("NPrec", "norm_precision", ".3f", 1),
            ("SR0.5", "success_rate", ".3f", 1), ("fps", "fps", ".1f", 0)],
    "got10k": [("AO", "ao", ".3f", 1), ("SR0.5", "sr50", ".3f", 1),
               ("SR0.75", "sr75", ".3f", 1), ("fps", "fps", ".1f", 0)],
    "vot": [("EAO", "eao", ".3f", 1), ("accuracy", "accuracy", ".3f", 1),
            ("robustness", "robustness", ".3f", 1),
            ("failures", "total_failures", ".3g", -1),
            ("fps", "fps", ".1f", 0)],
}
# Attribute tables: (title, key).
_ATTRIBUTE_SCORES = (("Success AUC", "auc"), ("Precision (20 px)",
                                              "precision20"),
                     ("Normalized precision (0.20)", "norm_precision"))
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%",
                  "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _check_format(fmt: str) -> None:
  if fmt not in FORMATS:
    raise ValueError(f"table format must be one of {FORMATS}, got {fmt!r}")


def marks(values: Sequence[float | None], sign: int) -> list[str]:
  """'best', 'second' or '' per value (None never marked; sign +1: higher
  is better, -1: lower, 0: no marks). Equal values share a mark."""
  if sign == 0:
    return [""] * len(values)
  distinct = sorted({v for v in values if v is not None},
                    key=lambda v: -sign * v)
  rank = {v: ("best", "second")[i] for i, v in enumerate(distinct[:2])}
  return [rank.get(v, "") if v is not None else "" for v in values]


def _escape(text: str, fmt: str) -> str:
  if fmt == "latex":
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)
  if fmt == "markdown":
    return text.replace("|", r"\|")
  return text


def _cell(value, spec: str, mark: str, fmt: str) -> str:
  if value is None:
    return "-"
  text = format(value, spec)
  if fmt == "latex":
    return {"best": rf"\textbf{{{text}}}",
            "second": rf"\underline{{{text}}}"}.get(mark, text)
  if fmt == "markdown":
    return {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)
  return text


def _render(title: str, header: Sequence[str],
            rows: Sequence[Sequence[str]], fmt: str) -> str:
  """A table of strings (first column left-aligned) in a format."""
  if fmt == "latex":
    lines = ["\\begin{table}[t]", "\\centering",
             f"\\caption{{{title}}}",
             "\\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
             "\\toprule", " & ".join(header) + " \\\\", "\\midrule"]
    lines += [" & ".join(r) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines)
  if fmt == "markdown":
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + [":---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
  widths = [max(len(r[i]) for r in [header, *rows])
            for i in range(len(header))]
  def line(r):
    return "  ".join([r[0].ljust(widths[0])] +
                     [c.rjust(w) for c, w in zip(r[1:], widths[1:])])
  rule = "-" * len(line(header))
  return "\n".join([title, line(header), rule] + [line(r) for r in rows])


def _check_reports(reports: Sequence[Mapping[str, Any]]) -> str:
  if not reports:
    raise ValueError("no reports to compare")
  protocol = reports[0]["protocol"]
  if any(r["protocol"] != protocol for r in reports):
    raise ValueError("all reports must be of one protocol")
  return protocol


def overall_table(reports: Sequence[Mapping[str, Any]], fmt: str) -> str:
  """The overall scores of each tracker (a row each), best marked.

  Raises:
    ValueError: an unknown format, no reports or several protocols.
  """
  _check_format(fmt)
  spec = benchmarks.get(_check_reports(reports))
  columns = [c for c in _OVERALL[spec.kind]
             if c[1] != "norm_precision" or spec.norm_precision]
  if all(r["overall"].get("fps") is None for r in reports):
    columns = [c for c in columns if c[1] != "fps"]
  cells = [[] for _ in reports]
  for _, key, number, sign in columns:
    values = [r["overall"].get(key) for r in reports]
    for row, value, mark in zip(cells, values, marks(values, sign)):
      row.append(_cell(value, number, mark, fmt))
  rows = [[_escape(r["tracker"], fmt)] + row for r, row in zip(reports, cells)]
  sequences = reports[0]["overall"].get("sequences")
  title = (f"{spec.title}: overall ({sequences} sequences)" if sequences
           else f"{spec.title}: overall")
  return _render(title, ["Tracker"] + [h for h, _, _, _ in columns], rows,
                 fmt)


def attribute_tables(reports: Sequence[Mapping[str, Any]], fmt: str
                     ) -> list[str]:
  """Per-attribute tables (success AUC, precision, normalised precision):
  a row per attribute of the first report, a column per tracker, the best
  of each row marked; [] without attributes."""
  _check_format(fmt)
  spec = benchmarks.get(_check_reports(reports))
  first = reports[0].get("attributes")
  if not first:
    return []
  header = ["Attribute"] + [_escape(r["tracker"], fmt) for r in reports]
  out = []
  for title, key in _ATTRIBUTE_SCORES:
    if key == "norm_precision" and not spec.norm_precision:
      continue
    rows = []
    for abbreviation, entry in first.items():
      values = [r.get("attributes", {}).get(abbreviation, {}).get(key)
                for r in reports]
      rows.append([_escape(f"{abbreviation} ({entry['sequences']})", fmt)]
                  + [_cell(v, ".3f", m, fmt)
                     for v, m in zip(values, marks(values, 1))])
    out.append(_render(f"{spec.title}: {title} per attribute", header, rows,
                       fmt))
  return out


def comparison(reports: Sequence[Mapping[str, Any]], fmt: str) -> str:
  """The overall table, then the attribute tables, blank-line separated
  (LaTeX: with a comment naming the package the rules need)."""
  parts = [overall_table(reports, fmt)] + attribute_tables(reports, fmt)
  text = "\n\n".join(parts) + "\n"
  if fmt == "latex":
    text = ("% Best in bold, second underlined. Needs "
            "\\usepackage{booktabs}.\n" + text)
  elif fmt == "markdown":
    text = "Best in bold, second underlined.\n\n" + text
  return text


def write(reports: Sequence[Mapping[str, Any]], folder: os.PathLike | str,
          fmt: str) -> pathlib.Path:
  """Writes `comparison(reports, fmt)` to `folder/comparison.<ext>`."""
  _check_format(fmt)
  text = comparison(reports, fmt)
  path = pathlib.Path(folder) / f"{FILE_STEM}{EXTENSIONS[fmt]}"
  results.write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
  return path
