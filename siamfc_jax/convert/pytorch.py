"""Safe importer of siamfc-pytorch state dicts (`.pth`), without torch.

A `.pth` file is a pickle, and unpickling runs whatever callables the file
names. Here a restricted `pickle.Unpickler` resolves only the handful of
globals a tensor state dict needs (`collections.OrderedDict`,
`torch._utils._rebuild_tensor_v2` and friends, `torch.FloatStorage` and the
other storage types), each mapped to a NumPy stand-in that merely records
what to read. Any other global is refused with a ValueError that names it,
before anything is called. Both torch formats are read:

- zip (torch >= 1.6): `<dir>/data.pkl` plus one raw entry `<dir>/data/<key>`
  per storage;
- legacy: five concatenated pickles (magic number, protocol version, system
  info, the object, the list of storage keys) followed by each storage as an
  int64 element count and the raw little-endian elements.

Keys follow huanglianghua/siamfc-pytorch `AlexNetV1`: `backbone.conv{i}.0.*`
is the conv ([out, in / groups, kh, kw] weight, bias), `backbone.conv{i}.1.*`
its BN (weight, bias, running_mean, running_var, num_batches_tracked).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

from siamfc_jax import embedding as embedding_lib
from siamfc_jax import model as model_lib
from siamfc_jax.convert import common

# siamfc-pytorch `_BatchNorm2d(eps=1e-6, momentum=0.05)`.
BN_EPSILON_PYTORCH = 1e-6
BN_MOMENTUM_PYTORCH = 0.95  # Flax momentum = 1 - torch momentum.
# (stride, relu, pool stride) of conv1..conv5 of siamfc-pytorch's backbones
# with these keys: `AlexNetV2` is `AlexNetV1` with a stride-1 pool after
# conv2 (total stride 4). Their files hold the same keys, so the caller says
# which. The head has no parameters (`out_scale = 0.001`, no bias).
ARCHS = {
    "AlexNetV1": ((2, True, 2), (1, True, 2), (1, True, 0), (1, True, 0),
                  (1, False, 0)),
    "AlexNetV2": ((2, True, 2), (1, True, 1), (1, True, 0), (1, True, 0),
                  (1, False, 0)),
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _Refused(ValueError):
  """A ValueError already worded for the user (it names the file)."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
  """Stand-in for `torch.FloatStorage` & co: only carries the dtype."""
  name: str
  dtype: str


@dataclasses.dataclass(frozen=True)
class _StorageRef:
  """A storage named by a persistent id; its bytes are read afterwards."""
  key: str
  dtype: str
  numel: int
  offset: int = 0  # Legacy views: the view's first element in the root.


@dataclasses.dataclass(frozen=True)
class _TensorRef:
  """What `_rebuild_tensor_v2` would build: a strided view of a storage."""
  storage: _StorageRef
  offset: int
  size: tuple[int, ...]
  stride: tuple[int, ...]


def _int_tuple(value, what: str) -> tuple[int, ...]:
  if not isinstance(value, tuple) or not all(
      isinstance(v, int) and v >= 0 for v in value):
    raise ValueError(f"tensor {what} {value!r} is not a tuple of ints >= 0")
  return value


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  """Stand-in for torch._utils._rebuild_tensor(_v2): records the view."""
  del unused  # requires_grad, backward hooks, metadata: irrelevant here.
  if not isinstance(storage, _StorageRef) or not isinstance(
      storage_offset, int):
    raise ValueError("malformed tensor record")
  size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
  if len(size) != len(stride):
    raise ValueError(f"tensor size {size} and stride {stride} differ in rank")
  return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  """Stand-in for torch._utils._rebuild_parameter: the data itself."""
  del requires_grad, backward_hooks
  if not isinstance(data, _TensorRef):
    raise ValueError("parameter without tensor data")
  return data


class _Function:
  """A stand-in function, fresh for each global a pickle names, without a
  `__dict__`: a pickle's BUILD opcode cannot change what later loads get."""

  __slots__ = ("_fn",)

  def __init__(self, fn):
    self._fn = fn

  def __call__(self, *args):
    return self._fn(*args)


_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


