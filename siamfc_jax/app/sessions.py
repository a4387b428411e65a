"""One browser tab's state: its clip, targets, tracking runs, live frames.

A session lives as long as its tab's WebSocket: closing the tab stops its
run, deletes its folder (uploads, JPEGs, outputs, live frames) and gives
its memory back (`give_back_memory`, `_Workers`). Tracking runs on a worker
thread (`RUNS`, one run at a time each), never on the server's event loop;
what it has to say (progress, boxes, errors) goes out through `send`, which
any thread may call.

Correct and continue: a run starts at a frame t with the boxes of the
targets there (those drawn by hand, and the others where the tracker had
them) and tracks to the end, replacing what was tracked after t. So the
boxes from t on are those of `Tracker.track(frames[t:], boxes at t)`: every
target is re-initialised at t, its template from its box there.
"""

from __future__ import annotations

from concurrent import futures
import ctypes
import ctypes.util
import itertools
import logging
import pathlib
import queue
import shutil
import threading
import time
from typing import Any, Callable

import numpy as np

from siamfc_jax import frames as frames_lib
from siamfc_jax.app import clips
from siamfc_jax.app import outputs
from siamfc_jax.app import streams
from siamfc_jax.app import trackers as trackers_lib

log = logging.getLogger("siamfc_jax.app")
# Live frames kept per session (their boxes are all kept).
LIVE_FRAMES_KEPT = 3000
# The library's exceptions for bad input: their message is for the user.
INPUT_ERRORS = (ValueError, FileNotFoundError, FileExistsError)


def user_message(error: BaseException) -> str:
  """What the page shows of an error: the message of bad input, a short
  note (the details are in the server log) for anything else."""
  if isinstance(error, INPUT_ERRORS):
    return clips.first_line(error, 500)
  return (f"internal error ({type(error).__name__}); the server log has the "
          "details")


def report(session_id: str, error: BaseException) -> str:
  """Logs an error (one line for bad input, the traceback of a bug) and
  returns the page's message."""
  message = user_message(error)
  if isinstance(error, INPUT_ERRORS):
    log.warning("session %s: %s", session_id, message)
  else:
    log.error("session %s: %s", session_id, message, exc_info=error)
  return message


def _libc() -> ctypes.CDLL | None:
  try:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
  except OSError:
    return None


_LIBC = _libc()


def give_back_memory() -> None:
  """Returns the free pages inside the heaps to the OS (glibc's
  `malloc_trim`; elsewhere a no-op): a closed session's freed blocks that
  lie between blocks still in use (measured: the server's level 30 MB
  lower with it)."""
  malloc_trim = getattr(_LIBC, "malloc_trim", None)
  if malloc_trim is not None:
    malloc_trim(0)


class _Workers:
  """Daemon threads that live as long as the process and take the
  sessions' runs in turn: a new one only while all are busy.

  Why not a thread per run: glibc gives threads arenas of their own (up to
  8 per core) and keeps what a thread freed at its arena's top, up to a
  threshold it raises to twice the largest block it has unmapped (a
  frame's worth, and more), and `malloc_trim` does not trim an arena's top.
  A new thread per run took whichever arena another thread had just left,
  so each run could leave one more arena 6 MB fuller: measured, 4 MB more
  RSS a cycle over 20 open/track/close cycles, with nothing of the sessions
  alive. A run on a worker uses the arena the worker's last run left. (Not
  `ThreadPoolExecutor`: its threads are joined at exit, so a run that no
  tab stops would hold up the interpreter's exit.)
  """

  def __init__(self, name: str):
    self._name = name
    self._tasks: queue.SimpleQueue = queue.SimpleQueue()
    self._idle = threading.Semaphore(0)
    self._count = itertools.count(1)

  def submit(self, fn: Callable[..., Any], *args) -> futures.Future:
    """Runs `fn(*args)` on an idle worker, or on a new one."""
    future = futures.Future()
    self._tasks.put((future, fn, args))
    if not self._idle.acquire(blocking=False):
      threading.Thread(target=self._work, daemon=True,
                       name=f"{self._name}-{next(self._count)}").start()
    return future

  def _work(self) -> None:
    while True:
      future, fn, args = self._tasks.get()
      if future.set_running_or_notify_cancel():
        future.thread = threading.current_thread()
        try:
          future.set_result(fn(*args))
        except BaseException as e:  # pylint: disable=broad-except
          future.set_exception(e)
      del future, fn, args  # not kept alive while idle
      self._idle.release()


