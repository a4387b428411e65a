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
