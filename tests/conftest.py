"""Shared test set-up: 4 fake CPU devices and the optional real data."""

import os
import pathlib

# Before jax is imported anywhere: sharding tests see 4 CPU devices.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import pytest  # pylint: disable=g-import-not-at-top

from siamfc_jax import paths  # pylint: disable=g-import-not-at-top


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
  """The shared data folder ($SIAMFC_DATA); skips the test when absent."""
  root = paths.data_dir()
  if not root.is_dir():
    pytest.skip(f"real data not found at {root} (set SIAMFC_DATA to the "
                "shared data folder to run this integration test)")
  return root


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory):
  """Makes MP4s of the bundled demo clip: `demo_video(start, count)` is the
  path of frames start..start+count-1 as H.264 at 30 fps (made once)."""
  import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
  from siamfc_jax import pretrained  # pylint: disable=g-import-not-at-top
  folder = tmp_path_factory.mktemp("demo_videos")
  seq = pretrained.demo_sequence()
  made = {}

  def make(start: int = 0, count: int = 30) -> pathlib.Path:
    if (start, count) not in made:
      path = folder / f"bag_{start}_{count}.mp4"
      with imageio.get_writer(path, fps=30, codec="libx264",
                              macro_block_size=1) as writer:
        for frame in seq.frames[start:start + count]:
          writer.append_data(imageio.imread(frame))
      made[start, count] = path
    return made[start, count]

  return make
