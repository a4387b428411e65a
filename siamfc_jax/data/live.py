"""Frames of a live source (a camera, a network stream): the latest only.

    with live.open_live("udp://127.0.0.1:5000", timeout=10) as source:
      while (frame := source.take()) is not None:
        ...  # frame.image [H, W, 3] uint8, frame.index, frame.arrival

A source is opened with the ffmpeg binary that imageio-ffmpeg bundles: a
camera (`0`, `/dev/video0`: v4l2 on Linux, AVFoundation on macOS) or any
stream URL ffmpeg reads (`rtsp://`, `rtmp://`, `http(s)://`, `udp://`,
`srt://`, `tcp://`, ...). A background thread decodes the frames and keeps
only the latest one: a consumer slower than the source gets the newest
frame each time and the frames overwritten before it took them are counted
as dropped. Nothing queues, so the delay from a frame's arrival to its use
stays bounded whatever the consumer's speed. The one exception is the first
frame, kept until taken: the frame a first box is given for is frame 0.

Each frame carries its index in the source (0-based count of the frames
decoded from it, so the gaps between taken frames are the drops) and its
arrival time (`time.perf_counter()` when it was decoded).

The end of the stream, or no new frame for `timeout` seconds once frames
have come, is a normal end (`take` returns None, `end` says why). No frame
at all within `timeout`, or ffmpeg failing before the first frame, is a
`ValueError` naming the source; a camera device that does not exist is a
`FileNotFoundError`.

This module reads frames only: it never imports the tracker or the network.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Iterable, Iterator, Sequence

import imageio_ffmpeg
import numpy as np

# Seconds to wait for the first frame, and for each next one (then the
# stream is taken as ended: a UDP stream never says that it stopped).
DEFAULT_TIMEOUT = 10.0

# `scheme://...`; file:// is a file, not a live source.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Output stream line of ffmpeg's log: "... rgb24(...), 640x480 [SAR ...".
_OUTPUT_SIZE = re.compile(r"Stream #0:0.*Video: rawvideo.*?, (\d+)x(\d+)\b")
# "[tcp @ 0x55d0...] " before ffmpeg's messages.
_LOG_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\]\s*")
# Input options for low delay: a short probe (by default ffmpeg analyses up
# to 5 s of a stream before its first frame, then bursts out what it read),
# still long enough for a keyframe; no extra decoder delay.
_STREAM_INPUT = ("-flags", "low_delay", "-probesize", "500000",
                 "-analyzeduration", "100000")


def is_live(seq: str | os.PathLike) -> bool:
  """True for a camera (`0`, `/dev/video0`) or a stream URL (`scheme://`).

  A pure test of the text (the file system is not looked at); `file://`
  URLs are files, not live.
  """
  seq = os.fspath(seq)
  if _is_camera(seq):
    return True
  match = _URL.match(seq)
  return bool(match) and match.group(1).lower() != "file"


def output_name(seq: str) -> str:
  """A file-name-safe name of a live source: `camera0`, `video0`,
  `udp_127.0.0.1_5000`."""
  if seq.isdigit():
    return f"camera{seq}"
  name = re.sub(r"[^A-Za-z0-9.-]+", "_", seq.replace("://", "_", 1))
  return name.strip("_.") or "live"


@dataclasses.dataclass(frozen=True)
class LiveFrame:
  """One decoded frame of a live source.

  Attributes:
    image: [H, W, 3] uint8 RGB.
    index: 0-based count of the frames decoded from the source before it.
    arrival: `time.perf_counter()` seconds when it was decoded.
    dropped: frames before this one that were dropped, not taken (set when
      it is taken).
  """

  image: np.ndarray
  index: int
  arrival: float
  dropped: int = 0


class LatestFrame:
  """The latest frame of a source, between its reader and one consumer.

  The reader `put`s every decoded frame; the consumer `take`s the newest
  one not yet taken. A frame overwritten before it was taken is dropped
  (counted); none is ever queued. Except the first frame: it is kept until
  taken, so that it is the frame of the first box whenever the consumer
  comes (a tracker still starting up), and `take` gives it first.
  """

  def __init__(self):
    self._changed = threading.Condition()
    self._first: LiveFrame | None = None  # frame 0, until taken
    self._latest: LiveFrame | None = None
    self._fresh = False  # `_latest` not yet taken
    self._ended = False
    self._error: BaseException | None = None
    self._taken = 0
    self.decoded = 0  # frames put so far
    self.dropped = 0  # frames overwritten before they were taken

  def put(self, image: np.ndarray) -> None:
    """Makes `image` ([H, W, 3] uint8) the latest frame, stamped now."""
    arrival = time.perf_counter()
    with self._changed:
      frame = LiveFrame(image, self.decoded, arrival)
      if self.decoded == 0:
        self._first = frame
      else:
        if self._fresh:
          self.dropped += 1
        self._latest, self._fresh = frame, True
      self.decoded += 1
      self._changed.notify_all()

  def finish(self, error: BaseException | None = None) -> None:
    """Marks the end of the frames; `error` is raised by `take` once the
    last frame has been taken."""
    with self._changed:
      self._ended = True
      self._error = error
      self._changed.notify_all()

  def take(self, timeout: float | None = None) -> LiveFrame | None:
    """The latest frame not yet taken, waiting for one if needed.

    Args:
      timeout: seconds to wait for a new frame; None waits for ever.

    Returns:
      The frame, or None after the end of the frames.

    Raises:
      TimeoutError: no new frame within `timeout`.
      The reader's error, after its last frame.
    """
    with self._changed:
      if not self._changed.wait_for(
          lambda: self._first or self._fresh or self._ended, timeout):
        raise TimeoutError(f"no new frame in {timeout} s")
      frame = self._first or (self._latest if self._fresh else None)
      if frame is not None:
        if frame is self._first:
          self._first = None
        else:
          self._fresh = False
        self._taken += 1
        # The frames before it that were not taken were dropped.
        return dataclasses.replace(frame,
                                   dropped=frame.index + 1 - self._taken)
      if self._error is not None:
        raise self._error
      return None


class LiveSource:
  """Frames decoded by a background thread; `take` gives the latest.

  Attributes:
    name: the source as the user gave it (in messages).
    timeout: seconds `take` waits for a frame (see the module docstring).
    end: why the frames ended ("end of stream", "no frame for 10 s", ...),
      or None while they go on.
  """

  def __init__(self, frames: Iterable[np.ndarray], name: str,
               timeout: float | None = DEFAULT_TIMEOUT,
               stop: Callable[[], None] | None = None):
    """Starts decoding `frames` in a background thread.

    Args:
      frames: [H, W, 3] uint8 frames as they come (an iterator that blocks
        until the next one); a `ValueError` it raises is `take`'s.
      name: the source, for messages.
      timeout: seconds to wait for a frame; None waits for ever.
      stop: called by `close` to make `frames` end soon (e.g. stop ffmpeg).
    """
    self.name, self.timeout = name, timeout
    self.end: str | None = None
    self._slot = LatestFrame()
    self._stop = stop
    self._closed = threading.Event()
    # A daemon: a reader blocked on a dead stream must not keep us alive.
    self._reader = threading.Thread(target=self._read, args=(frames,),
                                    name=f"live reader {name}", daemon=True)
    self._reader.start()

  @property
  def decoded(self) -> int:
    """Frames decoded from the source so far."""
    return self._slot.decoded

  @property
  def dropped(self) -> int:
    """Frames overwritten before they were taken, so far."""
    return self._slot.dropped

  def _read(self, frames: Iterable[np.ndarray]) -> None:
    try:
      for image in frames:
        if self._closed.is_set():
          break
        self._slot.put(image)
    except Exception as e:  # pylint: disable=broad-except
      self._slot.finish(e)  # raised in the consumer's thread by `take`
    else:
      self._slot.finish()

  def take(self) -> LiveFrame | None:
    """The latest frame not yet taken (waits for one), or None at the end.

    Raises:
      ValueError: no frame at all within `timeout` (the source never
        connected), or the source failed before its first frame.
    """
    if self._closed.is_set():
      return None
    try:
      frame = self._slot.take(self.timeout)
    except TimeoutError:
      never = self._slot.decoded == 0
      self.close()
      if never:
        raise ValueError(
            f"{self.name}: no frame in {self.timeout:g} s: expected a camera "
            "or a live video stream there (is anything sending?)") from None
      self.end = f"no frame for {self.timeout:g} s"
      return None
    if frame is None:
      self.end = self.end or "end of stream"
    return frame

  def close(self) -> None:
    """Stops the reader (and ffmpeg); idempotent."""
    if self._closed.is_set():
      return
    self._closed.set()
    self.end = self.end or "closed"
    if self._stop is not None:
      self._stop()
    self._reader.join(timeout=5)

  def __enter__(self) -> LiveSource:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


def camera_input(seq: str) -> list[str]:
  """ffmpeg's input arguments for the camera `seq` (`0`, `/dev/video0`).

  Raises:
    FileNotFoundError: no such video device.
    ValueError: cameras by number on a system other than Linux or macOS.
  """
  if sys.platform.startswith("linux"):
    device = f"/dev/video{seq}" if seq.isdigit() else seq
    if not os.path.exists(device):
      raise FileNotFoundError(
          f"camera {seq}: {device} not found: expected a video device "
          "(v4l2), e.g. /dev/video0")
    return ["-f", "v4l2", "-i", device]
  if sys.platform == "darwin" and seq.isdigit():
    return ["-f", "avfoundation", "-framerate", "30", "-i", f"{seq}:none"]
  raise ValueError(f"camera {seq}: cameras are opened on Linux (v4l2) and "
                   "macOS (AVFoundation); give a stream URL instead")


def check_source(seq: str) -> None:
  """Checks what can be checked of `seq` without opening it: that a camera
  device exists.

  Raises:
    FileNotFoundError, ValueError: as `camera_input`.
  """
  if _is_camera(seq):
    camera_input(seq)


def _is_camera(seq: str) -> bool:
  return seq.isdigit() or seq.startswith("/dev/video")


def ffmpeg_command(seq: str, input_args: Sequence[str] = ()) -> list[str]:
  """The ffmpeg command that decodes `seq` to raw RGB frames on stdout.

  Args:
    seq: a camera, a stream URL, or any input ffmpeg reads.
    input_args: more input options, before `-i` (e.g. `-re` to read a file
      at its frame rate, as a live source would send it).
  """
  if _is_camera(seq):
    source = camera_input(seq)
  else:
    source = [*_STREAM_INPUT, "-i", seq]
  # passthrough: every decoded frame out once (no duplicates, none dropped
  # by ffmpeg), so a frame's index is its number in the source.
  return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin",
          "-nostats", *input_args, *source, "-an", "-sn", "-dn",
          "-f", "rawvideo", "-pix_fmt", "rgb24", "-fps_mode", "passthrough",
          "pipe:1"]


class _Ffmpeg:
  """An ffmpeg process decoding to raw RGB frames, and its log."""

  def __init__(self, command: list[str], name: str):
    self.name = name
    # start_new_session: Ctrl-C in a terminal reaches us, not ffmpeg (we
    # stop it), and no Python runs in the forked child (no preexec_fn), so
    # JAX's threads are no deadlock risk nor a fork warning.
    self.process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
    self.log = collections.deque(maxlen=40)
    self.size: tuple[int, int] | None = None  # (width, height)
    self._header = threading.Event()  # size known, or the log ended
    self._stopping = False
    self._log_reader = threading.Thread(target=self._read_log, daemon=True,
                                        name=f"ffmpeg log {name}")
    self._log_reader.start()

  def _read_log(self) -> None:
    output = False
    for raw in iter(self.process.stderr.readline, b""):
      line = _LOG_PREFIX.sub("", raw.decode(errors="replace").strip())
      self.log.append(line)
      output = output or line.startswith("Output #0")
      match = _OUTPUT_SIZE.search(line) if output and not self.size else None
      if match:
        self.size = int(match.group(1)), int(match.group(2))
        self._header.set()
    self._header.set()
    self.process.stderr.close()

  def reason(self) -> str:
    """ffmpeg's first error line (its most precise), else its last."""
    lines = [line for line in self.log if line]
    errors = [line for line in lines if re.search(
        r"error|failed|cannot|could not|no such|invalid|refused|timed out",
        line, re.IGNORECASE)]
    return (errors or lines or ["ffmpeg gave no reason"])[0 if errors else -1]

  def _fail(self) -> ValueError:
    self.process.wait()
    self._log_reader.join(timeout=2)
    return ValueError(
        f"cannot open live source {self.name}: {self.reason()} (expected a "
        "camera or a video stream that ffmpeg reads)")

  def frames(self) -> Iterator[np.ndarray]:
    """Yields [H, W, 3] uint8 frames until ffmpeg's output ends.

    Raises:
      ValueError: ffmpeg ended before its first frame (names the source
        and gives ffmpeg's reason).
    """
    try:
      self._header.wait()
      if self.size is None:
        if self._stopping:
          return
        raise self._fail()
      width, height = self.size
      count = 0
      while True:
        buffer = bytearray(width * height * 3)
        if not _read_exactly(self.process.stdout, buffer):
          break
        count += 1
        yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
      if count == 0 and not self._stopping:
        raise self._fail()
    finally:
      self.stop()
      self.process.stdout.close()

  def stop(self) -> None:
    """Ends ffmpeg: asked first, then killed."""
    self._stopping = True
    if self.process.poll() is not None:
      return
    self.process.terminate()
    try:
      self.process.wait(timeout=2)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()


