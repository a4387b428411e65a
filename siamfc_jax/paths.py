"""Where the optional real data lives: $SIAMFC_DATA, else ../shared/data."""

import os
import pathlib

_REPO = pathlib.Path(__file__).resolve().parents[1]


def data_dir() -> pathlib.Path:
  """The shared data folder (sequences, weights); it may not exist."""
  env = os.environ.get("SIAMFC_DATA")
  return pathlib.Path(env) if env else _REPO.parent / "shared" / "data"
