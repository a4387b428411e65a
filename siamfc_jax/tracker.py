"""`Tracker`: the tracker for people (and the got10k toolkit).

    tracker = Tracker.from_checkpoint("ckpt/")       # or Tracker.pretrained()
    boxes, times = tracker.track(frame_paths, first_box)

Boxes are `[x, y, w, h]` float pixels, 0-based top-left (see `boxes.py`), as
OTB results and GOT-10k use. Frames are anything PIL or NumPy can hold:
grayscale, RGB, RGBA, 8- or 16-bit; they are converted to 8-bit RGB on the
host. All per-frame work happens in one call of the backend's frame step
(`backends.py`): `tracking.track_step` jitted ("jax") or exported to ONNX
("onnxruntime", the default on CPU when installed); the boxes agree.

Several targets in one video: give `[K, 4]` boxes to `init` / `track`

    boxes, times = tracker.track(frame_paths, first_boxes)   # [N, K, 4]

and each frame is decoded once and all K targets are stepped in one call of
the backend (`tracking.track_step_targets`: the K states batched, the frame
shared), with the boxes of K separate runs (to 1e-4 px). A `[4]` box is the
one-target path of before, shapes included; `[1, 4]` is K = 1 (boxes
`[N, 1, 4]`). The gray twin is chosen once per video, from the first frame.
`track_many` and the got10k adapter are one target per sequence.

`precision="int8"` runs the onnxruntime steps quantized
(`export/int8.py`): faster on a CPU, boxes close to the fp32 ones.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from siamfc_jax import backends
from siamfc_jax import checkpoints
from siamfc_jax import convert
from siamfc_jax import embedding
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import sharding
from siamfc_jax import tracking
from siamfc_jax.convert import common
from siamfc_jax.export import ports

class Tracker:
  """A SiamFC tracker: network variables + tracking hyper-parameters.

  Attributes:
    name: shown in result folders and reports.
    spec: the network.
    params: tracking hyper-parameters (`tracking.TrackParams`).
    backend: where the steps run (`backends.py`): `backend.name` is "jax"
      or "onnxruntime".
    precision: "fp32" (the faithful tracker) or "int8" (onnxruntime).
    calibration: int8: the calibration sequence folders, or None for the
      bundled demo clip.
    is_deterministic: True (the got10k toolkit then runs each sequence once).
  """

  is_deterministic = True

  def __init__(self, spec: embedding.ModelSpec, variables: model.Variables,
               params: tracking.TrackParams = tracking.SIAMFC_3S,
               name: str | None = None, backend: str | None = "jax",
               gray_variables: model.Variables | None = None,
               precision: str = "fp32",
               calibration: Sequence[str | os.PathLike] | None = None):
    """A tracker of `spec` with `variables`.

    Args:
      spec: the network.
      variables: its variables.
      params: tracking hyper-parameters.
      name: shown in result folders and reports; default "SiamFC", with
        "-int8" appended in int8.
      backend: "jax", "onnxruntime", or "auto"/None for the default of this
        machine (`backends.default_backend`). "jax" here, where training
        and tests build trackers; `pretrained`, `from_checkpoint` and
        `from_weights` default to "auto".
      gray_variables: variables of the same network trained on grayscale
        pairs (CFNet's `_gray_` twins), used instead of `variables` for
        sequences whose first frame is grayscale, as the original does.
      precision: "fp32", or "int8" (the onnxruntime backend only; the
        steps are calibrated and quantized at the first `init`).
      calibration: int8: sequence folders to calibrate on; None for the
        bundled demo clip.

    Raises:
      ValueError: a bad geometry, backend or precision, int8 on JAX, or a
        calibration folder without frames.
      FileNotFoundError: a calibration folder does not exist.
    """
    tracking.check_geometry(spec, params)
    self.spec, self.params = spec, params
    self.name = name or default_name("SiamFC", precision)
    self.precision = precision
    self.calibration = list(calibration) if calibration else None
    self.variables = jax.device_put(variables)
    self.backend = backends.make(backend, spec, self.variables, params,
                                 precision, self.calibration)
    self.gray_variables = self.gray_backend = None
    if gray_variables is not None:
      common.check_variables("gray_variables", spec, gray_variables)
      self.gray_variables = jax.device_put(gray_variables)
      self.gray_backend = backends.make(self.backend.name, spec,
                                        self.gray_variables, params,
                                        precision, self.calibration,
                                        gray=True)
    self._active = self.backend
    self._state = None
    self._frame_shape = None
    self._targets = False

  @classmethod
  def pretrained(cls, name: str = "siamfc-3s",
                 backend: str | None = None, precision: str = "fp32",
                 calibration: Sequence[str | os.PathLike] | None = None
                 ) -> Tracker:
    """The original SiamFC network shipped with the package; no download.

    Args:
      name: "siamfc-3s" or "siamfc-5s" (same weights, the tracking
        hyper-parameters of 3 or 5 scales); the tracker's name, with
        "-int8" appended in int8.
      backend: "jax", "onnxruntime" or "auto"/None (this machine's default).
      precision, calibration: see `Tracker`.
    """
    spec, variables = pretrained.network()
    return cls(spec, variables, _params(name),
               name=default_name(name, precision), backend=backend,
               precision=precision, calibration=calibration)

  @classmethod
  def from_checkpoint(cls, path: str | os.PathLike,
                      params: tracking.TrackParams | str | None = None,
                      name: str | None = None,
                      backend: str | None = None,
                      which: str = "latest", precision: str = "fp32",
                      calibration: Sequence[str | os.PathLike] | None = None
                      ) -> Tracker:
    """Loads a checkpoint written by `checkpoints.save` (training, convert).

    Args:
      path: checkpoint directory, a training workdir (its `tracker/`, or
        `best/` with `which="best"`), or a weights file (`from_weights`).
      params: tracking hyper-parameters or a preset name ("siamfc-3s",
        "siamfc-5s"); by default those saved in the checkpoint's config
        (`config["track"]`), else SiamFC-3s.
      name: tracker name; defaults to the directory name (the workdir's
        for a training workdir), with "-int8" appended in int8.
      backend: "jax", "onnxruntime" or "auto"/None (this machine's default).
      which: of a training workdir, "latest" (the final network) or "best"
        (the best by validation tracking AUC, `training.TrackValidation`).
      precision, calibration: see `Tracker`.
    """
    if which not in ("latest", "best"):
      raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    if os.path.isfile(path):  # a weights file (.mat, .npz, .pth)
      return cls.from_weights(path, params, name, backend,
                              precision=precision, calibration=calibration)
    name = name or default_name(os.path.basename(os.path.normpath(path)),
                                precision)
    trained = os.path.join(path, "tracker" if which == "latest" else "best")
    if os.path.isdir(trained) and not os.path.isfile(
        os.path.join(path, checkpoints.META_FILE)):
      path = trained
    spec, variables, config = checkpoints.load(path)
    if params is None:
      params = tracking.TrackParams(**(config or {}).get("track", {}))
    return cls(spec, variables, _params(params), name, backend=backend,
               precision=precision, calibration=calibration)

  @classmethod
  def from_weights(cls, path: str | os.PathLike,
                   params: tracking.TrackParams | str | None = None,
                   name: str | None = None, backend: str | None = None,
                   gray: bool = True, precision: str = "fp32",
                   calibration: Sequence[str | os.PathLike] | None = None
                   ) -> Tracker:
    """Imports a pretrained weights file (`convert.load`) and tracks with it.

        tracker = Tracker.from_weights("cfnet-conv2_e80.mat")

    Args:
      path: a `.mat` (SiamFC, CFNet), int8 `.npz` or siamfc-pytorch `.pth`.
      params: tracking hyper-parameters or a preset name; by default the
        CFNet preset its file name names (`preset_for_file`), else
        SiamFC-3s.
      name: tracker name; defaults to the file name without suffix, with
        "-int8" appended in int8.
      backend: "jax", "onnxruntime" or "auto"/None (this machine's default).
      gray: use the file's `_gray_` twin beside it (CFNet:
        `cfnet-conv2_gray_e40.mat` for `cfnet-conv2_e80.mat`) on grayscale
        sequences, when there is one (calibrated on grayscale frames in
        int8).
      precision, calibration: see `Tracker`.
    """
    spec, variables, _ = convert.load(path)
    gray_variables = None
    twin = gray_twin(path) if gray else None
    if twin is not None:
      gray_spec, gray_variables, _ = convert.load(twin)
      if gray_spec != spec:
        raise ValueError(f"{twin}: not the same network as {path}")
    if params is None:
      params = preset_for_file(path, spec)
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return cls(spec, variables, _params(params),
               name or default_name(stem, precision), backend=backend,
               gray_variables=gray_variables, precision=precision,
               calibration=calibration)

  def settings(self) -> dict[str, Any]:
    """What decides this tracker's boxes, as JSON-ready values: the network,
    its weights (SHA-256), the hyper-parameters, the precision and, in
    int8, the calibration (sequences, frames, method). The backend is not
    in it (in fp32 both give the same boxes)."""
    gray = self.gray_variables
    return {"spec": self.spec.to_dict(), "params": self.params.to_dict(),
            "weights_sha256": ports.weights_sha256(self.variables),
            "gray_weights_sha256": (None if gray is None
                                    else ports.weights_sha256(gray)),
            "precision": self.precision,
            "calibration": getattr(self.backend, "calibration_info", None)}

  def init(self, image: frames_lib.Frame, box) -> None:
    """Starts tracking the target `box` [x, y, w, h] in `image`.

    Args:
      image: the first frame.
      box: [4] one target, or [K, 4] K targets (`frames.check_boxes`), then
        tracked together: one call of the backend steps all K per frame.
    """
    frame = frames_lib.load_frame(image)
    targets = np.ndim(box) == 2
    check = frames_lib.check_boxes if targets else frames_lib.check_box
    box = check(box, frame.shape)
    self._frame_shape = frame.shape
    # One network per video: the first frame decides for every target.
    self._active = (self.gray_backend if self.gray_backend is not None
                    and is_grayscale(frame) else self.backend)
    self._targets = targets
    self._state = (self._active.init_targets(frame, box) if targets
                   else self._active.init(frame, box))

  def update(self, image: frames_lib.Frame) -> np.ndarray:
    """Tracks into the next frame; returns the [4] float64 box ([K, 4] for
    K targets)."""
    return np.asarray(self._step(image), np.float64)

  def _step(self, image: frames_lib.Frame) -> np.ndarray:
    if self._state is None:
      raise ValueError("call init(image, box) before update(image)")
    frame = frames_lib.load_frame(image)
    frames_lib.check_frame_shape(frame, self._frame_shape, image)
    if self._targets:
      self._state, box = self._active.step_targets(self._state, frame)
    else:
      self._state, box = self._active.step(self._state, frame)
    return box

  def track(self, frames: Iterable[frames_lib.Frame], box,
            progress: Callable[[int], None] | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Tracks a whole sequence (got10k's `Tracker.track`).

    Args:
      frames: paths or images; the first one holds `box`. Each is decoded
        once, whatever the number of targets.
      box: [x, y, w, h] target in the first frame, or [K, 4] K targets,
        tracked together (one backend call per frame for all K).
      progress: called with the number of frames done, after each frame.

    Returns:
      ([N, 4] float64 boxes ([N, K, 4] for K targets), boxes[0] = box;
      [N] float64 seconds spent in `init`/`update` per frame, decoding
      excluded).
    """
    out_boxes, times = [], []
    for i, (b, seconds) in enumerate(self.track_iter(frames, box)):
      out_boxes.append(b)
      times.append(seconds)
      if progress:
        progress(i + 1)
    if not out_boxes:
      raise ValueError("track() got no frames")
    return np.stack(out_boxes), np.asarray(times)

  def track_iter(self, frames: Iterable[frames_lib.Frame], box
                 ) -> Iterator[tuple[np.ndarray, float]]:
    """Yields ([4] float64 box, or [K, 4] for K targets; seconds) frame by
    frame, as they are tracked.

    Frames are decoded in a background thread while the device tracks, and
    the seconds exclude decoding. A consumer that stores what it receives
    keeps every result up to a frame that fails to decode.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
      for i, (source, frame) in enumerate(_prefetch(pool, frames)):
        start = time.perf_counter()
        if i == 0:
          self.init(frame, box)  # the backend waits for its result
          out = np.asarray(box, np.float64)
          out = out if out.ndim == 2 else out.reshape(4)
        else:
          frames_lib.check_frame_shape(frame, self._frame_shape, source, i)
          out = self.update(frame)
        yield out, time.perf_counter() - start


def _prefetch(pool: concurrent.futures.Executor,
              frames: Iterable[frames_lib.Frame], depth: int = 4):
  """Yields (frame as given, decoded frame), decoding up to `depth` ahead in
  `pool`."""
  pending = []
  for frame in frames:
    pending.append((frame, pool.submit(frames_lib.load_frame, frame)))
    if len(pending) > depth:
      source, future = pending.pop(0)
      yield source, future.result()
  for source, future in pending:
    yield source, future.result()


def load(checkpoint: str | os.PathLike | None = None,
         preset: str | None = None, backend: str | None = None,
         precision: str = "fp32",
         calibration: Sequence[str | os.PathLike] | None = None) -> Tracker:
  """The tracker of the command-line tools' --checkpoint and --preset.

  Args:
    checkpoint: a checkpoint, training workdir or weights file
      (`Tracker.from_checkpoint`); None for the bundled network.
    preset: tracking preset; by default the checkpoint's own, or
      SiamFC-3s for the bundled network.
    backend: "jax", "onnxruntime" or "auto"/None.
    precision, calibration: see `Tracker`.
  """
  if checkpoint:
    return Tracker.from_checkpoint(checkpoint, preset, backend=backend,
                                   precision=precision,
                                   calibration=calibration)
  return Tracker.pretrained(preset or "siamfc-3s", backend=backend,
                            precision=precision, calibration=calibration)


def default_name(name: str, precision: str) -> str:
  """`name`, with "-int8" appended for int8 (results kept apart)."""
  return name if precision == "fp32" else f"{name}-{precision}"


def is_grayscale(frame: np.ndarray) -> bool:
  """Whether an [H, W, 3] frame has three equal channels (a gray video)."""
  return bool(np.array_equal(frame[..., 0], frame[..., 1])
              and np.array_equal(frame[..., 1], frame[..., 2]))


def gray_twin(path: str | os.PathLike) -> str | None:
  """The `_gray_` twin of a CFNet weights file, if one lies beside it.

  `name_eK.mat` -> the one `name_gray_eJ.mat` (any epoch J); None for a
  file that is itself a gray net, or when there is no single twin.
  """
  folder, file = os.path.split(os.fspath(path))
  stem, suffix = os.path.splitext(file)
  base = re.sub(r"_e\d+$", "", stem)
  if "_gray" in base:
    return None
  pattern = re.compile(re.escape(f"{base}_gray_e") + r"\d+"
                       + re.escape(suffix) + "$")
  twins = [f for f in os.listdir(folder or ".") if pattern.match(f)]
  return os.path.join(folder, twins[0]) if len(twins) == 1 else None


def preset_for_file(path: str | os.PathLike, spec: embedding.ModelSpec
                    ) -> tracking.TrackParams:
  """The tracking preset a weights file's name implies.

  The released CFNet files name their network: `cfnet-conv1*`,
  `cfnet-conv2*`, `*cfnet-conv3*` (baseline+CF-conv3), `baseline-conv5*`.
  Other xcorr networks get SiamFC-3s.

  Raises:
    ValueError: a CF network whose name names no preset.
  """
  stem = os.path.basename(os.fspath(path)).lower()
  for preset in ("cfnet-conv1", "cfnet-conv2", "cfnet-conv3",
                 "baseline-conv5"):
    if preset in stem:
      return tracking.PRESETS[preset]
  if spec.join == "cf":
    raise ValueError(f"{path}: a CFNet network whose file name names none of "
                     "the presets cfnet-conv1/2/3; pass params=")
  return tracking.SIAMFC_3S


def _params(params: tracking.TrackParams | str) -> tracking.TrackParams:
  if isinstance(params, str):
    if params not in tracking.PRESETS:
      raise ValueError(f"unknown tracking preset {params!r}; choose one of "
                       f"{sorted(tracking.PRESETS)}")
    return tracking.PRESETS[params]
  return params


def track_many(tracker: Tracker,
               sequences: Sequence[tuple[Sequence[frames_lib.Frame], Any]],
               mesh: jax.sharding.Mesh | None = None) -> list[np.ndarray]:
  """Tracks N sequences in lock-step, one batched device call per frame.

  Frames of unequal sizes are padded to the largest (the crop treats the
  padding as outside the frame) and shorter sequences stop early, so the
  boxes equal N separate `Tracker.track` runs. The batch is sharded over
  the devices of `mesh` (`sharding.py`: padded with idle slots to a
  multiple of the device count); the boxes are those of one device.
  Lock-step batching is JAX only: a tracker with another backend tracks
  the N sequences one after the other (the same boxes as separate runs, by
  construction).

  Args:
    tracker: supplies network, hyper-parameters and backend.
    sequences: N pairs (frames, first box [x, y, w, h]).
    mesh: devices to shard the batch over (axis `data`); default: every
      local device (`sharding.local_mesh`).

  Returns:
    N arrays [len_i, 4] float64 of boxes, the first being the given box.
  """
  if not sequences:
    return []
  if tracker.backend.name != "jax":
    return [tracker.track(frames, box)[0] for frames, box in sequences]
  firsts = [frames_lib.load_frame(frames[0]) for frames, _ in sequences]
  if tracker.gray_variables is not None:  # two groups, two networks
    gray = [is_grayscale(f) for f in firsts]
    out = [None] * len(sequences)
    for variables, flag in ((tracker.variables, False),
                            (tracker.gray_variables, True)):
      index = [i for i, g in enumerate(gray) if g == flag]
      boxes = _track_lock_step(tracker, variables,
                               [sequences[i] for i in index],
                               [firsts[i] for i in index], mesh)
      for i, b in zip(index, boxes):
        out[i] = b
    return out
  return _track_lock_step(tracker, tracker.variables, sequences, firsts,
                          mesh)


def _track_lock_step(tracker: Tracker, variables: model.Variables,
                     sequences, firsts: list[np.ndarray],
                     mesh: jax.sharding.Mesh | None) -> list[np.ndarray]:
  """`track_many` of sequences that all use `variables` (first frames
  decoded), sharded over `mesh`."""
  if not sequences:
    return []
  states = [tracking.init_state_jit(variables, f,
                                    frames_lib.check_box(b, f.shape),
                                    tracker.spec, tracker.params)
            for f, (_, b) in zip(firsts, sequences)]
  # Idle slots (length 0: never active) fill the batch to a multiple of the
  # device count.
  mesh = mesh or sharding.local_mesh()
  size = sharding.padded_size(len(sequences), mesh)
  state = sharding.put_batch(sharding.pad_batch(
      jax.tree.map(lambda *x: jnp.stack(x), *states), size), mesh)
  variables = jax.device_put(variables, sharding.replicated(mesh))
  lengths = np.zeros(size, np.int64)
  lengths[:len(sequences)] = [len(frames) for frames, _ in sequences]
  height = max(f.shape[0] for f in firsts)
  width = max(f.shape[1] for f in firsts)
  out = [[np.asarray(b, np.float64).reshape(4)] for _, b in sequences]

  def decode(t):
    # A new buffer each frame: the device may still read the previous one.
    batch = np.zeros((size, height, width, 3), np.uint8)
    for i, (frames, _) in enumerate(sequences):
      if t < lengths[i]:
        frame = frames_lib.load_frame(frames[t])
        frames_lib.check_frame_shape(frame, firsts[i].shape, frames[t], t)
        batch[i, :frame.shape[0], :frame.shape[1]] = frame
    return sharding.put_batch(batch, mesh)

  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    future = pool.submit(decode, 1) if lengths.max() > 1 else None
    for t in range(1, lengths.max()):
      frames = future.result()
      if t + 1 < lengths.max():
        future = pool.submit(decode, t + 1)
      active = sharding.put_batch(t < lengths, mesh)
      state, box, _ = tracking.track_step_batch(
          variables, state, frames, active, tracker.spec,
          tracker.params)
      box = np.asarray(box, np.float64)
      for i in np.flatnonzero(t < lengths):
        out[i].append(box[i])
  return [np.stack(b) for b in out]
