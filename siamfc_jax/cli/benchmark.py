r"""Prints how fast the tracker runs here: step, host work, end to end, batched.

  siamfc-jax benchmark                        # 3 and 5 scales
  siamfc-jax benchmark --scales=3 --batch_sizes=1,4,8 --torch \
      --onnxruntime --output_json=benchmark.json
  siamfc-jax benchmark --tiny --num_frames=3  # a tiny network
  siamfc-jax benchmark --scales=3 --onnxruntime \
      --checkpoint=path/to/cfnet-conv2_e80.mat                # CFNet
  siamfc-jax benchmark --scales=3 --precision=fp32,int8 --torch \
      --batch_sizes=                                          # int8 vs fp32

The network is the bundled original SiamFC (`Tracker.pretrained()`) or the
--checkpoint's (with its tracking preset, S set by --scales), the
frames those of the bundled demo clip; what each row times is written in
`siamfc_jax/speed/timing.py`. With --torch, `speed/torch_step.py` (the same
step in PyTorch, same weights) is first checked to give the same boxes
as ours on the first frames, then timed in NCHW and channels_last layouts,
frame by frame in turn with our step (`step_interleaved`), so that other
work on a shared machine slows all of them alike; torch is not a
dependency, so without it those rows are skipped. With --onnxruntime, the
onnxruntime backend's step is checked to give our boxes and timed too (in
turn with the others under --torch), for one sequence and, for every N > 1
of --batch_sizes, N sequences through the frame step exported for N.
--precision=fp32,int8 (implies --onnxruntime) adds the int8 steps
(`siamfc_jax/export/int8.py`, calibrated on the demo clip), checked
against our boxes with a looser limit (int8 is close, not equal) and timed
frame by frame in turn with the fp32 one (and torch's under --torch).
"""

import dataclasses
import json
import os

from absl import app
from absl import flags
import jax
import numpy as np

from siamfc_jax.speed import timing
from siamfc_jax import backends
from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking

try:  # torch is optional: without it the --torch rows are skipped
  import torch
  from siamfc_jax.speed import torch_step
  _TORCH_MISSING = None
except ImportError as e:
  _TORCH_MISSING = f"torch not installed ({e}); pip install torch==2.13.0"

_NUM_FRAMES = flags.DEFINE_integer(
    "num_frames", 30, "Timed frames per figure, after "
    f"{timing.WARMUP_STEPS} warm-up frames (the clip has 196).")
_BATCH_SIZES = flags.DEFINE_list(
    "batch_sizes", None, "N of the N-sequences-at-once rows; default 1,8,32 "
    "on an accelerator, 1,4,8 on CPU; empty for none.")
_SCALES = flags.DEFINE_list("scales", ["3", "5"], "Numbers of scales S.")
_OUTPUT_JSON = flags.DEFINE_string(
    "output_json", None, "Also write the figures to this JSON file.")
_TORCH = flags.DEFINE_bool(
    "torch", False, "Also time the PyTorch step of "
    "siamfc_jax/speed/torch_step.py.")
_ONNXRUNTIME = flags.DEFINE_bool(
    "onnxruntime", False, "Also time the onnxruntime backend "
    "(siamfc_jax/backends.py); needs onnxruntime and jax2onnx.")
_PRECISION = flags.DEFINE_list(
    "precision", ["fp32"], "Precisions of the ONNX Runtime step rows: fp32, "
    "int8 or both (timed in turn); int8 implies --onnxruntime.")
_TINY = flags.DEFINE_bool(
    "tiny", False, "A tiny random network (width 0.125, crops 103/167) "
    "instead of the original: for tests, the speed means nothing.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Time this network instead of the original: a "
    "checkpoint directory or a weights file (e.g. a CFNet .mat), with the "
    "tracking hyper-parameters it comes with.")

# Frames after the first on which the torch and JAX boxes must agree.
TORCH_CHECK_FRAMES = 5
# Largest allowed box difference (any coordinate), pixels.
TORCH_CHECK_PX = 0.5
# The same for the int8 steps, which approximate the network (measured on
# the demo clip: 1.6 px over 59 frames).
INT8_CHECK_PX = 3.0


def _ints(values, name, allow_empty=False):
  try:
    out = [int(v) for v in values]
  except ValueError:
    out = [0]
  if (not out and not allow_empty) or min(out, default=1) < 1:
    raise app.UsageError(f"--{name} must be positive integers; got {values}")
  return out


