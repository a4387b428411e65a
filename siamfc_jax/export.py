"""The tracker's two steps as ONNX or StableHLO files, and a runner for them.

Tracking is two pure functions (`tracking.py`) over a small set of arrays,
the state, that the caller passes from one call to the next:

  exemplar step  (frame, box)           -> state        crop + embed z
  frame step     (frame, *state)        -> (centre, size, x_side, box, scores)

The frame step is `tracking.track_step`: S scaled crops, embedding, xcorr,
upsampling, scale penalty, cosine window, arg-max and the box update (and
CFNet's template update); its new `centre`, `size` and `x_side` (and
`z_feat` when the template is updated) replace those of the state, the rest
never changes. Both steps are exported to one directory:

  <directory>/
    exemplar.onnx | exemplar.stablehlo
    frame.onnx    | frame.stablehlo
    siamfc_export.json   the sidecar: format, model spec, tracking
                         hyper-parameters, every input and output (name,
                         shape, dtype, meaning), the files' SHA-256

so that they can be run without this package (ONNX Runtime, or
`jax.export.deserialize`); `load` runs them with it and checks the sidecar
against the files first. Frames are [H, W, 3] uint8 RGB; H and W are
symbolic (any frame size) unless a `frame_size` is fixed at export. The
network's variables are constants inside the files, or extra inputs after
the others (`params_as_inputs`), named by their path in the variable tree
(`params/embedding/conv1/kernel`).

    export.export("out/", spec, variables, params, fmt="onnx")
    steps = export.load("out/")
    state = steps.init(frame0, box0)
    state, box, scores = steps.step(state, frame1)

With `num_sequences=N` the frame step advances N sequences at once (one
network call on their N * S crops, what batching buys on a CPU): every
frame-step input and output gets a leading axis N, frames are [N, H, W, 3]
of one size, and the N states of the exemplar step are `stack`ed.

K targets in one video (`export_targets.py`, ONNX, in memory; what the
onnxruntime backend runs for `Tracker.track` with [K, 4] boxes): one frame
[H, W, 3], a leading axis K on the box, the per-target state and the outputs,
`fill` shared. K is fixed per export (the backend keeps one per K): a
symbolic K does not export, since the cross-correlation is a convolution
with one group per target and an ONNX Conv's group count is an attribute.

Both exporters trace the same model code as the JAX tracker; where an op
would not export faithfully the model code itself uses an equivalent
formulation (`crop.py`: plain row gathers; `tracking.locate`: the bicubic
upsampling as matrix products, since ONNX's cubic `Resize` treats borders
differently; flax's `max_pool`). The ONNX steps run each grouped layer as
one grouped convolution (`embedding.Conv`, what ONNX Runtime runs fastest),
the StableHLO ones as XLA:CPU prefers; the results are equal.

`export(..., precision="int8")` writes the ONNX steps quantized
(`quantization.py`); the sidecar then has "precision": "int8" and the
"calibration" used, and each file names its precision in its metadata
(PRECISION_KEY), which `load` checks against the sidecar.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import pathlib
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import folders
from siamfc_jax import model
from siamfc_jax import tracking

FORMAT = "siamfc_jax.export"
VERSION = 1
SIDECAR = "siamfc_export.json"
FORMATS = ("onnx", "stablehlo")
_SUFFIX = {"onnx": ".onnx", "stablehlo": ".stablehlo"}
STEPS = ("exemplar", "frame")
# ONNX opset of the exported graphs (jax2onnx's default).
ONNX_OPSET = 23

# The state, in the order the frame step takes it after the frame.
STATE = ("z_feat", "centre", "size", "x_side", "x_side_limits", "fill")
# What the frame step returns, in order; `new_*` replace the state's `*`.
# With template updates (`z_lr` > 0) "new_z_feat" comes first.
FRAME_OUTPUTS = ("new_centre", "new_size", "new_x_side", "box", "scores")

_DTYPES = {"uint8": np.uint8, "float32": np.float32}
# Arithmetic of the network: "fp32" as exported, or "int8" (ONNX only,
# `quantization.py`). Quantized files carry theirs in the model metadata
# under PRECISION_KEY; a file without it is fp32.
PRECISIONS = ("fp32", "int8")
PRECISION_KEY = "siamfc_jax.precision"


@dataclasses.dataclass(frozen=True)
class Port:
  """One input or output of an exported step.

  Attributes:
    name: the input / output name in the file.
    shape: dimensions; "H" and "W" are the symbolic frame height and width.
    dtype: "uint8" or "float32".
    doc: meaning, layout and units.
  """

  name: str
  shape: tuple[int | str, ...]
  dtype: str
  doc: str

  def to_dict(self) -> dict:
    return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
            "doc": self.doc}


def _frame_port(frame_size: tuple[int, int] | None) -> Port:
  w, h = frame_size if frame_size else ("W", "H")
  return Port("frame", (h, w, 3), "uint8",
              "[H, W, 3] HWC RGB frame, 0-255, row 0 at the top")


def signatures(spec: embedding.ModelSpec, params: tracking.TrackParams,
               frame_size: tuple[int, int] | None = None,
               num_sequences: int | None = None
               ) -> dict[str, tuple[list[Port], list[Port]]]:
  """The inputs and outputs of both steps (variables not included).

  Args:
    spec: the network.
    params: tracking hyper-parameters.
    frame_size: (W, H) fixed at export, or None for symbolic H and W.
    num_sequences: N for a frame step of N sequences at once (every frame
      port gets a leading axis N; frames of one size); None for one.

  Returns:
    {"exemplar": (inputs, outputs), "frame": (inputs, outputs)}.
  """
  nz = spec.template_size(params.exemplar_size)
  nx = spec.output_size(params.instance_size)
  n = nx - nz + 1
  state = [
      Port("z_feat", (1, nz, nz, spec.out_features), "float32",
           "[1, Ht, Wt, C] NHWC template: the exemplar's embedding, or its "
           "correlation filter (CFNet)" + (
               "; updated every frame" if params.z_lr else
               " (never changes)")),
      Port("centre", (2,), "float32", "target centre (cx, cy), pixels"),
      Port("size", (2,), "float32", "target size (w, h), pixels"),
      Port("x_side", (), "float32",
           "side of the search region at scale 1, pixels"),
      Port("x_side_limits", (2,), "float32",
           "(min, max) allowed x_side, pixels (never changes)"),
      Port("fill", (3,), "float32",
           "RGB padding colour, the first frame's mean (never changes)"),
  ]
  frame = _frame_port(frame_size)
  box = Port("box", (4,), "float32",
             "[x, y, w, h] box, 0-based pixels, (x, y) the top-left corner "
             "(siamfc_jax/boxes.py)")
  exemplar = ([frame, box], state)
  by_name = {p.name: p for p in state}
  frame_outputs = [
      dataclasses.replace(by_name["centre"], name="new_centre"),
      dataclasses.replace(by_name["size"], name="new_size"),
      dataclasses.replace(by_name["x_side"], name="new_x_side"),
      dataclasses.replace(box, doc="the target's new " + box.doc),
      Port("scores", (params.num_scales, n, n), "float32",
           "[S, n, n] score maps of the S scales before upsampling, "
           "smallest scale first" + (
               " (raw correlation, before the adjust layer)"
               if params.raw_scores else "")),
  ]
  if params.z_lr:
    frame_outputs.insert(0, dataclasses.replace(by_name["z_feat"],
                                                name="new_z_feat"))
  frame_inputs = [frame] + state
  if num_sequences:
    def batched(port):
      return dataclasses.replace(
          port, shape=(num_sequences,) + port.shape,
          doc=f"[N, ...] of {num_sequences} sequences: {port.doc}")
    frame_inputs = [batched(p) for p in frame_inputs]
    frame_outputs = [batched(p) for p in frame_outputs]
  return {"exemplar": exemplar, "frame": (frame_inputs, frame_outputs)}


def stack(states: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """N states of `ExportedSteps.init` -> the state of an N-sequence step."""
  return {name: np.stack([s[name] for s in states]) for name in STATE}


def parameter_ports(variables: model.Variables) -> list[Port]:
  """The variables as inputs, in `jax.tree` order, named by their path."""
  ports = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]:
    name = "/".join(str(getattr(k, "key", k)) for k in path)
    ports.append(Port(name, tuple(np.shape(leaf)), "float32",
                      "network variable"))
  return ports


def weights_sha256(variables: model.Variables) -> str:
  """SHA-256 over the variables' paths, shapes and float32 bytes."""
  digest = hashlib.sha256()
  for port, leaf in zip(parameter_ports(variables),
                        jax.tree.leaves(variables)):
    digest.update(f"{port.name}:{port.shape};".encode())
    digest.update(np.ascontiguousarray(leaf, np.float32).tobytes())
  return digest.hexdigest()


