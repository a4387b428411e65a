"""Tests of the jitted tracking step (Sec. 2.4)."""

import functools

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


@pytest.mark.parametrize("noise", [0.0, 1e-7])
def test_flat_score_maps_leave_the_target_in_place(noise):
  """A blank frame gives maps flat to rounding: the window decides (the
  original divides 0 by 0 and jumps to a corner)."""
  state = _state(x_side=300.0)
  rng = np.random.default_rng(0)
  scores = 2.0 * (1 + noise * rng.standard_normal((3, 17, 17)))
  new = tracking.locate(state, jnp.asarray(scores, jnp.float32), 8,
                        tracking.SIAMFC_3S)
  assert np.all(np.isfinite(new.centre))
  # Half an upsampled cell: the window's two central samples tie.
  np.testing.assert_allclose(new.centre, state.centre, atol=0.5 * 300 / 255)
  np.testing.assert_allclose(new.size, state.size, rtol=1e-6)


def test_impossible_hyper_parameters_are_refused():
  for text, match in [("min_scale=2", "min_scale"),
                      ("max_scale=0.5", "max_scale"),
                      ("context=-1", "context"),
                      ("scale_penalty=0", "scale_penalty")]:
    with pytest.raises(ValueError, match=match):
      tracking.SIAMFC_3S.override(text)


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


# A tiny CFNet: 63 -> 30 -> 28 features, 24x24 template, 5x5 score maps.
TINY_CF = embedding.ModelSpec(
    layers=(embedding.ConvSpec(8, 5, stride=2, use_bias=True),
            embedding.ConvSpec(4, 3, use_bias=True)),
    join="cf", cf_sigma=4.0, cf_margin=2)
CF_PARAMS = tracking.TrackParams(exemplar_size=63, instance_size=63,
                                 response_up=4, z_lr=0.1, raw_scores=True)


def _cf_run(params, num_frames=5):
  variables = model.init(TINY_CF, jax.random.key(0))
  frames = np.random.default_rng(0).integers(
      0, 255, (num_frames, 70, 90, 3), dtype=np.uint8)
  state = tracking.init_state_jit(variables, frames[0],
                                  jnp.array([30.0, 20.0, 16.0, 12.0]),
                                  TINY_CF, params)
  return variables, frames, state


def test_template_update_blends_the_template_at_the_new_position():
  variables, frames, state = _cf_run(CF_PARAMS)
  new, _, scores = tracking.track_step(variables, state, frames[1], TINY_CF,
                                       CF_PARAMS)
  # The new exemplar: cropped at the new centre, extent of before the
  # frame's scale update (`tracker.m`).
  z_new = tracking.exemplar_template(variables, frames[1], new.centre,
                                     state.x_side, state.fill, TINY_CF,
                                     CF_PARAMS)
  np.testing.assert_allclose(new.z_feat, 0.9 * state.z_feat + 0.1 * z_new,
                             rtol=1e-5, atol=1e-6)
  assert not np.allclose(new.z_feat, state.z_feat)
  # raw_scores: the maps are the correlation before the adjust layer.
  x_feat = model.embed(TINY_CF, variables,
                       tracking.search_crops(state, frames[1], CF_PARAMS))
  np.testing.assert_allclose(
      scores, model.score(TINY_CF, variables, state.z_feat, x_feat, raw=True),
      rtol=1e-5, atol=1e-6)


def test_zero_z_lr_keeps_the_first_template_and_the_plain_boxes():
  params = tracking.TrackParams(**{**CF_PARAMS.to_dict(), "z_lr": 0.0})
  variables, frames, state = _cf_run(params)
  first = np.asarray(state.z_feat)
  plain = state
  for frame in frames[1:]:
    state, box, _ = tracking.track_step(variables, state, frame, TINY_CF,
                                        params)
    # The no-update tracker: search + locate and nothing else.
    plain = tracking.locate(
        plain, tracking.search(variables, plain, frame, TINY_CF, params),
        TINY_CF.total_stride, params)
    np.testing.assert_array_equal(state.z_feat, first)
    np.testing.assert_array_equal(box, plain.box)


def test_step_with_template_updates_compiles_once_over_a_50_frame_run():
  variables, frames, state = _cf_run(CF_PARAMS, num_frames=50)
  # A fresh callable: jit's cache is shared by every jit of one function.
  step = jax.jit(functools.partial(tracking.track_step),
                 static_argnums=(3, 4), donate_argnums=1)
  for frame in frames[1:]:
    state, box, _ = step(variables, state, frame, TINY_CF, CF_PARAMS)
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert np.all(np.isfinite(box))


