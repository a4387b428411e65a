r"""Converts pretrained weights into a siamfc_jax checkpoint.

  siamfc-jax convert \
      --src=$SIAMFC_DATA/weights/siamfc_2016-08-17_int8/siamfc_int8_exact.npz \
      --out=runs/siamfc_original

Prints the imported parameters (name, shape) and the spec. Nothing is
written unless the import succeeds (and then atomically).
"""

from __future__ import annotations

from typing import Any

from absl import app
from absl import flags
import numpy as np

from siamfc_jax.cli import entry
from siamfc_jax import checkpoints
from siamfc_jax import convert as convert_lib
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.convert import common
from siamfc_jax.convert import pytorch

_SRC = flags.DEFINE_string("src", None, "Weights file (.npz, .mat, .pth).")
_OUT = flags.DEFINE_string("out", None, "Checkpoint directory to create.")
_FORMAT = flags.DEFINE_enum("format", "auto", ("auto",) + convert_lib.FORMATS,
                            "Importer; 'auto' picks it from the suffix.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False,
                               "Replace an existing checkpoint.")
_PTH_ARCH = flags.DEFINE_enum(
    "pth_arch", "AlexNetV1", sorted(pytorch.ARCHS),
    "The siamfc-pytorch backbone a .pth was saved from (its keys do not "
    "say): AlexNetV1 (SiamFC) or AlexNetV2 (stride-1 pool after conv2).")


def _jsonable(value: Any) -> Any:
  """Extras (NumPy arrays, nested dicts/lists) as JSON-friendly values."""
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, (np.ndarray, np.generic)):
    return np.asarray(value).tolist()
  return value


def describe(spec, variables) -> str:
  """A table of every imported array, then the spec's layers."""
  rows = [(name, "x".join(map(str, np.shape(value))) or "scalar")
          for name, value in sorted(common.flatten(variables).items())]
  width = max(len(name) for name, _ in rows)
  lines = [f"{'parameter':<{width}}  shape", "-" * (width + 16)]
  lines += [f"{name:<{width}}  {shape}" for name, shape in rows]
  lines.append(f"\nspec: bn_epsilon={spec.bn_epsilon} "
               f"bn_momentum={spec.bn_momentum} "
               f"total_stride={spec.total_stride} join={spec.join}")
  if spec.join == "cf":
    lines.append(f"  correlation filter: lambda={spec.cf_lambda} "
                 f"sigma={spec.cf_sigma} px margin={spec.cf_margin}")
  for i, layer in enumerate(spec.layers, start=1):
    lines.append(f"  conv{i}: {layer}")
  return "\n".join(lines)


def convert(src: str, out: str, fmt: str = "auto", overwrite: bool = False,
            pth_arch: str = "AlexNetV1"):
  """Imports `src` and saves it as a checkpoint at `out`.

  Returns:
    (spec, variables) as imported.

  Raises:
    FileNotFoundError, ValueError: from the importer (then `out` is not
      created), FileExistsError if `out` exists without `overwrite`.
  """
  fmt = convert_lib.detect_format(src) if fmt == "auto" else fmt
  spec, variables, extras = convert_lib.load(src, fmt, pth_arch)
  config = {"source": str(src), "format": fmt, "extras": _jsonable(extras)}
  if fmt == "pth":
    config["pth_arch"] = pth_arch
  try:  # the tracking preset the file's name implies (CFNet), kept with it
    config["track"] = tracker_lib.preset_for_file(src, spec).to_dict()
  except ValueError:
    pass  # a CF net of unknown name: pass its params when loading
  checkpoints.save(out, spec, variables, config, overwrite=overwrite)
  return spec, variables


def main(argv):
  del argv
  missing = [f"--{f.name}" for f in (_SRC, _OUT) if f.value is None]
  if missing:
    raise app.UsageError(f"{' and '.join(missing)} required")
  try:
    spec, variables = convert(_SRC.value, _OUT.value, _FORMAT.value,
                              _OVERWRITE.value, _PTH_ARCH.value)
  except entry.INPUT_ERRORS as e:  # one line (entry.run), same type
    raise type(e)(f"conversion failed, nothing written: {e}") from e
  print(describe(spec, variables))
  print(f"\nwrote {_OUT.value}")

