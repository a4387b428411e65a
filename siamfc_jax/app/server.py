"""The web app: one page, its files, a JSON API and one WebSocket per tab.

    app = make_app(AppSettings(data_root="data/"))    # an ASGI app
    serve(AppSettings(port=7860))                      # blocks
    url, stop = serve_in_background(7860)              # notebooks, tests

Each tab opens `/ws`; the server makes its session (`sessions.py`) and says
its id. Frames go to the page as JPEGs (`/api/s/<id>/frames/<i>`, so a
frame and its boxes always match); boxes, progress and errors over the
WebSocket; camera frames come in over it as binary messages (a 4-byte
little-endian header length, a JSON header, the JPEG). Uploads are the
request body (`POST /api/s/<id>/upload?name=clip.mp4`), refused with 413
above the size limit. Only a session's own outputs can be downloaded, by
their names. Closing the tab (its WebSocket) deletes the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import secrets
import shutil
import struct
import tempfile
import threading
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.routing import WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnect

from siamfc_jax import paths
from siamfc_jax import tracking
from siamfc_jax.app import auth as auth_lib
from siamfc_jax.app import clips
from siamfc_jax.app import sessions as sessions_lib
from siamfc_jax.app import trackers as trackers_lib

STATIC = pathlib.Path(__file__).resolve().parent / "static"
log = sessions_lib.log


@dataclasses.dataclass
class AppSettings:
  """The server's flags (`siamfc_jax/cli/app.py`).

  Attributes:
    host, port: where to listen.
    data_root: folder whose videos and sequences the page may open; None
      for uploads only.
    max_upload_mb: uploads above this are refused (413).
    auth: a token or user:password (`auth.py`), or None.
    workdir: where sessions keep their files; default a temporary folder.
    stream_timeout: seconds to wait for a stream URL's first frame (and
      each next one, then it has ended).
  """

  host: str = "127.0.0.1"
  port: int = 7860
  data_root: str | None = None
  max_upload_mb: float = 500.0
  auth: str | None = None
  workdir: str | None = None
  stream_timeout: float = 10.0


class _State:
  """What the routes share: settings, sessions, trackers."""

  def __init__(self, settings: AppSettings):
    self.settings = settings
    self.workdir = pathlib.Path(settings.workdir or tempfile.mkdtemp(
        prefix="siamfc_app_"))
    self.sessions: dict[str, sessions_lib.Session] = {}
    self.trackers = trackers_lib.POOL

  def session(self, request: Request) -> sessions_lib.Session:
    session = self.sessions.get(request.path_params["sid"])
    if session is None:
      raise FileNotFoundError("no such session (the tab was closed?)")
    return session


def _error(session_id: str, error: BaseException, status: int = 400
           ) -> JSONResponse:
  message = sessions_lib.report(session_id, error)
  if isinstance(error, FileNotFoundError):
    status = 404
  elif not isinstance(error, sessions_lib.INPUT_ERRORS):
    status = 500
  return JSONResponse({"error": message}, status)


def make_app(settings: AppSettings | None = None) -> Starlette:
  """The ASGI app of `settings` (module docstring).

  Raises:
    ValueError: a non-loopback host without auth, or a data root that is
      not a folder.
  """
  settings = settings or AppSettings()
  auth_lib.check_host(settings.host, settings.auth)
  if settings.data_root is not None and not os.path.isdir(settings.data_root):
    raise ValueError(f"--data_root {settings.data_root} is not a folder")
  state = _State(settings)
  limit = int(settings.max_upload_mb * 1024 * 1024)

  async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html",
                        headers={"cache-control": "no-store"})

  async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True, "sessions": len(state.sessions)})

  async def options(request: Request) -> Response:
    root = settings.data_root
    found = await run_in_threadpool(
        lambda: clips.list_root(root) if root else [])
    nets = trackers_lib.networks(paths.data_dir() / "weights",
                                 *([root] if root else []))
    return JSONResponse({
        "library": found, "networks": [trackers_lib.BUNDLED, *nets],
        "presets": sorted(tracking.PRESETS),
        "backends": ["auto", "jax", "onnxruntime"],
        "precisions": list(trackers_lib.PRECISIONS),
        "max_upload_mb": settings.max_upload_mb})

  def session_route(handle):
    """A route of one session: `handle(request, session)`, its refusals as
    one JSON error (`_error`) instead of a traceback."""

    async def route(request: Request) -> Response:
      sid = request.path_params["sid"]
      try:
        return await handle(request, state.session(request))
      except _TooLarge:
        message = (f"the upload is larger than the limit of "
                   f"{settings.max_upload_mb:g} MB (--max_upload_mb)")
        log.warning("session %s: %s", sid, message)
        return JSONResponse({"error": message}, 413)
      except Exception as e:  # pylint: disable=broad-except
        return _error(sid, e)

    return route

  @session_route
  async def upload(request, session):
    size = int(request.headers.get("content-length") or 0)
    if size > limit:
      raise _TooLarge()
    path = session.upload_path(request.query_params.get("name", ""))
    written = 0
    with open(path, "wb") as f:
      async for chunk in request.stream():
        written += len(chunk)
        if written > limit:
          f.close()
          path.unlink()
          raise _TooLarge()
        f.write(chunk)
    if not written:
      raise ValueError(f"{path.name}: the upload is empty")
    return JSONResponse(await run_in_threadpool(session.open_video, path))

  @session_route
  async def open_path(request, session):
    if settings.data_root is None:
      raise ValueError("the server has no --data_root to open from")
    body = await request.json()
    relative = str(body.get("path", ""))
    return JSONResponse(await run_in_threadpool(
        session.open_path, pathlib.Path(settings.data_root), relative))

  @session_route
  async def frame(request, session):
    data = await run_in_threadpool(session.frame_jpeg,
                                   request.path_params["index"])
    return Response(data, media_type="image/jpeg",
                    headers={"cache-control": "private, max-age=3600"})

  @session_route
  async def live_frame(request, session):
    data = session.live.frame(request.path_params["index"])
    return Response(data, media_type="image/jpeg")

  @session_route
  async def live_records(request, session):
    del request
    return JSONResponse({"frames": session.live.records})

  @session_route
  async def result(request, session):
    del request
    return JSONResponse(session.result())

  @session_route
  async def download(request, session):
    name = request.path_params["name"]
    path = await run_in_threadpool(session.output, name)
    return FileResponse(path, filename=name)

  async def websocket(ws: WebSocket) -> None:
    await ws.accept()
    await _serve_tab(ws, state)

  routes = [
      Route("/", index),
      Route("/healthz", healthz),
      Route("/api/options", options),
      Route("/api/s/{sid}/upload", upload, methods=["POST"]),
      Route("/api/s/{sid}/open", open_path, methods=["POST"]),
      Route("/api/s/{sid}/frames/{index:int}", frame),
      Route("/api/s/{sid}/live/{index:int}", live_frame),
      Route("/api/s/{sid}/live", live_records),
      Route("/api/s/{sid}/result", result),
      Route("/api/s/{sid}/files/{name:path}", download),
      WebSocketRoute("/ws", websocket),
      Mount("/static", StaticFiles(directory=STATIC), name="static"),
  ]
  @contextlib.asynccontextmanager
  async def lifespan(app):
    yield
    await run_in_threadpool(_shutdown, state)

  app = Starlette(routes=routes, lifespan=lifespan)
  app.state.app = state
  return auth_lib.AuthMiddleware(app, settings.auth)


class _TooLarge(Exception):
  pass


def _shutdown(state: _State) -> None:
  for session in list(state.sessions.values()):
    session.close()
  state.sessions.clear()
  if state.settings.workdir is None:
    shutil.rmtree(state.workdir, ignore_errors=True)


def parse_frame_message(data: bytes) -> tuple[dict, bytes]:
  """(header, JPEG) of a camera frame's binary message (module docstring).

  Raises:
    ValueError: a malformed message.
  """
  if len(data) < 4:
    raise ValueError("live frame message too short")
  (size,) = struct.unpack("<I", data[:4])
  try:
    header = json.loads(data[4:4 + size].decode())
  except ValueError:
    raise ValueError("live frame message: bad header") from None
  if not isinstance(header, dict):
    raise ValueError("live frame message: bad header")
  return header, data[4 + size:]


async def _serve_tab(ws: WebSocket, state: _State) -> None:
  """One tab: its session, its messages in, the session's messages out."""
  loop = asyncio.get_running_loop()
  queue: asyncio.Queue = asyncio.Queue()
  closed = threading.Event()

  def send(message: dict) -> None:  # any thread
    if not closed.is_set():
      try:
        loop.call_soon_threadsafe(queue.put_nowait, message)
      except RuntimeError:  # the loop is gone
        pass

  sid = secrets.token_urlsafe(16)
  session = sessions_lib.Session(sid, state.workdir / sid, state.trackers,
                                 send, state.settings.stream_timeout)
  state.sessions[sid] = session
  log.info("session %s opened", sid)
  pump = asyncio.create_task(_pump(ws, queue))
  queue.put_nowait({"type": "hello", "session": sid})
  try:
    while True:
      message = await ws.receive()
      if message["type"] == "websocket.disconnect":
        break
      if message.get("bytes") is not None:
        await _live(session, message["bytes"], queue)
      elif message.get("text") is not None:
        await _command(session, message["text"], queue)
  except WebSocketDisconnect:
    pass
  finally:
    closed.set()
    pump.cancel()
    state.sessions.pop(sid, None)
    await run_in_threadpool(session.close)
    log.info("session %s closed", sid)