def _trackers(tiny: bool, checkpoint: str | None = None):
  """S -> Tracker (cached): the bundled network, `checkpoint`'s, or a tiny
  random one."""
  if checkpoint:
    loaded = tracker_lib.Tracker.from_checkpoint(checkpoint, backend="jax")
    cache = {}

    def checkpoint_tracker(num_scales):
      if num_scales not in cache:
        params = dataclasses.replace(loaded.params, num_scales=num_scales)
        cache[num_scales] = tracker_lib.Tracker(
            loaded.spec, loaded.variables, params,
            name=f"{loaded.name}-{num_scales}s")
      return cache[num_scales]

    return checkpoint_tracker
  if tiny:
    spec = embedding.alexnet_spec(width=0.125)
    variables = model.init(spec, jax.random.key(0))
    base = tracking.TrackParams(exemplar_size=103, instance_size=167)
  else:
    pretrained = tracker_lib.Tracker.pretrained()
    spec, variables, base = pretrained.spec, pretrained.variables, None
  cache = {}

  def tracker_for(num_scales):
    if num_scales not in cache:
      params = timing.params_for(num_scales, base)
      cache[num_scales] = tracker_lib.Tracker(spec, variables, params,
                                              name=f"SiamFC-{num_scales}s")
    return cache[num_scales]

  return tracker_for


def _check_boxes(name, timer, tracker, clip, limit=TORCH_CHECK_PX):
  """Max box difference (px) of `timer`'s first frames from our step's."""
  n = min(TORCH_CHECK_FRAMES, len(clip.frames) - 1)
  want = [b for _, (_, b) in zip(range(n),
                                timing.step_timer(tracker, clip))]
  got = [b for _, (_, b) in zip(range(n), timer)]
  diff = float(np.abs(np.stack(got) - np.stack(want)).max())
  print(f"{name} vs JAX boxes, {tracker.params.num_scales} scales, frames "
        f"1-{n}: max difference {diff:.4f} px (limit {limit} px)")
  return diff


def _ort_name(precision: str) -> str:
  return "ort_step" if precision == "fp32" else f"ort_step_{precision}"


def _ort_timers(tracker, clip, precisions):
  """{row name: generator of step seconds} of the one-sequence ONNX Runtime
  step in each precision."""
  return {_ort_name(p): (t for t, _ in timing.ort_step_timer(
      tracker, clip, precision=p)) for p in precisions}


def _interleaved(timers, s):
  """Rows of `timers` ({name: generator of seconds}) stepped frame by frame
  in turn, so that load from other work falls on all alike."""
  seconds = {name: [] for name in timers}
  for i, ticks in enumerate(zip(*timers.values())):
    if i >= timing.WARMUP_STEPS:
      for name, t in zip(timers, ticks):
        seconds[name].append(t)
  return [timing.Row.from_seconds(name, s, 1, t)
          for name, t in seconds.items()]


def _time_ort(tracker_for, clip, scales, batch_sizes, single=True,
              precisions=("fp32",)):
  """ONNX Runtime rows timed on their own (see module doc); the
  one-sequence rows (one per precision, in turn) only if `single` (else
  they are timed with torch's); batched rows in fp32.

  Returns:
    (rows, the "onnxruntime" entry of the JSON), or (None, reason).
  """
  why = backends.onnxruntime_missing()
  if why:
    return None, why
  import onnxruntime  # pylint: disable=g-import-not-at-top
  info = {"version": onnxruntime.__version__, "check": {}}
  rows = []
  for s in scales:
    tracker = tracker_for(s)
    for p in precisions:
      limit = TORCH_CHECK_PX if p == "fp32" else INT8_CHECK_PX
      diff = _check_boxes(f"onnxruntime {p}", timing.ort_step_timer(
          tracker, clip, precision=p), tracker, clip, limit)
      key = str(s) if p == "fp32" else f"{s}_{p}"
      info["check"][key] = {"max_box_diff_px": diff, "ok": diff <= limit}
    if single:
      rows += _interleaved(_ort_timers(tracker, clip, precisions), s)
    for n in batch_sizes:
      if n > 1:
        rows.append(timing.Row.from_seconds(
            "ort_batch_step", s, n, timing.time_ort(tracker, clip, n)))
  return rows, info


