"""Tests of `tables`: best bold, second underlined, in LaTeX and Markdown."""

import pytest

from siamfc_jax.evaluation import tables


def _report(name, auc, prec, fps=None, attrs=None):
  return {"protocol": "otb100", "tracker": name,
          "overall": {"sequences": 100, "auc": auc, "precision20": prec,
                      "norm_precision": auc, "success_rate": auc,
                      "fps": fps},
          "attributes": attrs or {}}


def _attrs(iv, occ):
  return {"IV": {"sequences": 38, "auc": iv, "precision20": iv,
                 "norm_precision": iv},
          "OCC": {"sequences": 49, "auc": occ, "precision20": occ,
                  "norm_precision": occ}}


REPORTS = [_report("ours_v2", 0.612, 0.801, 86.0, _attrs(0.60, 0.55)),
           _report("SiamRPN", 0.637, 0.851, None, _attrs(0.65, 0.55)),
           _report("ECO", 0.587, 0.851, None, _attrs(0.58, 0.50))]


@pytest.mark.parametrize("values,sign,expected", [
    ([0.5, 0.7, 0.6], 1, ["", "best", "second"]),
    ([0.5, 0.7, 0.7], 1, ["second", "best", "best"]),  # ties share
    ([3.0, 1.0, 2.0], -1, ["", "best", "second"]),  # failures: fewer
    ([None, 0.2, 0.1], 1, ["", "best", "second"]),
    ([0.1, 0.2], 0, ["", ""]),  # speeds are not ranked
])
def test_marks_rank_best_and_second(values, sign, expected):
  assert tables.marks(values, sign) == expected


def test_latex_sets_best_bold_and_second_underlined():
  text = tables.comparison(REPORTS, "latex")
  assert "\\usepackage{booktabs}" in text and "\\toprule" in text
  # Dense ranks: after two tied best, 0.801 is second.
  assert ("ours\\_v2 & \\underline{0.612} & \\underline{0.801} & "
          "\\underline{0.612} & \\underline{0.612} & 86.0 \\\\") in text
  assert ("SiamRPN & \\textbf{0.637} & \\textbf{0.851} & \\textbf{0.637} "
          "& \\textbf{0.637} & - \\\\") in text
  assert "ECO & 0.587 & \\textbf{0.851}" in text
  # Attribute rows: best of each row; ties share the mark.
  assert ("OCC (49) & \\textbf{0.550} & \\textbf{0.550} & "
          "\\underline{0.500} \\\\") in text
  assert text.count("\\begin{table}") == 4  # overall + AUC, P, NP


def test_markdown_marks_and_escapes():
  reports = REPORTS[:2] + [_report("a|b", 0.1, 0.1)]
  text = tables.comparison(reports, "markdown")
  assert "| SiamRPN | **0.637** | **0.851** |" in text
  assert "| ours_v2 | <u>0.612</u> | <u>0.801</u> |" in text
  assert "| a\\|b |" in text
  assert "|:---|:---:|" in text


def test_text_tables_align_and_write_goes_to_the_folder(tmp_path):
  text = tables.comparison(REPORTS, "text")
  lines = text.splitlines()
  assert lines[0] == "OTB-100: overall (100 sequences)"
  assert len({len(line) for line in lines[1:5]}) == 1  # aligned
  path = tables.write(REPORTS, tmp_path, "latex")
  assert path == tmp_path / "comparison.tex"
  assert path.read_text() == tables.comparison(REPORTS, "latex")
  with pytest.raises(ValueError, match="table format"):
    tables.write(REPORTS, tmp_path, "html")


def test_reports_of_two_protocols_are_refused():
  other = dict(REPORTS[0], protocol="lasot")
  with pytest.raises(ValueError, match="one protocol"):
    tables.overall_table([REPORTS[0], other], "text")
