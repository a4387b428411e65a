"""How fast the tracker runs: the jitted step alone, host work, end to end.

Each figure is the median over frames of the bundled demo clip after a few
warm-up frames (compilation excluded), in milliseconds per call, with
frames/s = sequences per call / seconds per call:

- `host_decode`: JPEG decode + RGB conversion of one frame (`load_frame`);
- `host_to_device`: `jax.device_put` of one decoded frame;
- `step`: `tracking.track_step_jit` with the frame already on device: the
  pure per-frame work (S crops, network, xcorr, upsampling, update);
- `track_update`: one `Tracker.update` step inside `Tracker.track` (a host
  frame in, a host box out; decoding excluded, as the trackers' fps of
  `shared/reference/peer-results-shared-sequences.md`);
- `track_end_to_end`: `Tracker.track` over the clip, wall clock, decoding
  and the first frame's `init` included;
- `batch_step`: `tracking.track_step_batch` over N sequences at once.

`python -m benchmarks.tracking_speed --torch` adds PyTorch's step and
`step_interleaved`: our step again, each frame timed in turn with the
PyTorch ones, so that a machine shared with other work slows all of them
alike. `--onnxruntime` adds the onnxruntime backend (`backends.py`): `ort_step`,
its exported frame step with the frame in host memory (in turn with the
others under --torch), and `ort_batch_step`, the frame step exported for N
sequences at once.

    results = timing.run_all(tracker_for, num_frames=30, scales=(3,),
                             batch_sizes=(1, 4, 8))
    print(timing.format_table(results))
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from typing import Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from siamfc_jax import export
from siamfc_jax import frames as frames_lib
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.export import int8

# Untimed steps after compilation: the first calls also page in buffers.
WARMUP_STEPS = 2

# Figure names, in table order, with what each one times.
DESCRIPTIONS = {
    "host_decode": "JPEG decode to RGB (host, PIL)",
    "host_to_device": "host -> device transfer of a frame",
    "step": "jitted step, frame on device",
    "step_interleaved": "jitted step, timed in turn with PyTorch's",
    "track_update": "Tracker.track, per update (host frame in/box out)",
    "track_end_to_end": "Tracker.track end to end (decode, init incl.)",
    "batch_step": "track_step_batch, N sequences",
    "torch_step_nchw": "PyTorch step, NCHW",
    "torch_step_channels_last": "PyTorch step, channels_last",
    "ort_step": "ONNX Runtime step (onnxruntime backend)",
    "ort_batch_step": "ONNX Runtime step, N sequences (one export)",
    "ort_step_int8": "ONNX Runtime step, int8 (export/int8.py)",
}


@dataclasses.dataclass(frozen=True)
class Row:
  """One figure of the table.

  Attributes:
    name: a key of `DESCRIPTIONS`.
    scales: S searched scales, or 0 where scales do not apply (host rows).
    sequences: N sequences advanced by one call.
    ms: median milliseconds per call (the mean for `track_end_to_end`).
    fps: frames per second, N * 1000 / ms.
    frames: how many calls the figure is over.
  """

  name: str
  scales: int
  sequences: int
  ms: float
  fps: float
  frames: int

  @classmethod
  def from_seconds(cls, name: str, scales: int, sequences: int,
                   seconds: Sequence[float]) -> Row:
    """The row of per-call `seconds` (median taken here)."""
    seconds = np.asarray(seconds, np.float64)
    if seconds.size == 0 or not np.all(seconds > 0):
      raise ValueError(f"{name}: need positive timings, got {seconds}")
    ms = float(np.median(seconds)) * 1e3
    return cls(name, scales, sequences, ms, sequences * 1e3 / ms,
               int(seconds.size))


@dataclasses.dataclass(frozen=True)
class Clip:
  """Decoded frames of the demo clip and the cost of getting them.

  Attributes:
    paths: JPEG paths, frames[0] holds `box`.
    frames: the same, decoded: [H, W, 3] uint8 arrays.
    box: [4] float32 ground truth in frames[0], [x, y, w, h].
    decode_seconds: per-frame JPEG decode times.
    transfer_seconds: per-frame `device_put` times.
  """

  paths: tuple[str, ...]
  frames: tuple[np.ndarray, ...]
  box: np.ndarray
  decode_seconds: np.ndarray
  transfer_seconds: np.ndarray


def load_clip(num_frames: int, warmup: int = WARMUP_STEPS) -> Clip:
  """Decodes the first frames of the demo clip, timing decode and transfer.

  Args:
    num_frames: timed steps; the clip needs 1 + warmup + num_frames frames.
    warmup: untimed steps before them.

  Raises:
    ValueError: the clip is too short.
  """
  seq = pretrained.demo_sequence()
  needed = 1 + warmup + num_frames
  if num_frames < 1 or needed > len(seq.frames):
    most = len(seq.frames) - 1 - warmup
    raise ValueError(f"num_frames must be in [1, {most}] (the demo clip has "
                     f"{len(seq.frames)} frames); got {num_frames}")
  paths = seq.frames[:needed]
  frames, decode, transfer = [], [], []
  for path in paths:
    start = time.perf_counter()
    frame = frames_lib.load_frame(path)
    decode.append(time.perf_counter() - start)
    start = time.perf_counter()
    jax.block_until_ready(jax.device_put(frame))
    transfer.append(time.perf_counter() - start)
    frames.append(frame)
  # The first transfer also sets up the device; it is not a frame's cost.
  return Clip(paths=tuple(paths), frames=tuple(frames),
              box=np.asarray(seq.boxes[0], np.float32),
              decode_seconds=np.asarray(decode),
              transfer_seconds=np.asarray(transfer[1:]))


def step_timer(tracker: tracker_lib.Tracker, clip: Clip
               ) -> Iterator[tuple[float, np.ndarray]]:
  """Steps `track_step_jit` through the clip, frames already on the device.

  A generator, so that other steps can be timed in turn with it (see
  `benchmarks.tracking_speed --torch`); set-up runs at the first `next`.

  Args:
    tracker: network and hyper-parameters.
    clip: frames[0] initialises; the others are tracked in order.

  Yields:
    (seconds of the step, [4] float64 box) for frames[1:], in order; the
    first step compiles.
  """
  on_device = [jax.device_put(f) for f in clip.frames]
  jax.block_until_ready(on_device)
  state = tracking.init_state_jit(tracker.variables, on_device[0], clip.box,
                                  tracker.spec, tracker.params)
  jax.block_until_ready(state)
  for frame in on_device[1:]:
    start = time.perf_counter()
    state, box, _ = tracking.track_step_jit(tracker.variables, state, frame,
                                            tracker.spec, tracker.params)
    box = jax.block_until_ready(box)
    seconds = time.perf_counter() - start
    yield seconds, np.asarray(box, np.float64)


def ort_step_timer(tracker: tracker_lib.Tracker, clip: Clip,
                   num_sequences: int | None = None,
                   precision: str = "fp32"
                   ) -> Iterator[tuple[float, np.ndarray]]:
  """Steps the exported ONNX frame step through the clip in ONNX Runtime.

  What the onnxruntime backend runs (all cores); frames are in host memory,
  ONNX Runtime's device. A generator like `step_timer`; the export and the
  sessions are made at the first `next`.

  Args:
    tracker: network and hyper-parameters.
    clip: frames[0] initialises; the others are tracked in order.
    num_sequences: N to step N copies of the clip with the frame step
      exported for N sequences at once; None for one sequence.
    precision: "fp32", or "int8": the steps quantized after calibrating on
      the demo clip (`int8.int8_steps`; one sequence only).

  Yields:
    (seconds of the step, [4] float64 box of the first sequence) for
    frames[1:], in order.
  """
  n = num_sequences
  if precision == "int8":
    if n:
      raise ValueError("int8 steps track one sequence; got num_sequences "
                       f"{n}")
    sidecar, blobs = int8.int8_steps(tracker.spec, tracker.variables,
                                     tracker.params)
  else:
    sidecar, blobs = export.export_steps(tracker.spec, tracker.variables,
                                         tracker.params, "onnx",
                                         num_sequences=n)
  steps = export.ExportedSteps(sidecar, blobs)
  state = steps.init(clip.frames[0], clip.box)
  if n:
    state = export.stack([state] * n)
  for frame in clip.frames[1:]:
    if n:
      frame = np.stack([frame] * n)
    start = time.perf_counter()
    state, box, _ = steps.step(state, frame)
    seconds = time.perf_counter() - start
    yield seconds, np.asarray(box[0] if n else box, np.float64)


def time_ort(tracker: tracker_lib.Tracker, clip: Clip,
             num_sequences: int | None = None,
             warmup: int = WARMUP_STEPS,
             precision: str = "fp32") -> np.ndarray:
  """[len(frames) - 1 - warmup] float64 seconds per `ort_step_timer` step."""
  return np.asarray([t for i, (t, _) in enumerate(
      ort_step_timer(tracker, clip, num_sequences, precision))
                     if i >= warmup])


def time_step(tracker: tracker_lib.Tracker, clip: Clip,
              warmup: int = WARMUP_STEPS) -> tuple[np.ndarray, np.ndarray]:
  """Times `track_step_jit` on frames already on the device.

  Args:
    tracker: network and hyper-parameters.
    clip: frames[0] initialises; the others are tracked in order.
    warmup: untimed steps first (the first one compiles).

  Returns:
    ([len(frames) - 1 - warmup] float64 seconds per step,
     [len(frames), 4] float64 boxes, frames[0]'s being the given box).
  """
  seconds, out = [], [clip.box.astype(np.float64)]
  for i, (step_seconds, box) in enumerate(step_timer(tracker, clip)):
    if i >= warmup:
      seconds.append(step_seconds)
    out.append(box)
  return np.asarray(seconds), np.stack(out)


def time_track(tracker: tracker_lib.Tracker, clip: Clip
               ) -> tuple[np.ndarray, float]:
  """Runs `Tracker.track` on the clip's paths (compile it first).

  Returns:
    ([len(paths) - 1] float64 seconds per update as `track` reports them,
     wall-clock seconds of the whole call, decoding included).
  """
  start = time.perf_counter()
  _, seconds = tracker.track(list(clip.paths), clip.box)
  return seconds[1:], time.perf_counter() - start


def time_batch(tracker: tracker_lib.Tracker, clip: Clip, num_sequences: int,
               warmup: int = WARMUP_STEPS) -> np.ndarray:
  """Times `track_step_batch` over N copies of the clip, frames on device.

  The N sequences are the same clip, started together: the work per step is
  that of N different sequences (nothing is shared across the batch).

  Args:
    tracker: network and hyper-parameters.
    clip: frames[0] initialises; the others are tracked.
    num_sequences: N.
    warmup: untimed steps first.

  Returns:
    [len(frames) - 1 - warmup] float64 seconds per batched step.
  """
  n = num_sequences
  first = jax.device_put(clip.frames[0])
  state = tracking.init_state_jit(tracker.variables, first, clip.box,
                                  tracker.spec, tracker.params)
  state = jax.tree.map(lambda x: jnp.stack([x] * n), state)
  active = jnp.ones((n,), bool)
  seconds = []
  for i, frame in enumerate(clip.frames[1:]):
    frames = jax.device_put(np.broadcast_to(frame, (n,) + frame.shape))
    jax.block_until_ready((frames, state))
    start = time.perf_counter()
    state, box, _ = tracking.track_step_batch(
        tracker.variables, state, frames, active, tracker.spec,
        tracker.params)
    jax.block_until_ready(box)
    if i >= warmup:
      seconds.append(time.perf_counter() - start)
  return np.asarray(seconds)


def params_for(num_scales: int, base: tracking.TrackParams | None = None
               ) -> tracking.TrackParams:
  """SiamFC-3s / -5s hyper-parameters for 3 / 5 scales (else 3s's, S set).

  Args:
    num_scales: S.
    base: overrides crop sizes (exemplar_size, instance_size) if given,
      e.g. for a tiny test network.
  """
  presets = {p.num_scales: p for p in tracking.PRESETS.values()}
  params = presets.get(num_scales,
                       dataclasses.replace(tracking.SIAMFC_3S,
                                           num_scales=num_scales))
  if base is not None:
    params = dataclasses.replace(params, exemplar_size=base.exemplar_size,
                                 instance_size=base.instance_size)
  params.validate()
  return params


def run_all(tracker_for: Callable[[int], tracker_lib.Tracker],
            num_frames: int, scales: Iterable[int],
            batch_sizes: Iterable[int],
            log: Callable[[str], None] = lambda _: None) -> dict:
  """Times every JAX figure (see the module docstring).

  Args:
    tracker_for: S -> the tracker to time with S scales.
    num_frames: timed frames per figure (after `WARMUP_STEPS`).
    scales: the S to time.
    batch_sizes: the N of `batch_step` (timed for every S).
    log: progress messages.

  Returns:
    {"meta": {...}, "rows": [Row as dict, ...]}, JSON-serialisable.
    `meta` has device, platform, versions, frame size, frame counts and the
    1-minute load average before and after.
  """
  load_before = load_average()
  log(f"decoding {num_frames + 1 + WARMUP_STEPS} frames of the demo clip")
  clip = load_clip(num_frames)
  rows = [Row.from_seconds("host_decode", 0, 1, clip.decode_seconds),
          Row.from_seconds("host_to_device", 0, 1, clip.transfer_seconds)]
  for s in scales:
    tracker = tracker_for(s)
    log(f"{s} scales: single step")
    seconds, _ = time_step(tracker, clip)
    rows.append(Row.from_seconds("step", s, 1, seconds))
    log(f"{s} scales: Tracker.track")
    update_seconds, wall = time_track(tracker, clip)
    rows.append(Row.from_seconds("track_update", s, 1,
                                 update_seconds[WARMUP_STEPS:]))
    # One wall-clock time for the whole clip: its mean per frame.
    rows.append(Row("track_end_to_end", s, 1, wall / len(clip.paths) * 1e3,
                    len(clip.paths) / wall, len(clip.paths)))
    for n in batch_sizes:
      log(f"{s} scales: {n} sequences at once")
      rows.append(Row.from_seconds("batch_step", s, n,
                                   time_batch(tracker, clip, n)))
  device = jax.devices()[0]
  height, width = clip.frames[0].shape[:2]
  meta = {
      "device": device.device_kind,
      "platform": device.platform,
      "num_devices": jax.device_count(),
      "host_cpus": os.cpu_count(),
      "python": platform.python_version(),
      "jax": jax.__version__,
      "frame_size": [int(width), int(height)],
      "num_frames": num_frames,
      "warmup_steps": WARMUP_STEPS,
      "load_before": load_before,
      "load_after": load_average(),
  }
  return {"meta": meta, "rows": [dataclasses.asdict(r) for r in rows]}


def load_average() -> float:
  """1-minute load average (the machine may be shared); -1 if unknown."""
  try:
    return float(os.getloadavg()[0])
  except OSError:
    return -1.0


def format_table(results: dict) -> str:
  """The results of `run_all` (plus any added rows) as a text table."""
  meta = results["meta"]
  lines = [
      f"device: {meta['device']} ({meta['platform']}, "
      f"{meta['num_devices']} device(s), {meta['host_cpus']} host CPUs), "
      f"jax {meta['jax']}",
      f"frames {meta['frame_size'][0]}x{meta['frame_size'][1]}, median over "
      f"{meta['num_frames']} frames after {meta['warmup_steps']} warm-up; "
      f"load average {meta['load_before']:.2f} before, "
      f"{meta['load_after']:.2f} after",
      "",
      f"{'what':<52} {'S':>2} {'N':>3} {'ms/call':>9} {'frames/s':>9}",
  ]
  order = list(DESCRIPTIONS)
  rows = sorted(results["rows"], key=lambda r: (
      r["scales"], order.index(r["name"]), r["sequences"]))
  for r in rows:
    lines.append(f"{DESCRIPTIONS[r['name']]:<52} "
                 f"{r['scales'] or '-':>2} {r['sequences']:>3} "
                 f"{r['ms']:>9.1f} {r['fps']:>9.1f}")
  return "\n".join(lines)