def check_config(spec: embedding.ModelSpec, params: tracking.TrackParams,
                 fmt: str = "onnx",
                 frame_size: Sequence[int] | None = None,
                 num_sequences: int | None = None
                 ) -> tuple[int, int] | None:
  """Refuses what cannot be exported, before anything is traced.

  Returns:
    frame_size as a (W, H) tuple of ints, or None.

  Raises:
    ValueError: naming the unsupported format, hyper-parameter, geometry or
      frame size.
  """
  if fmt not in FORMATS:
    raise ValueError(f"unsupported export format {fmt!r}; choose one of "
                     f"{list(FORMATS)}")
  try:
    tracking.check_geometry(spec, params)
  except ValueError as e:
    raise ValueError(f"unsupported geometry: {e}") from None
  if num_sequences is not None and (
      not isinstance(num_sequences, (int, np.integer)) or num_sequences < 1):
    raise ValueError(f"num_sequences must be a positive integer or None; got "
                     f"{num_sequences!r}")
  if frame_size is None:
    return None
  size = tuple(frame_size)
  if (len(size) != 2 or not all(isinstance(v, (int, np.integer))
                                for v in size) or min(size) < 1):
    raise ValueError(f"frame_size must be two positive integers (W, H); "
                     f"got {frame_size!r}")
  return int(size[0]), int(size[1])


