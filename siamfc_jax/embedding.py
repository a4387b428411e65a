"""The embedding function phi of SiamFC (paper Table 1) as a Flax module.

The network is described by a `ModelSpec` (a frozen dataclass of `ConvSpec`
layers), so the same module holds the paper's AlexNet, a tiny test network,
the channel-compressed siamfc-pytorch variants and the imported original
network (whose batch normalisation is folded into conv biases).

Parameter tree (what importers and checkpoints read and write):

  params:
    conv{i}: {kernel: [k, k, C_in / groups, C_out], bias: [C_out] (optional)}
    bn{i}:   {scale: [C_out], bias: [C_out]}          (layers with BN only)
  batch_stats:
    bn{i}:   {mean: [C_out], var: [C_out]}

Kernels use the HWIO layout of both Flax and MatConvNet. Inputs are NHWC RGB
in [0, 255] with no mean subtraction (the original's `subMean = false`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

from siamfc_jax import correlation_filter

# MatConvNet beta20 (the version the original code names) normalises with
# sigma = sqrt(var + 1e-4); later versions use 1e-5.
BN_EPSILON_ORIGINAL = 1e-4
JOINS = ("xcorr", "cf")
# MatConvNet averages BN moments at rate 0.05: new = 0.95 * old + 0.05 * batch.
BN_MOMENTUM_ORIGINAL = 0.95


@dataclasses.dataclass(frozen=True)
class ConvSpec:
  """One convolutional layer of the embedding (no padding, ever: Sec. 2.4).

  Attributes:
    features: output channels.
    kernel: square kernel support in pixels.
    stride: convolution stride.
    groups: feature groups (2 for conv2, conv4, conv5 of the original).
    batch_norm: batch normalisation after the convolution.
    use_bias: conv bias (redundant, and absent in the original, before BN).
    relu: ReLU after the (normalised) convolution.
    pool_stride: max-pool 3x3 with this stride after the ReLU; 0 for none.
  """

  features: int
  kernel: int
  stride: int = 1
  groups: int = 1
  batch_norm: bool = True
  use_bias: bool = False
  relu: bool = True
  pool_stride: int = 0


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """The whole network: embedding layers plus the fixed input geometry.

  Attributes:
    layers: the convolutional layers, in order.
    bn_epsilon: added to the variance before normalising.
    bn_momentum: Flax momentum of the running statistics.
    join: how exemplar and search meet: "xcorr" (SiamFC: the exemplar's
      embedding is the template) or "cf" (CFNet: a correlation filter
      solved from the exemplar's embedding is; `correlation_filter.py`).
    cf_lambda: ridge regularisation of the CF ("cf" only).
    cf_sigma: std of the CF's Gaussian target, in input pixels ("cf" only;
      divided by `total_stride` on the feature grid).
    cf_margin: feature cells cropped from each side of the CF ("cf" only).
  """

  layers: tuple[ConvSpec, ...]
  bn_epsilon: float = BN_EPSILON_ORIGINAL
  bn_momentum: float = BN_MOMENTUM_ORIGINAL
  join: str = "xcorr"
  cf_lambda: float = correlation_filter.LAMBDA_ORIGINAL
  cf_sigma: float = correlation_filter.SIGMA_ORIGINAL
  cf_margin: int = correlation_filter.MARGIN_ORIGINAL

  def __post_init__(self):
    if self.join not in JOINS:
      raise ValueError(f"join must be one of {JOINS}, got {self.join!r}")
    if self.join == "cf" and (self.cf_lambda <= 0 or self.cf_sigma <= 0
                              or self.cf_margin < 0):
      raise ValueError(f"CF settings must be lambda > 0, sigma > 0, margin "
                       f">= 0: got {self.cf_lambda}, {self.cf_sigma}, "
                       f"{self.cf_margin}")

  @property
  def total_stride(self) -> int:
    """Product of every conv and pool stride (8 for the paper's network)."""
    stride = 1
    for layer in self.layers:
      stride *= layer.stride * max(layer.pool_stride, 1)
    return stride

  @property
  def out_features(self) -> int:
    return self.layers[-1].features

  def output_size(self, input_size: int) -> int:
    """Spatial side of the embedding of an `input_size` square image."""
    return layer_sizes(self, input_size)[-1][1]

  def template_size(self, exemplar_size: int) -> int:
    """Side of the template an `exemplar_size` exemplar gives: its
    embedding, less the CF's margins for "cf"."""
    size = self.output_size(exemplar_size)
    return size - 2 * self.cf_margin if self.join == "cf" else size

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: dict) -> ModelSpec:
    layers = tuple(ConvSpec(**layer) for layer in d["layers"])
    return cls(**{**d, "layers": layers})


