"""A stream URL (or a camera of the server) opened by the server, tracked
live for one session, its frames and boxes sent to the page.

The source keeps only its latest frame (`data/live.py`): the tracker takes
the newest each step, and the frames it was too slow for are dropped and
counted, never queued. The page gets a frame (JPEG) with its boxes only
when it has drawn the one before (`ack`), so a slow page costs picture
updates, not latency. Pause keeps the frame the page shows; the boxes drawn
on it start (or restart) the tracker there (`go`).
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np

from siamfc_jax import frames as frames_lib
from siamfc_jax.app import clips
from siamfc_jax.app import live as app_live
from siamfc_jax.app import trackers as trackers_lib
from siamfc_jax.data import live as data_live


class StreamTracking:
  """One session's stream (module docstring)."""

  def __init__(self, send, report, trackers: trackers_lib.Trackers,
               timeout: float = data_live.DEFAULT_TIMEOUT):
    """
    Args:
      send: sends a message to the page (any thread).
      report: error -> the page's message (logged once).
      trackers: the trackers pool.
      timeout: seconds to wait for the stream's first frame (and each
        next).
    """
    self.send, self.report, self.trackers = send, report, trackers
    self.timeout = timeout
    self.lock = threading.Lock()
    self.source = None
    self.thread = None
    self.closed = threading.Event()
    self.acked = threading.Event()
    self.paused = False
    self.shown = None          # the last frame sent to the page
    self.start_boxes = None    # boxes drawn on `shown`, to init with
    self.settings = trackers_lib.TrackerSettings()
    self.tracker = None
    self.records: list[app_live.Record] = []

  def open(self, url: str, settings: dict | None) -> None:
    """Opens `url` (a camera `0`, `/dev/video0`, or a stream URL).

    Raises:
      ValueError: not a camera or stream URL, or bad settings.
    """
    url = str(url or "").strip()
    if not data_live.is_live(url):
      raise ValueError(f"{url or '(empty)'}: not a stream URL (rtsp://, "
                       "udp://, http://, ...) or a camera (0, /dev/video0)")
    settings = trackers_lib.TrackerSettings.from_json(settings)
    self.close()
    self.closed = threading.Event()
    self.acked.set()
    self.paused, self.shown, self.start_boxes = False, None, None
    self.tracker, self.records, self.settings = None, [], settings
    self.thread = threading.Thread(target=self._run, args=(url,),
                                   name="stream", daemon=True)
    self.thread.start()

  def pause(self) -> None:
    with self.lock:
      self.paused = True

  def go(self, boxes: list) -> None:
    """Tracks from the paused frame, from `boxes` drawn on it.

    Raises:
      ValueError: no frame shown yet, or no box, or a bad box.
    """
    active = [b for b in (boxes or []) if b is not None]
    if not active:
      raise ValueError("draw a box around the target first")
    with self.lock:
      if self.shown is None:
        raise ValueError("no frame of the stream yet")
      boxes = np.asarray(active, np.float64)
      frames_lib.check_boxes(boxes, self.shown.image.shape)
      self.start_boxes = boxes
      self.paused = False

  def ack(self) -> None:
    self.acked.set()

  def _run(self, url: str) -> None:
    closed = self.closed
    try:
      self.send({"type": "status", "message": f"opening {url}"})
      source = data_live.open_live(url, timeout=self.timeout)
      with self.lock:
        self.source = source
      if closed.is_set():
        source.close()
        return
      while not closed.is_set():
        frame = source.take()
        if frame is None:
          summary = app_live.summarize(self.records)
          self.send({"type": "stream_end",
                     "message": f"{url}: the stream ended ({source.end})",
                     "summary": summary.line() if self.records else None})
          return
        self._step(frame)
    except Exception as e:  # pylint: disable=broad-except
      if not closed.is_set():
        self.send({"type": "error", "stream": True,
                   "message": self.report(e)})
    finally:
      with self.lock:
        if self.source is not None:
          self.source.close()

  def _step(self, frame: data_live.LiveFrame) -> None:
    with self.lock:
      if self.paused:
        return
      start, self.start_boxes = self.start_boxes, None
      shown = self.shown
    boxes = None
    if start is not None:  # the boxes were drawn on `shown`
      tracker = self.trackers.get(self.settings)
      self.trackers.init(tracker, shown.image,
                         start[0] if len(start) == 1 else start)
      self.tracker = tracker
      self.records = [app_live.Record(shown.index, start, 0.0,
                                      shown.dropped, time.perf_counter())]
    if self.tracker is not None:
      boxes = np.reshape(self.tracker.update(frame.image), (-1, 4))
      done = time.perf_counter()
      first = self.records[0]  # its `dropped`: the source's count then
      self.records.append(app_live.Record(
          frame.index, boxes, done - frame.arrival,
          max(0, frame.dropped - first.dropped), done))
    if not self.acked.is_set():
      return  # the page is still drawing the previous one
    self.acked.clear()
    with self.lock:
      self.shown = frame
    summary = app_live.summarize(self.records) if self.records else None
    self.send({
        "type": "stream_frame", "index": frame.index,
        "jpeg": base64.b64encode(clips.encode_jpeg(frame.image)).decode(),
        "boxes": None if boxes is None else [
            [float(v) for v in b] for b in boxes],
        "latency_ms": None if boxes is None else
        1000 * (time.perf_counter() - frame.arrival),
        "dropped": None if summary is None else summary.dropped,
        "fps": None if summary is None or np.isnan(summary.fps)
        else summary.fps})

  def close(self) -> None:
    self.closed.set()
    with self.lock:
      source = self.source
      self.source = None
    if source is not None:
      source.close()