RUNS = _Workers("track")


def _box_or_none(box) -> list[float] | None:
  return ([float(v) for v in box] if np.all(np.isfinite(box)) else None)


class Session:
  """One tab's state (see the module docstring)."""

  def __init__(self, session_id: str, folder: pathlib.Path,
               trackers: trackers_lib.Trackers,
               send: Callable[[dict], None], stream_timeout: float = 10.0):
    self.id = session_id
    self.folder = folder
    self.out = folder / "out"
    self.out.mkdir(parents=True, exist_ok=True)
    self.trackers = trackers
    self.send = send
    self.lock = threading.Lock()
    self.settings = trackers_lib.TrackerSettings()
    self.clip: clips.Clip | None = None
    self.boxes = np.zeros((0, 0, 4))
    self.starts: dict[int, int] = {}
    self.corrections: dict[int, dict[int, list[float]]] = {}
    self.files: dict[str, pathlib.Path] = {}
    self.runs: list[dict] = []
    self.scores = None
    self._job: futures.Future | None = None
    self._cancel = threading.Event()
    self._clips = 0
    self.live = LiveTracking(self)
    self.stream = streams.StreamTracking(
        send, lambda e: report(session_id, e), trackers, stream_timeout)

  # -- the clip ---------------------------------------------------------

  def upload_path(self, filename: str) -> pathlib.Path:
    """Where an upload named `filename` is stored (its base name only)."""
    name = pathlib.PurePath(filename.replace("\\", "/")).name or "upload"
    folder = self.folder / "uploads"
    folder.mkdir(exist_ok=True)
    return folder / name

  def open_video(self, path: pathlib.Path) -> dict:
    """Opens an uploaded video (blocking: decodes it)."""
    self._clips += 1
    return self._set_clip(clips.open_video(
        path, self.folder / f"jpegs{self._clips}"))

  def open_path(self, root: pathlib.Path, relative: str) -> dict:
    """Opens a video or sequence folder under the data root (blocking)."""
    self._clips += 1
    return self._set_clip(clips.open_path(
        root, relative, self.folder / f"jpegs{self._clips}"))

  def _set_clip(self, clip: clips.Clip) -> dict:
    self.stop()
    with self.lock:
      self.clip = clip
      self.boxes = np.full((clip.count, 0, 4), np.nan)
      self.starts, self.corrections, self.runs = {}, {}, []
      self.scores = None
      self.files = {}
    return clip.describe()

  def frame_jpeg(self, index: int) -> bytes:
    if self.clip is None:
      raise ValueError("no video is open")
    return self.clip.jpeg(index)

  # -- tracking runs ----------------------------------------------------

  def stop(self) -> None:
    """Stops the running run (if any) and waits for it."""
    job = self._job
    if (job is not None
        and getattr(job, "thread", None) is not threading.current_thread()):
      self._cancel.set()
      futures.wait([job])
    self._job = None

  def running(self) -> bool:
    return self._job is not None and not self._job.done()

  def start(self, frame: int, boxes: list, edited: list[int],
            settings: dict | None = None) -> None:
    """Starts tracking at `frame` from `boxes` (one per target, None for a
    target not tracked from there), replacing what was tracked after it.

    Args:
      frame: 0-based frame to start at.
      boxes: [x, y, w, h] or None for targets 0, 1, ...
      edited: the targets whose box at `frame` was drawn by hand.
      settings: the page's tracker settings (`TrackerSettings`).

    Raises:
      ValueError: no clip, a frame out of range, no box, or a box of zero
        size or off the frame (named by its target).
    """
    if self.clip is None:
      raise ValueError("open a video first")
    tracker_settings = trackers_lib.TrackerSettings.from_json(settings)
    if not isinstance(frame, int) or not 0 <= frame < self.clip.count:
      raise ValueError(f"frame {frame!r} is not in 0..{self.clip.count - 1}")
    if not isinstance(boxes, list) or not any(b is not None for b in boxes):
      raise ValueError("draw a box around the target first")
    width, height = self.clip.size
    checked = {}
    for k, box in enumerate(boxes):
      if box is None:
        continue
      try:
        frames_lib.check_box(np.asarray(box, np.float64), (height, width))
      except (ValueError, TypeError) as e:
        raise ValueError(f"target {k}: {clips.first_line(e)}") from None
      checked[k] = np.asarray(box, np.float64)
    self.stop()
    with self.lock:
      self.settings = tracker_settings
      count = max(len(boxes), self.boxes.shape[1])
      if count > self.boxes.shape[1]:
        grow = np.full((self.clip.count, count - self.boxes.shape[1], 4),
                       np.nan)
        self.boxes = np.concatenate([self.boxes, grow], axis=1)
      self.boxes[frame:] = np.nan
      for k, box in checked.items():
        self.boxes[frame, k] = box
        if k not in self.starts or self.starts[k] >= frame:
          self.starts[k] = frame
          self.corrections.pop(k, None)
        elif k in edited:
          self.corrections.setdefault(k, {})[frame] = box.tolist()
      for k in list(self.corrections):  # later ones were tracked over
        self.corrections[k] = {t: b for t, b in self.corrections[k].items()
                               if t <= frame}
      for k in list(self.starts):
        if self.starts[k] > frame:
          del self.starts[k]
      self.runs = [r for r in self.runs if r["frame"] < frame]
      self.runs.append({"frame": frame, "boxes": [
          _box_or_none(b) for b in self.boxes[frame]],
                        "edited": sorted(set(edited) & set(checked))})
      self.files = {}
    self._cancel = threading.Event()
    self._job = RUNS.submit(self._run, frame, sorted(checked), self._cancel)

  def _run(self, start: int, active: list[int],
           cancel: threading.Event) -> None:
    stopped = False
    try:
      self.send({"type": "status", "message": "loading the network"})
      tracker = self.trackers.get(self.settings)
      first = self.boxes[start, active]
      box = first[0] if len(active) == 1 else first
      frames = self.clip.iter_frames(start)
      steps = tracker.track_iter(frames, box)
      t0 = time.perf_counter()
      with self.trackers.init_lock:  # the first step is the init
        first_out = next(steps, None)
      results = [] if first_out is None else [first_out]
      done = start
      for i, (b, _) in enumerate(_chain(results, steps)):
        t = start + i
        with self.lock:
          self.boxes[t, active] = np.asarray(b).reshape(len(active), 4)
        done = t + 1
        elapsed = time.perf_counter() - t0
        self.send({"type": "progress", "frame": t,
                   "boxes": [_box_or_none(x) for x in self.boxes[t]],
                   "done": done, "total": self.clip.count,
                   "fps": (i + 1) / elapsed if elapsed > 0 else None})
        if cancel.is_set():
          stopped = True
          break
      steps.close()
      self._write_outputs(tracker)
      self.send({"type": "done", "stopped": stopped, "frame": done - 1,
                 "files": sorted(self.files), "scores": self.scores_summary()})
    except Exception as e:  # pylint: disable=broad-except
      self.send({"type": "error", "message": report(self.id, e)})

  def _write_outputs(self, tracker) -> None:
    clip = self.clip
    with self.lock:
      boxes = self.boxes.copy()
    written = outputs.write_boxes(self.out, clip.name, boxes,
                                  self.corrections)
    scores = outputs.scores(boxes, clip.ground_truth)
    if scores is not None:
      written.append(outputs.write_plot(self.out, clip.name, scores))
    files = outputs.boxes_files(clip.name, boxes.shape[1])
    settings = {
        "clip": {"name": clip.name, "frames": clip.count,
                 "width": clip.size[0], "height": clip.size[1]},
        "settings": self.settings.to_json(),
        "tracker": {"name": tracker.name, "backend": tracker.backend.name,
                    **tracker.settings()},
        "targets": [{"target": k, "file": files[k],
                     "start": self.starts.get(k),
                     "first_box": self.runs_box(k),
                     "corrections": [
                         {"frame": t, "box": b} for t, b in
                         sorted(self.corrections.get(k, {}).items())]}
                    for k in range(boxes.shape[1])],
        "runs": self.runs, "scores": scores}
    written.append(outputs.write_settings(self.out, settings))
    with self.lock:
      self.scores = scores
      self.files = {name: self.out / name for name in written}
      self.files[outputs.VIDEO_FILE] = self.out / outputs.VIDEO_FILE

  def runs_box(self, k: int) -> list[float] | None:
    start = self.starts.get(k)
    return None if start is None else _box_or_none(self.boxes[start, k])

  def scores_summary(self) -> list[dict] | None:
    if self.scores is None:
      return None
    return [{"target": s["target"], "auc": s["auc"],
             "precision20": s["precision20"]}
            for s in self.scores["targets"]]

  def result(self) -> dict:
    """The boxes so far (JSON-ready)."""
    with self.lock:
      boxes = self.boxes.copy()
    return {"boxes": [[_box_or_none(b) for b in row] for row in boxes],
            "files": sorted(self.files), "scores": self.scores_summary(),
            "corrections": {str(k): sorted(v) for k, v in
                            self.corrections.items()}}

  def output(self, name: str) -> pathlib.Path:
    """The file `name` of this session's outputs (rendering the video the
    first time it is asked for).

    Raises:
      FileNotFoundError: not an output of this session.
    """
    with self.lock:
      path = self.files.get(name)
    if path is None:
      raise FileNotFoundError(f"{name}: not an output of this session")
    if name == outputs.VIDEO_FILE and not path.is_file():
      with self.lock:
        boxes = self.boxes.copy()
      outputs.write_video(self.out, self.clip.iter_frames(), boxes,
                          self.clip.ground_truth)
    return path

  def close(self) -> None:
    """Stops tracking, deletes the session's files and gives the memory
    its runs freed back to the OS (`give_back_memory`)."""
    self.stop()
    self.live.close()
    self.stream.close()
    shutil.rmtree(self.folder, ignore_errors=True)
    give_back_memory()


