"""Importer of the original SiamFC network from its int8 TFLite dump (.npz).

The 2016-08-17 colour network of the paper survives as an int8 TFLite export
with batch normalisation folded into the conv biases (see
`shared/data/README.md`). `siamfc_int8_exact.npz` stores, for each layer
`L` in conv1, conv2_b1, conv2_b2, conv3, conv4_b1, conv4_b2, conv5_b1,
conv5_b2 (`_b1`/`_b2` are the two feature groups):

  L_w_q      int8    [out, kh, kw, in]   quantised kernel (TFLite OHWI)
  L_w_scale  float32 [out]               per-output-channel scale
  L_b_q      int32   [out]               quantised bias
  L_b_scale  float32 [out]               per-output-channel scale

plus scalars `adjust_weight` (0.001) and `adjust_bias` (-2.148). The file
holds no strides or pooling: those are the paper's (Table 1).
"""

from __future__ import annotations

import zipfile

import numpy as np

from siamfc_jax import embedding as embedding_lib
from siamfc_jax import model as model_lib
from siamfc_jax.convert import common

# Table 1 of the paper: (stride, relu, pool stride) of conv1..conv5 and the
# file's name for each feature group. The export folds BN, so every layer
# is conv + bias.
_LAYERS = (
    (2, True, 2, ("conv1",)),
    (1, True, 2, ("conv2_b1", "conv2_b2")),
    (1, True, 0, ("conv3",)),
    (1, True, 0, ("conv4_b1", "conv4_b2")),
    (1, False, 0, ("conv5_b1", "conv5_b2")),
)
_PARTS = ("w_q", "w_scale", "b_q", "b_scale")
_ADJUST = ("adjust_weight", "adjust_bias")


def _read(path) -> dict[str, np.ndarray]:
  common.require_file(path)
  try:
    with np.load(path, allow_pickle=False) as npz:
      return {key: npz[key] for key in npz.files}
  except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError,
          zipfile.BadZipFile, zipfile.LargeZipFile) as e:
    # TypeError / AttributeError: a plain .npy, not an archive.
    raise common.file_error(path, f"not a readable .npz archive ({e})") from e


def _dequantise(path, arrays, prefix: str) -> tuple[np.ndarray, np.ndarray]:
  """[out, kh, kw, in] kernel and [out] bias of one group, float32."""
  w_q, w_scale = arrays[f"{prefix}_w_q"], arrays[f"{prefix}_w_scale"]
  b_q, b_scale = arrays[f"{prefix}_b_q"], arrays[f"{prefix}_b_scale"]
  if w_q.ndim != 4 or w_q.shape[1] != w_q.shape[2]:
    raise common.file_error(path, f"parameter '{prefix}_w_q' has shape "
                            f"{w_q.shape}, expected [out, k, k, in]")
  if w_q.dtype.kind not in "iu" or b_q.dtype.kind not in "iu":
    raise common.file_error(path, f"parameters '{prefix}_w_q'/'{prefix}_b_q' "
                            f"must be integers, got {w_q.dtype}/{b_q.dtype}")
  out = w_q.shape[0]
  for part, value in (("w_scale", w_scale), ("b_q", b_q),
                      ("b_scale", b_scale)):
    common.check_shape(path, f"{prefix}_{part}", value, (out,))
  w_scale = common.as_float32(path, f"{prefix}_w_scale", w_scale)
  b_scale = common.as_float32(path, f"{prefix}_b_scale", b_scale)
  # w = q * scale[out]. The product is formed in float64 and rounded once:
  # for int8 q this equals the float32 product bit for bit, and for int32
  # biases beyond 2^24 it avoids rounding q before the multiplication.
  kernel = (w_q.astype(np.float64) * w_scale[:, None, None, None]
            ).astype(np.float32)
  bias = (b_q.astype(np.float64) * b_scale).astype(np.float32)
  return kernel, bias


def load_int8_npz(path) -> tuple[embedding_lib.ModelSpec, dict]:
  """Reads the int8 dump of the original network as float32 variables.

  Args:
    path: the `.npz` file (e.g. `siamfc_int8_exact.npz`).

  Returns:
    (spec, variables): five conv layers with bias and without BN (it is
    folded), ReLU after conv1-4, max-pool 3/2 after conv1 and conv2, 2
    groups where the file has `_b1`/`_b2`; kernels [k, k, C_in / groups,
    C_out] float32, the groups concatenated along C_out; `adjust_scale`
    from `adjust_weight` (0.001 if absent) and `adjust_bias` (0 if absent).

  Raises:
    FileNotFoundError: no such file.
    ValueError: an unreadable archive, missing or unexpected arrays, wrong
      shapes or dtypes, NaN/inf; the message names the file and parameter.
  """
  arrays = _read(path)
  common.check_names(path, arrays, [
      f"{name}_{part}" for *_, names in _LAYERS for name in names
      for part in _PARTS], optional=_ADJUST)

  conv_specs, layers, c_in = [], [], 3
  for stride, relu, pool, names in _LAYERS:
    parts = [_dequantise(path, arrays, name) for name in names]
    for name, (kernel, _) in zip(names, parts):
      if kernel.shape != parts[0][0].shape:
        raise common.file_error(path, f"parameter '{name}_w_q' has shape "
                                f"{kernel.shape}, unlike its other group "
                                f"{parts[0][0].shape}")
    kernel = np.concatenate([k for k, _ in parts])  # [out, kh, kw, in]
    bias = np.concatenate([b for _, b in parts])
    c_out, k, _, k_in = kernel.shape
    groups = common.groups_of(path, f"{names[0]}_w_q", c_in, k_in, c_out)
    if groups != len(names):
      raise common.file_error(path, f"parameter '{names[0]}_w_q' has input "
                              f"depth {k_in} for {c_in} channels: "
                              f"{groups} groups, not {len(names)}")
    conv_specs.append(embedding_lib.ConvSpec(
        c_out, k, stride=stride, groups=groups, batch_norm=False,
        use_bias=True, relu=relu, pool_stride=pool))
    layers.append(common.LayerArrays(kernel.transpose(1, 2, 3, 0), bias))
    c_in = c_out

  adjust = {}
  for name, default in zip(_ADJUST, (model_lib.ADJUST_SCALE_ORIGINAL, 0.0)):
    value = arrays.get(name, np.float32(default))
    value = common.as_float32(path, name, value)
    common.check_shape(path, name, value.reshape(-1), (1,))
    adjust[name] = float(value.reshape(()))
  spec = embedding_lib.ModelSpec(layers=tuple(conv_specs))
  variables = common.build_variables(path, spec, layers,
                                     adjust["adjust_weight"],
                                     adjust["adjust_bias"])
  return spec, variables