def test_cfnet_presets_are_the_original_evaluation_settings():
  conv2 = tracking.PRESETS["cfnet-conv2"]
  assert (conv2.scale_step, conv2.scale_penalty, conv2.scale_lr,
          conv2.window_influence, conv2.z_lr) == (1.0575, 0.978, 0.52,
                                                  0.2625, 0.005)
  for name in ("cfnet-conv1", "cfnet-conv2", "cfnet-conv3"):
    p = tracking.PRESETS[name]
    assert (p.response_up, p.exemplar_size, p.instance_size, p.num_scales,
            p.raw_scores) == (8, 255, 255, 3, True)
  # The crop extents the measurements chose (tracking.py).
  assert [tracking.PRESETS[f"cfnet-conv{i}"].context_input_size
          for i in (1, 2, 3)] == [255, 127, 127]


def test_override_changes_named_fields_and_refuses_unknown_ones():
  p = tracking.CFNET_CONV2.override("z_lr=0, context_input_size=255")
  assert (p.z_lr, p.context_input_size) == (0.0, 255)
  assert tracking.SIAMFC_3S.override("raw_scores=true").raw_scores
  with pytest.raises(ValueError, match="zlr"):
    tracking.SIAMFC_3S.override("zlr=0")
  with pytest.raises(ValueError, match="takes a int"):
    tracking.SIAMFC_3S.override("num_scales=three")
  with pytest.raises(ValueError, match="z_lr must be"):
    tracking.SIAMFC_3S.override("z_lr=2")


@pytest.mark.parametrize("context_input_size, want", [(0, 103), (127, 127)])
def test_context_spans_the_exemplar_unless_told_otherwise(context_input_size,
                                                          want):
  """By default s_z is the whole exemplar (SiamFC), whatever its size."""
  spec = embedding.alexnet_spec(width=0.125)
  params = tracking.TrackParams(exemplar_size=103, instance_size=167,
                                context_input_size=context_input_size)
  variables = model.init(spec, jax.random.key(0))
  frame = np.zeros((120, 160, 3), np.uint8)
  state = tracking.init_state_jit(variables, frame,
                                  jnp.array([60.0, 40.0, 20.0, 30.0]), spec,
                                  params)
  s_z = np.sqrt((20 + 25) * (30 + 25))
  np.testing.assert_allclose(state.x_side, s_z * 167 / want, rtol=1e-5)


def _avals(jaxpr):
  """Every intermediate's abstract value, sub-jaxprs included."""
  for eqn in jaxpr.eqns:
    yield from (v.aval for v in eqn.outvars)
    for sub in jax.core.jaxprs_in_params(eqn.params):
      yield from _avals(sub)


def test_k_target_step_never_copies_the_frame_per_target():
  # H = 77 is no other dimension of the step: any array with an axis of 77
  # larger than one frame would be a per-target copy of it.
  height, width, num = 77, 101, 4
  params = tracking.TrackParams(response_up=1, **GEOMETRY)
  frame = jnp.zeros((height, width, 3), jnp.uint8)
  box = jnp.array([[10.0, 10, 8, 8], [40, 30, 9, 7], [60, 50, 8, 8],
                   [80, 20, 6, 9]])
  state = tracking.init_targets_jit(GREY_VARIABLES, frame, box, GREY, params)
  jaxpr = jax.make_jaxpr(functools.partial(
      tracking.track_step_targets, spec=GREY, params=params))(
          GREY_VARIABLES, state, frame).jaxpr
  big = [a.shape for a in _avals(jaxpr) if height in a.shape
         and np.prod(a.shape) > height * width * 3]
  assert not big
  assert state.centre.shape == (num, 2) and state.fill.shape == (3,)


def test_k_target_step_compiles_once_over_a_run():
  params = tracking.TrackParams(**GEOMETRY)
  frames = np.random.default_rng(0).integers(0, 255, (6, 90, 120, 3),
                                             dtype=np.uint8)
  # A function of its own: a jit of `track_step_targets` itself would share
  # its cache with other tests' compilations.
  step = jax.jit(functools.partial(tracking.track_step_targets, spec=GREY,
                                   params=params), donate_argnums=1)
  state = tracking.init_targets_jit(
      GREY_VARIABLES, frames[0], jnp.array([[10.0, 10, 12, 14],
                                            [50, 40, 20, 10]]), GREY, params)
  for frame in frames[1:]:
    state, box, _ = step(GREY_VARIABLES, state, frame)
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert box.shape == (2, 4) and np.all(np.isfinite(box))
