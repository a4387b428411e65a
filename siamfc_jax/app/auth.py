"""Who may use the app: anyone on this machine, or whoever has `--auth`.

The app binds 127.0.0.1 by default. On any other address it must be given
`--auth`: a token, or `user:password`. A request then needs one of

- `Authorization: Bearer <token>` or `?token=<token>` (token), or
  `Authorization: Basic ...` (user:password; the browser asks for it);
- the cookie set on the first authorised request, which is how the page's
  images, downloads and WebSocket carry it.

Anything else gets 401 (a WebSocket is closed before it opens). `/healthz`
stays open: it says nothing but that the server is up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import urllib.parse

COOKIE = "siamfc_auth"
OPEN_PATHS = ("/healthz",)


def is_loopback(host: str) -> bool:
  """Whether `host` is only reachable from this machine."""
  if host == "localhost":
    return True
  try:
    return ipaddress.ip_address(host.strip("[]")).is_loopback
  except ValueError:
    return False


def check_host(host: str, auth: str | None) -> None:
  """Refuses to serve beyond this machine without `--auth`.

  Raises:
    ValueError: a non-loopback host and no auth, or an empty auth.
  """
  if auth is not None and not auth.strip():
    raise ValueError("--auth is empty: give a token or user:password")
  if not is_loopback(host) and not auth:
    raise ValueError(f"--host={host} lets other machines in: give "
                     "--auth=TOKEN or --auth=user:password as well")


def _cookie_value(auth: str) -> str:
  return hashlib.sha256(("siamfc-app:" + auth).encode()).hexdigest()


class AuthMiddleware:
  """ASGI middleware: lets a request through only with the credentials."""

  def __init__(self, app, auth: str | None):
    self.app = app
    self.auth = auth
    self.basic = auth is not None and ":" in auth
    self.cookie = _cookie_value(auth) if auth else None

  def allowed(self, headers: dict[str, str], query: str) -> bool:
    """Whether the request carries the credentials (module docstring)."""
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
      name, _, value = part.strip().partition("=")
      cookies[name] = value
    if hmac.compare_digest(cookies.get(COOKIE, ""), self.cookie):
      return True
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if self.basic and scheme.lower() == "basic":
      try:
        value = base64.b64decode(value).decode()
      except ValueError:
        return False
      return hmac.compare_digest(value.encode(), self.auth.encode())
    if not self.basic:
      token = (value if scheme.lower() == "bearer" else
               urllib.parse.parse_qs(query).get("token", [""])[0])
      return hmac.compare_digest(token.encode(), self.auth.encode())
    return False

  async def __call__(self, scope, receive, send):
    if (self.auth is None or scope["type"] not in ("http", "websocket")
        or scope["path"] in OPEN_PATHS):
      await self.app(scope, receive, send)
      return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in scope["headers"]}
    if not self.allowed(headers, scope.get("query_string", b"").decode()):
      if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
      extra = ([(b"www-authenticate", b'Basic realm="siamfc_jax app"')]
               if self.basic else [])
      how = ("user and password" if self.basic else
             "the token: open the page as /?token=TOKEN")
      body = f"401 Unauthorized: this app needs {how}\n".encode()
      await send({"type": "http.response.start", "status": 401,
                  "headers": [(b"content-type", b"text/plain"),
                              (b"content-length", str(len(body)).encode()),
                              *extra]})
      await send({"type": "http.response.body", "body": body})
      return
    if scope["type"] == "websocket":
      await self.app(scope, receive, send)
      return
    cookie = (f"{COOKIE}={self.cookie}; Path=/; HttpOnly; "
              "SameSite=Strict").encode()

    async def send_with_cookie(message):
      if message["type"] == "http.response.start":
        message = {**message, "headers": [*message.get("headers", []),
                                          (b"set-cookie", cookie)]}
      await send(message)

    await self.app(scope, receive, send_with_cookie)
