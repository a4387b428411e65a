"""The app's trackers: one per choice of settings, shared by the sessions.

Loading a network (and, on ONNX Runtime, exporting its steps; in int8,
calibrating) takes seconds, so each choice is loaded once. A `Tracker`
keeps the state of the video it tracks, so every run gets a shallow copy:
its own state over the shared network and backend (whose steps take the
state as an argument and keep none).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pathlib
import threading

import numpy as np

from siamfc_jax import backends
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.app import live

BUNDLED = "bundled"
PRECISIONS = ("fp32", "int8")
WEIGHT_SUFFIXES = (".mat", ".npz", ".pth")


@dataclasses.dataclass(frozen=True)
class TrackerSettings:
  """What the page's settings choose.

  Attributes:
    network: "bundled" (the original SiamFC), or a checkpoint directory or
      weights file (.mat: CFNet, .npz, .pth) on the server.
    preset: a `tracking.PRESETS` name, or "" for the network's own.
    backend: "auto", "jax" or "onnxruntime".
    precision: "fp32" or "int8".
  """

  network: str = BUNDLED
  preset: str = ""
  backend: str = "auto"
  precision: str = "fp32"

  @classmethod
  def from_json(cls, value: dict | None) -> TrackerSettings:
    """Checked settings from the page's JSON.

    Raises:
      ValueError: an unknown field or value (named).
    """
    value = dict(value or {})
    unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
      raise ValueError(f"unknown settings {sorted(unknown)}")
    out = cls(**{k: str(v) for k, v in value.items()})
    if out.preset and out.preset not in tracking.PRESETS:
      raise ValueError(f"preset {out.preset!r} is not one of "
                       f"{sorted(tracking.PRESETS)}")
    if out.backend not in ("auto", *backends.BACKENDS):
      raise ValueError(f"backend {out.backend!r} is not one of auto, "
                       f"{', '.join(backends.BACKENDS)}")
    # "auto" is this machine's backend: one loaded tracker for both names.
    out = dataclasses.replace(out, backend=backends.resolve(out.backend))
    if out.precision not in PRECISIONS:
      raise ValueError(f"precision {out.precision!r} is not fp32 or int8")
    if out.network != BUNDLED and not os.path.exists(out.network):
      raise ValueError(f"network {out.network}: no such file or checkpoint "
                       "on the server")
    return out

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


class Trackers:
  """Loaded trackers by settings; `get` hands out a copy per run."""

  def __init__(self):
    self._lock = threading.Lock()
    self._loaded: dict[TrackerSettings, tracker_lib.Tracker] = {}
    self._loading: dict[TrackerSettings, threading.Lock] = {}
    # The onnxruntime backend exports its steps at the first init (and a
    # K-target export at the first init of K targets): serialised, so two
    # sessions never export the same steps at once.
    self.init_lock = threading.Lock()

  def get(self, settings: TrackerSettings) -> tracker_lib.Tracker:
    """A tracker of `settings`, with state of its own.

    Raises:
      ValueError, FileNotFoundError: the network cannot be loaded (e.g.
        int8 on JAX), with the library's message.
    """
    with self._lock:
      lock = self._loading.setdefault(settings, threading.Lock())
    with lock:  # one load per settings, others wait for it
      if settings not in self._loaded:
        network = None if settings.network == BUNDLED else settings.network
        tracker = tracker_lib.load(network, settings.preset or None,
                                   settings.backend, settings.precision)
        # Export (onnxruntime), calibrate (int8), compile now: not on a
        # session's first frame, while a live source runs on.
        with self.init_lock:
          live.warm_up(tracker, np.zeros(4))
        self._loaded[settings] = tracker
    return copy.copy(self._loaded[settings])

  def init(self, tracker: tracker_lib.Tracker, frame, boxes: np.ndarray
           ) -> None:
    """`tracker.init`, serialised (see `init_lock`)."""
    with self.init_lock:
      tracker.init(frame, boxes)


# One pool per process: every app (and test) served from it loads a network
# once.
POOL = Trackers()


def networks(*folders: os.PathLike | str) -> list[str]:
  """Weights files (.mat, .npz, .pth) in `folders` and their subfolders
  (two levels), for the page's list; gray twins left out (they are used
  with their colour network)."""
  found = []
  for folder in folders:
    folder = pathlib.Path(folder)
    if not folder.is_dir():
      continue
    for pattern in ("*", "*/*", "*/*/*"):
      for path in sorted(folder.glob(pattern)):
        if (path.suffix in WEIGHT_SUFFIXES and "_gray" not in path.name
            and ".stats." not in path.name):
          found.append(str(path))
  return found
