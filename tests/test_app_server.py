"""The web app's server over HTTP and its WebSocket (no browser): tracking,
correct-and-continue, bad input, limits, auth, isolation, load."""

import base64
import concurrent.futures
import gc
import json
import logging
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

starlette = pytest.importorskip("starlette", reason="the app needs starlette")
from starlette import testclient  # noqa: E402 pylint: disable=g-import-not-at-top

from siamfc_jax import pretrained  # noqa: E402
from siamfc_jax import tracker as tracker_lib  # noqa: E402
from siamfc_jax.app import server  # noqa: E402
from siamfc_jax.data import video  # noqa: E402

BACKEND = "onnxruntime"  # the faster of the two on a CPU
SETTINGS = {"backend": BACKEND}


@pytest.fixture(scope="module")
def reference():
  """A tracker of its own, to compare the app's boxes with."""
  return tracker_lib.Tracker.pretrained(backend=BACKEND)


@pytest.fixture()
def client(tmp_path):
  app = server.make_app(server.AppSettings(
      workdir=str(tmp_path / "sessions"), max_upload_mb=2,
      data_root=str(pretrained.ASSETS)))
  with testclient.TestClient(app) as c:
    yield c


def _first_box() -> list[float]:
  return [float(v) for v in pretrained.demo_sequence().boxes[0]]


def _wait(ws, until=("done", "error")) -> dict:
  while True:
    message = ws.receive_json()
    if message["type"] in until:
      return message


def _track(ws, frame, boxes, edited=(0,)) -> dict:
  ws.send_json({"type": "track", "frame": frame, "boxes": boxes,
                "edited": list(edited), "settings": SETTINGS})
  return _wait(ws)


def _upload(client, sid, path, name=None):
  return client.post(f"/api/s/{sid}/upload?name={name or path.name}",
                     content=path.read_bytes())


def _read_boxes(text: str) -> np.ndarray:
  return np.array([[float(v) for v in line.split(",")]
                   for line in text.splitlines()])


def test_health(client):
  response = client.get("/healthz")
  assert response.status_code == 200 and response.json()["ok"]


def test_page_and_assets_are_served_locally(client):
  page = client.get("/").text
  assert "static/app.js" in page
  for text in (page, *(client.get(f"/static/{asset}").text
                       for asset in ("app.js", "app.css"))):
    assert not re.search(r"(src|href|url)\s*[=(]\s*[\"']?(https?:)?//",
                         text)  # no CDN: nothing from elsewhere


def test_tracked_boxes_equal_tracker_track_and_correction_reinitialises(
    client, demo_video, reference):
  path = demo_video(0, 30)
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    clip = _upload(client, sid, path).json()
    assert clip["frames"] == 30 and (clip["width"], clip["height"]) == (
        480, 360)
    box = _first_box()
    done = _track(ws, 0, [box])
    assert done["type"] == "done" and not done["stopped"], done
    frames = list(video.read_video(path))
    want, _ = reference.track(frames, np.array(box))
    got = _read_boxes(client.get(f"/api/s/{sid}/files/bag_0_30.txt").text)
    np.testing.assert_allclose(got, want, atol=1e-3)
    # Correct at frame 12: the tracker starts again from the new box.
    fixed = [float(v) for v in want[12] + [6, -4, 10, 8]]
    done = _track(ws, 12, [fixed])
    assert done["type"] == "done", done
    again, _ = reference.track(frames[12:], np.array(fixed))
    got = _read_boxes(client.get(f"/api/s/{sid}/files/bag_0_30.txt").text)
    np.testing.assert_allclose(got[:12], want[:12], atol=1e-3)
    np.testing.assert_allclose(got[12:], again, atol=1e-3)
    corrections = client.get(
        f"/api/s/{sid}/files/bag_0_30_corrections.txt").text
    assert corrections.startswith("12,")
    settings = client.get(f"/api/s/{sid}/files/settings.json").json()
    assert settings["targets"][0]["corrections"][0]["frame"] == 12
    assert settings["targets"][0]["first_box"] == box
    assert settings["tracker"]["backend"] == BACKEND
    rendered = client.get(f"/api/s/{sid}/files/tracked.mp4")
    assert rendered.status_code == 200 and len(rendered.content) > 1000


def test_sequence_folder_gives_scores_and_success_plot(client):
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    options = client.get("/api/options").json()
    assert {"path": "demo/vot15_bag", "kind": "vot"} in options["library"]
    clip = client.post(f"/api/s/{sid}/open",
                       json={"path": "demo/vot15_bag"}).json()
    assert clip["ground_truth"] == pytest.approx(_first_box())
    ws.send_json({"type": "track", "frame": 0, "boxes": [_first_box()],
                  "edited": [0], "settings": SETTINGS})
    ws.receive_json()  # status
    ws.receive_json()  # frame 0
    for _ in range(15):
      ws.receive_json()
    ws.send_json({"type": "stop"})
    done = _wait(ws)
    assert done["type"] == "done" and done["stopped"]
    assert done["scores"][0]["auc"] > 0.3
    assert "success_plots.png" in done["files"]
    plot = client.get(f"/api/s/{sid}/files/success_plots.png")
    assert plot.content[:4] == b"\x89PNG"


