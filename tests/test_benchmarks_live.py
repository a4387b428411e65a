"""`python -m benchmarks.live`'s WebSocket leg on small frames for 2 s:
figures, not speed.

No timing is asserted (the machine may be shared): the test checks that the
page's camera path, driven by the benchmark's client against the app served
in this process, tracks frames and gives figures that make sense.
"""

import math

from benchmarks import live as bench
from siamfc_jax.app import server


def test_frame_message_is_what_the_server_parses():
  header = {"counter": 7, "t": 1234.5, "init": [[1.0, 2.0, 3.0, 4.0]]}
  parsed, jpeg = server.parse_frame_message(
      bench.frame_message(header, b"\xff\xd8jpeg"))
  assert parsed == header and jpeg == b"\xff\xd8jpeg"


def test_websocket_leg_tracks_and_its_figures_make_sense(tmp_path):
  width, height = 320, 240
  frames = bench.demo_frames(width, height, count=10)
  assert len(frames) == 18 and frames[0].shape == (height, width, 3)
  bench.load_tracker("fp32", (height, width, 3))  # not on the clock
  url, stop = server.serve_in_background(0, workdir=str(tmp_path))
  try:
    summary = bench.measure_websocket(
        url, frames, bench.first_box(width, height), seconds=2.0, fps=30,
        settings=bench.page_settings("fp32"))
  finally:
    stop()
  assert summary.frames > 1
  assert 0 <= summary.dropped_percent <= 100
  # At most the source's rate (30 fps), with a tick of jitter.
  assert math.isfinite(summary.fps) and 0 < summary.fps <= 32
  assert 0 < summary.latency_p50 <= summary.latency_p95 < 60
  table = bench.format_table(
      [("websocket", "fp32", "onnxruntime", summary)], ["CPU: test"])
  assert table.splitlines()[-1].split()[:3] == [
      "websocket", "fp32", "onnxruntime"]
  assert not list(tmp_path.iterdir())  # the session was closed
