r"""Trains SiamFC.

  siamfc-jax train --config=vid \
      --workdir=runs/vid [--config.batch_size=16 ...]

Runs on every visible device (data parallel); set --multihost on each host
of a multi-host job (siamfc_jax/cli/multihost.py: the coordinator is detected
on known clusters, else --coordinator_address, --num_processes,
--process_id). A run resumes from the newest checkpoint in --workdir.
"""

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from siamfc_jax.cli import multihost
from siamfc_jax import training

_CONFIG = config_flags.DEFINE_config_file(
    "config", None,
    "Training config: a name (vid, got10k, folder, finetune, cfnet, tiny) "
    "or a config file's path, then [:variant].",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints and logs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  multihost.initialize()
  training.check_config(_CONFIG.value)
  print(f"Training on {jax.device_count()} device(s) in "
        f"{jax.process_count()} process(es): "
        f"{jax.devices()[0].device_kind}")
  result = training.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  if result["validation"]:
    print(f"Last validation: {result['validation'][-1]}")
  if result["tracking"]:
    best = max(result["tracking"], key=lambda t: t["auc"])
    print(f"Best tracking validation: {best} (in {_WORKDIR.value}/best)")

