r"""Several targets in one video: one call for all K, or K separate runs.

  python -m benchmarks.multi_target                  # K = 1, 4, 16
  python -m benchmarks.multi_target --backends=onnxruntime --frames=20
  python -m benchmarks.multi_target --tiny_network --frames=3   # a smoke run

Tracks K targets on the bundled demo clip (VOT2015 *bag*) with the bundled
network, two ways, each with `Tracker.track` on the frame files (decoding
included, as a user runs it):

- together: `track(frames, boxes)` with the [K, 4] boxes: each frame decoded
  once, the K targets stepped in one backend call per frame;
- separate: K runs of `track(frames, box)`, one per target (each decodes
  every frame again and makes its own backend call per frame).

For each, the wall-clock seconds, the video's frames/s (frames / seconds),
target-steps/s (frames * K / seconds), the median step in ms (decoding
excluded: the `times` of `track`), and the speed-up of together over
separate. Target 0 is the ground-truth box; the others have its size and are
spread over a grid on the frame. Compilation and export (at the first use of
each K) are excluded by a short warm-up run; with --runs the two ways
run in turn and the fastest run of each counts. The largest difference between
the two ways' boxes is printed too (K targets in one call give the boxes of
K separate runs).
"""

from __future__ import annotations

import math
import platform
import time
from typing import Sequence

from absl import app
from absl import flags
import jax
import numpy as np

from siamfc_jax import backends
from siamfc_jax import embedding
from siamfc_jax import frames as frames_lib
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib

_TARGETS = flags.DEFINE_list("targets", ["1", "4", "16"],
                             "Numbers of targets K to time.")
_NUM_FRAMES = flags.DEFINE_integer("frames", 30, "Frames of the clip "
                                   "tracked per run.", lower_bound=2)
_BACKENDS = flags.DEFINE_list(
    "backends", None, "Backends to time; default: jax, and onnxruntime "
    "where installed.")
_REPEATS = flags.DEFINE_integer(
    "runs", 1, "Runs of each way, in turn; the fastest counts.",
    lower_bound=1)
_TINY = flags.DEFINE_bool("tiny_network", False, "A tiny random network (1/8 "
                          "width) instead of the bundled one: a smoke run.")

# Flag names unlike those of siamfc_jax/cli/benchmark.py (one process may
# import both, as the tests do).
# Frames of the warm-up run that compiles / exports each K.
WARMUP_FRAMES = 2


def spread_boxes(first: np.ndarray, frame_shape: Sequence[int],
                 num_targets: int) -> np.ndarray:
  """[K, 4] boxes: `first`, then boxes of its size centred on a grid.

  Args:
    first: [4] box [x, y, w, h] (target 0).
    frame_shape: (H, W, ...) of the frames.
    num_targets: K >= 1.

  Returns:
    [K, 4] float64 boxes, all inside the frame.
  """
  height, width = frame_shape[:2]
  w, h = min(first[2], width / 4), min(first[3], height / 4)
  side = math.ceil(math.sqrt(max(num_targets - 1, 1)))
  out = [np.asarray(first, np.float64)]
  for k in range(num_targets - 1):
    row, col = divmod(k, side)
    cx = (col + 0.5) * width / side
    cy = (row + 0.5) * height / side
    out.append(np.array([cx - w / 2, cy - h / 2, w, h]))
  return np.stack(out)