def _time_torch(tracker_for, clip, scales, with_ort=()):
  """Checks the torch step against ours, then times it (see module doc).

  `with_ort`: precisions of the onnxruntime step timed in the same turns.

  Returns:
    (rows to add, the "torch" entry of the JSON), or (None, reason) when
    torch is not installed.
  """
  if _TORCH_MISSING:
    return None, _TORCH_MISSING
  device = "cuda" if torch.cuda.is_available() else "cpu"
  info = {"version": torch.__version__, "device": device,
          "threads": torch.get_num_threads(), "check": {}}
  rows = []
  n = min(TORCH_CHECK_FRAMES, len(clip.frames) - 1)
  frames = list(clip.frames[:n + 1])
  for s in scales:
    tracker = tracker_for(s)
    want, _ = tracker.track(frames, clip.box)
    steps = {
        layout: torch_step.TorchStep(tracker.spec, tracker.variables,
                                     tracker.params, channels_last=cl,
                                     device=device)
        for layout, cl in (("nchw", False), ("channels_last", True))}
    diffs = {layout: float(abs(torch_step.track_boxes(step, frames, clip.box)
                               - want).max())
             for layout, step in steps.items()}
    # For information: F.interpolate's bicubic (a = -0.75) instead of ours.
    plain = torch_step.TorchStep(tracker.spec, tracker.variables,
                                 tracker.params, channels_last=True,
                                 device=device, upsample="interpolate")
    diffs["interpolate"] = float(abs(
        torch_step.track_boxes(plain, frames, clip.box) - want).max())
    ok = max(diffs["nchw"], diffs["channels_last"]) <= TORCH_CHECK_PX
    info["check"][str(s)] = {"frames": n, "max_box_diff_px": diffs, "ok": ok}
    print(f"torch vs JAX boxes, {s} scales, frames 1-{n}: max difference "
          f"{diffs['nchw']:.4f} px NCHW, {diffs['channels_last']:.4f} px "
          f"channels_last (limit {TORCH_CHECK_PX} px): "
          f"{'OK' if ok else 'FAILED, not timed'}; with F.interpolate "
          f"bicubic {diffs['interpolate']:.2f} px")
    if not ok:
      continue
    # Each frame: our step, then torch's in both layouts, so that load from
    # other work on the machine falls on all three alike.
    timers = {"step_interleaved": (t for t, _ in timing.step_timer(
        tracker, clip))}
    timers.update(_ort_timers(tracker, clip, with_ort))
    for layout, step in steps.items():
      timers[f"torch_step_{layout}"] = torch_step.step_timer(
          step, list(clip.frames), clip.box)
    rows += _interleaved(timers, s)
  return rows, info


def _ratio(ms, other_ms):
  ratio = other_ms / ms
  return (f"{ratio:.2f}x as fast as" if ratio >= 1
          else f"{1 / ratio:.2f}x slower than")


def _summary(results) -> list[str]:
  """One line per S: our step against torch channels_last, as a ratio; the
  onnxruntime step against the fastest PyTorch variant and our JAX step."""
  by_key = {(r["name"], r["scales"]): r["ms"] for r in results["rows"]
            if r["sequences"] == 1}
  lines = []
  for (name, s), ms in sorted(by_key.items()):
    if name != "ort_step":
      continue
    torch_rows = {k: by_key[k, s] for k in ("torch_step_nchw",
                                            "torch_step_channels_last")
                  if (k, s) in by_key}
    jax_ms = by_key.get(("step_interleaved", s), by_key.get(("step", s)))
    line = (f"{s} scales: ONNX Runtime step {ms:.1f} ms ({1e3 / ms:.1f} "
            f"frames/s) is {_ratio(ms, jax_ms)} our JAX step {jax_ms:.1f} ms")
    if torch_rows:
      fastest = min(torch_rows, key=torch_rows.get)
      line += (f" and {_ratio(ms, torch_rows[fastest])} PyTorch "
               f"{fastest[len('torch_step_'):]} {torch_rows[fastest]:.1f} ms")
    lines.append(line)
    if ("ort_step_int8", s) in by_key:
      int8 = by_key["ort_step_int8", s]
      line = (f"{s} scales: int8 ONNX Runtime step {int8:.1f} ms "
              f"({1e3 / int8:.1f} frames/s) is {_ratio(int8, ms)} the fp32 "
              f"one")
      if torch_rows:
        line += (f" and {_ratio(int8, torch_rows[fastest])} PyTorch "
                 f"{fastest[len('torch_step_'):]}")
      lines.append(line)
  for (name, s), ms in sorted(by_key.items()):
    if name != "step_interleaved":
      continue
    torch_ms = by_key["torch_step_channels_last", s]
    lines.append(f"{s} scales, timed in turn: our jitted step {ms:.1f} ms is "
                 f"{_ratio(ms, torch_ms)} PyTorch channels_last "
                 f"{torch_ms:.1f} ms")
  return lines


