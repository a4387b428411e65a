r"""Live tracking speed: a 30 fps source of 640x480 frames, through the live
path (decode, track, box out), fp32 and int8, by two ways in.

  python -m benchmarks.live                            # 15 s per row
  python -m benchmarks.live --seconds=10 --precisions=int8 --fps=60
  python -m benchmarks.live --legs=websocket

The source is the bundled demo clip (VOT2015 *bag*) scaled to the frame
size and played forwards then backwards (no jump when it loops). Both legs
track with the web app's loaded tracker of the precision on the onnxruntime
backend (`app.trackers.POOL`: the same network, export and int8
calibration), warmed up before the clock starts.

- **ffmpeg** (`experiments.track --seq=udp://...`): the clip is encoded as
  H.264 once, then read by ffmpeg at its frame rate (`-re`, looped) as a
  live source (`siamfc_jax.data.live.open_live`): ffmpeg decodes, a thread
  keeps the latest frame, `siamfc_jax.app.live.track` tracks the newest
  frame each step, and each box goes out as the text line the track command
  writes. Latency: frame decoded -> box out.
- **websocket** (the web app's camera): the app runs in this process
  (`server.serve_in_background`) and a WebSocket client does what the page
  does with a camera (`static/app.js`): at each tick of a clock at the
  source's rate it captures a frame; if the box of the frame before is not
  back yet the frame waits (superseding, and dropping, one that waited) and
  goes as soon as that box is back, else it is JPEG-encoded (quality 0.9,
  as `canvas.toBlob`) and sent as the page's binary message (header length,
  JSON header with the frame counter and capture time, the JPEG), the first
  with the drawn box and the settings (`init`). The server decodes, tracks,
  keeps the frame and sends the boxes back (`live_boxes`). Latency: the
  frame's capture (its tick) -> its boxes received, as the page shows it.
  The client, like a browser on this machine, shares the CPU with the app.

Figures, after the first frame (the one the box is given on):

- fps: frames tracked per second (the source's rate at most);
- latency p50 / p95, ms;
- dropped %: frames the source gave that were not tracked (dropped, not
  queued, as the tracker was busy).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import platform
import struct
import subprocess
import tempfile
import time
from typing import Callable, Sequence

from absl import app
from absl import flags
import imageio_ffmpeg
import numpy as np
from PIL import Image
from websockets.asyncio import client as websockets_client

from siamfc_jax.cli import entry
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.app import live as app_live
from siamfc_jax.app import server
from siamfc_jax.app import trackers as trackers_lib
from siamfc_jax.data import live

LEGS = ("ffmpeg", "websocket")
# Seconds past the timed ones after which the WebSocket leg stops waiting
# for the app (a hung server, not a slow one: the network is loaded before).
_GIVE_UP_S = 120
# The page's JPEG quality (`canvas.toBlob(..., "image/jpeg", 0.9)`).
JPEG_QUALITY = 90

_SECONDS = flags.DEFINE_float("seconds", 15.0, "Seconds of live tracking "
                              "timed per row (leg and precision).",
                              lower_bound=1.0)
_FPS = flags.DEFINE_integer("fps", 30, "Frame rate of the source.",
                            lower_bound=1)
_FRAME_SIZE = flags.DEFINE_string("frame_size", "640x480", "Frames of the "
                                  "source, WIDTHxHEIGHT.")
_PRECISIONS = flags.DEFINE_list("precisions", ["fp32", "int8"],
                                "Precisions timed, in turn (onnxruntime).")
_LEGS = flags.DEFINE_list("legs", list(LEGS), "Ways in timed, for each "
                          "precision: ffmpeg (a stream read by ffmpeg), "
                          "websocket (the web app's camera path).")


def cpu_model() -> str:
  """The CPU's model name (lscpu's "Model name"), else what Python knows."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.lower().startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def write_clip(path: str, width: int, height: int, fps: int) -> np.ndarray:
  """Writes the demo clip, scaled to width x height, forwards then
  backwards, as an H.264 file at `fps`; returns its first box [4] in the
  scaled frame."""
  seq = pretrained.demo_sequence()
  folder = os.path.dirname(seq.frames[0])
  pattern = os.path.join(folder, "%08d.jpg")
  subprocess.run(
      [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
       "-nostdin", "-y", "-framerate", str(fps), "-i", pattern,
       "-filter_complex",
       f"[0]scale={width}:{height},split[a][b];[b]reverse[r];"
       "[a][r]concat=n=2:v=1", "-c:v", "libx264", "-preset", "veryfast",
       "-pix_fmt", "yuv420p", path],
      check=True, capture_output=True)
  return first_box(width, height)


def first_box(width: int, height: int) -> np.ndarray:
  """The demo clip's first box [4], in its frames scaled to width x
  height."""
  seq = pretrained.demo_sequence()
  with Image.open(seq.frames[0]) as first_frame:
    source_width, source_height = first_frame.size
  scale = np.array([width / source_width, height / source_height] * 2)
  return np.asarray(seq.boxes[0], np.float64) * scale


