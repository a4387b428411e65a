"""The contract of the exported steps: names, ports and the sidecar format.

What every part of `siamfc_jax.export` (and an exported file's reader)
agrees on: the two steps (STEPS), the state passed between them (STATE),
each step's inputs and outputs (`signatures`, as `Port`s), the sidecar's
format and version, and the precisions a file can carry. The exporter
(`steps.py`), the runners (`runner.py`), the K-target export
(`targets.py`) and int8 (`int8.py`) all build on these names.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import jax
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking

FORMAT = "siamfc_jax.export"
VERSION = 1
FORMATS = ("onnx", "stablehlo")
STEPS = ("exemplar", "frame")

# The state, in the order the frame step takes it after the frame.
STATE = ("z_feat", "centre", "size", "x_side", "x_side_limits", "fill")
# What the frame step returns, in order; `new_*` replace the state's `*`.
# With template updates (`z_lr` > 0) "new_z_feat" comes first.
FRAME_OUTPUTS = ("new_centre", "new_size", "new_x_side", "box", "scores")
DTYPES = {"uint8": np.uint8, "float32": np.float32}
# Arithmetic of the network: "fp32" as exported, or "int8" (ONNX only,
# `int8.py`). Quantized files carry theirs in the model metadata
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


def frame_port(frame_size: tuple[int, int] | None) -> Port:
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
  frame = frame_port(frame_size)
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


def ort_type(dtype: str) -> str:
  return {"uint8": "tensor(uint8)", "float32": "tensor(float)"}[dtype]


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
      expected = (port["name"], port["shape"], ort_type(port["dtype"]))
      if have != expected:
        raise ValueError(
            f"{where}: {step} step {kind} {port['name']!r} is "
            f"{expected[1]} {port['dtype']} in the sidecar, but the file has "
            f"{have[0]!r} {have[1]} {have[2]}")