def _add_rows(results, key: str, what: str, rows, info) -> None:
  """Adds a timer's rows and its `info` under `key`, or says it skipped
  (rows None, info the reason)."""
  if rows is None:
    print(f"Skipping the {what} rows: {info}")
    info = {"skipped": info}
  else:
    results["rows"] += [dataclasses.asdict(row) for row in rows]
  results[key] = info


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  scales = _ints(_SCALES.value, "scales")
  if any(s % 2 == 0 for s in scales):
    raise app.UsageError(f"--scales must be odd; got {_SCALES.value}")
  on_accelerator = jax.default_backend() != "cpu"
  if _BATCH_SIZES.value is None:
    batch_sizes = [1, 8, 32] if on_accelerator else [1, 4, 8]
  else:  # --batch_sizes= (empty) leaves the batched rows out.
    batch_sizes = _ints(_BATCH_SIZES.value, "batch_sizes", allow_empty=True)
  precisions = list(dict.fromkeys(_PRECISION.value))
  if not precisions or not set(precisions) <= {"fp32", "int8"}:
    raise app.UsageError(f"--precision must be fp32, int8 or both; got "
                         f"{_PRECISION.value}")
  if _CHECKPOINT.value and _TINY.value:
    raise app.UsageError("--checkpoint and --tiny exclude each other")
  try:
    tracker_for = _trackers(_TINY.value, _CHECKPOINT.value)
    network = ("tiny random network" if _TINY.value else
               tracker_for(scales[0]).name if _CHECKPOINT.value else
               "original SiamFC")
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(f"--checkpoint: {e}") from None
  if _TORCH.value and tracker_for(scales[0]).spec.join != "xcorr":
    raise app.UsageError("--torch: siamfc_jax/speed/torch_step.py implements "
                         "SiamFC's cross-correlation only, not CFNet's "
                         "correlation filter")
  print(f"Benchmarking the {network} on {jax.devices()[0].device_kind}, "
        f"scales {scales}, N {batch_sizes}, {_NUM_FRAMES.value} frames")

  def log(message):
    print(f"  {message}", flush=True)

  try:
    results = timing.run_all(tracker_for, _NUM_FRAMES.value, scales,
                                   batch_sizes, log=log)
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  results["meta"]["network"] = ("tiny" if _TINY.value else
                                 _CHECKPOINT.value or "siamfc")
  with_ort = _ONNXRUNTIME.value or "int8" in precisions
  if with_ort or _TORCH.value:
    clip = timing.load_clip(_NUM_FRAMES.value)
  if with_ort:
    # With --torch the one-sequence ORT steps are timed in turn with it.
    _add_rows(results, "onnxruntime", "ONNX Runtime", *_time_ort(
        tracker_for, clip, scales, batch_sizes, single=not _TORCH.value,
        precisions=precisions))
  if _TORCH.value:
    _add_rows(results, "torch", "PyTorch", *_time_torch(
        tracker_for, clip, scales, with_ort=precisions if with_ort
        and "skipped" not in results["onnxruntime"] else ()))
    results["meta"]["load_after"] = timing.load_average()
  print()
  print(timing.format_table(results))
  if "torch" in results and "device" in results["torch"]:
    t = results["torch"]
    print(f"PyTorch {t['version']} on {t['device']}, {t['threads']} threads")
  for line in _summary(results):
    print(line)
  if _OUTPUT_JSON.value:
    folder = os.path.dirname(os.path.abspath(_OUTPUT_JSON.value))
    os.makedirs(folder, exist_ok=True)
    with open(_OUTPUT_JSON.value, "w") as f:
      json.dump(results, f, indent=2)
    print(f"Wrote {_OUTPUT_JSON.value}")

