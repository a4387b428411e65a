"""Flags of a multi-host job, shared by `train` and `evaluate`.

    siamfc-jax evaluate --multihost ...    # on every host

`--multihost` calls `jax.distributed.initialize` before anything else runs
on a device. On a cluster JAX recognises (Cloud TPU, SLURM, Open MPI, ...)
it finds the coordinator, the number of processes and this process's index
itself; elsewhere give them: `--coordinator_address=host:port
--num_processes=N --process_id=i` (or `$JAX_COORDINATOR_ADDRESS` for the
first), e.g. several processes on one machine with `127.0.0.1:<port>`.
"""

from absl import flags
import jax

_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize() first (one "
    "process per host of a multi-host job).")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "With --multihost: host:port of process "
    "0's coordinator; default: detected (or $JAX_COORDINATOR_ADDRESS).")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "With --multihost: the number of processes; "
    "default: detected.", lower_bound=1)
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "With --multihost: this process's index; default: "
    "detected.", lower_bound=0)


def initialize() -> None:
  """`jax.distributed.initialize` when --multihost asks for it.

  Raises:
    ValueError: --coordinator_address, --num_processes or --process_id
      without --multihost.
  """
  given = [f"--{f.name}" for f in (_COORDINATOR, _NUM_PROCESSES, _PROCESS_ID)
           if f.value is not None]
  if not _MULTIHOST.value:
    if given:
      raise ValueError(f"{', '.join(given)}: only with --multihost")
    return
  jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                             num_processes=_NUM_PROCESSES.value,
                             process_id=_PROCESS_ID.value)


def is_leader() -> bool:
  """Whether this process prints the job's results (process 0)."""
  return jax.process_index() == 0
