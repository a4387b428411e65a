"""Tests of the bundled original network and demo clip."""

import shutil

import jax
import numpy as np
import pytest

import siamfc_jax
from siamfc_jax import pretrained
from siamfc_jax import tracking
from siamfc_jax.convert import int8_npz


def test_pretrained_equals_the_importer_on_the_shared_file_bit_for_bit(
    data_dir):
  src = (data_dir / "weights" / "siamfc_2016-08-17_int8" /
         "siamfc_int8_exact.npz")
  if not src.is_file():
    pytest.skip(f"{src} not found")
  spec, variables = int8_npz.load_int8_npz(src)
  tracker = siamfc_jax.Tracker.pretrained()
  assert tracker.spec == spec
  leaves = jax.tree.leaves_with_path(variables)
  ours = dict(jax.tree.leaves_with_path(tracker.variables))
  assert len(leaves) == len(ours)
  for path, leaf in leaves:
    np.testing.assert_array_equal(np.asarray(ours[path]), np.asarray(leaf),
                                  err_msg=jax.tree_util.keystr(path))


@pytest.mark.parametrize("name, scales", [("siamfc-3s", 3), ("siamfc-5s", 5)])
def test_presets_share_the_weights_and_differ_in_scales(name, scales):
  tracker = siamfc_jax.Tracker.pretrained(name)
  assert tracker.params == tracking.PRESETS[name]
  assert tracker.params.num_scales == scales
  assert float(tracker.variables["params"]["adjust_bias"]) == pytest.approx(
      -2.1483638)


def test_unknown_preset_is_refused():
  with pytest.raises(ValueError, match="siamfc-3s"):
    siamfc_jax.Tracker.pretrained("siamfc-7s")


def test_demo_sequence_has_196_frames_and_ground_truth():
  seq = siamfc_jax.demo_sequence()
  assert seq.name == "vot15_bag" and len(seq.frames) == 196
  assert seq.boxes.shape == (196, 4) and np.all(np.isfinite(seq.boxes))


@pytest.fixture
def tampered_assets(tmp_path, monkeypatch):
  copy = tmp_path / "assets"
  shutil.copytree(pretrained.ASSETS, copy)
  monkeypatch.setattr(pretrained, "ASSETS", copy)
  pretrained._manifest.cache_clear()  # pylint: disable=protected-access
  yield copy
  pretrained._manifest.cache_clear()  # pylint: disable=protected-access


def test_tampered_network_file_is_refused_naming_it(tampered_assets):
  path = tampered_assets / pretrained.NETWORK
  data = bytearray(path.read_bytes())
  data[-100] ^= 1
  path.write_bytes(bytes(data))
  with pytest.raises(ValueError, match="siamfc_int8_exact.npz.*SHA-256"):
    pretrained.network()


def test_tampered_demo_frame_and_manifest_are_refused(tampered_assets):
  frame = tampered_assets / pretrained.DEMO / "00000007.jpg"
  frame.write_bytes(frame.read_bytes() + b"\0")
  with pytest.raises(ValueError, match="00000007.jpg"):
    pretrained.demo_sequence()
  manifest = tampered_assets / "SHA256SUMS"
  manifest.write_text(manifest.read_text().replace("a", "b", 1))
  pretrained._manifest.cache_clear()  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="SHA256SUMS"):
    pretrained.network()


def test_missing_network_file_is_reported(tampered_assets):
  (tampered_assets / pretrained.NETWORK).unlink()
  with pytest.raises(FileNotFoundError, match="reinstall"):
    pretrained.network()