def demo_frames(width: int, height: int, count: int | None = None
                ) -> list[np.ndarray]:
  """The demo clip's frames (the first `count`; default all) scaled to
  width x height, forwards then backwards, as `write_clip` plays them: the
  camera's pictures of the WebSocket leg."""
  seq = pretrained.demo_sequence()
  frames = []
  for path in seq.frames[:count]:
    with Image.open(path) as image:
      frames.append(np.asarray(image.convert("RGB").resize(
          (width, height), Image.BILINEAR)))
  return frames + frames[-2:0:-1]


def page_settings(precision: str) -> dict:
  """The page's tracker settings (`settings()` in app.js) of a row."""
  return {"network": trackers_lib.BUNDLED, "preset": "",
          "backend": "onnxruntime", "precision": precision}


def load_tracker(precision: str, shape: Sequence[int]
                 ) -> tracker_lib.Tracker:
  """The app's tracker of `precision` (loaded once, as a session's first
  run loads it), warmed up for frames of `shape` [H, W, 3]."""
  tracker = trackers_lib.POOL.get(
      trackers_lib.TrackerSettings.from_json(page_settings(precision)))
  app_live.warm_up(tracker, np.zeros(4), shape=shape)
  return tracker


def frame_message(header: dict, jpeg: bytes) -> bytes:
  """A camera frame as the page sends it (`server.parse_frame_message`):
  4-byte little-endian header length, the JSON header, the JPEG."""
  head = json.dumps(header).encode()
  return struct.pack("<I", len(head)) + head + jpeg


def _jpeg(frame: np.ndarray) -> bytes:
  out = io.BytesIO()
  Image.fromarray(frame).save(out, format="JPEG", quality=JPEG_QUALITY)
  return out.getvalue()


def measure_websocket(url: str, frames: Sequence[np.ndarray],
                      box: np.ndarray, seconds: float, fps: float,
                      settings: dict) -> app_live.Summary:
  """Tracks `frames` live through the app's WebSocket as the page's camera
  path does (module docstring), for `seconds` from the first box.

  Args:
    url: the app's URL (`server.serve_in_background`).
    frames: the camera's pictures, played in a loop at `fps`.
    box: [4] or [K, 4] box(es) drawn on the first frame.
    seconds: how long, from the first frame's boxes.
    fps: the camera's frame rate.
    settings: the page's tracker settings (`page_settings`).

  Returns:
    The summary of the run: fps, latency (capture -> boxes received),
    frames dropped by the page while a frame was in flight.

  Raises:
    RuntimeError: the app answered a frame with an error.
  """
  ws_url = url.replace("http", "ws", 1).rstrip("/") + "/ws"
  boxes = np.reshape(np.asarray(box, np.float64), (-1, 4))
  return asyncio.run(_camera(ws_url, frames, boxes, seconds, fps, settings))


async def _camera(ws_url: str, frames: Sequence[np.ndarray],
                  boxes: np.ndarray, seconds: float, fps: float,
                  settings: dict) -> app_live.Summary:
  period = 1.0 / fps
  records: list[app_live.Record] = []
  # pending: the newest frame captured while one was in flight.
  state = {"in_flight": False, "dropped": 0, "pending": None}
  sending = set()
  async with websockets_client.connect(ws_url, max_size=None,
                                       proxy=None) as ws:
    hello = json.loads(await ws.recv())
    if hello.get("type") != "hello":
      raise RuntimeError(f"the app did not say hello: {hello}")

    async def receive():
      async for text in ws:
        message = json.loads(text)
        if message["type"] == "error":
          raise RuntimeError(f"the app: {message['message']}")
        if message["type"] != "live_boxes":
          continue
        now = time.perf_counter()
        records.append(app_live.Record(
            index=message["counter"],
            boxes=np.asarray(message["boxes"], np.float64),
            latency=now - message["capture_ms"] / 1e3,
            dropped=state["dropped"], time=now))
        state["in_flight"] = False
        if now - records[0].time >= seconds:
          return
        pending, state["pending"] = state["pending"], None
        if pending is not None:
          send_soon(pending, {})

    async def send(frame, header):
      jpeg = await asyncio.to_thread(_jpeg, frame)  # toBlob: off the loop
      await ws.send(frame_message(header, jpeg))

    def send_soon(index: int, extra: dict) -> None:
      state["in_flight"] = True
      header = {"counter": index, "t": (start + index * period) * 1e3,
                **extra}
      task = asyncio.create_task(send(frames[index % len(frames)], header))
      sending.add(task)
      task.add_done_callback(sending.discard)

    receiver = asyncio.create_task(receive())
    start = time.perf_counter()
    tick = 0  # the camera's next frame
    while not receiver.done():
      if time.perf_counter() - start > seconds + _GIVE_UP_S:
        raise RuntimeError(f"no boxes from the app in {_GIVE_UP_S} s")
      delay = start + tick * period - time.perf_counter()
      if delay > 0:
        await asyncio.sleep(delay)
        continue
      # The newest frame the camera has made; those before it since the
      # last look were never seen (the loop was late): dropped as well.
      latest = int((time.perf_counter() - start) / period)
      if records or state["in_flight"]:  # tracking: the page counts drops
        state["dropped"] += latest - tick
      tick = latest + 1
      if state["in_flight"]:
        if state["pending"] is not None:
          state["dropped"] += 1
        state["pending"] = latest
        continue
      send_soon(latest, {} if records else {"init": boxes.tolist(),
                                            "settings": settings})
    await receiver  # raises the app's error, if any
    await asyncio.gather(*sending)
  return app_live.summarize(records)