def _allowed_global(module: str, name: str) -> Any:
  """What a pickle gets for an allowed global (new stand-ins each time, so
  one file cannot alter another's), or None."""
  if (module, name) == ("collections", "OrderedDict"):
    return collections.OrderedDict  # a built-in type: BUILD cannot alter it
  if (module, name) in _FUNCTIONS:
    return _Function(_FUNCTIONS[module, name])
  if module == "torch" and name in _STORAGE_DTYPES:
    return _StorageType(name, _STORAGE_DTYPES[name])
  return None


class _Unpickler(pickle.Unpickler):
  """Resolves only `_allowed_global`s; records the storages the object
  refers to."""

  def __init__(self, file, path, allow_storages: bool):
    super().__init__(file)
    self._path = path
    self._allow_storages = allow_storages
    self.storages: dict[str, _StorageRef] = {}

  def find_class(self, module: str, name: str) -> Any:
    found = _allowed_global(module, name)
    if found is None:
      raise _Refused(f"{self._path}: refusing to load the global "
                     f"'{module}.{name}' named in the pickle: only tensors "
                     "and OrderedDict are allowed, nothing was executed")
    return found

  def persistent_load(self, pid) -> _StorageRef:
    if (not self._allow_storages or not isinstance(pid, tuple)
        or len(pid) not in (5, 6) or pid[0] != "storage"):
      raise ValueError(f"unexpected persistent id {pid!r}")
    _, storage_type, key, _, numel = pid[:5]
    view = pid[5] if len(pid) == 6 else None
    if not isinstance(storage_type, _StorageType) or not isinstance(
        numel, int) or numel < 0:
      raise ValueError(f"malformed storage record {pid!r}")
    key = str(key)
    known = self.storages.get(key)
    if known and (known.dtype, known.numel) != (storage_type.dtype, numel):
      raise ValueError(f"storage {key} is declared twice differently")
    root = _StorageRef(key, storage_type.dtype, numel)
    self.storages[key] = root
    if view is None:
      return root
    # Legacy views: (view_key, offset, view_size) into the root storage.
    _, offset, view_numel = view
    if offset < 0 or offset + view_numel > numel:
      raise ValueError(f"storage view {view!r} exceeds its {numel} elements")
    return _StorageRef(key, storage_type.dtype, numel, offset)


def _plain_pickle(data: io.BytesIO, path) -> Any:
  """One pickle of plain data (no globals, no storages)."""
  return _Unpickler(data, path, allow_storages=False).load()


def _read_zip(path, blob: bytes) -> tuple[Any, dict[str, np.ndarray]]:
  with zipfile.ZipFile(io.BytesIO(blob)) as archive:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl")]
    if len(pickles) != 1:
      raise ValueError(f"expected one data.pkl in the archive, found "
                       f"{pickles}")
    prefix = pickles[0][:-len("data.pkl")]
    order = "<"
    if prefix + "byteorder" in names:
      order = {"little": "<", "big": ">"}[
          archive.read(prefix + "byteorder").decode().strip()]
    unpickler = _Unpickler(io.BytesIO(archive.read(pickles[0])), path,
                           allow_storages=True)
    obj = unpickler.load()
    arrays = {}
    for key, ref in unpickler.storages.items():
      entry = f"{prefix}data/{key}"
      if entry not in names:
        raise ValueError(f"storage entry {entry!r} is missing")
      arrays[key] = _storage_array(archive.read(entry), ref, order)
  return obj, arrays


