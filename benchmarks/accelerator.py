r"""One table of what a machine's accelerator does for us: track and train.

  python -m benchmarks.accelerator                  # GPU / TPU: full sizes
  python -m benchmarks.accelerator --network=tiny --sequences=1,2 \
      --targets_per_video=2 --train_batch=8 --timed_steps=2 \
      --train_config=experiments/configs/tiny.py    # CPU: seconds

Rows, each the median of --timed_steps calls after 2 warm-up calls
(compilation excluded), inputs already on the devices:
- `track N seq`: the lock-step tracking step of evaluation
  (`tracking.track_step_batch`) over N sequences sharded over every local
  device (`sharding.py`), frames of the demo clip (480x360); rate: frames
  of all sequences per second;
- `targets K`: K targets in one video, one call per frame
  (`tracking.track_step_targets`); rate:
  target-frames per second;
- `train B dtype`: the data-parallel train step of --train_config
  (`train_timing.time_train_step`) at global batch B in float32 and
  bfloat16 (`config.compute_dtype`); rate: pairs per second.

The header names the device kind and count, the JAX version and the
network: `bundled` is the original SiamFC (SiamFC-3s), `tiny` a 1/8-width
random network with small crops for smoke runs on a CPU.
"""

from __future__ import annotations

import time
from typing import Sequence

from absl import app
from absl import flags
import jax
from jax.sharding import Mesh
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from siamfc_jax.speed import timing
from benchmarks import train_timing
from siamfc_jax.cli import entry
from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax import training

_NETWORK = flags.DEFINE_enum(
    "network", "bundled", ["bundled", "tiny"], "Tracking network: the "
    "bundled original SiamFC, or a tiny random one (smoke runs).")
_SEQUENCES = flags.DEFINE_list(
    "sequences", ["1", "8", "32", "128"], "Sequences tracked in lock-step.")
_TARGETS = flags.DEFINE_list(  # not --targets: benchmarks.multi_target's
    "targets_per_video", ["8"],
    "Targets of the batched-target step (empty: none).")
_TRAIN_CONFIG = config_flags.DEFINE_config_file(
    "train_config", "experiments/configs/vid.py",
    "Training config of the train-step rows.")
_TRAIN_BATCH = flags.DEFINE_integer(
    "train_batch", None, "Global batch of the train step; default: the "
    "config's.", lower_bound=1)
_TRAIN_DTYPES = flags.DEFINE_list(
    "train_dtypes", ["float32", "bfloat16"], "Compute dtypes of the train "
    "step.")
_TIMED_STEPS = flags.DEFINE_integer(
    "timed_steps", 20, "Timed calls per row, after 2 warm-up calls.",
    lower_bound=1)

TINY_SPEC = embedding.alexnet_spec(width=0.125)
# 103 -> 3x3 exemplar features, 167 -> 11x11 search features.
TINY_PARAMS = tracking.TrackParams(exemplar_size=103, instance_size=167)


def make_tracker(network: str) -> tracker_lib.Tracker:
  """The bundled SiamFC-3s, or a tiny random network (JAX backend)."""
  if network == "tiny":
    return tracker_lib.Tracker(TINY_SPEC,
                               model.init(TINY_SPEC, jax.random.key(0)),
                               TINY_PARAMS, name="tiny")
  return tracker_lib.Tracker.pretrained("siamfc-3s", backend="jax")


def time_sharded_batch(tracker: tracker_lib.Tracker, clip: timing.Clip,
                       num_sequences: int, mesh: Mesh | None = None,
                       warmup: int = timing.WARMUP_STEPS) -> np.ndarray:
  """Times the lock-step step of evaluation: N sequences sharded over
  `mesh` (`sharding.py`, as `tracker.track_many` runs them).

  N copies of the clip, padded with idle slots to a multiple of the device
  count; frames already on the devices.

  Args:
    tracker: network and hyper-parameters.
    clip: frames[0] initialises; the others are tracked.
    num_sequences: N.
    mesh: devices (default: every local device).
    warmup: untimed steps first.

  Returns:
    [len(frames) - 1 - warmup] float64 seconds per batched step.
  """
  mesh = mesh or sharding.local_mesh()
  size = sharding.padded_size(num_sequences, mesh)
  state = tracking.init_state_jit(tracker.variables,
                                  jax.device_put(clip.frames[0]), clip.box,
                                  tracker.spec, tracker.params)
  state = sharding.put_batch(
      jax.tree.map(lambda x: jnp.stack([x] * size), state), mesh)
  variables = jax.device_put(tracker.variables, sharding.replicated(mesh))
  active = sharding.put_batch(np.arange(size) < num_sequences, mesh)
  seconds = []
  for i, frame in enumerate(clip.frames[1:]):
    frames = sharding.put_batch(np.broadcast_to(frame, (size,) + frame.shape),
                                mesh)
    jax.block_until_ready((frames, state))
    start = time.perf_counter()
    state, box, _ = tracking.track_step_batch(
        variables, state, frames, active, tracker.spec, tracker.params)
    jax.block_until_ready(box)
    if i >= warmup:
      seconds.append(time.perf_counter() - start)
  return np.asarray(seconds)