async def _pump(ws: WebSocket, queue: asyncio.Queue) -> None:
  try:
    while True:
      await ws.send_json(await queue.get())
  except (WebSocketDisconnect, RuntimeError):
    pass


async def _live(session: sessions_lib.Session, data: bytes,
                queue: asyncio.Queue) -> None:
  header: dict = {}
  try:
    header, jpeg = parse_frame_message(data)
    reply = await run_in_threadpool(session.live.step, header, jpeg)
    reply["server_ms"] = time.time() * 1000
    queue.put_nowait(reply)
  except Exception as e:  # pylint: disable=broad-except
    queue.put_nowait({"type": "error", "live": True,
                      "counter": header.get("counter"),
                      "message": sessions_lib.report(session.id, e)})


async def _command(session: sessions_lib.Session, text: str,
                   queue: asyncio.Queue) -> None:
  try:
    command = json.loads(text)
    kind = command.get("type") if isinstance(command, dict) else None
    if kind == "track":
      await run_in_threadpool(
          session.start, command.get("frame"), command.get("boxes"),
          list(command.get("edited") or []), command.get("settings"))
    elif kind == "stop":
      await run_in_threadpool(session.stop)
    elif kind == "stream_open":
      await run_in_threadpool(session.stream.open, command.get("url"),
                              command.get("settings"))
    elif kind == "stream_pause":
      session.stream.pause()
    elif kind == "stream_go":
      session.stream.go(command.get("boxes"))
    elif kind == "stream_ack":
      session.stream.ack()
    elif kind == "stream_close":
      await run_in_threadpool(session.stream.close)
    elif kind == "ping":
      queue.put_nowait({"type": "pong"})
    else:
      raise ValueError(f"unknown command {kind!r}")
  except Exception as e:  # pylint: disable=broad-except
    queue.put_nowait({"type": "error",
                      "message": sessions_lib.report(session.id, e)})