def alexnet_spec(width: float = 1.0,
                 batch_norm: bool = True,
                 out_features: int | None = None) -> ModelSpec:
  """The paper's network (Table 1), optionally narrower for tests.

  Args:
    width: channel multiplier; 1.0 gives 96-256-384-384-256.
    batch_norm: BN after conv1-4 (conv5 never has BN, as in the original).
    out_features: channels of conv5; defaults to 256 * width.

  Returns:
    The `ModelSpec`. Channel counts are rounded to even numbers so the
    2-group layers split evenly.
  """

  def ch(n):
    return max(2, 2 * round(n * width / 2))

  c5 = out_features or ch(256)
  return ModelSpec(layers=(
      ConvSpec(ch(96), 11, stride=2, batch_norm=batch_norm,
               use_bias=not batch_norm, pool_stride=2),
      ConvSpec(ch(256), 5, groups=2, batch_norm=batch_norm,
               use_bias=not batch_norm, pool_stride=2),
      ConvSpec(ch(384), 3, batch_norm=batch_norm, use_bias=not batch_norm),
      ConvSpec(ch(384), 3, groups=2, batch_norm=batch_norm,
               use_bias=not batch_norm),
      # conv5: a plain linear layer, no BN and no ReLU (`add_block_conv_only`).
      ConvSpec(c5, 3, groups=2, batch_norm=False, use_bias=True, relu=False),
  ))


CFNET_VARIANTS = ("cfnet-conv1", "cfnet-conv2", "cfnet-conv3", "cfnet-conv5",
                  "baseline-conv5")


def cfnet_spec(variant: str, width: float = 1.0) -> ModelSpec:
  """The CFNet paper's networks (`run_experiment_*.m`, `make_net.m`).

  All have total stride 4, 32 output channels, conv biases and BN after
  every layer but conv5 (as the released `.mat` files). With 255 exemplars
  and searches (33x33 maps):

    cfnet-conv1: conv1 only (11x11, stride 4); 62x62 CF, 30x30 template.
    cfnet-conv2: conv1 96 /2, pool /2, conv2 32 (2 groups); 57 -> 25.
    cfnet-conv3: "baseline+CF-conv3": conv2 256 with a stride-1 pool, then
      conv3 32; 53 -> 21.
    cfnet-conv5: AlexNet 96-256-384-384-32 with pools /2 and /1; 49 -> 17.
    baseline-conv5: the same branch with xcorr and 127 exemplars (17x17
      template): the "improved SiamFC" of the CFNet paper.

  `width` multiplies every channel count (tests use narrow nets).
  """
  if variant not in CFNET_VARIANTS:
    raise ValueError(f"unknown CFNet variant {variant!r}; choose one of "
                     f"{CFNET_VARIANTS}")

  def conv(features, *args, **kwargs):
    return ConvSpec(max(2, 2 * round(features * width / 2)), *args,
                    use_bias=True, **kwargs)

  if variant == "cfnet-conv1":
    layers = (conv(32, 11, stride=4),)
  elif variant == "cfnet-conv2":
    layers = (conv(96, 11, stride=2, pool_stride=2),
              conv(32, 5, groups=2))
  elif variant == "cfnet-conv3":
    layers = (conv(96, 11, stride=2, pool_stride=2),
              conv(256, 5, groups=2, pool_stride=1),
              conv(32, 3))
  else:
    layers = (conv(96, 11, stride=2, pool_stride=2),
              conv(256, 5, groups=2, pool_stride=1),
              conv(384, 3),
              conv(384, 3, groups=2),
              conv(32, 3, groups=2, batch_norm=False, relu=False))
  # BN epsilon 1e-5: that of the released CFNet files (MatConvNet beta21+).
  return ModelSpec(layers=layers, bn_epsilon=1e-5,
                   join="xcorr" if variant == "baseline-conv5" else "cf")