def time_targets(tracker: tracker_lib.Tracker, clip: timing.Clip,
                 num_targets: int, warmup: int = timing.WARMUP_STEPS
                 ) -> np.ndarray:
  """Times `tracking.track_step_targets` (jitted): K targets in one video.

  The K targets are the clip's box shifted by a few pixels each (the work
  is that of K different targets); frames already on the device.

  Returns:
    [len(frames) - 1 - warmup] float64 seconds per step.
  """
  spec, params = tracker.spec, tracker.params
  init = jax.jit(tracking.init_targets, static_argnames=("spec", "params"))
  step = jax.jit(tracking.track_step_targets,
                 static_argnames=("spec", "params"), donate_argnums=1)
  offsets = np.stack([np.arange(num_targets) % 5 - 2,
                      np.arange(num_targets) // 5 % 5 - 2, 0 * np.arange(
                          num_targets), 0 * np.arange(num_targets)], axis=1)
  boxes = (clip.box[None] + offsets).astype(np.float32)
  state = init(tracker.variables, jax.device_put(clip.frames[0]), boxes,
               spec=spec, params=params)
  seconds = []
  for i, frame in enumerate(clip.frames[1:]):
    frame = jax.device_put(frame)
    jax.block_until_ready((frame, state))
    start = time.perf_counter()
    state, box, _ = step(tracker.variables, state, frame, spec=spec,
                         params=params)
    jax.block_until_ready(box)
    if i >= warmup:
      seconds.append(time.perf_counter() - start)
  return np.asarray(seconds)


def measure(tracker: tracker_lib.Tracker, sequences: Sequence[int],
            targets: Sequence[int], train_config, train_batch: int,
            train_dtypes: Sequence[str], steps: int) -> list[dict]:
  """The table's rows.

  Returns:
    Dicts {"row": label, "what": unit of `rate`, "ms": median ms per call,
    "rate": units per second}.
  """
  clip = timing.load_clip(steps)
  rows = []
  for n in sequences:
    ms = 1e3 * float(np.median(time_sharded_batch(tracker, clip, n)))
    rows.append({"row": f"track {n} seq", "what": "frames/s", "ms": ms,
                 "rate": n * 1e3 / ms})
  for k in targets:
    ms = 1e3 * float(np.median(time_targets(tracker, clip, k)))
    rows.append({"row": f"targets {k}", "what": "target-frames/s",
                 "ms": ms, "rate": k * 1e3 / ms})
  for dtype in train_dtypes:
    config = train_config.copy_and_resolve_references()
    with config.unlocked():
      config.compute_dtype = dtype
    result = train_timing.time_train_step(config, train_batch, steps)
    rows.append({"row": f"train {train_batch} {dtype}", "what": "pairs/s",
                 "ms": result["ms"], "rate": result["pairs_per_s"]})
  return rows


def header(network: str) -> str:
  """Device kind and count, processes, JAX version, network."""
  devices = jax.local_devices()
  return (f"{len(devices)} x {devices[0].device_kind} "
          f"({devices[0].platform}), process {jax.process_index()} of "
          f"{jax.process_count()}, jax {jax.__version__}, network {network}")


def format_table(rows: Sequence[dict], title: str) -> str:
  """The rows as a fixed-width text table under `title`."""
  lines = [title, f"{'row':<24} {'ms/call':>10} {'rate':>12}  unit"]
  lines += [f"{r['row']:<24} {r['ms']:>10.2f} {r['rate']:>12.1f}  {r['what']}"
            for r in rows]
  return "\n".join(lines)


def _ints(flag: flags.FlagHolder) -> list[int]:
  try:
    values = [int(v) for v in flag.value]
  except ValueError:
    raise app.UsageError(f"--{flag.name} must be integers; got "
                         f"{flag.value}") from None
  if any(v < 1 for v in values):
    raise app.UsageError(f"--{flag.name} must be >= 1; got {flag.value}")
  return values


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  for dtype in _TRAIN_DTYPES.value:
    if dtype not in training.COMPUTE_DTYPES:
      raise app.UsageError(f"--train_dtypes: {dtype!r} is not one of "
                           f"{', '.join(training.COMPUTE_DTYPES)}")
  config = _TRAIN_CONFIG.value
  try:
    rows = measure(make_tracker(_NETWORK.value), _ints(_SEQUENCES),
                   _ints(_TARGETS), config,
                   _TRAIN_BATCH.value or config.batch_size,
                   _TRAIN_DTYPES.value, _TIMED_STEPS.value)
  except ValueError as e:  # e.g. a train batch the devices do not divide
    raise app.UsageError(str(e)) from None
  print(format_table(rows, header(_NETWORK.value)))


if __name__ == "__main__":
  entry.run(main)