def serve(app, settings: AppSettings) -> None:
  """Runs `app` (`make_app(settings)`) until Ctrl-C, logging a line per
  session and per refused input (`python -m experiments.app`)."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  uvicorn.run(app, host=settings.host, port=settings.port,
              log_level="warning", ws_max_size=64 * 1024 * 1024)


def serve_in_background(port: int = 7860, host: str = "127.0.0.1",
                        **settings) -> tuple[str, callable]:
  """Starts the app in a thread (a notebook, a test); returns its URL and
  a function that stops it.

  Args:
    port: the port (0: any free one).
    host: the address.
    **settings: other `AppSettings` fields.
  """
  import uvicorn  # pylint: disable=g-import-not-at-top
  app = make_app(AppSettings(host=host, port=port, **settings))
  config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                          ws_max_size=64 * 1024 * 1024)
  server = uvicorn.Server(config)
  thread = threading.Thread(target=server.run, name="siamfc-app",
                            daemon=True)
  thread.start()
  while not server.started:
    if not thread.is_alive():
      raise ValueError(f"the app could not start on {host}:{port}")
    time.sleep(0.02)
  port = server.servers[0].sockets[0].getsockname()[1]

  def stop():
    server.should_exit = True
    thread.join(timeout=10)

  return f"http://{host}:{port}/", stop