def he_fan_out(key, shape, dtype=jnp.float32):
  """`xavierimproved` of MatConvNet: N(0, 2 / (k * k * C_out)) (Sec. 4.1)."""
  kh, kw, _, c_out = shape
  std = jnp.sqrt(2.0 / (kh * kw * c_out))
  return jax.random.normal(key, shape, dtype) * std


class Conv(nn.Module):
  """A VALID convolution whose groups run as separate convolutions.

  Same parameters as `nn.Conv` (`kernel` [k, k, C_in / groups, C_out] HWIO,
  optional `bias`) and the same result as `feature_group_count`, but
  XLA:CPU runs a grouped convolution about 2x slower than the groups one by
  one (measured on conv2 of SiamFC), so by default the groups are split
  here. ONNX Runtime is the other way round (the whole network 1.2x faster
  with one grouped convolution per layer), so exports set `split_groups`
  False; the results are equal.

  Attributes:
    layer: the layer.
    split_groups: one convolution per group (True) or one grouped one.
    dtype: compute dtype of the convolution (mixed precision): inputs and
      kernel are cast to it, products accumulate and come out in float32;
      the kernel stays a float32 parameter.
  """

  layer: ConvSpec
  split_groups: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] float32 -> [B, H', W', C_out] float32."""
    layer, g = self.layer, self.layer.groups
    c_in = x.shape[-1]
    if c_in % g or layer.features % g:
      raise ValueError(f"{self.name}: {c_in} inputs and {layer.features} "
                       f"outputs do not split into {g} groups")
    kernel = self.param("kernel", he_fan_out,
                        (layer.kernel, layer.kernel, c_in // g, layer.features))

    low = jnp.dtype(self.dtype) != jnp.float32

    def conv(x, k, groups):
      if low:  # bfloat16 products, float32 sums and result
        x, k = x.astype(self.dtype), k.astype(self.dtype)
      return lax.conv_general_dilated(
          x, k, window_strides=(layer.stride, layer.stride), padding="VALID",
          dimension_numbers=("NHWC", "HWIO", "NHWC"),
          feature_group_count=groups,
          preferred_element_type=jnp.float32 if low else None)

    if g == 1 or not self.split_groups:
      y = conv(x, kernel, g)
    else:
      y = jnp.concatenate([
          conv(x_part, k_part, 1)
          for x_part, k_part in zip(jnp.split(x, g, axis=-1),
                                    jnp.split(kernel, g, axis=-1))], axis=-1)
    if layer.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (layer.features,))
    return y


class Embedding(nn.Module):
  """phi: [B, H, W, 3] float32 images in [0, 255] -> [B, H', W', C] features.

  For the paper's network a 127x127 exemplar gives 6x6x256 and a 255x255
  search image 22x22x256 (total stride 8, no padding).
  """

  spec: ModelSpec
  split_groups: bool = True  # see `Conv`
  dtype: Any = jnp.float32  # compute dtype of the convolutions (`Conv`)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """Args: x: [B, H, W, 3] float32; train: BN uses batch statistics.

    BN, ReLU and pooling run in float32 whatever `dtype` is.
    """
    for i, layer in enumerate(self.spec.layers, start=1):
      x = Conv(layer, self.split_groups, self.dtype, name=f"conv{i}")(x)
      if layer.batch_norm:
        x = nn.BatchNorm(use_running_average=not train,
                         momentum=self.spec.bn_momentum,
                         epsilon=self.spec.bn_epsilon, name=f"bn{i}")(x)
      if layer.relu:
        x = nn.relu(x)
      if layer.pool_stride:
        # flax's max_pool with keyword arguments exports to a working ONNX
        # MaxPool (a raw lax.reduce_window does not).
        x = nn.max_pool(x, window_shape=(3, 3),
                        strides=(layer.pool_stride, layer.pool_stride),
                        padding="VALID")
    return x


def layer_sizes(spec: ModelSpec, input_size: int) -> Sequence[tuple[str, int]]:
  """(name, spatial side) after every conv and pool, for Table 1 checks."""
  sizes, size = [], input_size
  for i, layer in enumerate(spec.layers, start=1):
    size = (size - layer.kernel) // layer.stride + 1
    sizes.append((f"conv{i}", size))
    if layer.pool_stride:
      size = (size - 3) // layer.pool_stride + 1
      sizes.append((f"pool{i}", size))
  return sizes
