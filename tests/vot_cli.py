"""The VOT toolkit's command line for tests, with no network.

`run_vot` runs `vot ARGS` (vot-toolkit 0.9.0) as a subprocess in which
every network connection raises and is logged, and the toolkit's version
check on GitHub is switched off; `require_toolkit` skips a test when the
toolkit does not import; `cut_sequence` puts the first frames of a shared
VOT sequence into a folder of its own. Used by test_vot_toolkit.py and
test_vot_workspace.py.
"""

import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from siamfc_jax.data import sequences

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRACKER = "SiamFC_JAX"
COMMAND_TIMEOUT_S = 300
# Runs the `vot` command line with network connections refused (and
# logged to $NET_LOG) and the version check on GitHub switched off.
VOT_CLI = """\
import os, socket, sys
_connect = socket.socket.connect
def _refuse(self, address):
  if self.family in (socket.AF_INET, socket.AF_INET6):
    with open(os.environ["NET_LOG"], "a") as log:
      log.write(f"{address}\\n")
    raise OSError(f"no network in this test: {address}")
  return _connect(self, address)
socket.socket.connect = _refuse
import vot.utilities.cli as cli
cli.check_updates = lambda: (False, None)
sys.argv[0] = "vot"
cli.main()
"""


def require_toolkit() -> dict[str, Any]:
  """The toolkit's modules (`region`, `stack`, `workspace`, `raster`);
  skips the calling test when vot-toolkit 0.9.0 does not import."""
  try:
    # pylint: disable=g-import-not-at-top
    import trax  # noqa: F401  pylint: disable=unused-import
    import vot
    from vot import region as vot_region
    from vot import stack as vot_stack
    from vot import workspace as vot_workspace
    from vot.region import raster
    # pylint: enable=g-import-not-at-top
  except ImportError as e:
    pytest.skip(f"vot-toolkit 0.9.0 does not import ({e}); "
                "pip install -r requirements.txt")
  if vot.__version__ != "0.9.0":
    pytest.skip(f"needs vot-toolkit 0.9.0, found {vot.__version__}")
  return {"region": vot_region, "stack": vot_stack,
          "workspace": vot_workspace, "raster": raster}


def environment(tmp: pathlib.Path, net_log: pathlib.Path) -> dict[str, str]:
  """The environment of a `vot` run: this checkout on PYTHONPATH, the
  network log, temporary files in `tmp`."""
  return dict(os.environ, NET_LOG=str(net_log), TMPDIR=str(tmp),
              PYTHONPATH=os.pathsep.join(
                  [str(ROOT), os.environ.get("PYTHONPATH", "")]))


def run_vot(args, cwd: pathlib.Path, net_log: pathlib.Path, success: str
            ) -> str:
  """Runs `vot ARGS` in `cwd`; returns its output, fails unless it says
  `success` (the toolkit exits 0 after a tracker error too) or if it
  tried the network."""
  done = subprocess.run([sys.executable, "-c", VOT_CLI, *args], cwd=cwd,
                        env=environment(cwd, net_log), capture_output=True,
                        text=True, timeout=COMMAND_TIMEOUT_S, check=False)
  output = done.stdout + done.stderr
  assert done.returncode == 0 and success in output, (
      f"vot {' '.join(args)}:\n{output}")
  assert not net_log.exists(), (
      f"vot {' '.join(args)} tried the network: {net_log.read_text()}")
  return output


def cut_sequence(data_dir: pathlib.Path, name: str, folder: pathlib.Path,
                 n: int, lines: int | None = None) -> pathlib.Path:
  """The first `n` frames of shared VOT sequence `name`, linked into
  `folder/color/`, and the first `lines` (default `n`) lines of its
  ground truth; skips the test when the sequence is absent.

  Returns:
    `folder`, a VOT sequence folder.
  """
  source = data_dir / "sequences" / name
  if not source.is_dir():
    pytest.skip(f"shared sequence {source} not found")
  lines = n if lines is None else lines
  frames = sequences.list_frames(source / "img")[:n]
  text = (source / "groundtruth.txt").read_text().splitlines()[:lines]
  if len(frames) != n or len(text) != lines:
    raise ValueError(f"{source}: fewer than {n} frames or {lines} lines")
  (folder / "color").mkdir(parents=True)
  for i, frame in enumerate(frames):
    (folder / "color" / f"{i + 1:08d}.jpg").symlink_to(frame)
  (folder / "groundtruth.txt").write_text("\n".join(text) + "\n")
  return folder
