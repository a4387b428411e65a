"""`experiments.evaluate` killed with SIGKILL, then run again.

With ONNX Runtime the sequences are tracked one at a time and each one's
files are written as soon as it ends: the killed run keeps the sequences it
finished, and the re-run tracks only the others, to the same result files
as a run that was never stopped.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax
import pytest

from siamfc_jax import backends
from siamfc_jax import checkpoints
from siamfc_jax import model
from tests import clips
from tests import fake_datasets

REPO = pathlib.Path(__file__).resolve().parents[1]
# The tiny network tracks these frames at ~100/s on 2 cores: once the first
# result file appears, the other two sequences take seconds, so a kill
# within a poll of it lands long before the last one is written.
LENGTHS = {"Alpha": 100, "Beta": 100, "Gamma": 100}
POLL = 0.02  # seconds between looks at the output folder
TIMEOUT = 300  # seconds any one run may take (start-up included)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
  """(OTB-layout root, checkpoint of a tiny random network)."""
  reason = backends.onnxruntime_missing()
  if reason:
    pytest.skip(f"the onnxruntime backend is needed: {reason}")
  base = tmp_path_factory.mktemp("resume")
  fake_datasets.write_otb(base / "otb", LENGTHS)
  ckpt = base / "tiny"
  checkpoints.save(ckpt, clips.SPEC, model.init(clips.SPEC,
                                                jax.random.key(0)),
                   {"track": clips.PARAMS.to_dict()})
  return base / "otb", ckpt


def _command(bench, output: pathlib.Path) -> list[str]:
  root, ckpt = bench
  return [sys.executable, "-m", "experiments.evaluate", "--dataset=otb",
          f"--root={root}", f"--output={output}", f"--checkpoint={ckpt}",
          "--name=tiny", "--backend=onnxruntime"]


def _run(bench, output: pathlib.Path) -> subprocess.CompletedProcess:
  run = subprocess.run(_command(bench, output), cwd=REPO, capture_output=True,
                       text=True, timeout=TIMEOUT, check=False)
  assert run.returncode == 0, run.stderr[-3000:]
  return run


def _folder(output: pathlib.Path) -> pathlib.Path:
  return output / "results" / "OTB" / "tiny"


def _stored(output: pathlib.Path) -> dict[str, tuple[int, int]]:
  """Name -> (inode, mtime) of every result and time file."""
  folder = _folder(output)
  return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
          for p in [*folder.glob("*.txt"), *folder.glob("times/*.txt")]}


def _tracked(stderr: str) -> list[str]:
  """The sequences a run logged as tracked ("Beta: 200 frames, ...")."""
  return re.findall(r"^(\w+): \d+ frames, ", stderr, re.MULTILINE)


def _kill_after_the_first_sequence(bench, output: pathlib.Path,
                                   log: pathlib.Path) -> None:
  """Starts evaluate and SIGKILLs it once a result file is written."""
  folder = _folder(output)
  with open(log, "w") as err:
    proc = subprocess.Popen(_command(bench, output), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=err)
  try:
    deadline = time.monotonic() + TIMEOUT
    while not any(folder.glob("*.txt")):
      assert proc.poll() is None, (
          f"evaluate ended (status {proc.returncode}) before writing a "
          f"result file:\n{log.read_text()[-3000:]}")
      assert time.monotonic() < deadline, "no result file written in time"
      time.sleep(POLL)
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.kill()  # a no-op once it is dead; else a failed wait leaks it
    proc.wait()
  assert proc.returncode == -signal.SIGKILL


def test_killed_evaluate_keeps_finished_sequences_and_resumes(
    bench, tmp_path):
  whole = tmp_path / "whole"
  order = _tracked(_run(bench, whole).stderr)
  assert sorted(order) == sorted(LENGTHS)  # each once, as it was stored

  output = tmp_path / "killed"
  _kill_after_the_first_sequence(bench, output, tmp_path / "killed.log")
  kept = _stored(output)
  names = {pathlib.Path(p).stem for p in kept if "/" not in p}
  assert names, "the killed run kept no result file"
  assert len(names) < len(LENGTHS), (
      "every sequence was tracked before the kill: lengthen LENGTHS")
  # Each kept sequence is whole: its time file is there with its result.
  assert {p for p in kept if "/" in p} == {f"times/{n}_time.txt"
                                           for n in names}
  assert not (output / "reports").exists()

  again = _run(bench, output)
  rest = [n for n in order if n not in names]
  assert (f"{len(names)} of {len(LENGTHS)} sequences already have results"
          in again.stderr)
  assert _tracked(again.stderr) == rest
  stored = _stored(output)
  # What the killed run wrote is not written again.
  assert {p: stored[p] for p in kept} == kept
  assert len(stored) == 2 * len(LENGTHS)
  for path in [*_folder(whole).glob("*.txt"), _folder(whole) / "tracker.json"]:
    assert (_folder(output) / path.name).read_bytes() == path.read_bytes(), (
        path.name)
  # Times are measured, so they differ; one per frame.
  for name, n in LENGTHS.items():
    times = _folder(output) / "times" / f"{name}_time.txt"
    assert len(times.read_text().splitlines()) == n
  assert (output / "reports" / "OTB" / "tiny" / "report.json").is_file()
