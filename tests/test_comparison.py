"""Tests of `comparison`: one tracker beside the others' reports."""

import json
import warnings

import numpy as np

from siamfc_jax.data import datasets
from siamfc_jax.data.datasets import attributes as attributes_lib
from siamfc_jax.evaluation import comparison
from siamfc_jax.evaluation import external
from siamfc_jax.evaluation import reports
from tests import fake_datasets

OTB = {"Biker": 12, "Crossing": 14, "Car4": 11}


def _setup(tmp_path):
  root = tmp_path / "OTB100"
  fake_datasets.write_otb(root, OTB)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    seqs = datasets.read("otb100", root)
    attrs = attributes_lib.read("otb100", root, seqs)
  for seed, name in enumerate(("A", "B")):
    for seq in seqs:
      pred = fake_datasets.perturb(seq.boxes, seed, lost=False)
      (tmp_path / name).mkdir(exist_ok=True)
      np.savetxt(tmp_path / name / f"{seq.name}.txt", pred + [1, 1, 0, 0],
                 delimiter=",", fmt="%.3f")
  return seqs, attrs


def test_compare_draws_everyone_and_writes_only_the_lead(tmp_path):
  seqs, attrs = _setup(tmp_path)
  output = tmp_path / "out"
  lead, _ = external.evaluate("A", tmp_path / "A", seqs, "otb100", output,
                              attrs)
  _, other_file = external.evaluate("B", tmp_path / "B", seqs, "otb100",
                                    output)  # no attributes in its file
  # A report on other sequences is not comparable.
  external.evaluate("C", tmp_path / "B", seqs[:2], "otb100", output)
  before = other_file.read_bytes()
  found = comparison.compare(lead, output, attrs, "markdown")
  assert [r["tracker"] for r in found.reports] == ["A", "B"]
  assert found.reports[1]["attributes"].keys() == lead["attributes"].keys()
  assert other_file.read_bytes() == before  # read, never written
  folder = output / "reports" / "OTB2015" / "A"
  assert found.table == folder / "comparison.md"
  assert "| B |" in found.table.read_text()
  names = [p.relative_to(folder).as_posix() for p in found.plots]
  assert names[:3] == ["success_plots.png", "precision_plots.png",
                       "norm_precision_plots.png"]
  assert names[3:] == [f"attributes/{a}.png" for a in lead["attributes"]]
  saved = json.loads(found.report_file.read_text())
  assert saved["table"] == str(found.table)
  assert saved["attributes"]["SV"]["sequences"] == 3
  assert reports.read_report(found.report_file)["plots"] == [
      str(p) for p in found.plots]


def test_compare_without_attributes_or_table(tmp_path):
  seqs, _ = _setup(tmp_path)
  lead, _ = external.evaluate("A", tmp_path / "A", seqs, "otb100",
                              tmp_path / "out")
  found = comparison.compare(lead, tmp_path / "out")
  assert found.table is None and "attributes" not in lead
  assert [p.name for p in found.plots] == [
      "success_plots.png", "precision_plots.png", "norm_precision_plots.png"]
