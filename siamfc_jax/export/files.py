"""An export on disk: writes the steps and their sidecar, loads them back.

    <directory>/
      exemplar.onnx | exemplar.stablehlo
      frame.onnx    | frame.stablehlo
      siamfc_export.json   the sidecar: format, model spec, tracking
                           hyper-parameters, every input and output (name,
                           shape, dtype, meaning), the files' SHA-256

so that they can be run without this package (ONNX Runtime, or
`jax.export.deserialize`); `load` runs them with it and checks the sidecar
against the files first.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Sequence

from siamfc_jax import embedding
from siamfc_jax import folders
from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import int8
from siamfc_jax.export import ports
from siamfc_jax.export import runner
from siamfc_jax.export import steps as steps_lib

SIDECAR = "siamfc_export.json"
SUFFIX = {"onnx": ".onnx", "stablehlo": ".stablehlo"}


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def export(directory: str | os.PathLike, spec: embedding.ModelSpec,
           variables: model.Variables,
           params: tracking.TrackParams = tracking.SIAMFC_3S,
           fmt: str = "onnx", frame_size: Sequence[int] | None = None,
           params_as_inputs: bool = False,
           platforms: Sequence[str] | None = None,
           overwrite: bool = False,
           num_sequences: int | None = None, precision: str = "fp32",
           calibration: Sequence[str | os.PathLike] | None = None
           ) -> list[pathlib.Path]:
  """Writes both steps and the sidecar into `directory` (see module doc).

  The files are written to a temporary sibling and moved in place together,
  so a failed export leaves no partial directory.

  Args:
    directory: where to write; created.
    spec, variables, params, fmt, frame_size: see `export_steps`.
    params_as_inputs, platforms, num_sequences: see `export_steps`.
    overwrite: replace an existing export at `directory`.
    precision: "fp32", or "int8" (`int8.int8_steps`: ONNX, one
      sequence, symbolic frame size, variables baked in); the sidecar then
      names the calibration.
    calibration: int8: sequence folders to calibrate on; default the
      bundled demo clip.

  Returns:
    The paths written: the two step files, then the sidecar.

  Raises:
    FileExistsError: `directory` exists and is not empty, without
      `overwrite`; is not a directory; or holds files of no export.
    ValueError: see `export_steps`.
  """
  directory = pathlib.Path(directory).absolute()
  folders.check_replaceable(
      directory,
      {SIDECAR} | {n + x for n in ports.STEPS for x in SUFFIX.values()},
      "an export", overwrite)
  if precision == "int8":
    if (fmt, frame_size, params_as_inputs, num_sequences) != (
        "onnx", None, False, None):
      raise ValueError(
          "precision 'int8' exports ONNX steps of one sequence with a "
          "symbolic frame size and the variables baked in; got "
          f"format {fmt!r}, frame_size {frame_size!r}, params_as_inputs "
          f"{params_as_inputs!r}, num_sequences {num_sequences!r}")
    sidecar, blobs = int8.int8_steps(spec, variables, params, calibration)
  elif precision == "fp32":
    sidecar, blobs = steps_lib.export_steps(
        spec, variables, params, fmt, frame_size, params_as_inputs,
        platforms, num_sequences)
  else:
    raise ValueError(f"unknown precision {precision!r}; choose one of "
                     f"{list(ports.PRECISIONS)}")
  names = {name: name + SUFFIX[fmt] for name in ports.STEPS}
  for name in ports.STEPS:
    sidecar["steps"][name] = {"file": names[name],
                              "sha256": _sha256(blobs[name]),
                              **sidecar["steps"][name]}
  with folders.written_atomically(directory) as tmp:
    for name in ports.STEPS:
      (tmp / names[name]).write_bytes(blobs[name])
    (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
  return [directory / names[n] for n in ports.STEPS] + [directory / SIDECAR]


def load(directory: str | os.PathLike,
         variables: model.Variables | None = None,
         num_threads: int | None = None) -> runner.ExportedSteps:
  """Opens an export written by `export`, checking it first.

  Args:
    directory: the export directory.
    variables: required iff exported with `params_as_inputs`.
    num_threads: ONNX Runtime threads; default all cores.

  Raises:
    FileNotFoundError: no sidecar or a missing step file.
    ValueError: the sidecar does not match the files (hash, inputs,
      outputs) or the variables, naming what differs.
  """
  directory = pathlib.Path(directory).absolute()
  path = directory / SIDECAR
  if not path.is_file():
    raise FileNotFoundError(f"{directory}: no {SIDECAR} (not an export "
                            "directory)")
  try:
    sidecar = json.loads(path.read_text())
    files = {name: sidecar["steps"][name]["file"] for name in ports.STEPS}
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError(f"{path}: malformed sidecar ({type(e).__name__}: {e})"
                     ) from e
  blobs = {}
  for name, file in files.items():
    step_path = directory / file
    if not step_path.is_file():
      raise FileNotFoundError(f"{step_path}: missing (named by {path})")
    blobs[name] = step_path.read_bytes()
    want = sidecar["steps"][name].get("sha256")
    if want != _sha256(blobs[name]):
      raise ValueError(f"{step_path}: SHA-256 {_sha256(blobs[name])} differs "
                       f"from the sidecar's {want}: the file was replaced or "
                       "corrupted, or the sidecar belongs to another export")
  return runner.ExportedSteps(sidecar, blobs, str(directory), variables,
                              num_threads)