def step_functions(spec: embedding.ModelSpec, variables: model.Variables,
                   params: tracking.TrackParams, params_as_inputs: bool,
                   split_groups: bool, num_sequences: int | None = None
                   ) -> dict[str, Callable[..., tuple[jax.Array, ...]]]:
  """The two steps as functions of the ports of `signatures`.

  Args:
    spec: the network.
    variables: its variables; closed over (constants) unless
      `params_as_inputs`, then taken as trailing inputs in `jax.tree` order.
    params: tracking hyper-parameters.
    params_as_inputs: the variables are inputs.
    split_groups: how grouped layers run (`embedding.Conv`).
    num_sequences: N: the frame step takes N sequences (see `signatures`).

  Returns:
    {"exemplar": f(frame, box, *variables) -> state (STATE order),
     "frame": f(frame, *state, *variables) -> FRAME_OUTPUTS}.
  """
  treedef = jax.tree.structure(variables)
  num_state = len(STATE)

  def unpack(leaves):
    return jax.tree.unflatten(treedef, list(leaves)) if params_as_inputs \
        else variables

  def exemplar(frame, box, *leaves):
    state = tracking.init_state(unpack(leaves), frame, box, spec, params,
                                split_groups=split_groups)
    return tuple(getattr(state, name) for name in STATE)

  def frame_step(frame, *rest):
    arrays, leaves = rest[:num_state], rest[num_state:]
    # The frame size is that of the input (symbolic or fixed at export).
    frame_size = jnp.array([frame.shape[1], frame.shape[0]], jnp.int32)
    state = tracking.TrackerState(**dict(zip(STATE, arrays)),
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
    states = [tracking.TrackerState(**{k: a[i] for k, a in zip(STATE, arrays)},
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


def _abstract(ports: Sequence[Port]) -> list[jax.ShapeDtypeStruct]:
  """ShapeDtypeStructs of the ports; "H" and "W" become symbolic dims."""
  out, scope = [], jax.export.SymbolicScope()
  for port in ports:
    shape = port.shape
    if any(isinstance(d, str) for d in shape):
      shape = jax.export.symbolic_shape(", ".join(map(str, shape)),
                                        scope=scope)
    out.append(jax.ShapeDtypeStruct(shape, _DTYPES[port.dtype]))
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


def to_onnx(fn, inputs: Sequence[Port], outputs: Sequence[Port],
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


def _to_stablehlo(fn, inputs: Sequence[Port], name: str,
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
    ValueError: an unsupported configuration (see `check_config`), or an
      op that the exporter cannot convert (naming the step).
  """
  size = check_config(spec, params, fmt, frame_size, num_sequences)
  if fmt == "onnx" and platforms:
    raise ValueError("platforms apply to StableHLO only; ONNX files run on "
                     "any ONNX Runtime execution provider")
  platforms = tuple(platforms or (jax.default_backend(),))
  variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), variables)
  sigs = signatures(spec, params, size, num_sequences)
  param_ports = parameter_ports(variables) if params_as_inputs else []
  fns = step_functions(spec, variables, params, params_as_inputs,
                       split_groups=(fmt != "onnx"),
                       num_sequences=num_sequences)
  blobs, steps = {}, {}
  for name in STEPS:
    inputs, outputs = sigs[name]
    inputs = list(inputs) + param_ports
    if fmt == "onnx":
      blobs[name] = to_onnx(fns[name], inputs, outputs, name)
    else:
      blobs[name] = _to_stablehlo(fns[name], inputs, name, platforms)
    steps[name] = {"inputs": [p.to_dict() for p in inputs],
                   "outputs": [p.to_dict() for p in outputs]}
  from siamfc_jax import __version__  # pylint: disable=g-import-not-at-top
  sidecar = {
      "format": FORMAT,
      "version": VERSION,
      "kind": fmt,
      "siamfc_jax": __version__,
      "jax": jax.__version__,
      "frame_size": list(size) if size else None,
      "num_sequences": num_sequences,
      "params_as_inputs": params_as_inputs,
      "spec": spec.to_dict(),
      "track_params": params.to_dict(),
      "weights_sha256": weights_sha256(variables),
      "state": list(STATE),
      "steps": steps,
      "usage": _usage(steps, num_sequences),
  }
  if fmt == "onnx":
    sidecar["onnx_opset"] = ONNX_OPSET
  else:
    sidecar["platforms"] = list(platforms)
  return sidecar, blobs


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


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
    spec, variables, params, fmt, frame_size, params_as_inputs, platforms,
      num_sequences: see `export_steps`.
    overwrite: replace an existing export at `directory`.
    precision: "fp32", or "int8" (`quantization.int8_steps`: ONNX, one
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
      directory, {SIDECAR} | {n + x for n in STEPS for x in _SUFFIX.values()},
      "an export", overwrite)
  if precision == "int8":
    if (fmt, frame_size, params_as_inputs, num_sequences) != (
        "onnx", None, False, None):
      raise ValueError(
          "precision 'int8' exports ONNX steps of one sequence with a "
          "symbolic frame size and the variables baked in; got "
          f"format {fmt!r}, frame_size {frame_size!r}, params_as_inputs "
          f"{params_as_inputs!r}, num_sequences {num_sequences!r}")
    from siamfc_jax import quantization  # pylint: disable=g-import-not-at-top
    sidecar, blobs = quantization.int8_steps(spec, variables, params,
                                             calibration)
  elif precision == "fp32":
    sidecar, blobs = export_steps(spec, variables, params, fmt, frame_size,
                                  params_as_inputs, platforms, num_sequences)
  else:
    raise ValueError(f"unknown precision {precision!r}; choose one of "
                     f"{list(PRECISIONS)}")
  names = {name: name + _SUFFIX[fmt] for name in STEPS}
  for name in STEPS:
    sidecar["steps"][name] = {"file": names[name],
                              "sha256": _sha256(blobs[name]),
                              **sidecar["steps"][name]}
  with folders.written_atomically(directory) as tmp:
    for name in STEPS:
      (tmp / names[name]).write_bytes(blobs[name])
    (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
  return [directory / names[n] for n in STEPS] + [directory / SIDECAR]


# ----------------------------------------------------------------------------
# Running exported steps.


def _ort_type(dtype: str) -> str:
  return {"uint8": "tensor(uint8)", "float32": "tensor(float)"}[dtype]


class OnnxRunner:
  """Runs the ONNX steps with ONNX Runtime (CPU), one session per step."""

  def __init__(self, blobs: dict[str, bytes], num_threads: int | None):
    try:
      import onnxruntime as ort  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ImportError("running ONNX steps needs onnxruntime: pip install "
                        "onnxruntime==1.31.1") from e
    options = ort.SessionOptions()
    # All cores; per-op threads only (the graph is one chain).
    options.intra_op_num_threads = num_threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    options.log_severity_level = 3  # jax2onnx's shape hints warn harmlessly
    # Idle workers sleep instead of spinning: on a shared 2-core CPU the
    # spinning steals the cores from the next step, the frame decoder and
    # other work (measured in docs/int8.md: fp32 12 %, int8 30 % faster).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    self.sessions = {
        name: ort.InferenceSession(blob, options,
                                   providers=["CPUExecutionProvider"])
        for name, blob in blobs.items()}

  def precision(self, step: str) -> str:
    """The precision a step's file names in its metadata ("fp32" if none)."""
    meta = self.sessions[step].get_modelmeta().custom_metadata_map
    return meta.get(PRECISION_KEY, "fp32")

  def signature(self, step: str) -> tuple[list[tuple], list[tuple]]:
    """(inputs, outputs) as (name, shape, dtype string) in file order."""
    s = self.sessions[step]
    return ([(i.name, list(i.shape), i.type) for i in s.get_inputs()],
            [(o.name, list(o.shape), o.type) for o in s.get_outputs()])

  def __call__(self, step: str, names: Sequence[str],
               arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    return self.sessions[step].run(None, dict(zip(names, arrays)))


class _StableHloRunner:
  """Runs the StableHLO steps with `jax.export.deserialize`, jitted."""

  def __init__(self, blobs: dict[str, bytes]):
    self.exported = {}
    for name, blob in blobs.items():
      try:
        self.exported[name] = jax.export.deserialize(bytearray(blob))
      except Exception as e:  # pylint: disable=broad-except
        # A corrupt or foreign file fails deep inside flatbuffers/MLIR.
        raise ValueError(f"the {name} step is not a serialised "
                         f"jax.export.Exported ({type(e).__name__}: {e})"
                         ) from e
    self.calls = {name: jax.jit(e.call) for name, e in self.exported.items()}

  def precision(self, step: str) -> str:
    del step
    return "fp32"

  def signature(self, step: str) -> tuple[list[tuple], list[tuple]]:
    def ports(avals):
      return [(None, [d if isinstance(d, int) else str(d) for d in a.shape],
               _ort_type(str(a.dtype))) for a in avals]

    e = self.exported[step]
    return ports(e.in_avals), ports(e.out_avals)

  def __call__(self, step: str, names: Sequence[str],
               arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    del names
    return [np.asarray(o) for o in self.calls[step](*arrays)]


def check_signature(where: str, step: str, runner, info: dict) -> None:
  """Raises ValueError naming the first port that differs from the file."""
  inputs, outputs = runner.signature(step)
  for kind, got, want in (("input", inputs, info["inputs"]),
                          ("output", outputs, info["outputs"])):
    if len(got) != len(want):
      raise ValueError(
          f"{where}: the sidecar lists {len(want)} {kind}s of the {step} "
          f"step, the file has {len(got)}")
    for (name, shape, dtype), port in zip(got, want):
      have = (name if name is not None else port["name"], shape, dtype)
      expected = (port["name"], port["shape"], _ort_type(port["dtype"]))
      if have != expected:
        raise ValueError(
            f"{where}: {step} step {kind} {port['name']!r} is "
            f"{expected[1]} {port['dtype']} in the sidecar, but the file has "
            f"{have[0]!r} {have[1]} {have[2]}")


class ExportedSteps:
  """Tracks with exported steps: `init` then `step`, state as NumPy arrays.

  Attributes:
    sidecar: the parsed sidecar.
    kind: "onnx" or "stablehlo".
    frame_size: (W, H) fixed at export, or None (any size).
    num_sequences: N if the frame step takes N sequences (`stack`), or None.
    precision: "fp32" or "int8" (`quantization.py`).
    spec: the network (from the sidecar).
    params: the tracking hyper-parameters (from the sidecar).
  """

  def __init__(self, sidecar: dict, blobs: dict[str, bytes],
               where: str = "<memory>",
               variables: model.Variables | None = None,
               num_threads: int | None = None):
    """Checks the sidecar against the files and opens them.

    Args:
      sidecar: the sidecar dict (`export_steps`).
      blobs: {step: file bytes}.
      where: named in errors (the directory).
      variables: the network variables, required iff the export takes them
        as inputs; their names and shapes must be the sidecar's.
      num_threads: ONNX Runtime threads; default all cores.

    Raises:
      ValueError: the sidecar is malformed or does not match the files or
        the variables, naming what differs.
    """
    self.sidecar, self.where = sidecar, where
    if sidecar.get("format") != FORMAT or sidecar.get("version") != VERSION:
      raise ValueError(f"{where}: not a {FORMAT} version {VERSION} sidecar "
                       f"(format {sidecar.get('format')!r}, version "
                       f"{sidecar.get('version')!r})")
    self.kind = sidecar.get("kind")
    if self.kind not in FORMATS:
      raise ValueError(f"{where}: sidecar kind {self.kind!r} is not one of "
                       f"{list(FORMATS)}")
    self.precision = sidecar.get("precision", "fp32")
    if self.precision not in PRECISIONS:
      raise ValueError(f"{where}: sidecar precision {self.precision!r} is not "
                       f"one of {list(PRECISIONS)}")
    try:
      self.spec = embedding.ModelSpec.from_dict(sidecar["spec"])
      self.params = tracking.TrackParams(**sidecar["track_params"])
      self.frame_size = (tuple(sidecar["frame_size"])
                         if sidecar["frame_size"] else None)
      self.num_sequences = sidecar.get("num_sequences")
      steps = {name: sidecar["steps"][name] for name in STEPS}
    except (KeyError, TypeError, ValueError) as e:
      raise ValueError(f"{where}: malformed sidecar ({type(e).__name__}: "
                       f"{e})") from e
    # The ports the sidecar lists must be those its spec, hyper-parameters
    # and frame size give (the files are checked against the ports below).
    want = signatures(self.spec, self.params, self.frame_size,
                      self.num_sequences)
    for name in STEPS:
      for kind, ports, listed in (
          ("input", want[name][0], steps[name]["inputs"]),
          ("output", want[name][1], steps[name]["outputs"])):
        for port, entry in zip(ports, list(listed) + [None] * len(ports)):
          if entry is None or (entry.get("name"), entry.get("shape"),
                               entry.get("dtype")) != (
                                   port.name, list(port.shape), port.dtype):
            raise ValueError(
                f"{where}: the sidecar's spec, track_params and frame_size "
                f"give the {name} step {kind} {port.name!r} as "
                f"{list(port.shape)} {port.dtype}, but its list of {kind}s "
                f"has {entry}")
    self._params = self._parameter_arrays(variables)
    self._names = {name: [p["name"] for p in steps[name]["inputs"]]
                   for name in STEPS}
    self._outputs = [p.name for p in want["frame"][1]]
    self._runner = (OnnxRunner(blobs, num_threads) if self.kind == "onnx"
                    else _StableHloRunner(blobs))
    for name in STEPS:
      check_signature(where, name, self._runner, steps[name])
      if self._runner.precision(name) != self.precision:
        raise ValueError(
            f"{where}: the sidecar says precision {self.precision!r}, but "
            f"the {name} step file is {self._runner.precision(name)!r}: the "
            "sidecar belongs to another export")

  def _parameter_arrays(self, variables) -> list[np.ndarray]:
    wanted = [p for p in self.sidecar["steps"]["frame"]["inputs"]
              if p["name"] not in STATE and p["name"] != "frame"]
    if not self.sidecar.get("params_as_inputs"):
      if variables is not None:
        raise ValueError(f"{self.where}: the variables are constants in "
                         "this export; pass no variables")
      return []
    if variables is None:
      raise ValueError(f"{self.where}: this export takes the network "
                       f"variables as inputs ({len(wanted)} arrays); pass "
                       "variables=")
    have = {p.name: p.shape for p in parameter_ports(variables)}
    want = {p["name"]: tuple(p["shape"]) for p in wanted}
    if have != want:
      missing = sorted(set(want) - set(have))
      unexpected = sorted(set(have) - set(want))
      shapes = sorted(k for k in set(have) & set(want) if have[k] != want[k])
      raise ValueError(f"{self.where}: variables do not match the sidecar: "
                       f"missing {missing}, unexpected {unexpected}, other "
                       f"shape {[(k, have[k], want[k]) for k in shapes]}")
    return [np.asarray(a, np.float32) for a in jax.tree.leaves(variables)]

  def _frame(self, frame, n: int | None = None) -> np.ndarray:
    """Checks one [H, W, 3] frame, or N ([N, H, W, 3]) if n is given."""
    frame = np.asarray(frame)
    lead = () if n is None else (n,)
    if (frame.ndim != 3 + len(lead) or frame.shape[:len(lead)] != lead
        or frame.shape[-1] != 3 or frame.dtype != np.uint8):
      want = "[H, W, 3]" if n is None else f"[{n}, H, W, 3]"
      raise ValueError(f"{self.where}: frames must be {want} uint8 RGB; got "
                       f"{frame.shape} {frame.dtype}")
    height, width = frame.shape[-3:-1]
    if self.frame_size and (width, height) != tuple(self.frame_size):
      w, h = self.frame_size
      raise ValueError(
          f"{self.where}: frame is {width}x{height} (WxH) but this export "
          f"has a fixed frame size of {w}x{h}; export again with that frame "
          "size, or without one (any size)")
    return frame

  def init(self, frame, box) -> dict[str, np.ndarray]:
    """The exemplar step: {name: array} state of the first frame.

    Args:
      frame: [H, W, 3] uint8 RGB first frame.
      box: [4] target [x, y, w, h] (see `boxes.py`).
    """
    box = np.asarray(box, np.float32).reshape(4)
    out = self._runner("exemplar", self._names["exemplar"],
                       [self._frame(frame), box] + self._params)
    return dict(zip(STATE, out))

  def step(self, state: dict[str, np.ndarray], frame
           ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The frame step.

    Args:
      state: from `init` or the previous `step` (N of them `stack`ed for
        an N-sequence export).
      frame: [H, W, 3] uint8 RGB frame ([N, H, W, 3] for N sequences).

    Returns:
      (new state, [4] float32 box [x, y, w, h], [S, n, n] float32 scores),
      with a leading axis N on each for an N-sequence export.
    """
    out = self._runner("frame", self._names["frame"],
                       [self._frame(frame, self.num_sequences)]
                       + [state[n] for n in STATE] + self._params)
    out = dict(zip(self._outputs, out))
    new = {name: out.get(f"new_{name}", state[name]) for name in STATE}
    return new, out["box"], out["scores"]


def load(directory: str | os.PathLike,
         variables: model.Variables | None = None,
         num_threads: int | None = None) -> ExportedSteps:
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
    files = {name: sidecar["steps"][name]["file"] for name in STEPS}
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
  return ExportedSteps(sidecar, blobs, str(directory), variables, num_threads)


# ----------------------------------------------------------------------------
# Parity with the JAX step.


@functools.partial(jax.jit, static_argnames=("spec", "params"))
def _jax_step(variables, state, frame, spec, params):
  return tracking.track_step(variables, state, frame, spec, params)


def parity(steps: ExportedSteps, variables: model.Variables,
           frames: Sequence[np.ndarray], box) -> dict[str, Any]:
  """Compares the exported steps with the JAX ones, frame by frame.

  Every frame step starts from the JAX state, so each frame measures one
  step. The score difference is relative to the map's scale:
  max |exported - jax| / max |jax| over each frame's S maps.

  Args:
    steps: the exported steps (of one sequence).
    variables: the network variables of the export.
    frames: [H, W, 3] uint8 frames; frames[0] holds `box`.
    box: [4] target [x, y, w, h] in frames[0].

  Returns:
    {"frames": steps compared, "max_rel_score_diff": float,
     "max_box_diff_px": float (largest box coordinate difference),
     "max_state_diff": float (exemplar step: largest absolute difference),
     "max_rel_template_diff": float (the template after each frame step,
     relative as the scores; 0 without template updates)}.
  """
  if steps.num_sequences:
    raise ValueError("parity compares one-sequence exports; this one steps "
                     f"{steps.num_sequences} sequences at once")
  spec, params = steps.spec, steps.params
  state = tracking.init_state_jit(variables, frames[0],
                                  np.asarray(box, np.float32), spec, params)
  ours = steps.init(frames[0], box)
  state_diff = max(float(np.max(np.abs(ours[n] - np.asarray(getattr(state,
                                                                      n)))))
                   for n in STATE)
  def rel_diff(ours, want):
    want = np.asarray(want)
    return float(np.max(np.abs(ours - want))
                 / max(float(np.max(np.abs(want))), 1e-12))

  rel, box_diff, template_diff = 0.0, 0.0, 0.0
  for frame in frames[1:]:
    arrays = {n: np.asarray(getattr(state, n)) for n in STATE}
    ours_state, ours_box, ours_scores = steps.step(arrays, frame)
    state, want_box, want_scores = _jax_step(variables, state, frame, spec,
                                               params)
    rel = max(rel, rel_diff(ours_scores, want_scores))
    template_diff = max(template_diff,
                        rel_diff(ours_state["z_feat"], state.z_feat))
    box_diff = max(box_diff, float(np.max(np.abs(ours_box
                                                 - np.asarray(want_box)))))
  return {"frames": len(frames) - 1, "max_rel_score_diff": rel,
          "max_box_diff_px": box_diff, "max_state_diff": state_diff,
          "max_rel_template_diff": template_diff}