def time_targets(tracker: tracker_lib.Tracker, frames: Sequence[str],
                 boxes: np.ndarray, repeats: int = 1) -> dict:
  """Times K targets together and as K separate runs (see the module).

  Args:
    tracker: the tracker (its backend is the one timed).
    frames: frame files.
    boxes: [K, 4] first-frame boxes.
    repeats: runs of each way, in turn; the fastest counts (a machine
      shared with other work slows some runs).

  Returns:
    {"targets": K, "frames": N, "together": {...}, "separate": {...},
     "speedup": separate seconds / together seconds, "max_diff_px": float},
    each way {"seconds", "fps", "target_steps_per_s", "step_ms"}.
  """
  k, n = len(boxes), len(frames)
  tracker.track(frames[:WARMUP_FRAMES], boxes)  # compile / export this K
  tracker.track(frames[:WARMUP_FRAMES], boxes[0])

  def together():
    out, times = tracker.track(frames, boxes)
    return out, float(np.median(times[1:]))

  def separate():
    out, steps = [], []
    for box in boxes:
      b, t = tracker.track(frames, box)
      out.append(b)
      steps.append(t[1:])
    # A frame of K separate runs costs K steps.
    return (np.stack(out, axis=1),
            float(np.median(np.sum(steps, axis=0))))

  best = {}
  for _ in range(repeats):
    for name, fn in (("together", together), ("separate", separate)):
      start = time.perf_counter()
      out, step = fn()
      seconds = time.perf_counter() - start
      if name not in best or seconds < best[name][0]:
        best[name] = (seconds, step, out)

  def way(name):
    secs, step_s, _ = best[name]
    return {"seconds": secs, "fps": n / secs,
            "target_steps_per_s": n * k / secs, "step_ms": 1e3 * step_s}

  diff = float(np.max(np.abs(best["together"][2] - best["separate"][2])))
  return {"targets": k, "frames": n, "together": way("together"),
          "separate": way("separate"),
          "speedup": best["separate"][0] / best["together"][0],
          "max_diff_px": diff}


def format_table(rows: Sequence[dict]) -> str:
  """The rows of `time_targets` (with "backend") as a Markdown table."""
  lines = ["| backend | K | way | s | video frames/s | target-steps/s | "
           "step ms (median, per frame) | speed-up | max box diff px |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
  for r in rows:
    for name in ("together", "separate"):
      w = r[name]
      label = "one call" if name == "together" else f"{r['targets']} runs"
      extra = (f"{r['speedup']:.2f}x | {r['max_diff_px']:.1e}"
               if name == "together" else " | ")
      lines.append(f"| {r['backend']} | {r['targets']} | {label} | "
                   f"{w['seconds']:.3g} | {w['fps']:.1f} | "
                   f"{w['target_steps_per_s']:.1f} | {w['step_ms']:.1f} | "
                   f"{extra} |")
  return "\n".join(lines)


def run(targets: Sequence[int], names: Sequence[str], num_frames: int,
        tiny: bool = False, repeats: int = 1) -> list[dict]:
  """`time_targets` for every backend in `names` and K in `targets`.

  Returns:
    The rows, each with its "backend" added, in order.

  Raises:
    ValueError: an unknown or unavailable backend.
  """
  seq = pretrained.demo_sequence()
  frames = list(seq.frames[:num_frames])
  shape = frames_lib.load_frame(frames[0]).shape
  if tiny:
    spec = embedding.alexnet_spec(width=0.125)
    variables = model.init(spec, jax.random.key(0))
  else:
    spec, variables = pretrained.network()
  print(f"{'tiny' if tiny else 'bundled SiamFC'} network, SiamFC-3s, "
        f"{len(frames)} frames of {seq.name} ({shape[1]}x{shape[0]}), "
        f"{platform.processor() or platform.machine()}, JAX on "
        f"{jax.devices()[0].device_kind}")
  rows = []
  for name in names:
    tracker = tracker_lib.Tracker(spec, variables, backend=name)
    for k in targets:
      row = time_targets(tracker, frames, spread_boxes(seq.boxes[0], shape, k),
                         repeats)
      rows.append({"backend": name, **row})
      print(f"  {name}, K = {k}: {row['together']['fps']:.1f} frames/s "
            f"together, {row['separate']['fps']:.1f} as {k} runs", flush=True)
  return rows


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    targets = [int(k) for k in _TARGETS.value]
  except ValueError:
    raise app.UsageError(f"--targets must be integers; got "
                         f"{_TARGETS.value}") from None
  if min(targets) < 1:
    raise app.UsageError(f"--targets must be >= 1; got {targets}")
  names = _BACKENDS.value or [
      b for b in backends.BACKENDS
      if b == "jax" or backends.onnxruntime_missing() is None]
  try:
    rows = run(targets, names, _NUM_FRAMES.value, _TINY.value,
               _REPEATS.value)
  except ValueError as e:  # e.g. onnxruntime not installed
    raise app.UsageError(str(e)) from None
  print(format_table(rows))


if __name__ == "__main__":
  app.run(main)
