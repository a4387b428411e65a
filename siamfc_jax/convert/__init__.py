"""Importers of pretrained SiamFC weights into our `ModelSpec` + variables.

- `int8_npz.load_int8_npz`: the original 2016-08-17 network (int8 dump).
- `matconvnet.load_mat` / `save_mat`: MatConvNet DagNN `.mat` (SiamFC,
  CFNet).
- `pytorch.load_pth`: siamfc-pytorch state dicts, read without torch and
  without running pickled code.

Every importer checks the file name by name (missing and unexpected names
listed, shapes, NaN/inf) and raises `ValueError` naming the file and the
parameter; `load` picks the importer from the file name.
"""

from __future__ import annotations

import os

from siamfc_jax import embedding as embedding_lib
from siamfc_jax.convert import int8_npz
from siamfc_jax.convert import matconvnet
from siamfc_jax.convert import pytorch

FORMATS = ("int8_npz", "mat", "pth")
_SUFFIXES = {".npz": "int8_npz", ".mat": "mat", ".pth": "pth", ".pt": "pth"}


def detect_format(path) -> str:
  """The importer for `path` from its suffix (.npz, .mat, .pth/.pt)."""
  suffix = os.path.splitext(os.fspath(path))[1].lower()
  if suffix not in _SUFFIXES:
    raise ValueError(f"{os.fspath(path)}: cannot tell the format from the "
                     f"suffix {suffix!r}; pass one of {FORMATS}")
  return _SUFFIXES[suffix]


def load(path, fmt: str = "auto", pth_arch: str = "AlexNetV1"
         ) -> tuple[embedding_lib.ModelSpec, dict, dict]:
  """Imports a pretrained network with the importer for its format.

  Args:
    path: the weights file.
    fmt: 'auto' (from the suffix), 'int8_npz', 'mat' or 'pth'.
    pth_arch: the siamfc-pytorch backbone of a .pth (`pytorch.load_pth`).

  Returns:
    (spec, variables, extras); extras is `load_mat`'s for .mat files (other
    parameters and layer settings, e.g. CFNet's window and lambda) and {}
    otherwise.

  Raises:
    FileNotFoundError: no such file.
    ValueError: unknown format, or the importer's errors.
  """
  fmt = detect_format(path) if fmt == "auto" else fmt
  if fmt == "int8_npz":
    return (*int8_npz.load_int8_npz(path), {})
  if fmt == "mat":
    return matconvnet.load_mat(path)
  if fmt == "pth":
    return (*pytorch.load_pth(path, pth_arch), {})
  raise ValueError(f"unknown format {fmt!r}; expected 'auto' or one of "
                   f"{FORMATS}")