def _read_exactly(stream, buffer: bytearray) -> bool:
  """Fills `buffer` from `stream`; False at the end (a last partial frame
  is no frame)."""
  view, filled = memoryview(buffer), 0
  while filled < len(buffer):
    n = stream.readinto(view[filled:])
    if not n:
      return False
    filled += n
  return True


def open_live(seq: str, timeout: float | None = DEFAULT_TIMEOUT,
              input_args: Sequence[str] = ()) -> LiveSource:
  """Opens a camera or a stream URL (or any ffmpeg input) as a live source.

  Args:
    seq: `0` or `/dev/video0` (a camera), or a URL ffmpeg reads.
    timeout: seconds to wait for the first frame (then `ValueError`) and for
      each next one (then the stream is taken as ended); None for ever.
    input_args: more ffmpeg input options, before `-i` (e.g. `-re` to play
      a file at its frame rate, as a benchmark's live source).

  Returns:
    The source, decoding already; close it (or use `with`).

  Raises:
    FileNotFoundError: a camera device that does not exist.
    ValueError: a camera on a system without a camera input we know.
  """
  ffmpeg = _Ffmpeg(ffmpeg_command(seq, input_args), seq)
  return LiveSource(ffmpeg.frames(), seq, timeout, stop=ffmpeg.stop)