def open_source(clip: str, timeout: float = 30.0) -> live.LiveSource:
  """`clip` played at its frame rate, looped, as a live source."""
  return live.open_live(clip, timeout=timeout, input_args=[
      "-re", "-readrate_initial_burst", "0.001", "-stream_loop", "-1"])


def text_line(record: app_live.Record) -> None:
  """The box out as the track command writes it (to nowhere)."""
  io.StringIO().write(",".join(f"{v:.3f}" for v in record.boxes.ravel()))


def measure(source: live.LiveSource, tracker: tracker_lib.Tracker,
            box: np.ndarray, seconds: float,
            box_out: Callable[[app_live.Record], None] = text_line
            ) -> app_live.Summary:
  """Tracks `source` live for `seconds` (the ffmpeg leg).

  Args:
    source: the frames (`LiveSource`: ffmpeg's, or the app's own).
    tracker: warmed up (`app_live.warm_up`), so that the first frame is not
      a compilation.
    box: [4] or [K, 4] first box(es).
    seconds: how long, from the first frame's box.
    box_out: called with each record as soon as it is out (send it to the
      page); its time counts in the latency.

  Returns:
    The summary of the run, latencies up to `box_out`'s return.
  """
  records = []
  for record in app_live.track(tracker, source, box):
    box_out(record)
    now = time.perf_counter()
    records.append(dataclasses.replace(
        record, latency=record.latency + now - record.time, time=now))
    if now - records[0].time >= seconds:
      break
  return app_live.summarize(records)


def load_average() -> float:
  """1-minute load average (the machine may be shared); -1 if unknown."""
  try:
    return float(os.getloadavg()[0])
  except OSError:
    return -1.0


def format_table(rows: Sequence[tuple[str, str, str, app_live.Summary]],
                 header: Sequence[str]) -> str:
  """The rows (leg, precision, backend, summary) as a text table under the
  `header` lines."""
  lines = [*header, "",
           f"{'leg':<10} {'precision':<10} {'backend':<12} {'fps':>6} "
           f"{'p50 ms':>7} {'p95 ms':>7} {'dropped %':>9} {'frames':>7}"]
  for leg, precision, backend, s in rows:
    lines.append(f"{leg:<10} {precision:<10} {backend:<12} {s.fps:>6.1f} "
                 f"{s.latency_p50 * 1e3:>7.1f} {s.latency_p95 * 1e3:>7.1f} "
                 f"{s.dropped_percent:>9.1f} {s.frames:>7}")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    width, height = (int(v) for v in _FRAME_SIZE.value.lower().split("x"))
  except ValueError:
    raise app.UsageError(f"--frame_size must be WIDTHxHEIGHT; got "
                         f"{_FRAME_SIZE.value!r}") from None
  unknown = sorted(set(_LEGS.value) - set(LEGS))
  if unknown:
    raise app.UsageError(f"--legs: unknown {unknown}; known: "
                         f"{', '.join(LEGS)}")
  # A line per session opened and closed is noise in a table's output.
  server.log.setLevel(logging.WARNING)
  load_before = load_average()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    box = first_box(width, height)
    if "ffmpeg" in _LEGS.value:
      clip = os.path.join(tmp, "bag.mp4")
      write_clip(clip, width, height, _FPS.value)
    if "websocket" in _LEGS.value:
      frames = demo_frames(width, height)
      url, stop = server.serve_in_background(
          0, workdir=os.path.join(tmp, "sessions"))
    try:
      for precision in _PRECISIONS.value:
        print(f"{precision}: loading and warming up (export"
              f"{', calibration' if precision == 'int8' else ''})",
              flush=True)
        tracker = load_tracker(precision, (height, width, 3))
        for leg in LEGS:
          if leg not in _LEGS.value:
            continue
          if leg == "ffmpeg":
            with open_source(clip) as source:
              summary = measure(source, tracker, box, _SECONDS.value)
          else:
            summary = measure_websocket(url, frames, box, _SECONDS.value,
                                        _FPS.value, page_settings(precision))
          print(f"{leg} {precision}: {summary.line()}", flush=True)
          rows.append((leg, precision, tracker.backend.name, summary))
    finally:
      if "websocket" in _LEGS.value:
        stop()
  header = [
      f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), load average "
      f"{load_before:.2f} before, {load_average():.2f} after",
      f"source: the demo clip at {width}x{height}, {_FPS.value} fps, "
      f"{_SECONDS.value:g} s per row; latency: ffmpeg: frame decoded -> box "
      "out; websocket: frame captured -> its boxes back in the client "
      "(JPEG encode, send, decode, track, reply)"]
  print()
  print(format_table(rows, header))


if __name__ == "__main__":
  entry.run(main)
