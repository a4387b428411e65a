"""Importer and writer of MatConvNet DagNN networks (SiamFC, CFNet `.mat`).

A DagNN `.mat` holds a struct `net` with `params` (name, value, learningRate,
weightDecay) and `layers` (name, type, inputs, outputs, params, block). The
official SiamFC names are `conv{i}f` [k, k, C_in / groups, C_out] and
`conv{i}b` [C_out, 1], `bn{i}m` (gain), `bn{i}b` (offset), `bn{i}x`
[C, 2] = [mu, sigma] with sigma = sqrt(var + eps), and `adjust_f`,
`adjust_b`; CFNet prefixes the shared branch parameters with `br_` and names
the final layer `fin_adjust{f,b}` (`fin_adjust_bn{m,b,x}` for the
BN-adjusted baseline). `a_`/`b_` prefixes are accepted too.

Strides, pooling, ReLU and BN placement come from the layer list, by walking
the exemplar branch from the layer that uses `conv1f`. Groups are the input
channels over the kernel's input depth, as MatConvNet infers them.

BN moments (reference doc sections 1.2, 7, 8): MatConvNet's test mode divides
by the stored sigma, so we store var = sigma^2 - eps with eps the spec's own
`bn_epsilon` (by default the file's BN `epsilon`), which makes
sqrt(var + eps) == sigma up to float32 rounding whatever eps is chosen.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import scipy.io

from siamfc_jax import correlation_filter
from siamfc_jax import embedding as embedding_lib
from siamfc_jax import model as model_lib
from siamfc_jax.convert import common

_BRANCH_NAME = re.compile(r"^(?:br_|a_|b_)?(conv\d+[fb]|bn\d+[mbx])$")
_ADJUST_NAME = re.compile(r"^(?:br_|fin_)?adjust(?:_?([fb])|_bn([mbx]))$")
_BRANCH_TYPES = ("dagnn.BatchNorm", "dagnn.ReLU", "dagnn.Pooling")

# (learning rate, weight decay) multipliers that `save_mat` writes, those of
# the original (`vid_create_net.m`, `add_adjust_layer`). The BN moments'
# "learning rate" is their averaging rate, 1 - the Flax momentum.
_LR_FILTER, _LR_BIAS, _LR_BN_GAIN, _LR_BN_BIAS = (1, 1), (2, 0), (2, 0), (1, 0)
_LR_ADJUST_F, _LR_ADJUST_B = (0, 1), (1, 1)  # `addParam`'s default decay


# ---------------------------------------------------------------- reading --


def _text(value) -> str:
  """A MATLAB char array (as scipy loads it) -> str."""
  array = np.asarray(value)
  if array.dtype.kind == "U":
    return "".join(array.ravel().tolist())
  if array.dtype == object and array.size == 1:
    return _text(array.ravel()[0])
  if array.size == 0:
    return ""
  raise ValueError(f"expected text, got {array.dtype} {array.shape}")


def _texts(cell) -> list[str]:
  """A MATLAB cell of strings (or one string) -> list of str."""
  array = np.asarray(cell)
  if array.dtype.kind == "U":
    return [_text(array)]
  return [_text(item) for item in array.ravel()]


def _python(value) -> Any:
  """A loaded MATLAB value -> plain Python (structs -> dicts)."""
  if value is None:
    return None
  array = np.asarray(value)
  if array.dtype.names:
    if array.size != 1:
      return [_python(item) for item in array.ravel()]
    record = array.ravel()[0]
    return {name: _python(record[name]) for name in array.dtype.names}
  if array.dtype.kind == "U":
    return _text(array)
  if array.dtype == object:
    return [_python(item) for item in array.ravel()]
  if array.size == 1:
    return array.ravel()[0].item()
  return array.tolist()


def _find_net(mat: dict) -> np.ndarray:
  """The top-level struct with `params` and `layers` fields."""
  for key, value in mat.items():
    if key.startswith("__") or not isinstance(value, np.ndarray):
      continue
    if value.dtype.names and {"params", "layers"} <= set(value.dtype.names):
      return value.ravel()[0]
  raise ValueError("no MatConvNet DagNN struct (a variable with fields "
                   "'params' and 'layers')")


def _read(path) -> tuple[dict[str, tuple[np.ndarray, dict]], list[dict]]:
  """(params: name -> (value, {learningRate, weightDecay}), layers)."""
  common.require_file(path)
  try:
    mat = scipy.io.loadmat(path)
  except Exception as e:  # pylint: disable=broad-except
    # scipy raises a zoo of types on a truncated or foreign file
    # (MatReadError, ValueError, OSError, zlib.error, NotImplementedError
    # for v7.3/HDF5): all are "not a readable .mat" to the caller.
    raise common.file_error(path, f"not a readable MATLAB v5 .mat file "
                            f"({type(e).__name__}: {e})") from e
  try:
    net = _find_net(mat)
    params = {}
    for entry in np.asarray(net["params"]).ravel():
      name = _text(entry["name"])
      if name in params:
        raise ValueError(f"parameter {name!r} appears twice")
      meta = {}
      for field in ("learningRate", "weightDecay"):
        if field in entry.dtype.names and np.size(entry[field]) == 1:
          meta[field] = float(np.asarray(entry[field]).ravel()[0])
      params[name] = (np.asarray(entry["value"]), meta)
    layers = []
    for entry in np.asarray(net["layers"]).ravel():
      block = entry["block"] if "block" in entry.dtype.names else None
      block = _python(block)
      layers.append({
          "name": _text(entry["name"]),
          "type": _text(entry["type"]),
          "inputs": _texts(entry["inputs"]),
          "outputs": _texts(entry["outputs"]),
          "params": _texts(entry["params"]),
          "block": block if isinstance(block, dict) else {},
      })
  except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
    raise common.file_error(path, f"malformed DagNN struct ({e})") from e
  return params, layers


def _ints(path, layer: dict, field: str, default, count: int) -> list[int]:
  """A numeric block field as `count` ints (MATLAB scalars broadcast)."""
  value = layer["block"].get(field, default)
  values = np.ravel(np.asarray(value if value != [] else default))
  if values.size == 1:
    values = np.repeat(values, count)
  if values.size != count or not np.all(values == np.round(values)):
    raise common.file_error(path, f"layer {layer['name']!r}: {field} "
                            f"{value!r} is not {count} integers")
  return [int(v) for v in values]


def _check_layer(path, layer: dict) -> None:
  """Rejects conv/pool/ReLU options that `Embedding` cannot express."""
  name, kind = layer["name"], layer["type"]
  if kind in ("dagnn.Conv", "dagnn.Pooling"):
    if any(_ints(path, layer, "pad", [0], 4)):
      raise common.file_error(path, f"layer {name!r}: padding is not "
                              "supported (SiamFC never pads)")
    if any(d != 1 for d in _ints(path, layer, "dilate", [1], 2)):
      raise common.file_error(path, f"layer {name!r}: dilation unsupported")
    stride = _ints(path, layer, "stride", [1], 2)
    if stride[0] != stride[1]:
      raise common.file_error(path, f"layer {name!r}: unequal strides "
                              f"{stride}")
  if kind == "dagnn.Pooling":
    method = layer["block"].get("method", "max")
    size = _ints(path, layer, "poolSize", [3], 2)
    if method != "max" or size != [3, 3]:
      raise common.file_error(path, f"layer {name!r}: {method} pooling "
                              f"{size}; only 3x3 max pooling is supported")
  if kind == "dagnn.ReLU" and layer["block"].get("leak", 0) not in (0, None):
    raise common.file_error(path, f"layer {name!r}: leaky ReLU unsupported")


def _walk_branch(path, layers: list[dict], conv_names: list[str]
                 ) -> list[dict[str, Any]] | None:
  """Per conv: stride, BN layer, ReLU, pool stride, from the layer graph.

  Args:
    path: the file, for messages.
    layers: the layer table.
    conv_names: file names of conv1f, conv2f, ... in order.

  Returns:
    One dict per conv {'stride', 'bn' (layer or None), 'relu', 'pool',
    'conv' (layer)}, or None when the file has no layer that uses conv1f
    (a params-only file: the caller falls back to the paper's topology).
  """
  users = {}
  for layer in layers:
    for param in layer["params"]:
      users.setdefault(param, layer)  # The first user: the exemplar branch.
  if conv_names[0] not in users:
    return None
  found, conv = [], users[conv_names[0]]
  for i, conv_name in enumerate(conv_names, start=1):
    if conv["type"] != "dagnn.Conv" or conv_name not in conv["params"]:
      raise common.file_error(path, f"layer {conv['name']!r} follows conv"
                              f"{i - 1} but is not the conv using "
                              f"{conv_name!r}")
    _check_layer(path, conv)
    info = {"conv": conv, "stride": _ints(path, conv, "stride", [1], 2)[0],
            "bn": None, "relu": False, "pool": 0}
    seen, var, conv = [], conv["outputs"][0], None
    while True:
      consumers = [layer for layer in layers if var in layer["inputs"]]
      if len(consumers) != 1:
        break  # The branch ends (no consumer) or fans out (a join).
      layer = consumers[0]
      if layer["type"] == "dagnn.Conv" and i < len(conv_names):
        conv = layer
        break
      if layer["type"] not in _BRANCH_TYPES:
        break
      _check_layer(path, layer)
      kind = layer["type"].split(".")[1]
      # Embedding applies conv -> BN -> ReLU -> pool; ReLU and max-pool
      # commute, so either order of those two is the same function.
      if kind in seen or (kind == "BatchNorm" and seen):
        raise common.file_error(path, f"layer {layer['name']!r}: "
                                f"{kind} after {seen} cannot be expressed")
      seen.append(kind)
      if kind == "BatchNorm":
        info["bn"] = layer
      elif kind == "ReLU":
        info["relu"] = True
      else:
        info["pool"] = _ints(path, layer, "stride", [1], 2)[0]
      var = layer["outputs"][0]
    found.append(info)
    if i < len(conv_names) and conv is None:
      raise common.file_error(path, f"the branch ends at {var!r}: no conv "
                              f"using {conv_names[i]!r} follows conv{i}")
  return found


# --------------------------------------------------------------- importing --


def _canonical_names(path, params) -> tuple[dict, dict]:
  """Maps canonical branch/adjust names to the file's names."""
  branch, adjust = {}, {}
  for name in params:
    match = _BRANCH_NAME.match(name)
    target, key = (branch, match.group(1)) if match else (None, None)
    if not match:
      match = _ADJUST_NAME.match(name)
      if match:
        target, key = adjust, match.group(1) or "bn" + match.group(2)
    if target is None:
      continue
    if key in target:
      raise common.file_error(path, f"parameters {target[key]!r} and "
                              f"{name!r} both map to {key!r} (unshared "
                              "branches are not supported)")
    target[key] = name
  return branch, adjust


def _value(path, params, name: str) -> np.ndarray:
  return common.as_float32(path, name, params[name][0])


def _vector(path, params, name: str, size: int) -> np.ndarray:
  value = _value(path, params, name)
  if value.size != size or value.squeeze().ndim > 1:
    raise common.file_error(path, f"parameter {name!r} has shape "
                            f"{value.shape}, expected ({size}, 1)")
  return value.reshape(size)


def _bn_arrays(path, params, names: dict, i: int, c_out: int,
               eps: float, clamped: dict) -> dict[str, np.ndarray]:
  """Gain, offset, mean, var of bn{i} (var = sigma^2 - eps, clamped at 0)."""
  gain = _vector(path, params, names[f"bn{i}m"], c_out)
  offset = _vector(path, params, names[f"bn{i}b"], c_out)
  x_name = names[f"bn{i}x"]
  moments = _value(path, params, x_name)
  if moments.shape != (c_out, 2) and not (c_out == 1 and moments.size == 2):
    raise common.file_error(path, f"parameter {x_name!r} has shape "
                            f"{moments.shape}, expected ({c_out}, 2) "
                            "[mean, sigma]")
  moments = moments.reshape(c_out, 2).astype(np.float64)
  sigma = moments[:, 1]
  if np.any(sigma < 0):
    raise common.file_error(path, f"parameter {x_name!r} has negative "
                            "sigma (column 2 must be sqrt(var + eps))")
  var = sigma**2 - eps
  # sigma < sqrt(eps) has no variance under our eps: clamping at 0 makes
  # those channels divide by sqrt(eps) > sigma, i.e. shrinks them. It only
  # happens when the file was trained with a smaller eps than ours.
  if np.any(var < 0):
    clamped[f"bn{i}"] = int(np.sum(var < 0))
    var = np.maximum(var, 0.0)
  return {"bn_scale": gain, "bn_bias": offset,
          "bn_mean": moments[:, 0].astype(np.float32),
          "bn_var": var.astype(np.float32)}


def _adjust(path, params, names: dict) -> tuple[float, float, str]:
  """(scale, bias, kind) of the final affine layer on the score."""
  if not names:
    return model_lib.ADJUST_SCALE_ORIGINAL, 0.0, "absent"
  if set(names) == {"f", "b"}:
    scale = _value(path, params, names["f"])
    bias = _value(path, params, names["b"])
    for key, value in (("f", scale), ("b", bias)):
      if value.size != 1:
        raise common.file_error(path, f"parameter {names[key]!r} has shape "
                                f"{value.shape}, expected (1, 1)")
    return float(scale.ravel()[0]), float(bias.ravel()[0]), "conv"
  if set(names) == {"bnm", "bnb", "bnx"}:
    # A 1-channel BN in test mode, g (s - mu) / sigma + b, is the affine
    # map (g / sigma) s + (b - g mu / sigma): folded exactly in float64.
    g = float(_vector(path, params, names["bnm"], 1)[0])
    b = float(_vector(path, params, names["bnb"], 1)[0])
    moments = _value(path, params, names["bnx"]).astype(np.float64).ravel()
    if moments.size != 2 or moments[1] <= 0:
      raise common.file_error(path, f"parameter {names['bnx']!r} must be "
                              "[mean, sigma] with sigma > 0")
    mu, sigma = moments
    return g / sigma, b - g * mu / sigma, "bn"
  raise common.file_error(path, f"incomplete adjust layer: found "
                          f"{sorted(names.values())}")


def _join(path, params, layer_table: list[dict],
          conv_specs: list[embedding_lib.ConvSpec]) -> tuple[dict, set[str]]:
  """The `ModelSpec` join fields: CFNet's CF settings, or plain xcorr.

  A CFNet file has a `CorrFilter` layer (lambda, bias), a `MulConst` window
  before it, a `CropMargin` (margin) after it, and stores the window and
  the Gaussian target as parameters. We rebuild both from the spec
  (`correlation_filter.hann_window`, `gaussian_target`), so the stored
  arrays must be exactly those: checked here, sigma read off the target.

  Returns:
    (ModelSpec keyword arguments, names of the parameters consumed).
  """
  kinds = {row["type"]: row for row in layer_table}
  cf = kinds.get("CorrFilter")
  if cf is None:
    return {}, set()
  window_layer, crop = kinds.get("MulConst"), kinds.get("CropMargin")
  if window_layer is None or crop is None or len(cf["params"]) != 1 or len(
      window_layer["params"]) != 1:
    raise common.file_error(path, "a CorrFilter layer needs a MulConst window "
                            "with one parameter before it, its target as its "
                            "one parameter and a CropMargin after it")
  block = cf["block"]
  if block.get("bias"):
    raise common.file_error(path, f"layer {cf['name']!r} has bias = "
                            f"{block['bias']}; only the bias-free CF exists")
  lam, margin = float(block.get("lambda", 0)), int(
      crop["block"].get("margin", 0))
  if not lam > 0 or margin < 0:
    raise common.file_error(path, f"layer {cf['name']!r} needs lambda > 0 "
                            f"and a margin >= 0, got {lam} and {margin}")
  window_name, target_name = window_layer["params"][0], cf["params"][0]
  window = common.as_float32(path, window_name,
                             _value(path, params, window_name))
  target = common.as_float32(path, target_name,
                             _value(path, params, target_name))
  n = window.shape[0]
  if window.shape != (n, n) or target.shape != (n, n) or n < 3:
    raise common.file_error(path, f"{window_name!r} {window.shape} and "
                            f"{target_name!r} {target.shape} must be equal "
                            "squares")
  if not 0 < target[0, 1] < 1:
    raise common.file_error(path, f"{target_name!r} is not a Gaussian that "
                            "peaks at [0, 0]")
  sigma_cells = float(np.sqrt(-0.5 / np.log(target[0, 1])))
  stride = 1
  for layer in conv_specs:
    stride *= layer.stride * max(layer.pool_stride, 1)
  for name, got, want in (
      (window_name, window, correlation_filter.hann_window(n)),
      (target_name, target,
       correlation_filter.gaussian_target(n, sigma_cells))):
    if not np.allclose(got, want, atol=1e-5):
      raise common.file_error(path, f"{name!r} differs from the one CFNet "
                              "builds (max difference "
                              f"{np.abs(got - want).max():.3g})")
  # sigma is stored in input pixels: 2 cells at stride 4 -> 8 px.
  return ({"join": "cf", "cf_lambda": lam, "cf_margin": margin,
           "cf_sigma": round(sigma_cells * stride, 4)},
          {window_name, target_name})


def load_mat(path, bn_epsilon: float | None = None
             ) -> tuple[embedding_lib.ModelSpec, dict, dict]:
  """Reads a MatConvNet DagNN SiamFC/CFNet network.

  Args:
    path: the `.mat` file (MATLAB v5, as MatConvNet saves).
    bn_epsilon: the spec's BN epsilon; by default the `epsilon` of the
      file's BN layers (MatConvNet beta20's 1e-4 when they do not say).

  Returns:
    (spec, variables, extras). The spec has the file's conv layers
    conv1..convN with the BN/ReLU/pool that follow each in the exemplar
    branch. `extras` holds what the embedding does not use::

      'params': {file name: float32 array} of the other parameters
        (e.g. CFNet's 'join_window', 'join_cf_target');
      'layers': {layer name: {'type', 'inputs', 'outputs', 'params', ...
        block fields}} for every layer (e.g. 'join_cf' lambda, 'join_crop_z'
        margin);
      'adjust': 'conv', 'bn' (folded into scale and bias) or 'absent';
      'bn_clamped': {'bn{i}': channels whose sigma^2 - eps < 0, var set 0};
      'file_bn_epsilon': the file's BN epsilon or None.

  Raises:
    FileNotFoundError: no such file.
    ValueError: unreadable file, missing or unexpected names, inconsistent
      shapes, NaN/inf, or layers `Embedding` cannot express; the message
      names the file and the parameter or layer.
  """
  params, layer_table = _read(path)
  names, adjust_names = _canonical_names(path, params)
  n = 0
  while f"conv{n + 1}f" in names:
    n += 1
  if n == 0:
    raise common.file_error(path, "missing parameters ['conv1f'] (no "
                            "network branch found)")
  walk = _walk_branch(path, layer_table, [names[f"conv{i}f"]
                                          for i in range(1, n + 1)])

  # Every parameter a layer names must be in the file.
  common.check_names(path, params, [p for layer in layer_table
                                    for p in layer["params"]],
                     optional=params)

  # BN epsilon: the file's (all layers must agree), unless overridden.
  file_eps = None
  if walk:
    eps_values = {float(w["bn"]["block"]["epsilon"]) for w in walk
                  if w["bn"] and isinstance(
                      w["bn"]["block"].get("epsilon"), (int, float))}
    if len(eps_values) > 1:
      raise common.file_error(path, f"BN layers disagree on epsilon: "
                              f"{sorted(eps_values)}")
    file_eps = eps_values.pop() if eps_values else None
  eps = bn_epsilon if bn_epsilon is not None else (
      file_eps if file_eps is not None else embedding_lib.BN_EPSILON_ORIGINAL)

  expected, conv_specs, layers, clamped = [], [], [], {}
  momentum = embedding_lib.BN_MOMENTUM_ORIGINAL
  c_in = None
  for i in range(1, n + 1):
    f_name = names[f"conv{i}f"]
    kernel = _value(path, params, f_name)
    if kernel.ndim < 4:  # MATLAB drops trailing singleton dimensions.
      kernel = kernel.reshape(kernel.shape + (1,) * (4 - kernel.ndim))
    kh, kw, k_in, c_out = kernel.shape if kernel.ndim == 4 else (0,) * 4
    if kernel.ndim != 4 or kh != kw:
      raise common.file_error(path, f"parameter {f_name!r} has shape "
                              f"{kernel.shape}, expected [k, k, in, out]")
    c_in = k_in if c_in is None else c_in
    groups = common.groups_of(path, f_name, c_in, k_in, c_out)
    if walk:
      info = walk[i - 1]
      size = info["conv"]["block"].get("size")
      if size is not None:
        size = [int(s) for s in np.ravel(size)]
        if size + [1] * (4 - len(size)) != [kh, kw, k_in, c_out]:
          raise common.file_error(path, f"parameter {f_name!r} has shape "
                                  f"{kernel.shape}, layer "
                                  f"{info['conv']['name']!r} says {size}")
      stride, relu, pool = info["stride"], info["relu"], info["pool"]
      has_bn = info["bn"] is not None
      bias_names = [p for p in info["conv"]["params"] if p != f_name]
      has_bias = bool(bias_names)
      if has_bias and bias_names != [names.get(f"conv{i}b")]:
        raise common.file_error(path, f"layer {info['conv']['name']!r} uses "
                                f"{bias_names}, expected conv{i}b")
      if has_bn and sorted(info["bn"]["params"]) != sorted(
          names.get(f"bn{i}{s}") for s in "mbx"):
        raise common.file_error(path, f"layer {info['bn']['name']!r} uses "
                                f"{info['bn']['params']}, expected the "
                                f"bn{i}m/b/x parameters")
    else:  # A params-only file: the paper's topology (Table 1).
      stride = 2 if i == 1 else 1
      pool = 2 if i in (1, 2) else 0
      has_bn = f"bn{i}m" in names
      relu = has_bn or i < n
      has_bias = f"conv{i}b" in names
    expected.append(f"conv{i}f")
    arrays = common.LayerArrays(kernel)
    if has_bias:
      expected.append(f"conv{i}b")
      arrays.bias = _vector(path, params, names[f"conv{i}b"], c_out)
    if has_bn:
      expected += [f"bn{i}m", f"bn{i}b", f"bn{i}x"]
      missing = [f"bn{i}{s}" for s in "mbx" if f"bn{i}{s}" not in names]
      if missing:
        raise common.file_error(path, f"missing parameters {missing}")
      for key, value in _bn_arrays(path, params, names, i, c_out, eps,
                                   clamped).items():
        setattr(arrays, key, value)
      rate = params[names[f"bn{i}x"]][1].get("learningRate")
      if rate is not None and 0 < rate < 1:
        momentum = 1.0 - rate
    conv_specs.append(embedding_lib.ConvSpec(
        c_out, kh, stride=stride, groups=groups, batch_norm=has_bn,
        use_bias=has_bias, relu=relu, pool_stride=pool))
    layers.append(arrays)
    c_in = c_out
  # Every conv/BN name in the file must belong to the branch just built.
  unexpected = sorted(names[key] for key in set(names) - set(expected))
  if unexpected:
    raise common.file_error(path, f"unexpected parameters {unexpected} (not "
                            "used by the conv1..conv"
                            f"{n} branch)")
  if clamped:
    warnings.warn(f"{path}: BN sigma below sqrt(eps={eps}) in {clamped}; "
                  "their variance is clamped to 0")

  scale, bias, adjust_kind = _adjust(path, params, adjust_names)
  join, cf_used = _join(path, params, layer_table, conv_specs)
  spec = embedding_lib.ModelSpec(layers=tuple(conv_specs), bn_epsilon=eps,
                                 bn_momentum=momentum, **join)
  variables = common.build_variables(path, spec, layers, scale, bias)
  used = set(names.values()) | set(adjust_names.values()) | cf_used
  extras = {
      "params": {name: common.as_float32(path, name, value)
                 for name, (value, _) in params.items() if name not in used},
      "layers": {row["name"]: {"type": row["type"], "inputs": row["inputs"],
                               "outputs": row["outputs"],
                               "params": row["params"], **row["block"]}
                 for row in layer_table},
      "adjust": adjust_kind,
      "bn_clamped": clamped,
      "file_bn_epsilon": file_eps,
  }
  return spec, variables, extras


# ----------------------------------------------------------------- writing --


def _struct_array(rows: list[dict], fields: tuple[str, ...]) -> np.ndarray:
  """A 1xN MATLAB struct array (scipy writes structured object arrays)."""
  array = np.empty((1, len(rows)), dtype=[(f, object) for f in fields])
  for j, row in enumerate(rows):
    for field in fields:
      array[0, j][field] = row[field]
  return array


def _cell(items: list) -> np.ndarray:
  """A 1xN MATLAB cell array."""
  array = np.empty((1, len(items)), dtype=object)
  for j, item in enumerate(items):
    array[0, j] = item
  return array


def _double(values) -> np.ndarray:
  return np.asarray(values, np.float64).reshape(1, -1)


def save_mat(path, spec: embedding_lib.ModelSpec, variables: dict,
             exemplar_size: int = 255) -> None:
  """Writes the network as a MatConvNet DagNN `.mat` with official names.

  One embedding branch `exemplar -> conv1, bn1, relu1, pool1, ... -> z_feat`
  (params `conv{i}f`, `conv{i}b`, `bn{i}m`, `bn{i}b`, `bn{i}x` = [mu,
  sigma], sigma = sqrt(var + bn_epsilon)), for CFNet the CF layers as the
  CFNet files have them (`MulConst` with `join_window`, `CorrFilter` with
  lambda and `join_cf_target`, `CropMargin`), and the `adjust` 1x1 conv
  (`adjust_f`, `adjust_b`) from `xcorr_out` to `score`. Arrays are single
  precision, as MatConvNet keeps them; `load_mat` reads the file back.

  Args:
    path: the `.mat` file to write.
    spec: the network.
    variables: its variables (the tree of `model.SiamFC`).
    exemplar_size: exemplar side the CF's window and target are sized for
      ("cf" only; 255 in CFNet).
  """
  common.check_variables(path, spec, variables)
  flat = {k: np.asarray(v, np.float32) for k, v in
          common.flatten(variables).items()}
  params, layers, var = [], [], "exemplar"

  def param(name, value, lr, wd):
    params.append({"name": name, "value": value.astype(np.float32),
                   "learningRate": _double([lr]),
                   "weightDecay": _double([wd])})

  def layer(name, kind, block, param_names=()):
    nonlocal var
    out = f"x_{name}"
    layers.append({"name": name, "type": kind, "inputs": _cell([var]),
                   "outputs": _cell([out]),
                   "params": _cell(list(param_names)), "block": block})
    var = out

  for i, conv in enumerate(spec.layers, start=1):
    emb = f"params/embedding/conv{i}/"
    kernel = flat[emb + "kernel"]
    param(f"conv{i}f", kernel, *_LR_FILTER)
    names = [f"conv{i}f"]
    if conv.use_bias:
      param(f"conv{i}b", flat[emb + "bias"].reshape(-1, 1), *_LR_BIAS)
      names.append(f"conv{i}b")
    layer(f"conv{i}", "dagnn.Conv", {
        "size": _double(kernel.shape), "hasBias": conv.use_bias,
        "pad": _double([0, 0, 0, 0]), "stride": _double([conv.stride] * 2),
        "dilate": _double([1, 1])}, names)
    if conv.batch_norm:
      bn = f"params/embedding/bn{i}/"
      var_ = flat[f"batch_stats/embedding/bn{i}/var"].astype(np.float64)
      sigma = np.sqrt(var_ + spec.bn_epsilon)
      moments = np.stack([flat[f"batch_stats/embedding/bn{i}/mean"],
                          sigma.astype(np.float32)], axis=1)
      param(f"bn{i}m", flat[bn + "scale"].reshape(-1, 1), *_LR_BN_GAIN)
      param(f"bn{i}b", flat[bn + "bias"].reshape(-1, 1), *_LR_BN_BIAS)
      param(f"bn{i}x", moments, 1.0 - spec.bn_momentum, 0.0)
      layer(f"bn{i}", "dagnn.BatchNorm",
            {"numChannels": _double([conv.features]),
             "epsilon": _double([spec.bn_epsilon])},
            [f"bn{i}m", f"bn{i}b", f"bn{i}x"])
    if conv.relu:
      layer(f"relu{i}", "dagnn.ReLU", {"useShortCircuit": True,
                                       "leak": _double([0])})
    if conv.pool_stride:
      layer(f"pool{i}", "dagnn.Pooling", {
          "method": "max", "poolSize": _double([3, 3]),
          "pad": _double([0, 0, 0, 0]),
          "stride": _double([conv.pool_stride] * 2)})
  # The branch output keeps a readable name.
  layers[-1]["outputs"] = _cell(["z_feat"])
  var = "z_feat"
  if spec.join == "cf":
    n = spec.output_size(exemplar_size)
    param("join_window", correlation_filter.hann_window(n), 0.0, 0.0)
    param("join_cf_target", correlation_filter.gaussian_target(
        n, spec.cf_sigma / spec.total_stride), 0.0, 0.0)
    layer("join_cf_window", "MulConst", {}, ["join_window"])
    layer("join_cf", "CorrFilter", {"lambda": _double([spec.cf_lambda]),
                                    "bias": False}, ["join_cf_target"])
    layer("join_crop_z", "CropMargin", {"margin": _double([spec.cf_margin])})
  var = "xcorr_out"
  param("adjust_f", flat["params/adjust_scale"].reshape(1, 1),
        *_LR_ADJUST_F)
  param("adjust_b", flat["params/adjust_bias"].reshape(1, 1),
        *_LR_ADJUST_B)
  layer("adjust", "dagnn.Conv", {
      "size": _double([1, 1, 1, 1]), "hasBias": True,
      "pad": _double([0, 0, 0, 0]), "stride": _double([1, 1]),
      "dilate": _double([1, 1])}, ["adjust_f", "adjust_b"])
  layers[-1]["outputs"] = _cell(["score"])
  all_vars = ["exemplar"] + [str(r["outputs"][0, 0]) for r in layers[:-1]]
  net = {
      "vars": _struct_array([{"name": v, "precious": False}
                             for v in all_vars + ["xcorr_out", "score"]],
                            ("name", "precious")),
      "params": _struct_array(params, ("name", "value", "learningRate",
                                       "weightDecay")),
      "layers": _struct_array(layers, ("name", "type", "inputs", "outputs",
                                       "params", "block")),
      "meta": {"normalization": {"averageImage": np.zeros((0, 0))}},
  }
  scipy.io.savemat(path, {"net": net}, do_compression=True)
