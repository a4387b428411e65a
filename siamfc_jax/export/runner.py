"""Runs exported steps (ONNX Runtime, `jax.export`), checked by the sidecar.

    steps = ExportedSteps(sidecar, blobs)   # or files.load(directory)
    state = steps.init(frame0, box0)
    state, box, scores = steps.step(state, frame1)
"""

from __future__ import annotations

import os
from typing import Sequence

import jax
import numpy as np

from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracking
from siamfc_jax.export import ports

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
    return meta.get(ports.PRECISION_KEY, "fp32")

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
    def as_ports(avals):
      return [(None, [d if isinstance(d, int) else str(d) for d in a.shape],
               ports.ort_type(str(a.dtype))) for a in avals]

    e = self.exported[step]
    return as_ports(e.in_avals), as_ports(e.out_avals)

  def __call__(self, step: str, names: Sequence[str],
               arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    del names
    return [np.asarray(o) for o in self.calls[step](*arrays)]


class ExportedSteps:
  """Tracks with exported steps: `init` then `step`, state as NumPy arrays.

  Attributes:
    sidecar: the parsed sidecar.
    kind: "onnx" or "stablehlo".
    frame_size: (W, H) fixed at export, or None (any size).
    num_sequences: N if the frame step takes N sequences (`stack`), or None.
    precision: "fp32" or "int8" (`int8.py`).
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
    if (sidecar.get("format"), sidecar.get("version")) != (ports.FORMAT,
                                                           ports.VERSION):
      raise ValueError(f"{where}: not a {ports.FORMAT} version "
                       f"{ports.VERSION} sidecar "
                       f"(format {sidecar.get('format')!r}, version "
                       f"{sidecar.get('version')!r})")
    self.kind = sidecar.get("kind")
    if self.kind not in ports.FORMATS:
      raise ValueError(f"{where}: sidecar kind {self.kind!r} is not one of "
                       f"{list(ports.FORMATS)}")
    self.precision = sidecar.get("precision", "fp32")
    if self.precision not in ports.PRECISIONS:
      raise ValueError(f"{where}: sidecar precision {self.precision!r} is not "
                       f"one of {list(ports.PRECISIONS)}")
    try:
      self.spec = embedding.ModelSpec.from_dict(sidecar["spec"])
      self.params = tracking.TrackParams(**sidecar["track_params"])
      self.frame_size = (tuple(sidecar["frame_size"])
                         if sidecar["frame_size"] else None)
      self.num_sequences = sidecar.get("num_sequences")
      steps = {name: sidecar["steps"][name] for name in ports.STEPS}
    except (KeyError, TypeError, ValueError) as e:
      raise ValueError(f"{where}: malformed sidecar ({type(e).__name__}: "
                       f"{e})") from e
    # The ports the sidecar lists must be those its spec, hyper-parameters
    # and frame size give (the files are checked against the ports below).
    want = ports.signatures(self.spec, self.params, self.frame_size,
                            self.num_sequences)
    for name in ports.STEPS:
      for kind, expected, listed in (
          ("input", want[name][0], steps[name]["inputs"]),
          ("output", want[name][1], steps[name]["outputs"])):
        for port, entry in zip(expected,
                               list(listed) + [None] * len(expected)):
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
                   for name in ports.STEPS}
    self._outputs = [p.name for p in want["frame"][1]]
    self._runner = (OnnxRunner(blobs, num_threads) if self.kind == "onnx"
                    else _StableHloRunner(blobs))
    for name in ports.STEPS:
      ports.check_signature(where, name, self._runner, steps[name])
      if self._runner.precision(name) != self.precision:
        raise ValueError(
            f"{where}: the sidecar says precision {self.precision!r}, but "
            f"the {name} step file is {self._runner.precision(name)!r}: the "
            "sidecar belongs to another export")

  def _parameter_arrays(self, variables) -> list[np.ndarray]:
    wanted = [p for p in self.sidecar["steps"]["frame"]["inputs"]
              if p["name"] not in ports.STATE and p["name"] != "frame"]
    if not self.sidecar.get("params_as_inputs"):
      if variables is not None:
        raise ValueError(f"{self.where}: the variables are constants in "
                         "this export; pass no variables")
      return []
    if variables is None:
      raise ValueError(f"{self.where}: this export takes the network "
                       f"variables as inputs ({len(wanted)} arrays); pass "
                       "variables=")
    have = {p.name: p.shape for p in ports.parameter_ports(variables)}
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
    return dict(zip(ports.STATE, out))

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
                       + [state[n] for n in ports.STATE] + self._params)
    out = dict(zip(self._outputs, out))
    new = {name: out.get(f"new_{name}", state[name]) for name in ports.STATE}
    return new, out["box"], out["scores"]
