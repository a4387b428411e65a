"""The online phase of SiamFC (Sec. 2.4, 4.1) as pure, jitted functions.

`init_state` embeds the exemplar once; `track_step` does all the work of a
frame on device in one jitted call: crop S scaled search windows, embed,
cross-correlate, upsample, penalise scale change, blend the cosine window,
take the arg-max, map it back to the frame and update position and size.
Frame shapes are static, so a sequence compiles once; the state is a pytree
of fixed shapes. `track_step_batch` steps N sequences (N frames);
`init_targets` / `track_step_targets` step K targets of one video in one
call (one frame, shared, not copied), bit for bit as K separate runs.

What the original (`tracker.m`, `tracker_eval.m`) does and where we differ,
on purpose, each for a reason written beside it:

- scores are upsampled with bicubic interpolation (Keys a = -0.5, half-pixel
  centres, weights renormalised at the borders: `jax.image.resize`'s, as two
  matrix products so that it exports exactly; MATLAB's `imresize` kernel,
  whose borders differ);
- the displacement is measured from the true centre of the upsampled map,
  (N - 1) / 2 (0-based): the original's `ceil(N / 2)` (1-based) pushes every
  estimate 0.25 instance px down-right; CFNet's `tracker_step.m` fixed it;
- the displacement is scaled by the chosen scale's crop side
  `s_x * scale[best] / 255` (its true pixel size), where the original uses
  `round(s_x) / 255` whatever the scale (up to 3.75 % off for SiamFC-3s);
- ties in the arg-max go to the first maximum in row-major order (MATLAB:
  column-major); with real-valued scores ties do not happen;
- `num_scales = 1` works (the original returns an all-zero map);
- a score map flat to rounding (a blank frame) leaves the position to the
  cosine window, so the target stays put; the original normalises it by 0
  (NaN) and jumps to the map's corner.

CFNet (`cfnet/src/tracking/tracker.m`, `tracker_step.m`) runs the same step
with its own presets: 255 exemplars whose template is a correlation filter,
33x33 maps upsampled x8, the scale choice made on the correlation before
the final affine layer (`raw_scores`), and the template blended every frame
with the one of a new exemplar cropped at the new position
(`z = (1 - z_lr) z + z_lr z_new`, inside the same jitted step).

Crop extent of the CF nets, decided by measurement: they were trained on
crops where the target with context spans 127 of the 255 input pixels
(`context_input_size` = 127), while the released tracker (after commit
fcb8e72, "removed hardcoded 127") crops half that extent (255). On the 14
shared sequences (mean AUC, training extent vs released): cfnet-conv2 0.534
vs 0.514, baseline+CF-conv3 0.536 vs 0.427, cfnet-conv1 0.441 vs 0.522. So
the conv2 and conv3 presets follow training and the conv1 preset (whose
one-layer, 11-pixel features gain from a twice larger target) the released
code; `context_input_size` switches either way.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import boxes
from siamfc_jax import crop
from siamfc_jax import embedding
from siamfc_jax import model


@dataclasses.dataclass(frozen=True)
class TrackParams:
  """Hyper-parameters of the tracker (defaults: SiamFC-3s, `tracker.m`).

  Attributes:
    num_scales: S, searched scales (`numScale`).
    scale_step: ratio between neighbouring scales (`scaleStep`).
    scale_penalty: factor on the peak of every non-centre scale.
    scale_lr: damping of the size update (`scaleLR`).
    response_up: upsampling factor of the score map (`responseUp`).
    window_influence: weight of the cosine window (`wInfluence`).
    context: context amount around the target (`contextAmount`).
    exemplar_size: exemplar crop side in pixels (`exemplarSize`).
    instance_size: search crop side in pixels (`instanceSize`).
    min_scale: lower limit of the search side, times its first value.
    max_scale: upper limit of the search side, times its first value.
    context_input_size: input pixels that the target with context (side
      s_z in the frame) spans in the crops, so an exemplar crop covers s_z *
      exemplar_size / context_input_size frame pixels and a search crop
      s_z * instance_size / context_input_size; 0 (default) means
      exemplar_size: s_z is the exemplar, as in SiamFC. The CF nets were
      trained with 127 in their 255 exemplars.
    z_lr: template learning rate (CFNet's `zLR`); 0 keeps the first
      frame's template (SiamFC).
    raw_scores: choose the scale on the raw correlation (CFNet's
      `join_out`) rather than on the adjusted score (SiamFC's `score`);
      the position does not depend on it (positive affine maps normalise
      away).
  """

  num_scales: int = 3
  scale_step: float = 1.0375
  scale_penalty: float = 0.9745
  scale_lr: float = 0.59
  response_up: int = 16
  window_influence: float = 0.176
  context: float = boxes.CONTEXT_ORIGINAL
  exemplar_size: int = 127
  instance_size: int = 255
  min_scale: float = 0.2
  max_scale: float = 5.0
  context_input_size: int = 0
  z_lr: float = 0.0
  raw_scores: bool = False

  def scales(self) -> np.ndarray:
    """[S] float32 scale factors step^(-(S // 2) .. S // 2), ascending."""
    exponents = np.arange(self.num_scales) - self.num_scales // 2
    return (self.scale_step ** exponents).astype(np.float32)

  def context_size(self) -> int:
    """`context_input_size`, with 0 resolved to `exemplar_size`."""
    return self.context_input_size or self.exemplar_size

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def override(self, text: str) -> TrackParams:
    """A copy with "name=value,name=value" changes (command-line flags).

    Raises:
      ValueError: an unknown name or a value of the wrong type.
    """
    fields = {f.name: f.type for f in dataclasses.fields(self)}
    changes = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
      name, _, value = item.partition("=")
      name = name.strip()
      if name not in fields or not value:
        raise ValueError(f"bad tracking override {item!r}: expected "
                         f"name=value with a name among {sorted(fields)}")
      kind = {"int": int, "float": float, "bool": bool}[fields[name]]
      try:
        if kind is bool:
          if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(value)
          changes[name] = value.lower() in ("true", "1")
        else:
          changes[name] = kind(value)
      except ValueError:
        raise ValueError(f"bad tracking override {item!r}: {name} takes a "
                         f"{kind.__name__}") from None
    new = dataclasses.replace(self, **changes)
    new.validate()
    return new

  def validate(self) -> None:
    """Raises ValueError naming the first impossible value."""
    if self.num_scales < 1 or self.num_scales % 2 == 0:
      raise ValueError(
          f"num_scales must be odd and >= 1, got {self.num_scales}")
    if self.scale_step <= 0 or self.response_up < 1:
      raise ValueError(f"scale_step must be > 0 and response_up >= 1: {self}")
    if not 0 <= self.window_influence <= 1 or not 0 <= self.scale_lr <= 1:
      raise ValueError(
          f"window_influence and scale_lr must be in [0, 1]: {self}")
    if self.instance_size < self.exemplar_size:
      raise ValueError(f"instance_size {self.instance_size} < exemplar_size "
                       f"{self.exemplar_size}")
    if not 0 <= self.z_lr <= 1 or self.context_input_size < 0:
      raise ValueError(f"z_lr must be in [0, 1] and context_input_size >= 0: "
                       f"{self}")
    if not 0 < self.min_scale <= 1 <= self.max_scale:
      raise ValueError(f"need 0 < min_scale <= 1 <= max_scale, got "
                       f"{self.min_scale} and {self.max_scale}")
    if self.context < 0 or not 0 < self.scale_penalty <= 1:
      raise ValueError(f"need context >= 0 and scale_penalty in (0, 1], got "
                       f"{self.context} and {self.scale_penalty}")


# A score map must be at least this wide to locate anything: a 1x1 map puts
# the peak at its centre whatever the scores, and the box drifts.
MIN_SCORE_SIZE = 2
# Score maps whose range is at most this fraction of their magnitude are
# flat (`locate`): differences that small are rounding, not evidence.
FLAT_SCORES = 1e-5


def check_geometry(spec: embedding.ModelSpec, params: TrackParams) -> int:
  """The side of the score map that `params`' crop sizes give with `spec`.

  Raises:
    ValueError: the map would be smaller than MIN_SCORE_SIZE (e.g. a CFNet
      preset, with 255 exemplars, on the SiamFC network).
  """
  params.validate()
  z = spec.template_size(params.exemplar_size)
  x = spec.output_size(params.instance_size)
  if z < 1 or x - z + 1 < MIN_SCORE_SIZE:
    raise ValueError(
        f"exemplar_size {params.exemplar_size} and instance_size "
        f"{params.instance_size} give a {z}x{z} template and {x}x{x} search "
        f"embeddings with this network (receptive field "
        f"{model.receptive_field(spec)} px): need a score map of at least "
        f"{MIN_SCORE_SIZE}x{MIN_SCORE_SIZE}. Is this the preset of another "
        "network?")
  return x - z + 1


# SiamFC-3s: defaults of `tracker.m`. SiamFC-5s: `params-5s.txt`.
SIAMFC_3S = TrackParams()
SIAMFC_5S = TrackParams(num_scales=5, scale_step=1.0255, scale_penalty=0.962,
                        scale_lr=0.34, window_influence=0.168)
# CFNet (`run_cfnet{1,2,3}_evaluation.m`, `run_baseline5_evaluation.m`:
# "hyper-parameters reported in Supp. material for CVPR'17"): 3 scales, 33x33
# maps upsampled x8, 255 exemplars for the CF nets, template updates.
_CFNET = dict(response_up=8, exemplar_size=255, raw_scores=True,
              context_input_size=127)
CFNET_CONV1 = TrackParams(scale_step=1.0355, scale_penalty=0.9825,
                          scale_lr=0.70, window_influence=0.2375, z_lr=0.0058,
                          **{**_CFNET, "context_input_size": 255})  # above
CFNET_CONV2 = TrackParams(scale_step=1.0575, scale_penalty=0.9780,
                          scale_lr=0.52, window_influence=0.2625, z_lr=0.005,
                          **_CFNET)
CFNET_CONV3 = TrackParams(scale_step=1.034, scale_penalty=0.9820,
                          scale_lr=0.66, window_influence=0.27, z_lr=0.008,
                          **_CFNET)
BASELINE_CONV5 = TrackParams(scale_step=1.0470, scale_penalty=0.9825,
                             scale_lr=0.68, window_influence=0.175,
                             z_lr=0.0102, response_up=8)
PRESETS = {"siamfc-3s": SIAMFC_3S, "siamfc-5s": SIAMFC_5S,
           "cfnet-conv1": CFNET_CONV1, "cfnet-conv2": CFNET_CONV2,
           "cfnet-conv3": CFNET_CONV3, "baseline-conv5": BASELINE_CONV5}


@flax.struct.dataclass
class TrackerState:
  """Everything the tracker carries from frame to frame (fixed shapes).

  Attributes:
    z_feat: [1, Ht, Wt, C] float32 template: the exemplar's embedding
      (SiamFC) or its correlation filter (CFNet); blended with each new
      frame's when `z_lr` > 0.
    centre: [2] float32 target centre (cx, cy), pixels (see `boxes.py`).
    size: [2] float32 target size (w, h), pixels.
    x_side: [] float32 side of the search region at scale 1, pixels.
    x_side_limits: [2] float32 (min, max) allowed `x_side`.
    fill: [3] float32 padding colour (mean colour of the first frame).
    frame_size: [2] int32 (w, h) of the frames; frames may be padded beyond
      it when sequences of several sizes are tracked together.
  """

  z_feat: jax.Array
  centre: jax.Array
  size: jax.Array
  x_side: jax.Array
  x_side_limits: jax.Array
  fill: jax.Array
  frame_size: jax.Array

  @property
  def box(self) -> jax.Array:
    """[4] float32 current box [x, y, w, h]."""
    return boxes.from_centre_size(self.centre, self.size)


def init_state(variables: model.Variables, frame: jax.Array, box: jax.Array,
               spec: embedding.ModelSpec,
               params: TrackParams = SIAMFC_3S, *,
               split_groups: bool = True) -> TrackerState:
  """Crops and embeds the exemplar of the first frame.

  Args:
    variables: network variables (see `model.py`).
    frame: [H, W, 3] first frame, uint8 or float32 in [0, 255].
    box: [4] float32 target box [x, y, w, h] (see `boxes.py`).
    spec: the network.
    params: tracking hyper-parameters.
    split_groups: how grouped layers run (`embedding.Conv`); same results.

  Returns:
    The initial `TrackerState`.
  """
  centre, size = boxes.to_centre_size(jnp.asarray(box, jnp.float32))
  fill = crop.mean_colour(frame)
  s_z = boxes.context_side(size, params.context)
  z_feat = exemplar_template(
      variables, frame, centre,
      s_z * (params.exemplar_size / params.context_size()), fill, spec,
      params, split_groups=split_groups)
  x_side = s_z * (params.instance_size / params.context_size())
  return TrackerState(
      z_feat=z_feat, centre=centre, size=size, x_side=x_side,
      x_side_limits=jnp.stack([params.min_scale * x_side,
                               params.max_scale * x_side]),
      fill=fill,
      frame_size=jnp.array([frame.shape[1], frame.shape[0]], jnp.int32))


def exemplar_template(variables: model.Variables, frame: jax.Array,
                      centre: jax.Array, z_side: jax.Array, fill: jax.Array,
                      spec: embedding.ModelSpec, params: TrackParams, *,
                      frame_size: jax.Array | None = None,
                      split_groups: bool = True) -> jax.Array:
  """Crops the exemplar (side `z_side` frame pixels, resized to
  `exemplar_size`) around `centre` and computes its template.

  Returns:
    [1, Ht, Wt, C] float32 template (`model.template`).
  """
  z_img = crop.crop_scales(frame, centre, z_side[None], params.exemplar_size,
                           fill, frame_size)
  return model.template(spec, variables, z_img, split_groups)


@functools.cache
def upsample_matrix(n: int, factor: int) -> np.ndarray:
  """[n * factor, n] float32 bicubic upsampling weights along one axis.

  Those of `jax.image.resize(..., method="cubic", antialias=False)`: Keys
  a = -0.5, half-pixel centres, taps outside the input dropped and the rest
  renormalised to sum to 1. `M @ x @ M.T` upsamples an [n, n] map.
  """
  a = -0.5
  out = (np.arange(n * factor) + 0.5) / factor - 0.5
  d = np.abs(out[:, None] - np.arange(n)[None, :])
  w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
               np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))
  return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def _cosine_window(n: int) -> np.ndarray:
  """[n, n] float32 Hann window (symmetric, zero ends) summing to 1."""
  w = np.outer(np.hanning(n), np.hanning(n))
  return (w / w.sum()).astype(np.float32)


def search(variables: model.Variables, state: TrackerState, frame: jax.Array,
           spec: embedding.ModelSpec,
           params: TrackParams = SIAMFC_3S, *,
           split_groups: bool = True) -> jax.Array:
  """Scores the S scaled search windows around the previous position.

  Args:
    variables: network variables.
    state: the state after the previous frame.
    frame: [H, W, 3] frame, uint8 or float32 in [0, 255].
    spec: the network.
    params: tracking hyper-parameters.
    split_groups: how grouped layers run (`embedding.Conv`); same results.

  Returns:
    [S, n, n] float32 score maps (n = 17 for SiamFC, 33 for CFNet), smallest
    scale first; raw correlations if `params.raw_scores`.
  """
  x_img = search_crops(state, frame, params)
  x_feat = model.embed(spec, variables, x_img, split_groups)
  return model.score(spec, variables, state.z_feat, x_feat,
                     raw=params.raw_scores, split_groups=split_groups)


def search_crops(state: TrackerState, frame: jax.Array,
                 params: TrackParams = SIAMFC_3S) -> jax.Array:
  """[S, instance_size, instance_size, 3] float32 search crops of `search`,
  smallest scale first, around the previous position."""
  sides = state.x_side * jnp.asarray(params.scales())
  return crop.crop_scales(frame, state.centre, sides, params.instance_size,
                          state.fill, state.frame_size)


def locate(state: TrackerState, scores: jax.Array, total_stride: int,
           params: TrackParams = SIAMFC_3S) -> TrackerState:
  """Moves and resizes the target from the score maps of the S scales.

  Args:
    state: the state after the previous frame.
    scores: [S, n, n] float32 score maps from `search`.
    total_stride: network stride k (8 for SiamFC).
    params: tracking hyper-parameters.

  Returns:
    The state for this frame.
  """
  scales = jnp.asarray(params.scales())
  n_up = scores.shape[-1] * params.response_up
  # = jax.image.resize(method="cubic", antialias=False), to ~1e-7: ONNX's
  # cubic Resize replicates border pixels instead of renormalising.
  m = upsample_matrix(scores.shape[-1], params.response_up)
  hi = jax.lax.Precision.HIGHEST  # as jax.image.resize: no TF32 / bf16
  up = jnp.matmul(jnp.matmul(m, scores, precision=hi), m.T,
                  precision=hi)  # [S, n_up, n_up]

  # Scale: penalise the peaks of the non-centre scales; lowest index wins a
  # tie, as the original's strict `>`.
  penalty = np.full(params.num_scales, params.scale_penalty, np.float32)
  penalty[params.num_scales // 2] = 1.0
  best = jnp.argmax(jnp.max(up, axis=(1, 2)) * penalty)

  # Position: normalise the unpenalised map of that scale, blend the window.
  # A map flat to rounding (a blank frame) is left to the window, so the
  # target stays put; the original divides 0 by 0 there and jumps.
  r = up[best]
  low, high = jnp.min(r), jnp.max(r)
  flat = high - low <= FLAT_SCORES * (jnp.abs(low) + jnp.abs(high))
  r = r - low
  r = r / jnp.maximum(jnp.sum(r), np.float32(1e-30))
  window = _cosine_window(n_up)
  r = jnp.where(flat, window, (1 - params.window_influence) * r
                + params.window_influence * window)
  row, col = jnp.unravel_index(jnp.argmax(r), r.shape)
  disp_up = jnp.stack([col, row]).astype(jnp.float32) - (n_up - 1) / 2
  disp_instance = disp_up * total_stride / params.response_up
  side = state.x_side * scales[best]
  centre = state.centre + disp_instance * side / params.instance_size

  # Size: damped move towards the chosen scale (scaleLR), search side clamped.
  factor = (1 - params.scale_lr) + params.scale_lr * scales[best]
  x_side = jnp.clip(state.x_side * factor, state.x_side_limits[0],
                    state.x_side_limits[1])
  return state.replace(centre=centre, size=state.size * factor, x_side=x_side)


def track_step(variables: model.Variables, state: TrackerState,
               frame: jax.Array, spec: embedding.ModelSpec,
               params: TrackParams = SIAMFC_3S, *, split_groups: bool = True
               ) -> tuple[TrackerState, jax.Array, jax.Array]:
  """Tracks the target into the next frame: `search`, then `locate`.

  Args:
    variables: network variables.
    state: the state after the previous frame.
    frame: [H, W, 3] frame, uint8 or float32 in [0, 255].
    spec: the network (static).
    params: tracking hyper-parameters (static).
    split_groups: how grouped layers run (`embedding.Conv`); same results.

  Returns:
    (new state, [4] float32 box [x, y, w, h], [S, n, n] float32 score
    maps of the S scales before upsampling, smallest scale first).
  """
  scores = search(variables, state, frame, spec, params,
                  split_groups=split_groups)
  new_state = locate(state, scores, spec.total_stride, params)
  new_state = update_template(variables, state, new_state, frame, spec,
                              params, split_groups=split_groups)
  return new_state, new_state.box, scores


def update_template(variables: model.Variables, old: TrackerState,
                    new: TrackerState, frame: jax.Array,
                    spec: embedding.ModelSpec, params: TrackParams, *,
                    split_groups: bool = True) -> TrackerState:
  """CFNet's online update: z = (1 - z_lr) z + z_lr z_new (`tracker.m`).

  z_new is the template of the exemplar cropped at the new position with
  the extent of before this frame's scale update, as the original. With
  `z_lr` = 0 nothing is computed and `new` is returned as it is.
  """
  if params.z_lr == 0:
    return new
  z_side = old.x_side * (params.exemplar_size / params.instance_size)
  z_new = exemplar_template(variables, frame, new.centre, z_side,
                            new.fill, spec, params,
                            frame_size=new.frame_size,
                            split_groups=split_groups)
  return new.replace(z_feat=blend_template(new.z_feat, z_new, params))


def blend_template(z_feat: jax.Array, z_new: jax.Array,
                   params: TrackParams) -> jax.Array:
  """CFNet's online template update `(1 - z_lr) z + z_lr z_new`, shapes
  alike (`tracker.m`)."""
  return (1 - params.z_lr) * z_feat + params.z_lr * z_new


@functools.partial(jax.jit, static_argnames=("spec", "params"))
def init_state_jit(variables, frame, box, spec, params=SIAMFC_3S):
  """`init_state`, jitted (compiles once per frame shape)."""
  return init_state(variables, frame, box, spec, params)


@functools.partial(jax.jit, static_argnames=("spec", "params"),
                   donate_argnames=("state",))
def track_step_jit(variables, state, frame, spec, params=SIAMFC_3S):
  """`track_step`, jitted; the old state's buffers are donated."""
  return track_step(variables, state, frame, spec, params)


@functools.partial(jax.jit, static_argnames=("spec", "params"),
                   donate_argnames=("state",))
def track_step_batch(variables, state: TrackerState, frames: jax.Array,
                     active: jax.Array, spec: embedding.ModelSpec,
                     params: TrackParams = SIAMFC_3S
                     ) -> tuple[TrackerState, jax.Array, jax.Array]:
  """N sequences in lock-step: `track_step` vmapped over a batched state.

  Args:
    variables: network variables (shared).
    state: `TrackerState` with a leading axis N on every field.
    frames: [N, H, W, 3] frames; sequence i's real frame is the top-left
      `state.frame_size[i]` of its slot, the rest is padding.
    active: [N] bool; sequences that have ended keep their state.
    spec: the network (static).
    params: tracking hyper-parameters (static).

  Returns:
    (new state, [N, 4] float32 boxes, [N, S, n, n] float32 score maps).
  """
  new, box, scores = jax.vmap(track_step, in_axes=(None, 0, 0, None, None))(
      variables, state, frames, spec, params)

  def keep(n, o):  # finished sequences keep their state
    return jnp.where(active.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)

  new = jax.tree.map(keep, new, state)
  return new, jnp.where(active[:, None], box, state.box), scores


# ----------------------------------------------------------------------------
# K targets in one video: one frame, K states, one call.

# A K-target state (`init_targets`) has a leading axis K on these fields;
# the padding colour and frame size belong to the video and are shared.
_PER_TARGET = ("z_feat", "centre", "size", "x_side", "x_side_limits")


def target(state: TrackerState, k: int) -> TrackerState:
  """Target k of a K-target state, as a one-target `TrackerState`."""
  return state.replace(**{f: getattr(state, f)[k] for f in _PER_TARGET})


def stack_targets(states: list[TrackerState]) -> TrackerState:
  """K one-target states of one video -> a K-target state (`_PER_TARGET`
  stacked; the shared fields are taken from the first)."""
  return states[0].replace(**{f: jnp.stack([getattr(s, f) for s in states])
                              for f in _PER_TARGET})


def init_targets(variables: model.Variables, frame: jax.Array,
                 box: jax.Array, spec: embedding.ModelSpec,
                 params: TrackParams = SIAMFC_3S, *,
                 split_groups: bool = True) -> TrackerState:
  """`init_state` of K targets in one frame, in one call.

  Args:
    variables: network variables.
    frame: [H, W, 3] first frame, uint8 or float32 in [0, 255].
    box: [K, 4] float32 target boxes [x, y, w, h] (see `boxes.py`).
    spec: the network.
    params: tracking hyper-parameters.
    split_groups: how grouped layers run (`embedding.Conv`); same results.

  Returns:
    A K-target `TrackerState`: z_feat [K, 1, Ht, Wt, C],
    centre and size [K, 2], x_side [K], x_side_limits [K, 2]; fill [3] and
    frame_size [2] shared. Target k's fields equal `init_state` of box k.
  """
  centre, size = boxes.to_centre_size(jnp.asarray(box, jnp.float32))
  fill = crop.mean_colour(frame)
  s_z = boxes.context_side(size, params.context)
  z_feat = _templates(variables, frame, centre,
                      s_z * (params.exemplar_size / params.context_size()),
                      fill, None, spec, params, split_groups)
  x_side = s_z * (params.instance_size / params.context_size())
  return TrackerState(
      z_feat=z_feat, centre=centre, size=size, x_side=x_side,
      x_side_limits=jnp.stack([params.min_scale * x_side,
                               params.max_scale * x_side], axis=-1),
      fill=fill,
      frame_size=jnp.array([frame.shape[1], frame.shape[0]], jnp.int32))


def _templates(variables, frame, centre, z_side, fill, frame_size, spec,
               params, split_groups) -> jax.Array:
  """[K, 1, Ht, Wt, C] templates of K exemplars around `centre` [K, 2]
  (sides `z_side` [K]): K crops of the shared frame, one network call."""
  crops = jnp.stack([
      crop.crop_scales(frame, centre[k], z_side[k][None],
                       params.exemplar_size, fill, frame_size)[0]
      for k in range(centre.shape[0])])
  return model.template(spec, variables, crops, split_groups)[:, None]


def track_step_targets(variables: model.Variables, state: TrackerState,
                       frame: jax.Array, spec: embedding.ModelSpec,
                       params: TrackParams = SIAMFC_3S, *,
                       split_groups: bool = True
                       ) -> tuple[TrackerState, jax.Array, jax.Array]:
  """`track_step` of K targets in one frame, in one call.

  The crops and `locate` run target by target (a Python loop: K copies of
  the one-target ops at the one-target shapes, each reading the one shared
  frame), the network once on all K * S search crops (and on the K new
  exemplars of CFNet's template update). Each target's boxes are then those
  of a separate run, bit for bit on both backends (their convolutions give
  an image the same result whatever the batch). Two forms that are not:
  `jax.vmap` over the targets batches `locate`'s reductions, which XLA
  then sums in another order (on the demo clip with 16 targets, a peak
  flipped at frame 10: 0.9 px off the separate run, 3.7 px by frame 20),
  and `lax.map` of `track_step` lets XLA compile the loop body otherwise
  (a tiny CFNet drifted 0.07 px in 4 frames); jax2onnx exports neither
  well.

  Args:
    variables: network variables.
    state: K targets (`init_targets`).
    frame: [H, W, 3] frame, uint8 or float32 in [0, 255].
    spec: the network (static).
    params: tracking hyper-parameters (static).
    split_groups: how grouped layers run (`embedding.Conv`); same results.

  Returns:
    (new state, [K, 4] float32 boxes, [K, S, n, n] float32 score maps);
    target k's equal `track_step` of target k alone.
  """
  num = state.centre.shape[0]
  crops = jnp.stack([search_crops(target(state, k), frame, params)
                     for k in range(num)])  # [K, S, n, n, 3]
  s = crops.shape[1]
  x_feat = model.embed(spec, variables,
                       crops.reshape((num * s,) + crops.shape[2:]),
                       split_groups)
  scores = model.score(spec, variables, state.z_feat[:, 0], x_feat,
                       raw=params.raw_scores, split_groups=split_groups)
  scores = scores.reshape((num, s) + scores.shape[1:])
  new = stack_targets([locate(target(state, k), scores[k],
                              spec.total_stride, params)
                       for k in range(num)])
  if params.z_lr:  # CFNet's template update (`update_template`), batched
    z_side = state.x_side * (params.exemplar_size / params.instance_size)
    z_new = _templates(variables, frame, new.centre, z_side, new.fill,
                       new.frame_size, spec, params, split_groups)
    new = new.replace(z_feat=blend_template(new.z_feat, z_new, params))
  return new, boxes.from_centre_size(new.centre, new.size), scores


@functools.partial(jax.jit, static_argnames=("spec", "params"))
def init_targets_jit(variables, frame, box, spec, params=SIAMFC_3S):
  """`init_targets`, jitted (compiles once per frame shape and K)."""
  return init_targets(variables, frame, box, spec, params)


@functools.partial(jax.jit, static_argnames=("spec", "params"),
                   donate_argnames=("state",))
def track_step_targets_jit(variables, state, frame, spec, params=SIAMFC_3S):
  """`track_step_targets`, jitted; the old state's buffers are donated."""
  return track_step_targets(variables, state, frame, spec, params)
