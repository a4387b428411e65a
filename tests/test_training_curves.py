"""Tests of reading training runs back and comparing recipes."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from tensorboardX import SummaryWriter

from siamfc_jax.evaluation import training_curves


def _write_run(folder, name, auc, batch_size=8, every=10):
  """A workdir as training writes it: config.json and tensorboard/."""
  workdir = pathlib.Path(folder) / name
  workdir.mkdir(parents=True)
  (workdir / "config.json").write_text(json.dumps({"batch_size": batch_size}))
  writer = SummaryWriter(str(workdir / "tensorboard"))
  for i, value in enumerate(auc):
    writer.add_scalar(training_curves.AUC_TAG, value, i * every)
    writer.add_scalar(training_curves.PRECISION_TAG, value + 0.1, i * every)
    writer.add_scalar(training_curves.PEAK_ERROR_TAG, 10.0 - i, i * every)
  writer.close()
  return workdir


def test_scalars_read_back_as_written(tmp_path):
  workdir = _write_run(tmp_path, "a-s0", [0.25, 0.5, 0.75])
  scalars = training_curves.read_scalars(workdir / "tensorboard")
  steps, values = scalars[training_curves.AUC_TAG]
  np.testing.assert_array_equal(steps, [0, 10, 20])
  np.testing.assert_array_equal(values, [0.25, 0.5, 0.75])


def test_a_resumed_run_keeps_the_value_written_last(tmp_path):
  workdir = _write_run(tmp_path, "a-s0", [0.25, 0.5])
  (event_file,) = (workdir / "tensorboard").iterdir()
  event_file.touch()  # the older file, even on a coarse clock
  writer = SummaryWriter(str(workdir / "tensorboard"),
                         filename_suffix=".resumed")
  writer.add_scalar(training_curves.AUC_TAG, 0.375, 10)
  writer.add_scalar(training_curves.AUC_TAG, 0.625, 20)
  writer.close()
  steps, values = training_curves.read_scalars(
      workdir / "tensorboard")[training_curves.AUC_TAG]
  np.testing.assert_array_equal(steps, [0, 10, 20])
  np.testing.assert_array_equal(values, [0.25, 0.375, 0.625])


def test_a_record_cut_short_by_a_running_writer_is_ignored(tmp_path):
  workdir = _write_run(tmp_path, "a-s0", [0.25, 0.5, 0.75])
  (event_file,) = (workdir / "tensorboard").iterdir()
  event_file.write_bytes(event_file.read_bytes()[:-7])  # the last scalar
  scalars = training_curves.read_scalars(workdir / "tensorboard")
  np.testing.assert_array_equal(
      scalars[training_curves.AUC_TAG][0], [0, 10, 20])
  np.testing.assert_array_equal(
      scalars[training_curves.PEAK_ERROR_TAG][0], [0, 10])


def test_recipes_are_summarised_over_their_seeds(tmp_path):
  _write_run(tmp_path, "logistic-s0", [0.2, 0.4, 0.3])
  _write_run(tmp_path, "logistic-s1", [0.2, 0.6, 0.5])
  _write_run(tmp_path, "triplet-s0", [0.2, 0.3], batch_size=4)
  (tmp_path / "not-a-run").mkdir()
  runs = training_curves.read_runs(tmp_path)
  assert [(r.recipe, r.seed) for r in runs] == [
      ("logistic", 0), ("logistic", 1), ("triplet", 0)]
  logistic, triplet = training_curves.summarise(runs)
  assert logistic["seeds"] == [0, 1] and logistic["pairs"] == 160
  assert logistic["start_auc"] == pytest.approx(0.2)
  assert logistic["final_auc"] == pytest.approx(0.4)
  assert logistic["final_auc_std"] == pytest.approx(0.1)
  assert logistic["best_auc"] == pytest.approx(0.5)
  assert logistic["final_precision"] == pytest.approx(0.5)
  assert logistic["final_peak_error"] == pytest.approx(8.0)
  assert triplet["pairs"] == 40
  table = training_curves.markdown_table([logistic, triplet])
  assert "| logistic | 0,1 | 160 | 0.200 | 0.400 ± 0.100 |" in table
  path = training_curves.plot(runs, tmp_path / "plots" / "auc.png")
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(ValueError, match="has no scalar 'train/loss'"):
    training_curves.plot(runs, tmp_path / "loss.png", "train/loss")


def test_runs_without_validation_by_tracking_are_named(tmp_path):
  workdir = tmp_path / "a-s0"
  workdir.mkdir()
  (workdir / "config.json").write_text(json.dumps({"batch_size": 8}))
  writer = SummaryWriter(str(workdir / "tensorboard"))
  writer.add_scalar("train/loss", 1.0, 0)
  writer.close()
  with pytest.raises(ValueError, match=f"{workdir} has no track_val/auc"):
    training_curves.summarise(training_curves.read_runs(tmp_path))


def test_a_folder_without_runs_is_one_line_naming_it(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.compare_runs",
       f"--runs={tmp_path}"], capture_output=True, text=True, check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      f"compare_runs: error: no training run <recipe>-s<seed>/tensorboard "
      f"in {tmp_path}"]


def test_the_command_compares_the_recipes_asked_for(tmp_path):
  _write_run(tmp_path / "runs", "logistic-s0", [0.2, 0.4])
  _write_run(tmp_path / "runs", "bf16-s0", [0.2, 0.3])
  command = [sys.executable, "-m", "experiments.compare_runs",
             f"--runs={tmp_path / 'runs'}"]
  proc = subprocess.run(
      command + ["--recipes=bf16", f"--plot={tmp_path / 'auc.png'}"],
      capture_output=True, text=True, check=True)
  rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
  assert [row.split(" | ")[0] for row in rows[1:]] == ["| bf16"]
  assert (tmp_path / "auc.png").is_file()
  proc = subprocess.run(command + ["--recipes=triplet"], capture_output=True,
                        text=True, check=False)
  assert proc.returncode == 1
  assert "--recipes ['triplet'] not in" in proc.stderr
