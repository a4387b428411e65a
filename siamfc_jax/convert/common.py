"""What every importer shares: the variables tree and its name-by-name checks.

An importer turns a foreign file into per-layer NumPy arrays, then calls
`build_variables`, which places them in the tree of `model.SiamFC` and checks
the result against the tree that `model.init` would create for the same
`ModelSpec`: every name present, nothing extra, every shape equal, every value
finite. Any failure is a `ValueError` that names the file and the parameter.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import embedding as embedding_lib
from siamfc_jax import model as model_lib

PathLike = str | os.PathLike


@dataclasses.dataclass
class LayerArrays:
  """One conv layer's arrays in our layout (all float32 NumPy).

  Attributes:
    kernel: [k, k, C_in / groups, C_out] HWIO kernel.
    bias: [C_out] conv bias, or None.
    bn_scale: [C_out] BN gain, or None for a layer without BN.
    bn_bias: [C_out] BN offset.
    bn_mean: [C_out] BN running mean.
    bn_var: [C_out] BN running variance.
  """

  kernel: np.ndarray
  bias: np.ndarray | None = None
  bn_scale: np.ndarray | None = None
  bn_bias: np.ndarray | None = None
  bn_mean: np.ndarray | None = None
  bn_var: np.ndarray | None = None


def file_error(path: PathLike, message: str) -> ValueError:
  """A `ValueError` whose message starts with the offending file."""
  return ValueError(f"{os.fspath(path)}: {message}")


def require_file(path: PathLike) -> None:
  """Raises FileNotFoundError (naming `path`) unless it is a readable file."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{os.fspath(path)}: no such weights file")


def check_names(path: PathLike, found, expected, optional=()) -> None:
  """Checks a file's parameter names against the expected ones.

  Args:
    path: the file, for the message.
    found: names present in the file.
    expected: names that must be present.
    optional: names that may be present.

  Raises:
    ValueError: listing every missing and every unexpected name.
  """
  found, expected = set(found), set(expected)
  missing = sorted(expected - found)
  unexpected = sorted(found - expected - set(optional))
  if missing or unexpected:
    parts = []
    if missing:
      parts.append(f"missing parameters {missing}")
    if unexpected:
      parts.append(f"unexpected parameters {unexpected}")
    raise file_error(path, "; ".join(parts))


def as_float32(path: PathLike, name: str, value: Any) -> np.ndarray:
  """A finite float32 copy of `value`; ValueError naming `name` otherwise."""
  try:
    array = np.asarray(value)
  except Exception as e:  # pylint: disable=broad-except
    raise file_error(path, f"parameter {name!r} is not an array ({e})") from e
  if array.dtype.kind not in "biuf":
    raise file_error(path, f"parameter {name!r} has non-numeric dtype "
                     f"{array.dtype}")
  array = array.astype(np.float32)
  if not np.all(np.isfinite(array)):
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    raise file_error(path, f"parameter {name!r} has {bad} NaN/inf values")
  return array


def check_shape(path: PathLike, name: str, array: np.ndarray,
                shape: tuple[int, ...]) -> None:
  """Raises a ValueError naming `name` unless `array.shape == shape`."""
  if tuple(array.shape) != tuple(shape):
    raise file_error(path, f"parameter {name!r} has shape "
                     f"{tuple(array.shape)}, expected {tuple(shape)}")


