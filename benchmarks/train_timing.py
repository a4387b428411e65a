"""How fast the jitted, data-parallel train step of a training config runs.

Shared by `benchmarks.train_step` (pairs/s per batch size and compute dtype)
and `benchmarks.accelerator` (its train rows); a module of its own, without
flags, so that one process can import both commands.

    row = train_timing.time_train_step(config, batch_size=8, steps=20)
"""

import time

import jax
from jax.sharding import Mesh
import numpy as np

from siamfc_jax import training


def time_train_step(config, batch_size: int, steps: int) -> dict:
  """Times the jitted, data-parallel train step of a training config.

  Random uint8 pairs at the config's crop sizes, already on the devices
  (`batch_size` over all hosts); 2 warm-up steps, then the median of
  `steps`.

  Returns:
    {"batch": batch_size, "ms": median ms per step, "pairs_per_s": float}.
  """
  mesh = Mesh(np.array(jax.devices()), ("data",))
  spec = training.model_spec(config)
  optimizer, fns = training.steps_from_config(config, spec, 1000, mesh)
  state = fns.put_state(training.create_train_state(
      spec, jax.random.key(0), optimizer))
  rng = np.random.default_rng(0)
  local = batch_size // jax.process_count()  # put_batch takes this host's
  batch = fns.put_batch({
      "z": rng.integers(0, 256, (local, config.exemplar_size,
                                 config.exemplar_size, 3), np.uint8),
      "x": rng.integers(0, 256, (local, config.instance_size,
                                 config.instance_size, 3), np.uint8)})
  seconds = []
  for i in range(steps + 2):
    start = time.perf_counter()
    state, metrics = fns.train(state, batch)
    jax.block_until_ready(metrics)
    if i >= 2:
      seconds.append(time.perf_counter() - start)
  ms = 1e3 * float(np.median(seconds))
  return {"batch": batch_size, "ms": ms, "pairs_per_s": batch_size * 1e3 / ms}