def _read_legacy(path, blob: bytes) -> tuple[Any, dict[str, np.ndarray]]:
  stream = io.BytesIO(blob)
  if _plain_pickle(stream, path) != _LEGACY_MAGIC:
    raise ValueError("not a torch file (bad magic number)")
  if _plain_pickle(stream, path) != _LEGACY_PROTOCOL:
    raise ValueError("unsupported legacy torch protocol")
  sys_info = _plain_pickle(stream, path)
  order = "<" if not isinstance(sys_info, dict) or sys_info.get(
      "little_endian", True) else ">"
  unpickler = _Unpickler(stream, path, allow_storages=True)
  obj = unpickler.load()
  keys = _plain_pickle(stream, path)
  if not isinstance(keys, list):
    raise ValueError("malformed storage key list")
  arrays = {}
  for key in keys:
    ref = unpickler.storages.get(str(key))
    if ref is None:
      raise ValueError(f"storage {key} is not used by any tensor")
    header = stream.read(8)
    if len(header) != 8:
      raise ValueError(f"file ends before storage {key}")
    (numel,) = struct.unpack(order + "q", header)
    if numel != ref.numel:
      raise ValueError(f"storage {key} has {numel} elements, its tensors "
                       f"say {ref.numel}")
    itemsize = np.dtype(ref.dtype).itemsize
    arrays[str(key)] = _storage_array(stream.read(numel * itemsize), ref,
                                      order)
  return obj, arrays


def _storage_array(raw: bytes, ref: _StorageRef, order: str) -> np.ndarray:
  dtype = np.dtype(ref.dtype).newbyteorder(order)
  if len(raw) != ref.numel * dtype.itemsize:
    raise ValueError(f"storage {ref.key} has {len(raw)} bytes, expected "
                     f"{ref.numel} x {dtype.itemsize} (truncated file?)")
  return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))


def _materialise(ref: _TensorRef, arrays: dict[str, np.ndarray]
                 ) -> np.ndarray:
  """The strided view a tensor record describes, bounds-checked, copied."""
  if ref.storage.key not in arrays:
    raise ValueError(f"storage {ref.storage.key} was never written")
  flat = arrays[ref.storage.key]
  start = ref.storage.offset + ref.offset
  if any(s == 0 for s in ref.size):
    return np.zeros(ref.size, flat.dtype)
  if np.prod(ref.size, dtype=np.float64) > flat.size:
    # State dicts never broadcast a storage; a zero-stride record could
    # otherwise ask for an arbitrarily large copy.
    raise ValueError(f"tensor {ref.size} has more elements than its "
                     f"storage of {flat.size}")
  last = start + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
  if start < 0 or last >= flat.size:
    raise ValueError(f"tensor {ref.size} at offset {start} exceeds its "
                     f"storage of {flat.size} elements")
  view = np.lib.stride_tricks.as_strided(
      flat[start:], shape=ref.size,
      strides=[s * flat.itemsize for s in ref.stride])
  return np.array(view)


def read_state_dict(path) -> dict[str, np.ndarray]:
  """Reads a torch `.pth` tensor dict safely (zip or legacy format).

  Args:
    path: the file.

  Returns:
    {key: NumPy array} in file order; tensors keep their torch dtype.

  Raises:
    FileNotFoundError: no such file.
    ValueError: the pickle names anything but tensors and OrderedDict, or
      the file is truncated or malformed; the message names the file.
  """
  common.require_file(path)
  with open(path, "rb") as f:
    blob = f.read()
  try:
    if zipfile.is_zipfile(io.BytesIO(blob)):
      obj, arrays = _read_zip(path, blob)
    else:
      obj, arrays = _read_legacy(path, blob)
  except _Refused:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # A hostile or damaged pickle fails in many ways (UnpicklingError,
    # EOFError, TypeError from a bad REDUCE, ...). Nothing but the stand-ins
    # above can have run, so every failure is just "unreadable file".
    raise common.file_error(path, f"not a readable torch state dict "
                            f"({type(e).__name__}: {e})") from e
  if isinstance(obj, dict) and not any(
      isinstance(v, _TensorRef) for v in obj.values()):
    # Training checkpoints nest the weights: {'model': state_dict, ...}.
    nested = [v for k, v in obj.items() if k in ("state_dict", "model")]
    obj = nested[0] if len(nested) == 1 else obj
  if not isinstance(obj, dict):
    raise common.file_error(path, f"holds a {type(obj).__name__}, not a "
                            "state dict")
  state = {}
  for key, value in obj.items():
    if not isinstance(value, _TensorRef):
      raise common.file_error(path, f"entry {key!r} is a "
                              f"{type(value).__name__}, not a tensor")
    try:
      state[str(key)] = _materialise(value, arrays)
    except ValueError as e:
      raise common.file_error(path, f"parameter {key!r}: {e}") from e
  return state


