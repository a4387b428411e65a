r"""Prints how many training pairs per second the jitted train step takes.

  python -m benchmarks.train_step --config=experiments/configs/vid.py
  python -m benchmarks.train_step --config=experiments/configs/cfnet.py:conv2
  python -m benchmarks.train_step --config=experiments/configs/tiny.py \
      --steps=3                                   # seconds, for a smoke run
  python -m benchmarks.train_step --compute_dtypes=float32,bfloat16

Times `train_timing.time_train_step`: the jitted train step of
`training.make_steps` (forward, loss, backward, SGD and BN update, data
parallel over every visible device) at the config's batch size and crops,
on random uint8 pairs already on the device, so the figure is the
accelerator's alone; the input pipeline's own rate is what
`experiments.train` logs as `pairs_per_s` (it includes waiting for data).
Batch sizes to time are `--batch_sizes` (default: the config's);
`--compute_dtypes=float32,bfloat16` times each compute dtype
(`config.compute_dtype`: bfloat16 convolutions, float32 parameters) side by
side.
"""

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from benchmarks import train_timing
from siamfc_jax.cli import entry
from siamfc_jax import training

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/vid.py",
    "Training config (experiments/configs/*.py[:variant]).")
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps, after 2 warm-up "
                              "steps.", lower_bound=1)
_DTYPES = flags.DEFINE_list(
    "compute_dtypes", None, "Compute dtypes to time side by side "
    "(float32, bfloat16); default: the config's compute_dtype.")
_BATCH_SIZES = flags.DEFINE_list(
    "batch_sizes", None, "Global batch sizes to time; default: the "
    "config's batch_size.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  try:
    sizes = [int(b) for b in (_BATCH_SIZES.value or [config.batch_size])]
  except ValueError:
    raise app.UsageError(f"--batch_sizes must be integers; got "
                         f"{_BATCH_SIZES.value}") from None
  dtypes = _DTYPES.value or [config.get("compute_dtype", "float32")]
  for dtype in dtypes:
    if dtype not in training.COMPUTE_DTYPES:
      raise app.UsageError(f"--compute_dtypes: {dtype!r} is not one of "
                           f"{', '.join(training.COMPUTE_DTYPES)}")
  devices = jax.devices()
  print(f"Train step of {config.model.get('arch', 'alexnet')} (width "
        f"{config.model.width}), crops {config.exemplar_size}/"
        f"{config.instance_size}, on {len(devices)} x "
        f"{devices[0].device_kind}, median of {_STEPS.value} steps")
  print(f"{'batch':>6}" + "".join(
      f" {d + ' ms/step':>18} {d + ' pairs/s':>18}" for d in dtypes))
  for size in sizes:
    cells = []
    for dtype in dtypes:
      variant = config.copy_and_resolve_references()
      with variant.unlocked():
        variant.compute_dtype = dtype
      try:
        row = train_timing.time_train_step(variant, size, _STEPS.value)
      except ValueError as e:  # e.g. a batch the devices do not divide
        raise app.UsageError(str(e)) from None
      cells.append(f" {row['ms']:>18.1f} {row['pairs_per_s']:>18.1f}")
    print(f"{size:>6}" + "".join(cells))


if __name__ == "__main__":
  entry.run(main)
