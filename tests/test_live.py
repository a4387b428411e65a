"""Live sources (`data/live.py`), live tracking (`app/live.py`) and
`python -m experiments.track --seq=udp://...`.

The unit tests feed made-up frames (no ffmpeg). The stream tests send the
bundled demo clip with imageio-ffmpeg's ffmpeg as an MPEG-TS stream over UDP
on 127.0.0.1 (only loopback), at a steady frame rate (`-re`), to a receiver
that is listening before the first packet (the test waits for its socket),
so that source frame i is frame i of the clip and its ground truth.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import imageio_ffmpeg
import numpy as np
import pytest

import siamfc_jax
from siamfc_jax.app import live as app_live
from siamfc_jax.data import live

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMO = pathlib.Path(siamfc_jax.__file__).parent / "assets/demo/vot15_bag"


# --- made-up frames ----------------------------------------------------------


def _image(value: int, shape=(8, 10, 3)) -> np.ndarray:
  return np.full(shape, value % 256, np.uint8)


@pytest.mark.parametrize("seq, expected", [
    ("0", True), ("12", True), ("/dev/video0", True),
    ("rtsp://10.0.0.2:8554/cam", True), ("rtmp://host/app/key", True),
    ("http://host/stream.mjpg", True), ("https://host/live.m3u8", True),
    ("udp://127.0.0.1:5000", True), ("srt://host:9000", True),
    ("tcp://127.0.0.1:9000", True), ("file:///tmp/clip.mp4", False),
    ("clip.mp4", False), ("path/to/OTB/Basketball", False), ("", False),
    ("/dev/null", False), ("0.5", False),
])
def test_is_live_knows_cameras_and_stream_urls(seq, expected):
  assert live.is_live(seq) is expected


@pytest.mark.parametrize("seq, name", [
    ("0", "camera0"), ("/dev/video2", "dev_video2"),
    ("udp://127.0.0.1:5000", "udp_127.0.0.1_5000"),
    ("rtsp://user:pw@cam.local:554/s?x=1", "rtsp_user_pw_cam.local_554_s_x_1"),
])
def test_output_name_is_file_name_safe(seq, name):
  assert live.output_name(seq) == name


def test_latest_frame_keeps_the_newest_and_counts_the_overwritten():
  slot = live.LatestFrame()
  for i in range(4):
    slot.put(_image(i))
  first = slot.take(timeout=0)  # the first frame waits to be taken
  assert (first.index, first.image[0, 0, 0], first.dropped) == (0, 0, 0)
  frame = slot.take(timeout=0)  # then the newest: 1 and 2 were dropped
  assert frame.index == 3 and frame.image[0, 0, 0] == 3
  assert (slot.decoded, slot.dropped, frame.dropped) == (4, 2, 2)
  with pytest.raises(TimeoutError):
    slot.take(timeout=0.01)  # taken frames are not given twice
  slot.put(_image(4))
  assert slot.take(timeout=0).index == 4 and slot.dropped == 2
  slot.put(_image(5))
  slot.finish()
  assert slot.take(timeout=0).index == 5  # the last frame, then the end
  assert slot.take(timeout=0) is None and slot.take(timeout=0) is None


def test_latest_frame_stamps_arrival_times_in_order():
  slot = live.LatestFrame()
  before = time.perf_counter()
  slot.put(_image(0))
  frame = slot.take(timeout=0)
  assert before <= frame.arrival <= time.perf_counter()


def test_latest_frame_raises_the_readers_error_after_its_last_frame():
  slot = live.LatestFrame()
  slot.put(_image(0))
  slot.finish(ValueError("decoder broke"))
  assert slot.take(timeout=0).index == 0
  with pytest.raises(ValueError, match="decoder broke"):
    slot.take(timeout=0)


class _Feed:
  """Frames that come when the test says: `send(n)` lets n more through
  and waits until the source's reader has put them; `finish` ends them
  (also the source's `stop`)."""

  def __init__(self, first: int = 0):
    self._allowed = threading.Semaphore(first)
    self.end = False

  def __iter__(self):
    value = 0
    while True:
      self._allowed.acquire()
      if self.end:
        return
      yield _image(value)
      value += 1

  def send(self, n: int, source: live.LiveSource) -> None:
    target = source.decoded + n
    for _ in range(n):
      self._allowed.release()
    deadline = time.monotonic() + 10
    while source.decoded < target:
      assert time.monotonic() < deadline, "the reader did not put them"
      time.sleep(0.001)

  def finish(self) -> None:
    self.end = True
    self._allowed.release()


def test_live_source_gives_the_latest_frame_and_counts_drops():
  feed = _Feed()
  with live.LiveSource(feed, "fake", timeout=5) as source:
    feed.send(1, source)
    assert source.take().index == 0
    feed.send(4, source)  # 1..4 while the consumer was busy: 1..3 dropped
    frame = source.take()
    assert frame.index == 4 and frame.image[0, 0, 0] == 4
    assert source.dropped == 3 and source.decoded == 5
    feed.send(1, source)
    assert source.take().index == 5 and source.dropped == 3
    feed.finish()
    assert source.take() is None and source.end == "end of stream"


def test_live_source_that_never_sends_is_one_clear_error():
  never = _Feed()
  source = live.LiveSource(never, "udp://127.0.0.1:9", timeout=0.2,
                           stop=never.finish)
  with pytest.raises(ValueError, match=r"^udp://127\.0\.0\.1:9: no frame in "
                     r"0\.2 s: expected a camera or a live video stream"):
    source.take()
  assert source.take() is None  # closed by the error


def test_live_source_that_stops_sending_ends_normally():
  feed = _Feed(first=2)  # two frames, then silence
  with live.LiveSource(feed, "fake", timeout=0.3, stop=feed.finish) as source:
    assert source.take().index in (0, 1)
    deadline = time.monotonic() + 5
    while source.take() is not None:  # frame 1, then none for 0.3 s
      assert time.monotonic() < deadline
    assert source.end == "no frame for 0.3 s" and source.decoded == 2


def test_live_source_raises_its_readers_error():
  def broken():
    raise ValueError("cannot open live source x: it broke")
    yield  # pylint: disable=unreachable

  with live.LiveSource(broken(), "x", timeout=5) as source:
    with pytest.raises(ValueError, match="it broke"):
      source.take()


class _SlowTracker:
  """`Tracker`'s init/update: the box moves by 1 px a frame; `seconds` a
  step; the frames it got are kept."""

  def __init__(self, seconds: float = 0.0):
    self.seconds, self.frames, self.box = seconds, [], None

  def init(self, frame, box):
    self.frames.append(frame)
    self.box = np.asarray(box, np.float64)

  def update(self, frame):
    time.sleep(self.seconds)
    self.frames.append(frame)
    self.box = self.box + [1, 0, 0, 0]
    return self.box


def test_track_takes_the_newest_frame_and_records_drops():
  feed, tracker = _Feed(), _SlowTracker()
  with live.LiveSource(feed, "fake", timeout=5) as source:
    feed.send(3, source)  # before the first take
    run = app_live.track(tracker, source, [1, 2, 3, 4], max_frames=4)
    first = next(run)  # the first frame is the first box's, however late
    assert first.index == 0 and first.dropped == 0
    np.testing.assert_array_equal(first.boxes, [1, 2, 3, 4])
    second = next(run)
    assert (second.index, second.dropped) == (2, 1)
    np.testing.assert_array_equal(second.boxes, [2, 2, 3, 4])
    feed.send(5, source)
    third = next(run)
    assert (third.index, third.dropped) == (7, 5)
    feed.send(2, source)
    fourth = next(run)
    assert (fourth.index, fourth.dropped) == (9, 6)
    with pytest.raises(StopIteration):  # max_frames
      next(run)
    assert source.dropped == 6
  assert [f[0, 0, 0] for f in tracker.frames] == [0, 2, 7, 9]
  for record in (first, second, third, fourth):
    assert 0 <= record.latency < 5


def test_track_ends_with_the_source_and_keeps_k_targets():
  feed, tracker = _Feed(), _SlowTracker()
  boxes = [[1, 2, 3, 4], [5, 6, 7, 8]]
  with live.LiveSource(feed, "fake", timeout=5) as source:
    feed.send(1, source)
    run = app_live.track(tracker, source, boxes)
    assert next(run).boxes.shape == (2, 4)
    feed.send(1, source)
    assert next(run).boxes.shape == (2, 4)
    feed.finish()
    assert list(run) == []


def test_track_of_a_source_that_ends_at_once_names_it():
  with live.LiveSource(iter([]), "rtsp://cam/x", timeout=5) as source:
    with pytest.raises(ValueError, match=r"rtsp://cam/x: the stream ended "
                       "before its first frame"):
      next(app_live.track(_SlowTracker(), source, [1, 2, 3, 4]))


def _record(index, latency, dropped, at):
  return app_live.Record(index, np.zeros(4), latency, dropped, at)


def test_summary_percentiles_exclude_the_first_frame():
  latencies = [9.0] + [0.001 * k for k in range(1, 101)]  # init, 1..100 ms
  records = [_record(i, lat, i // 2, 10.0 + i / 50)
             for i, lat in enumerate(latencies)]
  summary = app_live.summarize(records)
  assert summary.frames == 101 and summary.dropped == 50
  assert summary.fps == pytest.approx(50.0)
  assert summary.latency_p50 == pytest.approx(0.0505)
  assert summary.latency_p95 == pytest.approx(np.percentile(
      np.arange(1, 101) / 1000, 95))
  assert summary.dropped_percent == pytest.approx(100 * 50 / 151)
  assert summary.line() == ("101 frames tracked, 50 dropped (33.1%), 50.0 "
                            "fps, latency p50 50 ms, p95 95 ms")


def test_summary_of_one_or_no_frame():
  one = app_live.summarize([_record(0, 0.02, 0, 1.0)])
  assert one.frames == 1 and np.isnan(one.fps)
  assert one.latency_p50 == pytest.approx(0.02)
  assert "1 frames tracked, 0 dropped (0.0%), - fps" in one.line()
  assert app_live.summarize([]).line() == (
      "0 frames tracked, 0 dropped (0.0%), - fps, latency p50 -, p95 -")


def test_warm_up_runs_init_and_update_with_as_many_targets():
  tracker = _SlowTracker()
  app_live.warm_up(tracker, np.zeros((3, 4)))
  assert tracker.box.shape == (3, 4) and len(tracker.frames) == 2
  assert tracker.frames[0].shape == app_live.WARM_UP_SHAPE
  app_live.warm_up(tracker, [1, 2, 3, 4], shape=(100, 120, 3))
  assert tracker.box.shape == (4,) and tracker.frames[-1].shape == (100, 120, 3)


# --- ffmpeg ----------------------------------------------------------------


def test_missing_camera_is_file_not_found():
  if not sys.platform.startswith("linux"):
    pytest.skip("cameras by device path are Linux's")
  with pytest.raises(FileNotFoundError, match=r"camera /dev/video97: "
                     r"/dev/video97 not found: expected a video device"):
    live.open_live("/dev/video97")
  with pytest.raises(FileNotFoundError, match="/dev/video98 not found"):
    live.check_source("98")


def test_a_refused_connection_is_ffmpegs_reason_in_one_line():
  port = _free_port(socket.SOCK_STREAM)
  url = f"tcp://127.0.0.1:{port}"
  with live.open_live(url, timeout=20) as source:
    with pytest.raises(ValueError) as e:
      source.take()
  message = str(e.value)
  assert message.startswith(f"cannot open live source {url}: ")
  assert "refused" in message and "\n" not in message


def _free_port(kind=socket.SOCK_DGRAM) -> int:
  with socket.socket(socket.AF_INET, kind) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


_UDP_TABLES = (pathlib.Path("/proc/net/udp"), pathlib.Path("/proc/net/udp6"))


def _udp_bound(port: int) -> bool:
  """Whether a UDP socket is bound to `port` (Linux's /proc/net/udp): then
  the sender's first packet is received."""
  if not _UDP_TABLES[0].exists():
    pytest.skip("needs /proc/net/udp (Linux) to know when the receiver "
                "listens")
  local = f":{port:04X}"
  return any(line.split()[1].endswith(local)
             for table in _UDP_TABLES if table.exists()
             for line in table.read_text().splitlines()[1:])


def _wait_for_udp_listener(port: int, seconds=60.0) -> None:
  deadline = time.monotonic() + seconds
  while not _udp_bound(port):
    assert time.monotonic() < deadline, f"nothing listened on UDP {port}"
    time.sleep(0.02)


def _send(port: int, fps: int, frames: int | None = None) -> subprocess.Popen:
  """ffmpeg sending the demo clip to udp://127.0.0.1:port at `fps`, steady
  from the first frame (no initial burst), as H.264 in MPEG-TS."""
  count = ["-frames:v", str(frames)] if frames else []
  return subprocess.Popen(
      [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
       "-nostdin", "-re", "-readrate_initial_burst", "0.001", "-framerate",
       str(fps), "-i", str(DEMO / "%08d.jpg"), *count, "-c:v", "libx264",
       "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
       "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"],
      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, start_new_session=True)


def test_a_fast_stream_and_a_slow_tracker_drop_frames_not_queue_them():
  port = _free_port()
  tracker = _SlowTracker(seconds=0.03)  # ~30 steps/s for 200 frames/s
  records = []
  with live.open_live(f"udp://127.0.0.1:{port}", timeout=2) as source:
    _wait_for_udp_listener(port)
    sender = _send(port, fps=200)
    try:
      for record in app_live.track(tracker, source, [300, 140, 110, 100]):
        records.append(record)
    finally:
      sender.kill()
      sender.wait()
  assert tracker.frames[0].shape == (360, 480, 3)
  assert len(records) > 15
  indices = np.array([r.index for r in records])
  assert np.all(np.diff(indices) >= 1)
  summary = app_live.summarize(records)
  # 200 frames/s into ~30 steps/s: most frames dropped, all counted.
  assert summary.dropped > len(records)
  assert summary.dropped == indices[-1] - indices[0] + 1 - len(records)
  # Not queued: the latency and how far behind the source the tracked
  # frame is do not grow over the run (a queue would grow both).
  third = len(records) // 3
  latency = np.array([r.latency for r in records[1:]])
  assert (np.percentile(latency[-third:], 95) <=
          np.percentile(latency[:third], 95) + 0.05), latency
  behind = np.array([(r.time - records[0].time) * 200 - (r.index - indices[0])
                     for r in records])
  assert np.median(behind[-third:]) <= np.median(behind[:third]) + 20, behind


# --- python -m experiments.track --seq=udp://... ---------------------------


def _track(*args: str) -> subprocess.Popen:
  env = {k: v for k, v in os.environ.items() if k != "SIAMFC_VERBOSE"}
  return subprocess.Popen(
      [sys.executable, "-m", "experiments.track", *args], cwd=REPO, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(path: pathlib.Path) -> list[str]:
  return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
  """Runs of the track command on live streams, all at once (each pays
  JAX's import, the network's export and its warm-up): case -> (return
  code, stdout, stderr, boxes file, UDP port)."""
  tmp = tmp_path_factory.mktemp("live")
  box = siamfc_jax.demo_sequence().boxes[0]
  init = f"--init_box={','.join(f'{v:.3f}' for v in box)}"
  ports = {case: _free_port() for case in ("tracked", "ends", "ctrl_c")}
  ports["never"] = _free_port()
  runs, senders = {}, {}
  for case, port in ports.items():
    timeout = "--live_timeout=2" if case == "never" else "--live_timeout=4"
    extra = {"tracked": ["--max_frames=40"],  # and two targets:
             "ends": ["--init_box=20,20,60,60"]}.get(case, [])
    runs[case] = _track(f"--seq=udp://127.0.0.1:{port}", init,
                        f"--output={tmp / case / 'boxes.txt'}", timeout,
                        *extra)
  # Each sender starts as soon as its receiver listens (they load at once).
  waiting, deadline = ["tracked", "ends", "ctrl_c"], time.monotonic() + 300
  while waiting:
    for case in list(waiting):
      if _udp_bound(ports[case]):
        senders[case] = _send(ports[case], fps=30,
                              frames=45 if case == "ends" else None)
        waiting.remove(case)
      elif runs[case].poll() is not None:
        raise AssertionError(f"{case}: exited first: {runs[case].stderr}")
    assert time.monotonic() < deadline, f"nothing listened for {waiting}"
    time.sleep(0.02)
  boxes = tmp / "ctrl_c" / "boxes.txt"
  deadline = time.monotonic() + 120
  while len(_lines(boxes)) < 8 and runs["ctrl_c"].poll() is None:
    assert time.monotonic() < deadline, "no boxes to interrupt"
    time.sleep(0.1)
  runs["ctrl_c"].send_signal(signal.SIGINT)
  out = {}
  try:
    for case, run in runs.items():
      stdout, stderr = run.communicate(timeout=180)
      out[case] = (run.returncode, stdout, stderr, tmp / case / "boxes.txt",
                   ports[case])
  finally:
    for process in [*runs.values(), *senders.values()]:
      if process.poll() is None:
        process.kill()
      process.communicate()
  return out


def _summary(stdout: str) -> str:
  lines = [line for line in stdout.splitlines() if line.startswith("Live: ")]
  assert len(lines) == 1, stdout
  return lines[0]


def _check_boxes(path: pathlib.Path, stdout: str,
                 frames_file: pathlib.Path | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
  """The boxes (of the bag) and source frame indices written, checked
  against the summary line and the clip's ground truth."""
  boxes = np.loadtxt(path, delimiter=",", ndmin=2)
  frames_file = frames_file or path.with_name(path.stem + "_frames.txt")
  indices = np.loadtxt(frames_file, dtype=int, ndmin=1)
  assert boxes.shape == (len(indices), 4) and len(indices) >= 2
  assert f"{len(indices)} frames tracked" in _summary(stdout)
  assert indices[0] == 0 and np.all(np.diff(indices) >= 1)
  dropped = indices[-1] + 1 - len(indices)
  assert f", {dropped} dropped (" in _summary(stdout)
  gt = siamfc_jax.demo_sequence().boxes[indices]
  np.testing.assert_allclose(boxes[0], gt[0], atol=1e-3)
  # The boxes follow the bag: centres near the ground truth's (a loose
  # bound: a slow, shared machine skips frames between steps).
  error = np.linalg.norm((boxes[:, :2] + boxes[:, 2:] / 2) -
                         (gt[:, :2] + gt[:, 2:] / 2), axis=1)
  assert np.median(error) < 40 and np.mean(error < 80) > 0.8, error
  return boxes, indices


def test_track_follows_a_live_udp_stream_and_exits_by_itself(streams):
  code, stdout, stderr, path, _ = streams["tracked"]
  assert code == 0, stderr
  assert "Traceback" not in stderr and "Unable to initialize" not in stderr
  assert "os.fork()" not in stderr
  _, indices = _check_boxes(path, stdout)
  summary = _summary(stdout)
  # Stopped by --max_frames, unless a slow machine saw the clip end first.
  assert (len(indices) == 40 and "(stopped by --max_frames)" in summary or
          "(stopped by no frame for 4 s)" in summary), summary
  assert "fps, latency p50 " in summary and " ms, p95 " in summary


def test_track_of_a_stream_that_ends_keeps_the_boxes_of_two_targets(
    streams):
  code, stdout, stderr, path, _ = streams["ends"]
  assert code == 0, stderr
  assert not path.exists()  # one file per target, one of frame indices
  _, indices = _check_boxes(path.with_name("boxes_target0.txt"), stdout,
                            path.with_name("boxes_frames.txt"))
  other = np.loadtxt(path.with_name("boxes_target1.txt"), delimiter=",",
                     ndmin=2)
  assert other.shape == (len(indices), 4)
  np.testing.assert_allclose(other[0], [20, 20, 60, 60], atol=1e-3)
  assert indices[-1] < 45
  assert "(stopped by no frame for 4 s)" in _summary(stdout)


def test_ctrl_c_ends_live_tracking_with_the_boxes_and_a_summary(streams):
  code, stdout, stderr, path, _ = streams["ctrl_c"]
  assert code == 0, stderr
  assert "Traceback" not in stderr
  _check_boxes(path, stdout)
  assert "(stopped by Ctrl-C)" in _summary(stdout)


def test_a_stream_that_never_connects_is_one_line(streams):
  code, stdout, stderr, path, port = streams["never"]
  assert code == 1
  errors = [line for line in stderr.splitlines() if line.strip()]
  assert errors == [f"track: error: udp://127.0.0.1:{port}: no "
                    "frame in 2 s: expected a camera or a live video stream "
                    "there (is anything sending?)"], stderr
  assert not path.exists() and "Live: " not in stdout
