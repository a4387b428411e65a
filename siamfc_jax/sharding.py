"""Lock-step batches sharded over devices, and work shared between hosts.

    mesh = sharding.local_mesh()                 # every device of this host
    state = sharding.put_batch(sharding.pad_batch(state, 8), mesh)

Evaluation runs N sequences in lock-step (`tracker.track_many`): one
batched call of `tracking.track_step_batch` per frame. Here its batch axis
is sharded over a `Mesh` of every local device (axis `data`, as in
training): the network variables are replicated, the states, frames and
`active` flags split into equal slices, one per device. XLA partitions the
vmapped step, so each device tracks its own slots with no communication
(each slot's arithmetic is that of a lone sequence, so the boxes equal the
single-device run's exactly). One code path for 1 or N devices: a mesh of
one device is the unsharded run.

The batch is padded to a multiple of the device count with idle slots (a
copy of slot 0, never active, fed blank frames) so every device holds the
same number of slots; `protocols.run` rounds its batch size up to a multiple
of the device count, so padding only happens for the last, short batch.

Across hosts (`jax.distributed`), each process tracks its own share of the
sequences on its own devices (`share`): no collective is needed, only the
result files, which the scoring process waits for.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

DATA_AXIS = "data"  # the batch axis, as in `training.make_steps`


def local_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A one-axis (`data`) mesh of `devices`, by default every local device.

  Local, not global: under `jax.distributed` each process shards its own
  batches over its own devices.
  """
  devices = list(devices) if devices is not None else jax.local_devices()
  if not devices:
    raise ValueError("a mesh needs at least one device")
  return Mesh(np.array(devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over the mesh's `data` axis."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  """A full copy on every device of the mesh (network variables)."""
  return NamedSharding(mesh, P())


def padded_size(n: int, mesh: Mesh) -> int:
  """`n` rounded up to a multiple of the mesh's device count (n >= 1)."""
  if n < 1:
    raise ValueError(f"batch size must be >= 1, got {n}")
  d = mesh.devices.size
  return -(-n // d) * d


def pad_batch(tree: Any, size: int) -> Any:
  """Pads the leading axis of every leaf to `size` with copies of entry 0.

  Args:
    tree: a pytree of arrays with a common leading axis N <= size.
    size: the padded batch size.

  Returns:
    The same pytree with leading axis `size`; entries N.. are copies of
    entry 0 (idle slots: valid inputs whose results are dropped).
  """
  def pad(x):
    n = x.shape[0]
    if n > size:
      raise ValueError(f"batch of {n} does not fit {size} slots")
    if n == size:
      return x
    xp = jax.numpy if isinstance(x, jax.Array) else np
    return xp.concatenate([x, xp.repeat(x[:1], size - n, axis=0)])
  return jax.tree.map(pad, tree)


def put_batch(tree: Any, mesh: Mesh) -> Any:
  """Places a pytree of [B, ...] arrays with B split over the mesh."""
  return jax.device_put(tree, batch_sharding(mesh))


def share(names: Sequence[str], lengths: Sequence[int], index: int,
          count: int) -> list[int]:
  """The sequences process `index` of `count` tracks: a deterministic split.

  Longest first (ties by name), each goes to the process with the fewest
  frames so far (ties to the lowest index): every process computes the same
  split from the same names and lengths, with no communication, and the
  frames are balanced to within one sequence.

  Args:
    names: N unique sequence names.
    lengths: N frame counts.
    index: this process (`jax.process_index()`).
    count: number of processes (`jax.process_count()`).

  Returns:
    Indices into `names` of this process's sequences, in input order.
  """
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"process {index} of {count}: expected 0 <= index < "
                     "count")
  if len(names) != len(lengths):
    raise ValueError(f"{len(names)} names but {len(lengths)} lengths")
  load = [0] * count
  mine = []
  for i in sorted(range(len(names)), key=lambda i: (-lengths[i], names[i])):
    p = min(range(count), key=lambda p: (load[p], p))
    load[p] += lengths[i]
    if p == index:
      mine.append(i)
  return sorted(mine)


def describe(mesh: Mesh | None = None) -> str:
  """`4 cpu devices (TFRT_CPU) in process 0 of 2`-like summary."""
  mesh = mesh or local_mesh()
  devices = mesh.devices.reshape(-1)
  n = devices.size
  return (f"{n} {devices[0].platform} device{'s' if n > 1 else ''} "
          f"({devices[0].device_kind}) in process {jax.process_index()} of "
          f"{jax.process_count()}")
