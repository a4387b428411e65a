"""Checkpoints: the variables (orbax) and the spec + config (JSON), together.

Layout of a checkpoint directory:

  <directory>/
    siamfc.json   {"format": "siamfc_jax", "version": 1,
                   "spec": ModelSpec.to_dict(), "config": {...}}
    variables/    orbax PyTree checkpoint of {'params', 'batch_stats'}

`save` writes both into a hidden sibling temporary directory and renames it
to `directory` only when everything is on disk, so an interrupted or failed
save never leaves a partial checkpoint at `directory`. `load` needs nothing
but the path.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from siamfc_jax import embedding as embedding_lib
from siamfc_jax import folders
from siamfc_jax.convert import common

FORMAT = "siamfc_jax"
VERSION = 1
META_FILE = "siamfc.json"
_ARRAYS = "variables"


def save(directory, spec: embedding_lib.ModelSpec, variables: dict,
         config: dict | None = None, overwrite: bool = False) -> pathlib.Path:
  """Writes a checkpoint atomically.

  Args:
    directory: the checkpoint directory to create.
    spec: the network.
    variables: `{'params': ..., 'batch_stats': ...}` (arrays of any kind).
    config: JSON-serialisable settings saved beside the weights (the
      training or conversion config), or None.
    overwrite: replace an existing checkpoint at `directory`.

  Returns:
    The checkpoint directory, absolute.

  Raises:
    FileExistsError: `directory` is not empty and `overwrite` is False, or
      it holds more than a checkpoint (`folders.check_replaceable`).
    ValueError: `config` is not JSON-serialisable, or the variables are not
      the tree of `spec` (names and shapes as `model.init` makes them).
  """
  directory = pathlib.Path(directory).absolute()
  folders.check_replaceable(directory, (META_FILE, _ARRAYS), "a checkpoint",
                            overwrite)
  common.check_variables(directory, spec, variables)
  meta = {"format": FORMAT, "version": VERSION, "spec": spec.to_dict(),
          "config": config}
  try:
    text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
  except (TypeError, ValueError) as e:
    raise ValueError(f"{directory}: config is not JSON-serialisable "
                     f"({e})") from e
  arrays = jax.tree.map(np.asarray, variables)

  with folders.written_atomically(directory) as tmp:
    _checkpointer().save(tmp / _ARRAYS, arrays)
    (tmp / META_FILE).write_text(text)
  return directory


def _checkpointer() -> ocp.Checkpointer:
  """A PyTree checkpointer of this process alone.

  A tracker checkpoint is small and whole on every host: under
  `jax.distributed` each process reads it by itself, and one process writes
  it (training's process 0), so orbax must not wait for the others.
  """
  index = jax.process_index()
  return ocp.Checkpointer(
      ocp.PyTreeCheckpointHandler(),
      multiprocessing_options=ocp.options.MultiprocessingOptions(
          primary_host=index, active_processes={index}))


def load(directory) -> tuple[embedding_lib.ModelSpec, dict, dict | None]:
  """Reads a checkpoint written by `save`.

  Args:
    directory: the checkpoint directory.

  Returns:
    (spec, variables, config): variables as jax float32 arrays in the tree
    of `model.SiamFC`, bit for bit what was saved; config as saved (None if
    none was).

  Raises:
    FileNotFoundError: no checkpoint at `directory`.
    ValueError: the metadata or the arrays are malformed or do not match
      the spec; the message names the path.
  """
  directory = pathlib.Path(directory).absolute()
  meta_path, arrays_path = directory / META_FILE, directory / _ARRAYS
  if not directory.is_dir():
    raise FileNotFoundError(f"{directory}: no such checkpoint directory")
  if not meta_path.is_file() or not arrays_path.is_dir():
    raise FileNotFoundError(f"{directory}: not a siamfc_jax checkpoint "
                            f"(needs {META_FILE} and {_ARRAYS}/)")
  try:
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
      raise ValueError(f"format {meta.get('format')!r} is not {FORMAT!r}")
    if meta.get("version") != VERSION:
      raise ValueError(f"version {meta.get('version')!r} is not {VERSION}")
    spec = embedding_lib.ModelSpec.from_dict(meta["spec"])
  except (ValueError, TypeError, KeyError, AttributeError) as e:
    raise ValueError(f"{meta_path}: malformed checkpoint metadata "
                     f"({type(e).__name__}: {e})") from e

  expected = common.expected_shapes(spec)
  target: dict[str, Any] = {}
  for name in expected:
    node = target
    *parents, leaf = name.split("/")
    for key in parents:
      node = node.setdefault(key, {})
    node[leaf] = ocp.RestoreArgs(restore_type=np.ndarray)
  try:
    arrays = _checkpointer().restore(
        arrays_path, args=ocp.args.PyTreeRestore(restore_args=target))
  except Exception as e:  # pylint: disable=broad-except
    # orbax reports a missing, truncated or mismatched tree with many error
    # types (FileNotFoundError, ValueError, KeyError, tensorstore errors).
    raise ValueError(f"{arrays_path}: cannot restore the variables of the "
                     f"saved spec ({type(e).__name__}: {e})") from e
  common.check_variables(arrays_path, spec, arrays)
  variables = jax.tree.map(jnp.asarray, arrays)
  return spec, variables, meta.get("config")