def groups_of(path: PathLike, name: str, c_in: int, kernel_in: int,
              c_out: int) -> int:
  """Feature groups of a conv: actual input channels / kernel in-depth.

  Args:
    path: the file, for the message.
    name: the conv's name, for the message.
    c_in: channels of the layer's input.
    kernel_in: the kernel's input depth (C_in / groups).
    c_out: output channels (must also split evenly).

  Returns:
    The group count.
  """
  if kernel_in <= 0 or c_in % kernel_in or c_out % (c_in // kernel_in):
    raise file_error(path, f"parameter {name!r}: kernel input depth "
                     f"{kernel_in} does not divide the {c_in} input channels "
                     f"(or the {c_out} outputs) into equal groups")
  return c_in // kernel_in


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  """{'a': {'b': x}} -> {'a/b': x}."""
  flat = {}
  for key, value in tree.items():
    name = f"{prefix}{key}"
    if isinstance(value, Mapping):
      flat.update(flatten(value, name + "/"))
    else:
      flat[name] = value
  return flat


@functools.lru_cache(maxsize=32)
def _expected_shapes(spec: embedding_lib.ModelSpec):
  abstract = jax.eval_shape(lambda: model_lib.init(spec, jax.random.key(0)))
  return {k: (tuple(v.shape), v.dtype) for k, v in flatten(abstract).items()}


def expected_shapes(spec: embedding_lib.ModelSpec
                    ) -> dict[str, tuple[tuple[int, ...], Any]]:
  """'params/embedding/conv1/kernel' -> (shape, dtype) of `model.init(spec)`."""
  return dict(_expected_shapes(spec))


def check_variables(path: PathLike, spec: embedding_lib.ModelSpec,
                    variables: Mapping[str, Any]) -> None:
  """Checks a variables tree against the one `model.init(spec)` builds.

  Args:
    path: the file (or checkpoint) the variables came from, for messages.
    spec: the network.
    variables: `{'params': ..., 'batch_stats': ...}`.

  Raises:
    ValueError: names missing or unexpected, a shape or dtype that differs,
      or a NaN/inf value; the message names the parameter.
  """
  expected = expected_shapes(spec)
  flat = flatten(variables)
  check_names(path, flat, expected)
  for name, (shape, dtype) in expected.items():
    value = flat[name]
    check_shape(path, name, value, shape)
    if np.dtype(value.dtype) != np.dtype(dtype):
      raise file_error(path, f"parameter {name!r} has dtype {value.dtype}, "
                       f"expected {np.dtype(dtype)}")
    if not np.all(np.isfinite(np.asarray(value))):
      raise file_error(path, f"parameter {name!r} has NaN/inf values")


def build_variables(path: PathLike, spec: embedding_lib.ModelSpec,
                    layers: list[LayerArrays], adjust_scale: float,
                    adjust_bias: float) -> dict[str, Any]:
  """Places per-layer arrays in the tree of `model.SiamFC`, then checks it.

  Args:
    path: the source file, for messages.
    spec: the network the arrays belong to (one `LayerArrays` per layer).
    layers: the arrays, in our layout.
    adjust_scale: gain of the score (1e-3 in the original).
    adjust_bias: bias of the score.

  Returns:
    `{'params': {'embedding': ..., 'adjust_scale': () float32,
    'adjust_bias': () float32}, 'batch_stats': {'embedding': ...}}` of jax
    float32 arrays; no 'batch_stats' when no layer has BN.
  """
  if len(layers) != len(spec.layers):
    raise file_error(path, f"{len(layers)} layers of weights for a spec of "
                     f"{len(spec.layers)}")
  params, stats = {}, {}
  for i, (arrays, layer) in enumerate(zip(layers, spec.layers), start=1):
    conv = {"kernel": arrays.kernel}
    if layer.use_bias:
      conv["bias"] = arrays.bias
    params[f"conv{i}"] = conv
    if layer.batch_norm:
      params[f"bn{i}"] = {"scale": arrays.bn_scale, "bias": arrays.bn_bias}
      stats[f"bn{i}"] = {"mean": arrays.bn_mean, "var": arrays.bn_var}
  variables = {"params": {
      "embedding": params,
      "adjust_scale": np.float32(adjust_scale),
      "adjust_bias": np.float32(adjust_bias),
  }}
  if stats:
    variables["batch_stats"] = {"embedding": stats}
  for name, value in flatten(variables).items():
    if value is None:
      raise file_error(path, f"parameter {name!r} is missing")
  check_variables(path, spec, variables)
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), variables)
