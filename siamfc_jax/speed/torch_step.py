"""SiamFC's per-frame tracking step in PyTorch, for speed comparisons only.

The same step as `siamfc_jax.tracking.track_step`, written the way a PyTorch
user would write it: S bilinear crops with one `F.grid_sample`, the same
network with the same weights (grouped `F.conv2d`), cross-correlation as a
convolution with the exemplar as filter, bicubic upsampling x16, scale
penalty, min/sum normalisation, cosine window, arg-max and the damped size
update. No `.item()` inside the step, so it would queue on a GPU too.

    step = TorchStep(spec, variables, params, channels_last=True)
    state = step.init(frame0, box0)
    state, box = step.track(state, step.frame(frame1))

torch is not a dependency of siamfc_jax; `siamfc_jax/cli/benchmark.py
--torch` imports this module only when torch is installed (`pip install
torch==2.13.0`).

Upsampling: `F.interpolate(mode="bicubic", align_corners=False)` uses Keys
a = -0.75 and replicates edge pixels, whereas `jax.image.resize` (and MATLAB
`imresize`, the original's) uses a = -0.5 and renormalises at the edges. On
the demo clip that moves the peak by up to 2/16 px of the score map, ~1.7 px
in the frame, so by default (`upsample="keys"`) the upsampling is done as
JAX does it, two products with a fixed [16 n, n] Keys a = -0.5 matrix (equal
to `jax.image.resize` to 1e-6); `upsample="interpolate"` gives the
`F.interpolate` variant. Both cost well under a millisecond.

Other differences from the JAX step, none of which moves a box by more than
a small fraction of a pixel (`siamfc_jax/cli/benchmark.py` checks it on
real frames): batch normalisation, where a network has it, is folded into the
conv weights; the order of floating-point operations differs.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterator

import numpy as np
import torch
from torch.nn import functional as F

from siamfc_jax import embedding
from siamfc_jax import tracking


@dataclasses.dataclass(frozen=True)
class _Layer:
  weight: torch.Tensor  # [C_out, C_in / groups, k, k] float32 (OIHW)
  bias: torch.Tensor  # [C_out] float32
  stride: int
  groups: int
  relu: bool
  pool_stride: int


@dataclasses.dataclass(frozen=True)
class TorchState:
  """What the torch tracker carries between frames (as `TrackerState`).

  Attributes:
    z_feat: [1, C, Hz, Wz] float32 exemplar embedding.
    centre: [2] float32 (cx, cy), pixels (`siamfc_jax/boxes.py`).
    size: [2] float32 (w, h), pixels.
    x_side: [] float32 search side at scale 1, pixels.
    x_side_limits: [2] float32 (min, max) of `x_side`.
    fill: [3] float32 padding colour.
  """

  z_feat: torch.Tensor
  centre: torch.Tensor
  size: torch.Tensor
  x_side: torch.Tensor
  x_side_limits: torch.Tensor
  fill: torch.Tensor

  @property
  def box(self) -> torch.Tensor:
    """[4] float32 box [x, y, w, h]."""
    return torch.cat([self.centre - self.size / 2, self.size])


def _torch_layers(spec: embedding.ModelSpec, variables: dict,
                  device: torch.device) -> list[_Layer]:
  """Converts Flax HWIO kernels (+ BN, folded) to torch OIHW tensors."""
  params = variables["params"]["embedding"]
  stats = variables.get("batch_stats", {}).get("embedding", {})
  layers = []
  for i, layer in enumerate(spec.layers, start=1):
    conv = params[f"conv{i}"]
    # HWIO [k, k, C_in / g, C_out] -> OIHW. Our groups split the output axis
    # in order, as torch's `groups` does, so no reordering is needed.
    weight = np.transpose(np.asarray(conv["kernel"], np.float64), (3, 2, 0, 1))
    bias = np.asarray(conv.get("bias", np.zeros(layer.features)), np.float64)
    if layer.batch_norm:
      bn, moments = params[f"bn{i}"], stats[f"bn{i}"]
      gain = np.asarray(bn["scale"], np.float64) / np.sqrt(
          np.asarray(moments["var"], np.float64) + spec.bn_epsilon)
      weight = weight * gain[:, None, None, None]
      bias = (bias - np.asarray(moments["mean"], np.float64)) * gain + (
          np.asarray(bn["bias"], np.float64))
    layers.append(_Layer(
        weight=torch.tensor(weight, dtype=torch.float32, device=device),
        bias=torch.tensor(bias, dtype=torch.float32, device=device),
        stride=layer.stride, groups=layer.groups, relu=layer.relu,
        pool_stride=layer.pool_stride))
  return layers


def keys_upsampling_matrix(n: int, factor: int) -> np.ndarray:
  """[n * factor, n] float32 bicubic (Keys a = -0.5) upsampling matrix.

  Row i samples position (i + 0.5) / factor - 0.5 (half-pixel centres); taps
  beyond the edges are dropped and the rest renormalised, as
  `jax.image.resize(method="cubic", antialias=False)` does.
  """
  pos = (np.arange(n * factor) + 0.5) / factor - 0.5
  x = np.abs(pos[:, None] - np.arange(n)[None, :])
  w = np.where(x < 1, (1.5 * x - 2.5) * x * x + 1,
               np.where(x < 2, ((-0.5 * x + 2.5) * x - 4) * x + 2, 0.0))
  return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


class TorchStep:
  """The tracking step of `siamfc_jax.tracking`, in eager PyTorch.

  Attributes:
    params: tracking hyper-parameters (`tracking.TrackParams`).
    device: where the tensors live.
    channels_last: run the network in NHWC memory layout (oneDNN's fast
      path on CPU); the default is PyTorch's NCHW.
    upsample: "keys" (as JAX) or "interpolate" (`F.interpolate`).
  """

  def __init__(self, spec: embedding.ModelSpec, variables: dict,
               params: tracking.TrackParams = tracking.SIAMFC_3S,
               channels_last: bool = False,
               device: str | torch.device = "cpu",
               upsample: str = "keys"):
    """Copies the network's weights into torch tensors.

    Args:
      spec: the network.
      variables: its Flax variables (NumPy or JAX arrays), e.g. from
        `siamfc_jax.pretrained.network()`.
      params: tracking hyper-parameters.
      channels_last: NHWC memory layout for the convolutions.
      device: torch device of weights, frames and state.
      upsample: "keys" or "interpolate" (see the module docstring).

    Raises:
      ValueError: an unknown `upsample`.
    """
    if upsample not in ("keys", "interpolate"):
      raise ValueError(f"upsample must be 'keys' or 'interpolate', got "
                       f"{upsample!r}")
    params.validate()
    self.upsample = upsample
    self.params, self.channels_last = params, channels_last
    self.device = torch.device(device)
    self.total_stride = spec.total_stride
    self._format = (torch.channels_last if channels_last
                    else torch.contiguous_format)
    self._layers = [
        dataclasses.replace(
            layer, weight=layer.weight.contiguous(memory_format=self._format))
        for layer in _torch_layers(spec, variables, self.device)]
    p = variables["params"]
    self._adjust_scale = float(np.asarray(p["adjust_scale"]))
    self._adjust_bias = float(np.asarray(p["adjust_bias"]))
    self._scales = torch.tensor(params.scales(), device=self.device)
    penalty = np.full(params.num_scales, params.scale_penalty, np.float32)
    penalty[params.num_scales // 2] = 1.0
    self._penalty = torch.tensor(penalty, device=self.device)
    n = (spec.output_size(params.instance_size)
         - spec.output_size(params.exemplar_size) + 1)
    n_up = n * params.response_up
    self._up_matrix = torch.tensor(
        keys_upsampling_matrix(n, params.response_up), device=self.device)
    hann = np.hanning(n_up)
    window = np.outer(hann, hann)
    self._window = torch.tensor(window / window.sum(), dtype=torch.float32,
                                device=self.device)

  def frame(self, frame: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 NumPy frame -> the same as a torch tensor on device."""
    # A copy: decoded frames may be read-only, which torch warns about.
    return torch.from_numpy(np.array(frame, np.uint8)).to(self.device)

  def crop(self, frame: torch.Tensor, centre: torch.Tensor,
           sides: torch.Tensor, out_size: int,
           fill: torch.Tensor) -> torch.Tensor:
    """S square crops around one centre, bilinear, outside = `fill`.

    Output pixel j samples continuous coordinate `c - side / 2 + (j + 0.5) *
    side / out_size`, as `siamfc_jax.crop`; `grid_sample` with
    `align_corners=False` maps normalised g to 0-based continuous u = (g + 1)
    * W / 2, and its zero padding gives out-of-frame taps weight 0, so
    sampling `frame - fill` and adding `fill` back pads with `fill`.

    Args:
      frame: [H, W, 3] uint8 frame.
      centre: [2] float32 (cx, cy).
      sides: [S] float32 window sides in pixels.
      out_size: output side in pixels.
      fill: [3] float32 padding colour.

    Returns:
      [S, 3, out_size, out_size] float32 crops (NCHW, or channels_last).
    """
    height, width = frame.shape[0], frame.shape[1]
    s = sides.shape[0]
    img = (frame.permute(2, 0, 1).float() - fill[:, None, None])[None]
    t = (torch.arange(out_size, device=self.device, dtype=torch.float32)
         + 0.5) / out_size - 0.5
    u = centre[0] + t[None] * sides[:, None]  # [S, out] columns
    v = centre[1] + t[None] * sides[:, None]  # [S, out] rows
    gx = (2 * u / width - 1)[:, None, :].expand(s, out_size, out_size)
    gy = (2 * v / height - 1)[:, :, None].expand(s, out_size, out_size)
    # The S grids stacked vertically: one grid_sample call for all scales.
    grid = torch.stack([gx, gy], dim=-1).reshape(1, s * out_size, out_size, 2)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)  # [1, 3, S * out, out]
    out = out.reshape(3, s, out_size, out_size).transpose(0, 1)
    out = out + fill[None, :, None, None]
    return out.contiguous(memory_format=self._format)

  def embed(self, x: torch.Tensor) -> torch.Tensor:
    """phi: [B, 3, H, W] float32 in [0, 255] -> [B, C, H', W'] float32."""
    for layer in self._layers:
      x = F.conv2d(x, layer.weight, layer.bias, stride=layer.stride,
                   groups=layer.groups)
      if layer.relu:
        x = F.relu(x, inplace=True)
      if layer.pool_stride:
        x = F.max_pool2d(x, 3, layer.pool_stride)
    return x

  @torch.inference_mode()
  def init(self, frame: np.ndarray | torch.Tensor, box) -> TorchState:
    """As `tracking.init_state`: crops and embeds the exemplar.

    Args:
      frame: [H, W, 3] uint8 first frame.
      box: [4] target box [x, y, w, h] (`siamfc_jax/boxes.py`).
    """
    if isinstance(frame, np.ndarray):
      frame = self.frame(frame)
    box = torch.as_tensor(np.asarray(box, np.float32), device=self.device)
    p = self.params
    centre, size = box[:2] + box[2:] / 2, box[2:]
    fill = frame.float().mean(dim=(0, 1))
    pad = p.context * (size[0] + size[1])
    z_side = torch.sqrt((size[0] + pad) * (size[1] + pad))
    z_img = self.crop(frame, centre, z_side[None], p.exemplar_size, fill)
    x_side = z_side * p.instance_size / p.exemplar_size
    return TorchState(
        z_feat=self.embed(z_img), centre=centre, size=size, x_side=x_side,
        x_side_limits=torch.stack([p.min_scale * x_side,
                                   p.max_scale * x_side]),
        fill=fill)

  @torch.inference_mode()
  def track(self, state: TorchState, frame: torch.Tensor
            ) -> tuple[TorchState, torch.Tensor]:
    """As `tracking.track_step`: one frame, no host synchronisation.

    Args:
      state: the state after the previous frame.
      frame: [H, W, 3] uint8 tensor on `device` (see `frame()`).

    Returns:
      (new state, [4] float32 box [x, y, w, h]).
    """
    p = self.params
    sides = state.x_side * self._scales
    x_img = self.crop(frame, state.centre, sides, p.instance_size, state.fill)
    x_feat = self.embed(x_img)
    # Cross-correlation: the exemplar embedding is the filter (no flip).
    scores = F.conv2d(x_feat, state.z_feat.contiguous(
        memory_format=self._format))  # [S, 1, n, n]
    scores = self._adjust_scale * scores + self._adjust_bias
    if self.upsample == "keys":
      up = self._up_matrix @ scores[:, 0] @ self._up_matrix.T
    else:
      up = F.interpolate(scores, scale_factor=p.response_up, mode="bicubic",
                         align_corners=False)[:, 0]  # [S, n_up, n_up]
    n_up = up.shape[-1]
    best = torch.argmax(up.amax(dim=(1, 2)) * self._penalty)
    r = up[best]
    r = r - r.min()
    r = r / r.sum()
    r = (1 - p.window_influence) * r + p.window_influence * self._window
    index = torch.argmax(r)
    disp_up = torch.stack([index % n_up, index // n_up]).float() - (
        n_up - 1) / 2
    disp_instance = disp_up * self.total_stride / p.response_up
    side = state.x_side * self._scales[best]
    centre = state.centre + disp_instance * side / p.instance_size
    factor = (1 - p.scale_lr) + p.scale_lr * self._scales[best]
    x_side = torch.clamp(state.x_side * factor, state.x_side_limits[0],
                         state.x_side_limits[1])
    new = dataclasses.replace(state, centre=centre, size=state.size * factor,
                              x_side=x_side)
    return new, new.box

  def synchronize(self) -> None:
    """Waits for queued work (GPU); a no-op on CPU."""
    if self.device.type == "cuda":
      torch.cuda.synchronize(self.device)


def track_boxes(step: TorchStep, frames: list[np.ndarray],
                box) -> np.ndarray:
  """Tracks `frames` from `box` in frames[0]: [len(frames), 4] float64."""
  state = step.init(frames[0], box)
  out = [np.asarray(box, np.float64).reshape(4)]
  for frame in frames[1:]:
    state, b = step.track(state, step.frame(frame))
    out.append(b.cpu().numpy().astype(np.float64))
  return np.stack(out)


def step_timer(step: TorchStep, frames: list[np.ndarray], box
               ) -> Iterator[float]:
  """Seconds of each `track` call, frames already tensors on the device.

  A generator, so that other steps can be timed in turn with it; set-up
  (frames to tensors, `init`) runs at the first `next`.

  Args:
    step: the torch tracker.
    frames: frames[0] holds `box`; the others are tracked in order.
    box: [4] first box [x, y, w, h].

  Yields:
    seconds of the step on frames[1:], in order.
  """
  on_device = [step.frame(f) for f in frames]
  state = step.init(on_device[0], box)
  step.synchronize()
  for frame in on_device[1:]:
    start = time.perf_counter()
    state, _ = step.track(state, frame)
    step.synchronize()
    yield time.perf_counter() - start
