"""Tests of checkpoint saving and loading (orbax arrays + JSON spec)."""

import json

import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from siamfc_jax import checkpoints
from siamfc_jax import embedding
from siamfc_jax.convert import common

WITH_BN = embedding.ModelSpec(
    layers=embedding.alexnet_spec(width=0.0625).layers, bn_epsilon=1e-6)
FOLDED = embedding.alexnet_spec(width=0.0625, batch_norm=False)  # no stats
CONFIG = {"source": "x.mat", "lr": [0.01, 1e-5], "nested": {"a": None}}


def _random_variables(spec, seed=0):
  """Random float32 variables in the tree `model.init(spec)` builds."""
  rng = np.random.default_rng(seed)
  variables = {}
  for name, (shape, _) in sorted(common.expected_shapes(spec).items()):
    node = variables
    *parents, leaf = name.split("/")
    for key in parents:
      node = node.setdefault(key, {})
    node[leaf] = jnp.asarray(rng.standard_normal(shape), jnp.float32)
  return variables


def _bits(variables):
  return {name: np.asarray(value).view(np.uint32)
          for name, value in common.flatten(variables).items()}


@pytest.mark.parametrize("spec", [WITH_BN, FOLDED])
def test_save_then_load_gives_back_every_bit(tmp_path, spec):
  variables = _random_variables(spec)
  # Values whose bits a lossy path would change: -0, a subnormal, 1 ulp.
  variables["params"]["adjust_bias"] = jnp.float32(-0.0)
  variables["params"]["adjust_scale"] = jnp.float32(1e-40)
  checkpoints.save(tmp_path / "ckpt", spec, variables, CONFIG)
  got_spec, got, config = checkpoints.load(tmp_path / "ckpt")
  assert got_spec == spec and config == CONFIG
  want_bits, got_bits = _bits(variables), _bits(got)
  assert want_bits.keys() == got_bits.keys()
  for name, bits in want_bits.items():
    np.testing.assert_array_equal(got_bits[name], bits, err_msg=name)
  assert all(v.dtype == jnp.float32 for v in common.flatten(got).values())


def test_load_of_a_missing_path_names_it(tmp_path):
  with pytest.raises(FileNotFoundError, match="nowhere"):
    checkpoints.load(tmp_path / "nowhere")


def test_load_of_a_directory_without_a_checkpoint_names_it(tmp_path):
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match="not a siamfc_jax checkpoint"):
    checkpoints.load(tmp_path / "empty")


@pytest.mark.parametrize("edit", [
    lambda text: text[:len(text) // 2],  # truncated JSON
    lambda text: text.replace('"features"', '"feat"'),  # unknown field
    lambda text: text.replace('"siamfc_jax"', '"other"'),  # foreign format
])
def test_load_of_malformed_metadata_raises_value_error(tmp_path, edit):
  ckpt = checkpoints.save(tmp_path / "ckpt", FOLDED,
                          _random_variables(FOLDED))
  meta = ckpt / "siamfc.json"
  meta.write_text(edit(meta.read_text()))
  with pytest.raises(ValueError, match="siamfc.json"):
    checkpoints.load(ckpt)


def test_load_rejects_arrays_that_do_not_fit_the_saved_spec(tmp_path):
  ckpt = checkpoints.save(tmp_path / "ckpt", WITH_BN,
                          _random_variables(WITH_BN))
  meta = json.loads((ckpt / "siamfc.json").read_text())
  meta["spec"]["layers"][2]["features"] += 2
  (ckpt / "siamfc.json").write_text(json.dumps(meta))
  with pytest.raises(ValueError, match=r"bn3/mean' has shape"):
    checkpoints.load(ckpt)


def test_save_rejects_variables_of_another_spec(tmp_path):
  with pytest.raises(ValueError, match="missing parameters"):
    checkpoints.save(tmp_path / "ckpt", WITH_BN, _random_variables(FOLDED))
  assert not list(tmp_path.iterdir())


def test_save_rejects_a_config_json_cannot_hold(tmp_path):
  with pytest.raises(ValueError, match="JSON"):
    checkpoints.save(tmp_path / "ckpt", FOLDED, _random_variables(FOLDED),
                     {"array": np.zeros(2)})
  assert not list(tmp_path.iterdir())


def test_save_refuses_to_replace_a_checkpoint_unless_asked(tmp_path):
  first, second = _random_variables(FOLDED, 1), _random_variables(FOLDED, 2)
  checkpoints.save(tmp_path / "ckpt", FOLDED, first, {"run": 1})
  with pytest.raises(FileExistsError):
    checkpoints.save(tmp_path / "ckpt", FOLDED, second, {"run": 2})
  assert checkpoints.load(tmp_path / "ckpt")[2] == {"run": 1}
  checkpoints.save(tmp_path / "ckpt", FOLDED, second, {"run": 2},
                   overwrite=True)
  _, got, config = checkpoints.load(tmp_path / "ckpt")
  assert config == {"run": 2}
  np.testing.assert_array_equal(
      got["params"]["embedding"]["conv1"]["kernel"],
      second["params"]["embedding"]["conv1"]["kernel"])
  assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_overwrite_replaces_only_a_checkpoint(tmp_path):
  runs = tmp_path / "runs"
  runs.mkdir()
  (runs / "notes.txt").write_text("mine")
  with pytest.raises(FileExistsError, match="not a checkpoint"):
    checkpoints.save(runs, FOLDED, _random_variables(FOLDED), overwrite=True)
  assert (runs / "notes.txt").read_text() == "mine"


def test_a_save_that_fails_midway_leaves_nothing_behind(tmp_path,
                                                        monkeypatch):
  def broken_save(self, directory, *args, **kwargs):
    (directory / "partial").mkdir(parents=True)  # Some bytes hit the disk.
    raise OSError("disk full")

  monkeypatch.setattr(ocp.Checkpointer, "save", broken_save)
  with pytest.raises(OSError, match="disk full"):
    checkpoints.save(tmp_path / "ckpt", FOLDED, _random_variables(FOLDED))
  assert not list(tmp_path.iterdir())