@pytest.mark.parametrize("name,content,says", [
    ("notes.txt", b"hello", "not a video file"),
    ("notes.mp4", b"this is no video" * 100, "cannot decode the video"),
    ("empty.mp4", b"", "empty"),
])
def test_bad_upload_is_one_message_and_the_session_goes_on(
    client, caplog, name, content, says):
  with client.websocket_connect("/ws") as ws, caplog.at_level(logging.INFO):
    sid = ws.receive_json()["session"]
    response = client.post(f"/api/s/{sid}/upload?name={name}",
                           content=content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert says in error and name in error
    assert "\n" not in error and "Traceback" not in error
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and not warned[0].exc_info
    ws.send_json({"type": "ping"})
    assert ws.receive_json()["type"] == "pong"


def test_truncated_video_is_refused(client, demo_video, tmp_path):
  data = demo_video(0, 30).read_bytes()
  cut = tmp_path / "cut.mp4"
  cut.write_bytes(data[:len(data) // 2])
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    response = _upload(client, sid, cut)
    assert response.status_code == 400
    assert "cut.mp4" in response.json()["error"]


@pytest.mark.parametrize("box,says", [
    ([10, 10, 0, 20], "width and height must be > 0"),
    ([900, 50, 40, 40], "outside the 480x360 frame"),
    (None, "draw a box"),
])
def test_bad_box_is_one_message(client, demo_video, box, says):
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    _upload(client, sid, demo_video(0, 30))
    error = _track(ws, 0, [box])
    assert error["type"] == "error" and says in error["message"]
    assert "Traceback" not in error["message"]
    ws.send_json({"type": "ping"})
    assert ws.receive_json()["type"] == "pong"


def test_bad_live_frame_is_one_message(client):
  with client.websocket_connect("/ws") as ws:
    ws.receive_json()
    header = json.dumps({"counter": 3, "t": 1.0, "init": [[1, 1, 5, 5]]})
    head = header.encode()
    ws.send_bytes(len(head).to_bytes(4, "little") + head + b"not a jpeg")
    error = ws.receive_json()
    assert error["type"] == "error" and error["counter"] == 3
    assert "not a JPEG" in error["message"]


def test_upload_above_the_limit_is_refused_with_413(client):
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    response = client.post(f"/api/s/{sid}/upload?name=big.mp4",
                           content=b"\0" * (3 * 1024 * 1024))
    assert response.status_code == 413
    assert "--max_upload_mb" in response.json()["error"]


def test_only_the_sessions_own_outputs_can_be_downloaded(
    client, demo_video):
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    _upload(client, sid, demo_video(0, 30))
    assert _track(ws, 0, [_first_box()])["type"] == "done"
    for name in ("../../../etc/passwd", "..%2F..%2Fsettings.json",
                 "%2Fetc%2Fpasswd", "uploads/bag_0_30.mp4",
                 "../uploads/bag_0_30.mp4"):
      response = client.get(f"/api/s/{sid}/files/{name}")
      assert response.status_code in (404, 400), name
      assert "root:" not in response.text
    assert client.get("/api/s/not-a-session/files/settings.json"
                      ).status_code == 404
    response = client.post(f"/api/s/{sid}/open", json={"path": "../../.."})
    assert response.status_code == 400
    assert "outside the data root" in response.json()["error"]


def test_closing_the_tab_frees_the_session(client, demo_video, tmp_path):
  for _ in range(3):
    with client.websocket_connect("/ws") as ws:
      sid = ws.receive_json()["session"]
      _upload(client, sid, demo_video(0, 30))
      assert client.get("/healthz").json()["sessions"] == 1
    deadline = time.time() + 10
    while client.get("/healthz").json()["sessions"] and time.time() < deadline:
      time.sleep(0.05)
    assert client.get("/healthz").json()["sessions"] == 0
    assert not (tmp_path / "sessions" / sid).exists()
    assert client.get(f"/api/s/{sid}/frames/0").status_code == 404


def _rss_mib() -> float:
  """This process's resident memory (the app runs in it), after a full
  garbage collection."""
  gc.collect()
  for line in pathlib.Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmRSS:"):
      return int(line.split()[1]) / 1024
  raise AssertionError("no VmRSS in /proc/self/status")


# Memory the server may keep after 20 open/track/close cycles, over what it
# had after one: 1 MiB a cycle. Measured: under 3 MiB; with each session's
# decoded 10-frame clip (10 x 480x360x3 = 5 MiB) kept alive, 101 MiB.
RSS_TOLERANCE_MIB = 20


@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(),
                    reason="reads the process's memory from /proc")
def test_closing_tabs_gives_the_memory_back_after_20_cycles(
    client, demo_video, tmp_path):
  path = demo_video(0, 10)
  data = path.read_bytes()
  registry = client.app.app.state.app.sessions
  box = _first_box()

  def cycle():
    with client.websocket_connect("/ws") as ws:
      sid = ws.receive_json()["session"]
      response = client.post(f"/api/s/{sid}/upload?name={path.name}",
                             content=data)
      assert response.status_code == 200, response.text
      done = _track(ws, 0, [box])
      assert done["type"] == "done", done
      assert sid in registry
    folder = tmp_path / "sessions" / sid
    # The server closes the session after the socket's end: wait for it.
    deadline = time.time() + 10
    while (sid in registry or folder.exists()) and time.time() < deadline:
      time.sleep(0.01)
    assert sid not in registry and not registry
    assert not folder.exists()

  cycle()  # loads the network, starts the server's threads
  before = _rss_mib()
  for _ in range(20):
    cycle()
  after = _rss_mib()
  assert after - before < RSS_TOLERANCE_MIB, (
      f"RSS {before:.1f} MiB after the warm-up, {after:.1f} MiB after 20 "
      "more open/track/close cycles")


def test_another_address_needs_auth():
  with pytest.raises(ValueError, match="--auth"):
    server.make_app(server.AppSettings(host="0.0.0.0"))
  server.make_app(server.AppSettings(host="localhost"))


@pytest.mark.parametrize("auth", ["s3cret-token", "ann:pass word"])
def test_requests_without_auth_get_401(auth):
  app = server.make_app(server.AppSettings(host="0.0.0.0", auth=auth))
  with testclient.TestClient(app) as c:
    assert c.get("/").status_code == 401
    assert c.get("/api/options").status_code == 401
    assert c.get("/healthz").status_code == 200
    with pytest.raises(Exception):
      with c.websocket_connect("/ws") as ws:
        ws.receive_json()
    if ":" in auth:
      header = "Basic " + base64.b64encode(auth.encode()).decode()
      assert c.get("/", headers={"authorization": "Basic eDp5"}
                   ).status_code == 401
      response = c.get("/", headers={"authorization": header})
    else:
      assert c.get("/?token=wrong").status_code == 401
      response = c.get(f"/?token={auth}")
    assert response.status_code == 200
    # The cookie it sets carries the rest (images, downloads, WebSocket).
    assert c.get("/api/options").status_code == 200
    with c.websocket_connect("/ws") as ws:
      assert ws.receive_json()["type"] == "hello"


def test_four_sessions_at_once_get_single_run_boxes_and_health_stays_fast(
    demo_video, reference, tmp_path):
  websockets = pytest.importorskip("websockets.sync.client")
  paths = [demo_video(start, 20) for start in (0, 20, 40, 60)]
  seq = pretrained.demo_sequence()
  boxes = [[float(v) for v in seq.boxes[start]] for start in (0, 20, 40, 60)]
  url, stop = server.serve_in_background(0, workdir=str(tmp_path))
  ws_url = url.replace("http", "ws") + "ws"
  health, done = [], threading.Event()

  def poll_health():
    while not done.is_set():
      start = time.perf_counter()
      urllib.request.urlopen(url + "healthz", timeout=5).read()
      health.append(time.perf_counter() - start)
      time.sleep(0.05)

  def session(path, box):
    with websockets.connect(ws_url, max_size=None) as ws:
      sid = json.loads(ws.recv())["session"]
      request = urllib.request.Request(
          f"{url}api/s/{sid}/upload?name={path.name}",
          data=path.read_bytes(), method="POST")
      urllib.request.urlopen(request, timeout=60).read()
      ws.send(json.dumps({"type": "track", "frame": 0, "boxes": [box],
                          "edited": [0], "settings": SETTINGS}))
      while True:
        message = json.loads(ws.recv(timeout=120))
        if message["type"] in ("done", "error"):
          break
      assert message["type"] == "done", message
      text = urllib.request.urlopen(
          f"{url}api/s/{sid}/files/{path.stem}.txt").read().decode()
      return _read_boxes(text)

  try:
    # The network is loaded before the clock starts (as a first session
    # would): the load is once per server, not per session.
    server_pool = server.trackers_lib.POOL
    server_pool.get(server.trackers_lib.TrackerSettings(backend=BACKEND))
    poller = threading.Thread(target=poll_health)
    poller.start()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
      results = list(pool.map(session, paths, boxes))
    done.set()
    poller.join()
  finally:
    done.set()
    stop()
  for path, box, got in zip(paths, boxes, results):
    want, _ = reference.track(list(video.read_video(path)), np.array(box))
    np.testing.assert_allclose(got, want, atol=1e-3)
  assert len(health) > 10
  assert max(health) < 0.2, f"/healthz took {max(health):.3f} s"


def _free_udp_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _udp_listening(port: int) -> bool:
  table = pathlib.Path("/proc/net/udp")
  return table.exists() and any(
      line.split()[1].endswith(f":{port:04X}")
      for line in table.read_text().splitlines()[1:])


@pytest.fixture()
def stream_client(tmp_path):
  app = server.make_app(server.AppSettings(
      workdir=str(tmp_path / "sessions"), stream_timeout=3))
  with testclient.TestClient(app) as c:
    yield c


@pytest.mark.parametrize("url,says", [
    ("/etc/passwd", "not a stream URL"),
    ("udp://127.0.0.1:{port}", "no frame in 3 s"),
])
def test_a_stream_that_is_no_stream_or_never_connects_is_one_message(
    stream_client, url, says):
  with stream_client.websocket_connect("/ws") as ws:
    ws.receive_json()
    ws.send_json({"type": "stream_open",
                  "url": url.format(port=_free_udp_port())})
    error = _wait(ws, ("error",))
    assert says in error["message"] and "Traceback" not in error["message"]
    ws.send_json({"type": "ping"})
    assert _wait(ws, ("pong",))


def test_a_stream_is_tracked_live_and_its_end_is_one_message(stream_client):
  ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
  port = _free_udp_port()
  gt = pretrained.demo_sequence().boxes
  # Loaded before the stream starts (as a session that tracked before).
  server.trackers_lib.POOL.get(
      server.trackers_lib.TrackerSettings.from_json(SETTINGS))
  sender = None
  with stream_client.websocket_connect("/ws") as ws:
    ws.receive_json()
    ws.send_json({"type": "stream_open", "url": f"udp://127.0.0.1:{port}",
                  "settings": SETTINGS})
    deadline = time.time() + 30
    while not _udp_listening(port):
      assert time.time() < deadline, "the app does not listen for the stream"
      time.sleep(0.1)
    try:
      sender = subprocess.Popen(
          [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
           "-framerate", "30", "-i", str(pretrained.ASSETS / pretrained.DEMO
                                         / "%08d.jpg"),
           "-frames:v", "120", "-c:v", "libx264", "-preset", "ultrafast",
           "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-f", "mpegts",
           f"udp://127.0.0.1:{port}?pkt_size=1316"],
          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL)
      shown = _wait(ws, ("stream_frame", "error"))
      assert shown["type"] == "stream_frame", shown
      ws.send_json({"type": "stream_pause"})
      ws.send_json({"type": "stream_ack"})
      ws.send_json({"type": "stream_go",
                    "boxes": [list(gt[min(shown["index"], 10)])]})
      ws.send_json({"type": "stream_ack"})
      tracked = []
      while True:
        message = _wait(ws, ("stream_frame", "stream_end", "error"))
        if message["type"] != "stream_frame":
          break
        if message["boxes"]:
          tracked.append(message)
        ws.send_json({"type": "stream_ack"})
    finally:
      if sender is not None:
        sender.kill()
        sender.wait()
  assert message["type"] == "stream_end", message
  assert "the stream ended" in message["message"]
  assert "frames tracked" in message["summary"]
  assert len(tracked) >= 3, (message, [m["index"] for m in tracked])
  assert all(m["latency_ms"] > 0 for m in tracked)
  indices = [m["index"] for m in tracked]
  assert indices == sorted(indices)


@pytest.mark.parametrize("settings,says", [
    ({"backend": "jax", "precision": "int8"}, "int8"),
    ({"preset": "siamfc-9s"}, "preset 'siamfc-9s'"),
    ({"network": "/no/such/net.mat"}, "/no/such/net.mat"),
])
def test_bad_settings_are_one_message(client, demo_video, settings, says):
  with client.websocket_connect("/ws") as ws:
    sid = ws.receive_json()["session"]
    _upload(client, sid, demo_video(0, 30))
    ws.send_json({"type": "track", "frame": 0, "boxes": [_first_box()],
                  "edited": [0], "settings": settings})
    error = _wait(ws)
    assert error["type"] == "error" and says in error["message"], error
    assert "Traceback" not in error["message"]


def test_the_command_refuses_another_address_without_auth_in_one_line():
  run = subprocess.run(
      [sys.executable, "-m", "experiments.app", "--host=0.0.0.0"],
      capture_output=True, text=True, timeout=120,
      cwd=pathlib.Path(__file__).resolve().parents[1])
  assert run.returncode == 1
  assert run.stderr.strip().splitlines() == [
      "app: error: --host=0.0.0.0 lets other machines in: give "
      "--auth=TOKEN or --auth=user:password as well"]
