"""Exports the tracker's two steps, in memory, as ONNX or StableHLO.

The exemplar step `(frame, box) -> state` and the frame step
`(frame, *state) -> (new state..., box, scores)` (`ports.signatures`) are
traced from the same model code as the JAX tracker (`tracking.py`) and
converted: ONNX by jax2onnx, StableHLO by `jax.export`. Returns the files'
bytes and their sidecar (`files.py` writes them; `runner.py` runs them).
This exporter knows only fp32: `int8.py` wraps it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp

import siamfc_jax
from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import ports

# ONNX opset of the exported graphs (jax2onnx's default).
ONNX_OPSET = 23


def step_functions(spec: embedding.ModelSpec, variables: model.Variables,
                   params: tracking.TrackParams, params_as_inputs: bool,
                   split_groups: bool, num_sequences: int | None = None
                   ) -> dict[str, Callable[..., tuple[jax.Array, ...]]]:
  """The two steps as functions of the ports of `ports.signatures`.

  Args:
    spec: the network.
    variables: its variables; closed over (constants) unless
      `params_as_inputs`, then taken as trailing inputs in `jax.tree` order.
    params: tracking hyper-parameters.
    params_as_inputs: the variables are inputs.
    split_groups: how grouped layers run (`embedding.Conv`).
    num_sequences: N: the frame step takes N sequences (see `ports.signatures`).

  Returns:
    {"exemplar": `f(frame, box, *variables) -> state` (ports.STATE order),
     "frame": `f(frame, *state, *variables) -> ports.FRAME_OUTPUTS`}.
  """
  treedef = jax.tree.structure(variables)
  num_state = len(ports.STATE)

  def unpack(leaves):
    return jax.tree.unflatten(treedef, list(leaves)) if params_as_inputs \
        else variables

  def exemplar(frame, box, *leaves):
    state = tracking.init_state(unpack(leaves), frame, box, spec, params,
                                split_groups=split_groups)
    return tuple(getattr(state, name) for name in ports.STATE)

  def frame_step(frame, *rest):
    arrays, leaves = rest[:num_state], rest[num_state:]
    # The frame size is that of the input (symbolic or fixed at export).
    frame_size = jnp.array([frame.shape[1], frame.shape[0]], jnp.int32)
    state = tracking.TrackerState(**dict(zip(ports.STATE, arrays)),
                                  frame_size=frame_size)
    new, box, scores = tracking.track_step(unpack(leaves), state, frame, spec,
                                           params, split_groups=split_groups)
    z = (new.z_feat,) if params.z_lr else ()
    return (*z, new.centre, new.size, new.x_side, box, scores)

  def frame_steps(frames, *rest):
    # `track_step` of N sequences with one network call on the N * S crops
    # (what batching buys on a CPU); crops and `locate` per sequence,
    # unrolled, as jax2onnx cannot vmap flax's max_pool.
    arrays, leaves = rest[:num_state], rest[num_state:]
    net = unpack(leaves)
    frame_size = jnp.array([frames.shape[2], frames.shape[1]], jnp.int32)
    states = [tracking.TrackerState(
        **{k: a[i] for k, a in zip(ports.STATE, arrays)},
        frame_size=frame_size)
              for i in range(num_sequences)]
    x_img = jnp.concatenate([tracking.search_crops(state, frames[i], params)
                             for i, state in enumerate(states)])
    x_feat = model.embed(spec, net, x_img, split_groups)
    scores = model.score(spec, net, arrays[0][:, 0], x_feat,
                         raw=params.raw_scores, split_groups=split_groups)
    scores = scores.reshape((num_sequences, -1) + scores.shape[1:])
    new = [tracking.locate(state, scores[i], spec.total_stride, params)
           for i, state in enumerate(states)]
    z = ()
    if params.z_lr:
      new = [tracking.update_template(net, old, s, frames[i], spec, params,
                                      split_groups=split_groups)
             for i, (old, s) in enumerate(zip(states, new))]
      z = (jnp.stack([s.z_feat for s in new]),)
    return (*z, jnp.stack([s.centre for s in new]),
            jnp.stack([s.size for s in new]),
            jnp.stack([s.x_side for s in new]),
            jnp.stack([s.box for s in new]), scores)

  return {"exemplar": exemplar,
          "frame": frame_steps if num_sequences else frame_step}


def _abstract(step_ports: Sequence[ports.Port]
              ) -> list[jax.ShapeDtypeStruct]:
  """ShapeDtypeStructs of the ports; "H" and "W" become symbolic dims."""
  out, scope = [], jax.export.SymbolicScope()
  for port in step_ports:
    shape = port.shape
    if any(isinstance(d, str) for d in shape):
      shape = jax.export.symbolic_shape(", ".join(map(str, shape)),
                                        scope=scope)
    out.append(jax.ShapeDtypeStruct(shape, ports.DTYPES[port.dtype]))
  return out


class _DropBelowError(logging.Filter):
  """Drops records under ERROR logged from inside the given packages."""

  def __init__(self, folders: Sequence[str]):
    super().__init__()
    self.folders = tuple(folders)

  def filter(self, record: logging.LogRecord) -> bool:
    return (record.levelno >= logging.ERROR
            or not record.pathname.startswith(self.folders))


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
  """Silences jax2onnx's and onnx_ir's logging below ERROR while exporting.

  They log every conversion (to the root logger) and warn about plugins of
  libraries that are not installed and values of unknown type.
  """
  import jax2onnx  # pylint: disable=g-import-not-at-top
  import onnx_ir  # pylint: disable=g-import-not-at-top
  loggers = [logging.getLogger(n) for n in ("jax2onnx", "onnx_ir")]
  levels = [lg.level for lg in loggers]
  for lg in loggers:
    lg.setLevel(logging.ERROR)
  root = logging.getLogger()
  drop = _DropBelowError([os.path.dirname(m.__file__)
                          for m in (jax2onnx, onnx_ir)])
  root.addFilter(drop)
  try:
    yield
  finally:
    root.removeFilter(drop)
    for lg, level in zip(loggers, levels):
      lg.setLevel(level)


def to_onnx(fn, inputs: Sequence[ports.Port], outputs: Sequence[ports.Port],
            name: str) -> bytes:
  """One step as a serialised ONNX ModelProto."""
  try:
    import jax2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        "ONNX export needs jax2onnx: pip install --no-deps jax2onnx==0.17.1 "
        "onnx==1.23.2 onnx-ir==1.1.0") from e
  with _quiet_exporter():
    try:
      proto = jax2onnx.to_onnx(
          fn, inputs=_abstract(inputs), model_name=f"siamfc_{name}",
          opset=ONNX_OPSET, input_names=[p.name for p in inputs],
          output_names=[p.name for p in outputs])
    except (NotImplementedError, TypeError, ValueError) as e:
      raise ValueError(f"the {name} step does not export to ONNX: "
                       f"{type(e).__name__}: {e}") from e
  return proto.SerializeToString()


def _to_stablehlo(fn, inputs: Sequence[ports.Port], name: str,
                  platforms: Sequence[str]) -> bytes:
  """One step as a serialised `jax.export.Exported`."""
  try:
    exported = jax.export.export(jax.jit(fn), platforms=tuple(platforms))(
        *_abstract(inputs))
  except (NotImplementedError, TypeError, ValueError) as e:
    raise ValueError(f"the {name} step does not export to StableHLO: "
                     f"{type(e).__name__}: {e}") from e
  return bytes(exported.serialize())


def export_steps(spec: embedding.ModelSpec, variables: model.Variables,
                 params: tracking.TrackParams = tracking.SIAMFC_3S,
                 fmt: str = "onnx",
                 frame_size: Sequence[int] | None = None,
                 params_as_inputs: bool = False,
                 platforms: Sequence[str] | None = None,
                 num_sequences: int | None = None
                 ) -> tuple[dict, dict[str, bytes]]:
  """Exports both steps in memory.

  Args:
    spec: the network.
    variables: its variables.
    params: tracking hyper-parameters (baked in).
    fmt: "onnx" or "stablehlo".
    frame_size: (W, H) to fix the frame size; None for symbolic H, W.
    params_as_inputs: variables as inputs instead of constants.
    platforms: StableHLO only: the platforms to lower for ("cpu", "cuda",
      "tpu"); default: the default JAX backend.
    num_sequences: N to export a frame step of N sequences at once (frames
      of one size; states stacked with `stack`); None for one.

  Returns:
    (sidecar dict without the files' names and hashes, {step: bytes}).

  Raises:
    ValueError: an unsupported configuration (see `ports.check_config`), or an
      op that the exporter cannot convert (naming the step).
  """
  size = ports.check_config(spec, params, fmt, frame_size, num_sequences)
  if fmt == "onnx" and platforms:
    raise ValueError("platforms apply to StableHLO only; ONNX files run on "
                     "any ONNX Runtime execution provider")
  platforms = tuple(platforms or (jax.default_backend(),))
  variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), variables)
  sigs = ports.signatures(spec, params, size, num_sequences)
  param_ports = ports.parameter_ports(variables) if params_as_inputs else []
  fns = step_functions(spec, variables, params, params_as_inputs,
                       split_groups=(fmt != "onnx"),
                       num_sequences=num_sequences)
  blobs, steps = {}, {}
  for name in ports.STEPS:
    inputs, outputs = sigs[name]
    inputs = list(inputs) + param_ports
    if fmt == "onnx":
      blobs[name] = to_onnx(fns[name], inputs, outputs, name)
    else:
      blobs[name] = _to_stablehlo(fns[name], inputs, name, platforms)
    steps[name] = {"inputs": [p.to_dict() for p in inputs],
                   "outputs": [p.to_dict() for p in outputs]}
  sidecar = {
      "format": ports.FORMAT,
      "version": ports.VERSION,
      "kind": fmt,
      "siamfc_jax": siamfc_jax.__version__,
      "jax": jax.__version__,
      "frame_size": list(size) if size else None,
      "num_sequences": num_sequences,
      "params_as_inputs": params_as_inputs,
      "spec": spec.to_dict(),
      "track_params": params.to_dict(),
      "weights_sha256": ports.weights_sha256(variables),
      "state": list(ports.STATE),
      "steps": steps,
      "usage": _usage(steps, num_sequences),
  }
  if fmt == "onnx":
    sidecar["onnx_opset"] = ONNX_OPSET
  else:
    sidecar["platforms"] = list(platforms)
  return sidecar, blobs


def _usage(steps: dict, num_sequences: int | None) -> str:
  """How to call the steps, written from their ports."""
  def names(step, key):
    return ", ".join(p["name"] for p in steps[step][key])
  text = (f"{names('exemplar', 'outputs')} = exemplar"
          f"({names('exemplar', 'inputs')}) is the state of the first frame; "
          f"then per frame: {names('frame', 'outputs')} = frame"
          f"({names('frame', 'inputs')}), and each new_<name> replaces "
          "<name> in the state. ")
  if num_sequences:
    text += (f"The frame step tracks {num_sequences} sequences at once: "
             "frames, states and outputs have a leading axis N. ")
  return text + (
      "Boxes are [x, y, w, h] float pixels, (x, y) the top-left corner, "
      "0-based, pixel (row i, column j) covering [j, j + 1) x [i, i + 1).")
