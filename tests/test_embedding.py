"""Tests of the embedding phi (Table 1) and the SiamFC head."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from siamfc_jax import embedding
from siamfc_jax import labels
from siamfc_jax import losses
from siamfc_jax import model
from siamfc_jax import xcorr

# Table 1: (layer, side for a 127 exemplar, side for a 255 search, channels).
TABLE_1 = [
    ("conv1", 59, 123, 96), ("pool1", 29, 61, 96),
    ("conv2", 25, 57, 256), ("pool2", 12, 28, 256),
    ("conv3", 10, 26, 384), ("conv4", 8, 24, 384), ("conv5", 6, 22, 256),
]

TINY = embedding.alexnet_spec(width=0.125)


@pytest.mark.parametrize("column, size", [(1, 127), (2, 255)])
def test_layer_sizes_equal_table_1(column, size):
  sizes = dict(embedding.layer_sizes(embedding.alexnet_spec(), size))
  assert {row[0]: row[column] for row in TABLE_1} == sizes


@pytest.mark.parametrize("size, side", [(127, 6), (255, 22)])
def test_conv_activations_have_table_1_shapes(size, side):
  spec = embedding.alexnet_spec()
  variables = jax.eval_shape(lambda k: model.init(spec, k), jax.random.key(0))
  net = embedding.Embedding(spec)
  images = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)

  def run(v, x):
    return net.apply(v, x, capture_intermediates=lambda m, _: isinstance(
        m, embedding.Conv))

  out, state = jax.eval_shape(
      run, {"params": variables["params"]["embedding"],
            "batch_stats": variables["batch_stats"]["embedding"]}, images)
  inter = state["intermediates"]
  column = 1 if size == 127 else 2
  for name, *sides, channels in TABLE_1:
    if name.startswith("conv"):
      assert inter[name]["__call__"][0].shape == (
          2, sides[column - 1], sides[column - 1], channels), name
  assert out.shape == (2, side, side, 256)
  assert spec.total_stride == 8


def test_split_group_conv_equals_a_grouped_convolution():
  layer = embedding.ConvSpec(6, 3, stride=2, groups=2, use_bias=True)
  conv = embedding.Conv(layer)
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 4))
  variables = conv.init(jax.random.key(1), x)
  want = jax.lax.conv_general_dilated(
      x, variables["params"]["kernel"], (2, 2), "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2)
  np.testing.assert_allclose(conv.apply(variables, x),
                             want + variables["params"]["bias"], atol=1e-5)


def test_no_padding_receptive_field_is_87():
  assert model.receptive_field(embedding.alexnet_spec()) == 87
  assert embedding.alexnet_spec().output_size(87) == 1


def test_score_map_shifts_with_search_image():
  """Eq. 1: translating x by 8 tau pixels translates the scores by tau."""
  variables = model.init(TINY, jax.random.key(1))
  z = jax.random.uniform(jax.random.key(2), (1, 127, 127, 3)) * 255
  big = jax.random.uniform(jax.random.key(3), (1, 255 + 24, 255 + 24, 3)) * 255
  net = model.SiamFC(TINY)
  score = jax.jit(lambda x: net.apply(variables, z, x))
  base = score(big[:, :255, :255])[0]
  for ty, tx in [(1, 0), (0, 2), (3, 1)]:
    shifted = score(big[:, 8 * ty:8 * ty + 255, 8 * tx:8 * tx + 255])[0]
    # Valid region: the shifted map sees the base map offset by (ty, tx).
    np.testing.assert_allclose(shifted[:17 - ty, :17 - tx], base[ty:, tx:],
                               rtol=1e-4,
                               atol=1e-4 * float(jnp.abs(base).max()))


def test_train_mode_updates_batch_statistics_and_eval_mode_does_not():
  variables = model.init(TINY, jax.random.key(0))
  net = model.SiamFC(TINY)
  x = jax.random.uniform(jax.random.key(1), (2, 127, 127, 3)) * 255
  _, updates = net.apply(variables, x, train=True, method=model.SiamFC.embed,
                         mutable=["batch_stats"])
  before = variables["batch_stats"]["embedding"]["bn1"]["mean"]
  after = updates["batch_stats"]["embedding"]["bn1"]["mean"]
  assert not np.allclose(before, after)
  # Eval mode is a pure function of the stored statistics.
  a = model.embed(TINY, variables, x)
  b = model.embed(TINY, variables, x[::-1])[::-1]
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_spec_round_trips_through_dict():
  spec = embedding.alexnet_spec(width=0.5, batch_norm=False)
  assert embedding.ModelSpec.from_dict(spec.to_dict()) == spec


def test_adjust_layer_is_scale_times_xcorr_plus_bias():
  variables = model.init(TINY, jax.random.key(0), adjust_bias=-2.0)
  z = jax.random.normal(jax.random.key(1), (1, 3, 3, 4))
  x = jax.random.normal(jax.random.key(2), (2, 7, 7, 4))
  scores = model.score(TINY, variables, z, x)
  np.testing.assert_allclose(scores, 1e-3 * xcorr.xcorr(z, x) - 2.0, atol=1e-6)


def test_forward_and_loss_compile_once_per_shape():
  variables = model.init(TINY, jax.random.key(0))
  y, w = labels.make_labels(17)

  @jax.jit
  def loss(v, z, x):
    score = model.SiamFC(TINY).apply(v, z, x)
    return losses.balanced_logistic_loss(score, y, w)

  for i in range(3):
    z = jnp.full((2, 127, 127, 3), float(i))
    x = jnp.full((2, 255, 255, 3), float(i))
    assert np.isfinite(loss(variables, z, x))
  assert loss._cache_size() == 1  # pylint: disable=protected-access


@pytest.mark.parametrize("variant, features, template, exemplar", [
    ("cfnet-conv1", 62, 30, 255), ("cfnet-conv2", 57, 25, 255),
    ("cfnet-conv3", 53, 21, 255), ("cfnet-conv5", 49, 17, 255),
    ("baseline-conv5", 17, 17, 127)])
def test_cfnet_variants_give_the_papers_33x33_maps(variant, features,
                                                   template, exemplar):
  spec = embedding.cfnet_spec(variant)
  assert spec.total_stride == 4 and spec.out_features == 32
  assert spec.output_size(exemplar) == features
  assert spec.template_size(exemplar) == template
  assert spec.output_size(255) - template + 1 == 33


def test_cf_spec_settings_are_checked():
  with pytest.raises(ValueError, match="join"):
    embedding.ModelSpec(TINY.layers, join="corr")
  with pytest.raises(ValueError, match="lambda > 0"):
    embedding.ModelSpec(TINY.layers, join="cf", cf_lambda=0.0)
  # Old checkpoints' specs (no join fields) load as SiamFC.
  d = TINY.to_dict()
  for key in ("join", "cf_lambda", "cf_sigma", "cf_margin"):
    del d[key]
  assert embedding.ModelSpec.from_dict(d).join == "xcorr"
