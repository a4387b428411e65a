r"""The web app: track your own video or camera in the browser.

  siamfc-jax app                  # then open http://127.0.0.1:7860
  siamfc-jax app --data_root=/data/sequences --port=8000
  siamfc-jax app --host=0.0.0.0 --auth=SECRET   # from elsewhere

Upload a video (or open a video or sequence folder under --data_root), drag
a box around the target on the first frame, track; pause on any frame and
redraw a box to correct it, then track on. The Camera tab tracks the
browser's camera live. Downloads: a boxes file per target (the format of
experiments.track), corrections, the rendered MP4, the settings and, with
ground truth, AUC, precision and the success plot. See siamfc_jax/app/.

The server listens on 127.0.0.1 only, unless --host names another address;
then --auth is required: a token (open the page as /?token=TOKEN) or
user:password (the browser asks).
"""

from absl import flags

from siamfc_jax.app import server

_PORT = flags.DEFINE_integer("port", 7860, "Port to listen on.",
                             lower_bound=0, upper_bound=65535)
_HOST = flags.DEFINE_string(
    "host", "127.0.0.1", "Address to listen on; anything but loopback "
    "needs --auth.")
_DATA_ROOT = flags.DEFINE_string(
    "data_root", None, "Folder whose videos and sequence folders (OTB, VOT, "
    "GOT-10k layouts, ground truth included) the page may open.")
_MAX_UPLOAD_MB = flags.DEFINE_float(
    "max_upload_mb", 500.0, "Uploads larger than this are refused (HTTP "
    "413).", lower_bound=0)
_AUTH = flags.DEFINE_string(
    "auth", None, "A token or user:password that every request must carry "
    "(required with a --host other than loopback).")


def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]}")
  settings = server.AppSettings(
      host=_HOST.value, port=_PORT.value, data_root=_DATA_ROOT.value,
      max_upload_mb=_MAX_UPLOAD_MB.value, auth=_AUTH.value)
  app = server.make_app(settings)  # refuses bad flags before printing
  print(f"SiamFC app on http://{_HOST.value}:{_PORT.value}/ (Ctrl-C stops "
        "it)", flush=True)
  server.serve(app, settings)