def load_pth(path, arch: str = "AlexNetV1"
             ) -> tuple[embedding_lib.ModelSpec, dict]:
  """Reads a siamfc-pytorch state dict as our variables.

  Args:
    path: the `.pth` file (legacy or zip torch format).
    arch: the siamfc-pytorch backbone it was saved from, "AlexNetV1" (the
      SiamFC network) or "AlexNetV2" (stride-1 pool after conv2); the keys
      do not tell them apart.

  Returns:
    (spec, variables): conv1..conv5 with the siamfc-pytorch topology
    (stride 2 and pool 3/2 after conv1, pool 3/2 (V2: 3/1) after conv2, BN +
    ReLU after conv1-4, conv5 plain), channel counts from the file, groups from
    each kernel's input depth, BN epsilon 1e-6; `adjust_scale` 0.001
    (siamfc-pytorch's fixed `out_scale`) and `adjust_bias` 0.

  Raises:
    FileNotFoundError: no such file.
    ValueError: unknown `arch`; unsafe or unreadable pickle, missing or
      unexpected keys, inconsistent shapes, NaN/inf (naming the file and
      key).
  """
  if arch not in ARCHS:
    raise ValueError(f"unknown siamfc-pytorch arch {arch!r}; expected one "
                     f"of {sorted(ARCHS)}")
  topology = ARCHS[arch]
  state = read_state_dict(path)
  prefix = "module." if any(k.startswith("module.") for k in state) else ""

  def name(i, sub, field):
    return f"{prefix}backbone.conv{i}.{sub}.{field}"

  expected, optional = [], []
  for i in range(1, len(topology) + 1):
    expected.append(name(i, 0, "weight"))
    optional.append(name(i, 0, "bias"))
    has_bn = any(k.startswith(name(i, 1, "")) for k in state)
    if has_bn or i < len(topology):
      expected += [name(i, 1, f) for f in ("weight", "bias", "running_mean",
                                           "running_var")]
      optional.append(name(i, 1, "num_batches_tracked"))
  common.check_names(path, state, expected, optional)

  conv_specs, layers, c_in = [], [], 3
  for i, (stride, relu, pool) in enumerate(topology, start=1):
    w_name = name(i, 0, "weight")
    weight = common.as_float32(path, w_name, state[w_name])
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
      raise common.file_error(path, f"parameter {w_name!r} has shape "
                              f"{weight.shape}, expected [out, in, k, k]")
    c_out, k_in, k, _ = weight.shape
    groups = common.groups_of(path, w_name, c_in, k_in, c_out)
    arrays = common.LayerArrays(weight.transpose(2, 3, 1, 0))
    b_name = name(i, 0, "bias")
    if b_name in state:
      arrays.bias = common.as_float32(path, b_name, state[b_name])
      common.check_shape(path, b_name, arrays.bias, (c_out,))
    has_bn = name(i, 1, "weight") in state
    if has_bn:
      for field, attr in (("weight", "bn_scale"), ("bias", "bn_bias"),
                          ("running_mean", "bn_mean"),
                          ("running_var", "bn_var")):
        value = common.as_float32(path, name(i, 1, field),
                                  state[name(i, 1, field)])
        common.check_shape(path, name(i, 1, field), value, (c_out,))
        setattr(arrays, attr, value)
      if np.any(arrays.bn_var < 0):
        raise common.file_error(path, f"parameter "
                                f"{name(i, 1, 'running_var')!r} is negative")
    conv_specs.append(embedding_lib.ConvSpec(
        c_out, k, stride=stride, groups=groups, batch_norm=has_bn,
        use_bias=b_name in state, relu=relu, pool_stride=pool))
    layers.append(arrays)
    c_in = c_out
  spec = embedding_lib.ModelSpec(layers=tuple(conv_specs),
                                 bn_epsilon=BN_EPSILON_PYTORCH,
                                 bn_momentum=BN_MOMENTUM_PYTORCH)
  variables = common.build_variables(path, spec, layers,
                                     model_lib.ADJUST_SCALE_ORIGINAL, 0.0)
  return spec, variables
