"""Live tracking: the latest frame of a live source in, its boxes out.

    tracker = Tracker.pretrained()
    warm_up(tracker, box)                       # export/compile now, not live
    with data.live.open_live("udp://127.0.0.1:5000") as source:
      records = []
      for record in track(tracker, source, box, max_frames=300):
        records.append(record)                  # .index, .boxes, .latency
    print(summarize(records).line())

The box (or the K boxes) is the target in the first frame taken from the
source. After it, each step takes the newest frame: frames that came while
the tracker was busy are dropped by the source (`data/live.py`), never
queued, so the latency (a frame's arrival to its box) stays about one or
two steps however slow the tracker, and a record's source frame index tells
which frame its boxes are of. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterator, Sequence

import numpy as np

from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import live as data_live

# Frame of the warm-up (height, width, 3): the onnxruntime steps take any
# frame size; JAX compiles again for another size at the first live frame.
WARM_UP_SHAPE = (480, 640, 3)


@dataclasses.dataclass(frozen=True)
class Record:
  """The boxes of one tracked frame of a live source.

  Attributes:
    index: the frame's index in the source (0-based, `LiveFrame.index`).
    boxes: [4] float64 box [x, y, w, h], or [K, 4] for K targets.
    latency: seconds from the frame's arrival to its boxes.
    dropped: frames the source dropped since the first frame taken.
    time: `time.perf_counter()` when the boxes were out.
  """

  index: int
  boxes: np.ndarray
  latency: float
  dropped: int
  time: float


@dataclasses.dataclass(frozen=True)
class Summary:
  """What a live run did.

  Attributes:
    frames: frames tracked (the first, where the box was given, included).
    dropped: frames dropped after the first one tracked.
    fps: frames tracked per second after the first.
    latency_p50, latency_p95: seconds from arrival to boxes (median, 95th
      percentile), the first frame (`init`) excluded when there are others.
  """

  frames: int
  dropped: int
  fps: float
  latency_p50: float
  latency_p95: float

  @property
  def dropped_percent(self) -> float:
    """Dropped frames per 100 frames the source gave while tracking."""
    total = self.frames + self.dropped
    return 100.0 * self.dropped / total if total else 0.0

  def line(self) -> str:
    """One line: frames, dropped, fps, latency p50/p95."""
    def ms(seconds):
      return "-" if np.isnan(seconds) else f"{seconds * 1e3:.0f} ms"
    fps = "-" if np.isnan(self.fps) else f"{self.fps:.1f}"
    return (f"{self.frames} frames tracked, {self.dropped} dropped "
            f"({self.dropped_percent:.1f}%), {fps} fps, latency p50 "
            f"{ms(self.latency_p50)}, p95 {ms(self.latency_p95)}")


def warm_up(tracker: tracker_lib.Tracker, boxes,
            shape: Sequence[int] = WARM_UP_SHAPE) -> None:
  """Runs `init` and one `update` on a made-up frame, so that exporting,
  calibrating (int8) and compiling happen now and not on the first live
  frame (while the source runs on).

  Args:
    tracker: the tracker.
    boxes: [4] or [K, 4]: only the number of targets is used.
    shape: the frame's [H, W, 3].
  """
  height, width = shape[:2]
  frame = np.random.default_rng(0).integers(0, 256, (height, width, 3),
                                            np.uint8)
  count = len(boxes) if np.ndim(boxes) == 2 else 1
  side = min(height, width / count) / 2  # K boxes side by side
  xs = (np.arange(count) + 0.5) * width / count - side / 2
  made_up = np.stack([[x, (height - side) / 2, side, side] for x in xs])
  tracker.init(frame, made_up if np.ndim(boxes) == 2 else made_up[0])
  tracker.update(frame)


def track(tracker: tracker_lib.Tracker, source: data_live.LiveSource,
          boxes, max_frames: int | None = None) -> Iterator[Record]:
  """Tracks the newest frames of `source`, as they come.

  Args:
    tracker: the tracker (`init` on the first frame taken, then `update`).
    source: the live source (`data_live.open_live`, or a `LiveSource` of
      any frames).
    boxes: [4] [x, y, w, h] target in the first frame taken, or [K, 4].
    max_frames: stop after this many frames tracked; None: at the end of
      the source.

  Yields:
    One `Record` per frame tracked, the first frame's (its given boxes)
    included.

  Raises:
    ValueError: the source ended before its first frame or failed to open
      (`LiveSource.take`), or a box does not fit the first frame.
  """
  boxes = np.asarray(boxes, np.float64)
  frame = source.take()
  if frame is None:
    raise ValueError(f"{source.name}: the stream ended before its first "
                     "frame")
  first = frame  # drops before it (while connecting) are not the tracker's
  tracker.init(frame.image, boxes)
  done = time.perf_counter()
  yield Record(frame.index, boxes.copy(), done - frame.arrival, 0, done)
  count = 1
  while max_frames is None or count < max_frames:
    frame = source.take()
    if frame is None:
      return
    out = tracker.update(frame.image)
    done = time.perf_counter()
    yield Record(frame.index, out, done - frame.arrival,
                 frame.dropped - first.dropped, done)
    count += 1


def summarize(records: Sequence[Record]) -> Summary:
  """The `Summary` of a run's records (any prefix of them)."""
  if not records:
    return Summary(0, 0, float("nan"), float("nan"), float("nan"))
  latency = np.array([r.latency for r in records[1:]] or
                     [records[0].latency])
  seconds = records[-1].time - records[0].time
  fps = (len(records) - 1) / seconds if seconds > 0 else float("nan")
  return Summary(frames=len(records), dropped=records[-1].dropped, fps=fps,
                 latency_p50=float(np.percentile(latency, 50)),
                 latency_p95=float(np.percentile(latency, 95)))
