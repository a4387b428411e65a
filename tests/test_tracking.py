"""Tests of the jitted tracking step (Sec. 2.4)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking

# A one-layer "identity" network: phi(x) = grey level, stride 1. With an
# exemplar embedding planted as a centred delta, the score map is the search
# crop itself, so a bright pixel in the frame is the score peak.
GREY = embedding.ModelSpec(layers=(embedding.ConvSpec(
    1, 1, batch_norm=False, use_bias=False, relu=False),))
GREY_VARIABLES = {"params": {
    "embedding": {"conv1": {"kernel": jnp.full((1, 1, 3, 1), 1 / 3)}},
    "adjust_scale": jnp.float32(1.0), "adjust_bias": jnp.float32(0.0)}}
# 9 -> 9x9 exemplar, 41 -> 41x41 search, 33x33 scores, centre cell 16.
GEOMETRY = dict(exemplar_size=9, instance_size=41, window_influence=0.0)


def _state(centre=(50.0, 40.0), x_side=41.0, size=(10.0, 10.0), n_feat=9):
  return tracking.TrackerState(
      z_feat=jnp.zeros((1, n_feat, n_feat, 1)).at[0, n_feat // 2,
                                                 n_feat // 2].set(1.0),
      centre=jnp.array(centre), size=jnp.array(size),
      x_side=jnp.float32(x_side),
      x_side_limits=jnp.array([0.2 * x_side, 5 * x_side]),
      fill=jnp.zeros(3), frame_size=jnp.array([100, 80], jnp.int32))


@pytest.mark.parametrize("height, width", [(80, 100), (81, 101)])
@pytest.mark.parametrize("dx, dy", [(0, 0), (5, -3), (-12, 7)])
def test_step_moves_box_by_the_planted_peak_offset(height, width, dx, dy):
  params = tracking.TrackParams(num_scales=1, response_up=1, **GEOMETRY)
  frame = np.zeros((height, width, 3), np.uint8)
  # Target centre (50, 40) is a pixel corner; a crop of side 41 centred on
  # pixel (49, 39) maps crop pixels 1:1 onto frame pixels.
  state = _state(centre=(49.5, 39.5)).replace(
      frame_size=jnp.array([width, height], jnp.int32))
  frame[39 + dy, 49 + dx] = 255
  new, box, scores = jax.jit(tracking.track_step, static_argnums=(3, 4))(
      GREY_VARIABLES, state, frame, GREY, params)
  assert scores.shape == (1, 33, 33)
  np.testing.assert_allclose(new.centre, [49.5 + dx, 39.5 + dy], atol=1e-4)
  np.testing.assert_allclose(box, [44.5 + dx, 34.5 + dy, 10, 10], atol=1e-4)


@pytest.mark.parametrize("best", [0, 1, 2])
@pytest.mark.parametrize("response_up", [1, 3, 16])
def test_displacement_is_offset_times_stride_times_scale(best, response_up):
  """A score peak d cells off-centre in scale s moves the target by
  d * stride * (s_x * scale_s / instance_size) frame pixels."""
  params = tracking.TrackParams(response_up=response_up, scale_penalty=1.0,
                                window_influence=0.0)
  stride, d = 8, np.array([3, -2])  # (dx, dy) cells
  u = np.arange(17) - 8
  peak = np.exp(-((u[None, :] - d[0]) ** 2 + (u[:, None] - d[1]) ** 2) / 2)
  scores = np.stack([peak * (1.0 if s == best else 0.5) for s in range(3)])
  state = _state(x_side=300.0)
  new = tracking.locate(state, jnp.asarray(scores, jnp.float32), stride, params)
  pixels_per_instance_px = 300.0 * params.scales()[best] / 255
  want = np.array([50.0, 40.0]) + d * stride * pixels_per_instance_px
  # An even upsampling factor puts no sample on a cell centre: the peak is
  # found half an upsampled cell away at worst.
  tol = 0.5 * stride / response_up * pixels_per_instance_px if (
      response_up % 2 == 0) else 1e-3
  np.testing.assert_allclose(new.centre, want, atol=tol + 1e-4)


def test_chosen_scale_follows_the_penalised_peak_and_size_is_damped():
  params = tracking.SIAMFC_3S
  state = _state(x_side=300.0, size=(40.0, 20.0))
  u = np.arange(17) - 8
  peak = np.exp(-(u[None, :] ** 2 + u[:, None] ** 2) / 2.0)

  def chosen(small, centre):
    scores = np.stack([small * peak, centre * peak, 0.1 * peak])
    new = tracking.locate(state, jnp.asarray(scores, jnp.float32), 8, params)
    return float(new.size[0] / state.size[0]), new

  # 1.0 * 0.9745 < 0.99: the unpenalised centre scale wins.
  factor, new = chosen(1.0, 0.99)
  np.testing.assert_allclose(factor, 1.0, rtol=1e-6)
  # 1.02 * 0.9745 > 0.99: the smaller scale wins; the move is damped by
  # scaleLR: (1 - lr) + lr * step^-1.
  factor, new = chosen(1.02, 0.99)
  want = (1 - 0.59) + 0.59 / 1.0375
  np.testing.assert_allclose(factor, want, rtol=1e-5)
  np.testing.assert_allclose(new.x_side, 300.0 * want, rtol=1e-5)


def test_search_side_stays_within_its_limits():
  params = tracking.TrackParams(scale_penalty=1.0, scale_lr=1.0)
  state = _state(x_side=300.0)
  u = np.arange(17) - 8
  peak = np.exp(-(u[None, :] ** 2 + u[:, None] ** 2) / 2.0)
  shrink = jnp.asarray(np.stack([peak, 0.5 * peak, 0.5 * peak]), jnp.float32)
  grow = shrink[::-1]
  for _ in range(60):
    state = tracking.locate(state, shrink, 8, params)
  np.testing.assert_allclose(state.x_side, 0.2 * 300.0, rtol=1e-5)
  for _ in range(120):
    state = tracking.locate(state, grow, 8, params)
  np.testing.assert_allclose(state.x_side, 5 * 300.0, rtol=1e-5)


def test_scales_are_the_original_pyramids():
  np.testing.assert_allclose(tracking.SIAMFC_3S.scales(),
                             1.0375 ** np.array([-1, 0, 1]), rtol=1e-6)
  np.testing.assert_allclose(tracking.SIAMFC_5S.scales(),
                             1.0255 ** np.arange(-2, 3), rtol=1e-6)


def test_step_compiles_once_over_a_50_frame_run():
  spec = embedding.alexnet_spec(width=0.125)
  variables = model.init(spec, jax.random.key(0))
  params = tracking.TrackParams(num_scales=3)
  rng = np.random.default_rng(0)
  frames = rng.integers(0, 255, (50, 96, 128, 3), dtype=np.uint8)
  step = jax.jit(tracking.track_step, static_argnums=(3, 4),
                 donate_argnums=1)
  state = tracking.init_state_jit(variables, frames[0],
                                  jnp.array([40.0, 30.0, 20.0, 25.0]), spec,
                                  params)
  for frame in frames[1:]:
    state, box, _ = step(variables, state, frame, spec, params)
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert np.all(np.isfinite(box))


def test_invalid_params_are_refused():
  with pytest.raises(ValueError, match="num_scales"):
    tracking.TrackParams(num_scales=2).validate()
