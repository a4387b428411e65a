"""Multi-host evaluation and training, run as real separate processes.

Two CPU processes on 127.0.0.1 form a `jax.distributed` job (coordinator on
a free port), each faking its own number of devices with `XLA_FLAGS`; every
launch is bounded by a timeout. Their outputs are compared with one process
holding all the devices.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from siamfc_jax.configs import tiny
from siamfc_jax import checkpoints
from siamfc_jax import model
from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import training
from siamfc_jax.data import datasets as datasets_lib
from siamfc_jax.evaluation import distributed
from siamfc_jax.evaluation import protocols
from tests import clips
from tests import fake_datasets

REPO = pathlib.Path(__file__).resolve().parents[1]
SPEC, PARAMS = clips.SPEC, clips.PARAMS  # 1/8-width AlexNet, small crops
LENGTHS = {"Alpha": 6, "Beta": 4, "Delta": 3, "Epsilon": 6, "Gamma": 5}
TIMEOUT = 120  # seconds a launch of processes may take before it is killed


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def launch(module: str, args_of: list[list[str]], devices: list[int],
           timeout: float = TIMEOUT, env: dict[str, str] | None = None
           ) -> list[subprocess.CompletedProcess]:
  """Runs `python -m module` as len(args_of) processes of one job.

  Process i gets `args_of[i]`, `devices[i]` fake CPU devices and the
  coordinator flags (and `env`); all are killed if any runs past `timeout`.
  """
  port = _free_port()
  procs = []
  for i, (args, n) in enumerate(zip(args_of, devices)):
    proc_env = dict(os.environ, JAX_PLATFORMS="cpu", **(env or {}),
                    XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", module, *args, "--multihost",
         f"--coordinator_address=127.0.0.1:{port}",
         f"--num_processes={len(args_of)}", f"--process_id={i}"],
        cwd=REPO, env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True))
  out = []
  try:
    for p in procs:
      stdout, stderr = p.communicate(timeout=timeout)
      out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout,
                                             stderr))
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.communicate()
  return out


@pytest.fixture(scope="module")
def tiny_tracker(tmp_path_factory):
  """A tiny random network as a checkpoint (for the command line) and as
  a `Tracker` (in this process)."""
  ckpt = tmp_path_factory.mktemp("ckpt") / "tiny"
  variables = model.init(SPEC, jax.random.key(0))
  checkpoints.save(ckpt, SPEC, variables, {"track": PARAMS.to_dict()})
  return ckpt, tracker_lib.Tracker(SPEC, variables, PARAMS, name="tiny")


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("otb")
  fake_datasets.write_otb(root, LENGTHS)
  return root


def _scores(report: dict) -> dict:
  """What a report says about the tracker (not paths, not its speed)."""
  drop = ("fps", "results_dir", "plots", "report_file")
  return {k: v for k, v in report["overall"].items() if k not in drop} | {
      name: {k: v for k, v in seq.items() if k not in drop}
      for name, seq in report["sequences"].items()}


def _results(output: pathlib.Path) -> dict[str, str]:
  folder = output / "results" / "OTB" / "tiny"
  return {p.name: p.read_text() for p in folder.glob("*.txt")}


def test_two_processes_evaluate_and_merge_the_one_process_report(
    tiny_tracker, otb_root, tmp_path):
  ckpt, tracker = tiny_tracker
  one = protocols.evaluate(tracker, datasets_lib.read("otb", otb_root),
                           "otb", tmp_path / "one")
  output = tmp_path / "two"
  args = ["--dataset=otb", f"--root={otb_root}", f"--output={output}",
          f"--checkpoint={ckpt}", "--name=tiny", "--backend=jax",
          "--wait_timeout=60"]
  runs = launch("experiments.evaluate", [args, args], devices=[2, 2])
  for run in runs:
    assert run.returncode == 0, run.stderr
  assert "2 cpu devices (cpu) in process 0 of 2" in runs[0].stderr
  assert "2 cpu devices (cpu) in process 1 of 2" in runs[1].stderr
  # Longest first to the least loaded: 0 gets Alpha, Gamma; 1 the rest.
  assert ("process 1 of 2: 3 of 5 sequences (13 of 24 frames)"
          in runs[1].stderr)
  report = json.loads((output / "reports" / "OTB" / "tiny" /
                       "report.json").read_text())
  assert _scores(report) == _scores(json.loads(one.report_file.read_text()))
  assert _results(output) == _results(tmp_path / "one")  # the same bytes
  assert "mean" in runs[0].stdout and "report" in runs[1].stdout


def test_rerun_of_one_process_tracks_only_its_missing_sequences(
    tiny_tracker, otb_root, tmp_path):
  _, tracker = tiny_tracker
  seqs = datasets_lib.read("otb", otb_root)
  whole = protocols.evaluate(tracker, seqs, "otb", tmp_path)
  names = [s.name for s in seqs]
  lengths = [len(s) for s in seqs]
  theirs = [names[i] for i in sharding.share(names, lengths, 1, 2)]
  (tmp_path / "results" / "OTB" / "tiny" / f"{theirs[0]}.txt").unlink()
  with pytest.raises(TimeoutError, match=f"1 result files of the other "
                     f"processes are still missing .*{theirs[0]}.txt"):
    distributed.evaluate(tracker, seqs, "otb", tmp_path, process=(0, 2),
                         timeout=0.2)
  assert distributed.evaluate(tracker, seqs, "otb", tmp_path,
                              process=(1, 2)) is None
  again = distributed.evaluate(tracker, seqs, "otb", tmp_path,
                               process=(0, 2), timeout=0)
  assert again.tracked == []
  assert _scores(json.loads(again.report_file.read_text())) == _scores(
      json.loads(whole.report_file.read_text()))


def _train_args(workdir: pathlib.Path, stop: int) -> list[str]:
  """The tiny config, shortened: 2 steps per epoch, 2 epochs."""
  return ["--config=experiments/configs/tiny.py", f"--workdir={workdir}",
          "--config.pairs_per_epoch=16", "--config.val_batches=1",
          "--config.checkpoint_every_steps=1000",
          f"--config.stop_after_steps={stop}"]


def test_two_processes_train_stop_resume_and_match_one_process(tmp_path):
  assert jax.device_count() == 4, "conftest fakes 4 CPU devices"
  config = tiny.get_config()
  with config.unlocked():
    config.update(pairs_per_epoch=16, val_batches=1,
                  checkpoint_every_steps=1000)
  # One process, 4 devices, global batch 8: the reference.
  one = training.train_and_evaluate(config, tmp_path / "one")
  assert int(one["state"].step) == 4
  workdir = tmp_path / "two"
  # Two processes of 2 devices each, the same global batch of 8 (4 pairs
  # read by each): they stop at step 2 (an orbax checkpoint), exit, and
  # are started again, resume and finish. The second launch reuses the
  # first's compiled steps (a persistent cache) to keep the test short.
  cache = {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  for stop, says in ((2, "Training on 4 device(s) in 2 process(es)"),
                     (0, "Resumed from step 2")):
    runs = launch("experiments.train", [_train_args(workdir, stop)] * 2,
                  devices=[2, 2], env=cache)
    for run in runs:
      assert run.returncode == 0, run.stderr[-3000:]
      assert says in run.stdout, run.stdout
  assert "[train] step 4:" in runs[0].stdout
  _, variables, _ = checkpoints.load(workdir / "tracker")
  # Not bit for bit: the gradients and BN moments of the 4 devices are
  # summed across processes by gloo, in another order than XLA's all-reduce
  # inside one process: float32 rounding (measured: 3e-7 relative at most
  # over 4 steps).
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5,
                                                       atol=1e-6),
               variables, jax.device_get(one["state"].variables))


def test_coordinator_flags_without_multihost_are_refused():
  from absl import flags  # pylint: disable=g-import-not-at-top
  from siamfc_jax.cli import multihost  # pylint: disable=g-import-not-at-top
  flags.FLAGS(["evaluate", "--process_id=1", "--num_processes=2"])
  try:
    with pytest.raises(ValueError, match="--num_processes, --process_id: "
                       "only with --multihost"):
      multihost.initialize()
  finally:
    flags.FLAGS.unparse_flags()