def _chain(first: list, rest):
  yield from first
  yield from rest


class LiveTracking:
  """Frames from the page's camera, tracked one at a time as they come.

  The page sends a frame only when the box of the previous one is back, so
  nothing queues here. Each tracked frame's boxes are kept, and the newest
  `LIVE_FRAMES_KEPT` frames (JPEG, as received), for downloads and tests.
  """

  def __init__(self, session: Session):
    self.session = session
    self.folder = session.folder / "live"
    self.lock = threading.Lock()
    self.tracker = None
    self.targets = 0
    self.records: list[dict[str, Any]] = []

  def step(self, header: dict, jpeg: bytes) -> dict:
    """Tracks one frame; `header` has the page's frame counter and capture
    time, and `init` (boxes) when the user has just drawn them.

    Raises:
      ValueError: not a JPEG, a bad box, or a frame before any box.
    """
    received = time.perf_counter()
    frame = clips.decode_jpeg(jpeg, f"live frame {header.get('counter')}")
    with self.lock:
      init = header.get("init")
      if init is not None:
        active = [b for b in init if b is not None]
        if not active:
          raise ValueError("draw a box around the target first")
        boxes = np.asarray(active, np.float64)
        frames_lib.check_boxes(boxes, frame.shape)
        tracker = self.session.trackers.get(
            trackers_lib.TrackerSettings.from_json(header.get("settings")))
        # One target takes the one-target steps (loaded already), as in
        # `Tracker.track` with a [4] box.
        self.session.trackers.init(tracker, frame,
                                   boxes[0] if len(boxes) == 1 else boxes)
        self.tracker, self.targets, out = tracker, len(boxes), boxes
      elif self.tracker is None:
        raise ValueError("pause and draw a box around the target first")
      else:
        out = self.tracker.update(frame)
      index = len(self.records)
      self.folder.mkdir(exist_ok=True)
      (self.folder / f"{index}.jpg").write_bytes(jpeg)
      # The newest frames only: an hour at 30 frames/s would be gigabytes.
      (self.folder / f"{index - LIVE_FRAMES_KEPT}.jpg").unlink(
          missing_ok=True)
      step_ms = 1000 * (time.perf_counter() - received)
      record = {"index": index, "counter": header.get("counter"),
                "capture_ms": header.get("t"), "init": init is not None,
                "boxes": [_box_or_none(b) for b in np.reshape(out, (-1, 4))],
                "step_ms": step_ms}
      self.records.append(record)
    return {"type": "live_boxes", **record}

  def frame(self, index: int) -> bytes:
    """Tracked live frame `index` (0-based, in the order tracked)."""
    path = self.folder / f"{index}.jpg"
    if (not isinstance(index, int) or not 0 <= index < len(self.records)
        or not path.is_file()):
      raise FileNotFoundError(f"live frame {index}: not kept here (the "
                              f"newest {LIVE_FRAMES_KEPT} are)")
    return path.read_bytes()

  def close(self) -> None:
    with self.lock:
      self.tracker = None
