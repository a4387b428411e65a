"""vot-toolkit 0.9.0's supervised ("baseline") experiment, runnable again.

In vot-toolkit 0.8.1 and 0.9.0, `SupervisedExperiment.execute` hands the
runtime of a single-target TraX tracker one `ObjectStatus` where
`TraxTrackerRuntime.initialize` expects a list of them, and expects one
back from `update`, which returns a list. `ObjectStatus` being a 2-tuple,
every initialisation fails with "Tracker does not support multiple
objects, but multiple objects were provided for initialization" (the
toolkit's own `vot.tracker.dummy` tracker included), so no TraX tracker
can run the VOT2013-2019 baseline stacks.

`SupervisedExperiment` here is the toolkit's class with one change: its
runtime is wrapped so that initialisation sends `[state]` and each update
returns the single target's `ObjectStatus`. Everything else (when a frame
is a failure, the 5 skipped frames, result files, analyses) is the
toolkit's code. Use it in a stack by its import path, e.g. the VOT2015
baseline:

    experiments:
      baseline:
        type: siamfc_jax.integrations.vot_supervised.SupervisedExperiment
        repetitions: 15
        skip_initialize: 5
        analyses:
          - type: supervised_average_ar
            sensitivity: 30
          - type: supervised_eao_score
            low: 108
            high: 371

Importing this module needs vot-toolkit (the TraX tracker itself,
`siamfc_jax.integrations.vot`, does not).
"""

from __future__ import annotations

from typing import Any

from vot.experiment import multirun
from vot.tracker import ObjectStatus, OnlineTrackerRuntime


class SingleTargetRuntime(OnlineTrackerRuntime):
  """A single-target runtime with the calling convention the supervised
  experiment uses: one `ObjectStatus` in, one out."""

  def __init__(self, runtime: OnlineTrackerRuntime):
    super().__init__(runtime.tracker)
    self._runtime = runtime

  @property
  def multiobject(self) -> bool:
    return False

  def stop(self) -> None:
    self._runtime.stop()

  def restart(self) -> None:
    self._runtime.restart()

  def initialize(self, frame: Any, new: Any = None) -> tuple[Any, float]:
    """Initialises on `frame` with `new`, one `ObjectStatus` (or a list of
    one); returns (the tracker's `ObjectStatus`, seconds)."""
    if isinstance(new, ObjectStatus):
      new = [new]
    status, elapsed = self._runtime.initialize(frame, new)
    return _single(status), elapsed

  def update(self, frame: Any, new: Any = None) -> tuple[Any, float]:
    """Tracks into `frame`; returns (the target's `ObjectStatus`, seconds).
    """
    if new:
      raise ValueError("a single-target runtime takes no new targets")
    status, elapsed = self._runtime.update(frame, [])
    return _single(status), elapsed


def _single(status: Any) -> Any:
  """The one `ObjectStatus` of a runtime's answer."""
  if isinstance(status, ObjectStatus):
    return status
  if len(status) != 1:
    raise ValueError(f"expected one target's state, got {len(status)}")
  return status[0]


class SupervisedExperiment(multirun.SupervisedExperiment):
  """The toolkit's supervised experiment with `SingleTargetRuntime`."""

  def _get_runtime(self, tracker, sequence, multiobject=False):
    return SingleTargetRuntime(
        super()._get_runtime(tracker, sequence, multiobject))
