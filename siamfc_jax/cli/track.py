r"""Tracks one sequence: boxes to a file, fps and accuracy printed, a video.

  siamfc-jax track                       # the bundled demo clip
  siamfc-jax track --seq=path/to/OTB/Basketball --render=out.mp4
  siamfc-jax track --seq=video.mp4 --init_box=10,20,40,30

--seq is an image folder in the OTB (img/ + groundtruth_rect.txt), VOT
(groundtruth.txt, polygons allowed) or GOT-10k layout, or a video file (then
--init_box gives the first box, 0-based x,y,w,h). Boxes are written one
`x,y,w,h` line per frame (0-based, see siamfc_jax/boxes.py) as they are
tracked, so an error on a later frame keeps the earlier ones. No box for a
video? Draw it with the mouse in the app: siamfc-jax app.

Several targets in one video, tracked together (each frame decoded once, all
targets stepped in one call):

  siamfc-jax track --seq=video.mp4 --init_box=10,20,40,30 \
      --init_box=200,80,30,60
  siamfc-jax track --seq=DIR --init_boxes=boxes.txt

with --init_box repeated, or --init_boxes naming a file of one x,y,w,h box a
line (commas or spaces; blank lines and lines starting with # skipped).
Targets are numbered 0, 1, ... in the order given, and each gets its own
boxes file, in the one-box format above: <output stem>_target<k>.txt
(track_output/<name>_target0.txt, ...); a file per target keeps every file
readable by the OTB / GOT-10k tools. The rendered video draws each target in
its own colour with its index. Ground truth, if the sequence has any, is
drawn but not scored with several targets (it is one target's). One
--init_box tracks one target exactly as before (one file, <name>.txt).

Live: a camera or a network stream, whatever ffmpeg reads (the first box is
the target in the first frame received):

  siamfc-jax track --seq=0 --init_box=200,150,80,60   # /dev/video0
  siamfc-jax track --seq=rtsp://192.168.1.20:8554/cam \
      --init_box=200,150,80,60 --max_frames=900
  siamfc-jax track --seq=udp://127.0.0.1:5000 --init_boxes=b.txt

Live mode never queues: each step tracks the newest frame and the frames
that came meanwhile are dropped (counted), so the delay stays bounded. The
boxes file keeps its format (one x,y,w,h line per frame tracked, per target
as above) and a sibling file <output stem>_frames.txt
(track_output/udp_127.0.0.1_5000_frames.txt) gives, line for line, the
source frame index of each box line (0-based count of the frames decoded
from the source; the gaps are the dropped frames). Both are written as
tracked. Ctrl-C, --max_frames or the end of the stream (no frame for
--live_timeout seconds) ends it, exit status 0, with one summary line:

  Live: 300 frames tracked, 12 dropped (3.8%), 29.6 fps, latency p50 31 ms,
  p95 45 ms (stopped by Ctrl-C)

(latency: from a frame's arrival to its boxes; the first frame's excluded).
A source that sends no frame within --live_timeout is an error (exit 1).
"""

import contextlib
import itertools
import os
import time

from absl import app
from absl import flags
import numpy as np
import tqdm

from siamfc_jax.cli import precision
from siamfc_jax import boxes as boxes_lib
from siamfc_jax import frames as frames_lib
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.app import outputs as app_outputs
from siamfc_jax.app import live as app_live
from siamfc_jax.data import live
from siamfc_jax.data import sequences
from siamfc_jax.data import video
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import render

_SEQ = flags.DEFINE_string(
    "seq", None, "Image folder (OTB/VOT/GOT-10k layout), video file, camera "
    "(0, /dev/video0) or stream URL (rtsp://, rtmp://, http(s)://, udp://, "
    "srt://, tcp://: whatever ffmpeg reads; tracked live: newest frame, "
    "stale ones dropped); default: the bundled demo clip.")
_INIT_BOX = flags.DEFINE_multi_string(
    "init_box", None, "x,y,w,h of the target in the first frame (0-based "
    "pixels); required without ground truth. Repeat it to track several "
    "targets together: one boxes file per target, "
    "<output stem>_target<k>.txt, k = 0, 1, ... in the order given.")
_INIT_BOXES = flags.DEFINE_string(
    "init_boxes", None, "File of first-frame boxes, one x,y,w,h a line "
    "(several targets tracked together; one boxes file per target, "
    "<output stem>_target<k>.txt, k = 0-based line order).")
_OUTPUT = flags.DEFINE_string(
    "output", None, "Boxes file; default track_output/<name>.txt. Live: "
    "also <output stem>_frames.txt, the source frame index (0-based) of "
    "each box line, line for line.")
_RENDER = flags.DEFINE_string(
    "render", None, "Video with the boxes drawn (.mp4 or .gif); default "
    "track_output/<name>.mp4 for the demo, none otherwise.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint directory (orbax), training workdir, or "
    "weights file (.mat, e.g. a CFNet, .npz, .pth); default: the bundled "
    "original SiamFC network.")
_MAX_FRAMES = flags.DEFINE_integer(
    "max_frames", None, "Track only the first N frames (live: stop after N "
    "frames tracked).", lower_bound=1)
_LIVE_TIMEOUT = flags.DEFINE_float(
    "live_timeout", live.DEFAULT_TIMEOUT, "Live sources: seconds to wait for "
    "the first frame (then an error) and for each next one (then the stream "
    "has ended).", lower_bound=0.1)
_PRESET = flags.DEFINE_enum(
    "preset", "siamfc-3s", sorted(tracking.PRESETS),
    "Tracking hyper-parameters; with --checkpoint only when given (else "
    "those it comes with).")
_BACKEND = flags.DEFINE_enum(
    "backend", "auto", ["auto", "jax", "onnxruntime"],
    "Where the tracking steps run; auto: ONNX Runtime on CPU when it is "
    "installed, else JAX (siamfc_jax/backends.py).")


def _parse_box(text: str) -> np.ndarray:
  try:
    box = np.array([float(v) for v in text.split(",")])
  except ValueError:
    box = np.zeros(0)
  if box.shape != (4,):
    raise app.UsageError(f"--init_box must be x,y,w,h; got {text!r}")
  return box


def target_boxes(init_box: list[str] | None, init_boxes: str | None
                 ) -> np.ndarray | None:
  """[K, 4] boxes of several targets (--init_box repeated, or
  --init_boxes), or None for the one-target path (one or no --init_box)."""
  if init_box and init_boxes:
    raise app.UsageError("give --init_box or --init_boxes, not both")
  if init_boxes:
    try:
      return boxes_lib.read_boxes(init_boxes)
    except (FileNotFoundError, ValueError) as e:
      raise app.UsageError(f"--init_boxes: {e}") from None
  if init_box and len(init_box) > 1:
    return np.stack([_parse_box(text) for text in init_box])
  return None


def target_outputs(output: str, num_targets: int) -> list[str]:
  """The boxes file of each target: <output stem>_target<k><suffix>."""
  stem, suffix = os.path.splitext(output)
  return [f"{stem}_target{k}{suffix or '.txt'}" for k in range(num_targets)]


def open_input(seq: str | None, init_box: str | np.ndarray | None):
  """(name, frames, first box, ground truth [N, 4] or None) of --seq.

  --init_box (x,y,w,h text or a [4] array), when given, replaces the first
  ground-truth box.
  """
  box = (None if init_box is None else init_box
         if isinstance(init_box, np.ndarray) else _parse_box(init_box))
  if seq is None:
    s = pretrained.demo_sequence()
  elif video.is_video(seq):
    if box is None:
      raise app.UsageError(no_box_message(seq, "a video"))
    name = os.path.splitext(os.path.basename(seq))[0]
    return name, video.read_video(seq), box, None
  elif not os.path.exists(seq):
    raise app.UsageError(f"--seq {seq} does not exist")
  elif sequences.detect_layout(seq) is None:
    if box is None:
      raise app.UsageError(f"{seq} has no ground truth: give --init_box")
    s = sequences.read_folder(seq, box)
  else:
    s = sequences.read_sequence(seq)
  has_gt = len(s.boxes) > 1 and np.isfinite(s.boxes[1:]).any()
  return (s.name, list(s.frames),
          sequences.first_box(s) if box is None else box,
          s.boxes if has_gt else None)


def no_box_message(seq: str, what: str) -> str:
  """The error for a video or live source given without a first box."""
  return (f"{seq} is {what}: give the target's first box with "
          "--init_box=x,y,w,h (or --init_boxes), or draw it with the mouse "
          "in the app: siamfc-jax app")


def is_live_seq(seq: str | None) -> bool:
  """--seq names a camera or a stream (a folder of that name does not)."""
  return seq is not None and live.is_live(seq) and not os.path.isdir(seq)


def frames_output(output: str) -> str:
  """The live source frame index file beside `output`: <stem>_frames.txt."""
  return f"{os.path.splitext(output)[0]}_frames.txt"


def _progress_bar(total: int | None) -> tqdm.tqdm:
  """A bar of the frames tracked (count, frames/s, time left) on stderr;
  silent when stderr is not a terminal (logs, pipes, tests)."""
  return tqdm.tqdm(total=total, unit="frame", disable=None)


def _prepare(first_box):
  """(name, frames, first box, ground truth or None, boxes file, video to
  render or None, number of frames or None) of --seq and the output flags;
  the boxes file's folder is made."""
  name, frames, box, gt = open_input(_SEQ.value, first_box)
  if _MAX_FRAMES.value:
    frames = (frames[:_MAX_FRAMES.value] if isinstance(frames, list) else
              itertools.islice(frames, _MAX_FRAMES.value))
  output = _OUTPUT.value or os.path.join("track_output", f"{name}.txt")
  render_to = _RENDER.value
  if render_to is None and _SEQ.value is None:
    render_to = os.path.join("track_output", f"{name}.mp4")
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  if isinstance(frames, list):
    total = len(frames)
  else:  # a video: ffmpeg counts its frames (None when it cannot)
    total = video.frame_count(_SEQ.value)
    if total and _MAX_FRAMES.value:
      total = min(total, _MAX_FRAMES.value)
  return name, frames, box, gt, output, render_to, total


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  targets = target_boxes(_INIT_BOX.value, _INIT_BOXES.value)
  live_seq = is_live_seq(_SEQ.value)
  if live_seq or (_SEQ.value and video.is_video(_SEQ.value)):
    if not _INIT_BOX.value and targets is None:  # before the slow loading
      raise app.UsageError(no_box_message(
          _SEQ.value, "a live source" if live_seq else "a video"))
  if live_seq:
    if _RENDER.value:
      raise app.UsageError("--render needs a video or a sequence; a live "
                           "source is not kept")
    live.check_source(_SEQ.value)  # a missing camera: now, not after loading
    live_boxes = _parse_box(_INIT_BOX.value[0]) if targets is None else targets
  try:
    preset = _PRESET.value if flags.FLAGS["preset"].present else None
    tracker = tracker_lib.load(_CHECKPOINT.value, preset, _BACKEND.value,
                               precision.PRECISION.value,
                               precision.CALIBRATION.value)
  except (FileNotFoundError, ValueError) as e:  # e.g. int8 on JAX
    raise app.UsageError(str(e)) from None
  if live_seq:
    return track_live(tracker, _SEQ.value, live_boxes)
  if targets is not None:
    return track_targets(tracker, targets)
  init_box = _INIT_BOX.value[0] if _INIT_BOX.value else None
  name, frames, box, gt, output, render_to, total = _prepare(init_box)
  print(f"Tracking {name} ({total or '?'} frames) with {tracker.name} "
        f"({tracker.backend.name} backend, {tracker.precision})")
  boxes, times, start = [], [], time.perf_counter()
  with open(output, "w") as f, _progress_bar(total) as bar:
    for b, seconds in tracker.track_iter(frames, box):
      f.write(_box_line(b))
      boxes.append(b)
      times.append(seconds)
      bar.update()
  boxes = np.stack(boxes)
  steps = np.asarray(times[1:])
  print(f"Wrote {len(boxes)} boxes to {output}")
  if steps.size:
    wall = time.perf_counter() - start
    print(f"Speed: {1 / np.median(steps):.1f} fps per tracking step (median, "
          f"first-frame compile excluded); {len(boxes) / wall:.1f} fps "
          "overall with decoding")
  if gt is not None:
    n = min(len(gt), len(boxes))
    scores = metrics.otb_scores(boxes[:n], gt[:n])
    ious = metrics.iou(boxes[:n], gt[:n])
    print(f"Accuracy: success AUC {scores['auc']:.3f}, precision@20px "
          f"{scores['precision20']:.3f}, mean IoU {np.nanmean(ious):.3f}")
  if render_to:
    frames_again = video.read_video(_SEQ.value) if total is None else frames
    gt_rows = gt if gt is not None else [None] * len(boxes)
    n = render.write_video(render_to, (
        render.draw_boxes(frames_lib.load_frame(fr), [g, b],
                          [render.GROUND_TRUTH_COLOUR,
                           render.PREDICTION_COLOUR], f"#{i + 1}")
        for i, (fr, b, g) in enumerate(zip(frames_again, boxes, gt_rows))))
    print(f"Rendered {n} frames to {render_to} (red: tracker, green: ground "
          "truth)")


def track_targets(tracker: tracker_lib.Tracker, targets: np.ndarray) -> None:
  """Tracks the K targets `targets` [K, 4] of --seq together: one boxes
  file per target, written as tracked; the video draws each in its colour."""
  name, frames, _, gt, output, render_to, total = _prepare(targets[0])
  outputs = target_outputs(output, len(targets))
  print(f"Tracking {len(targets)} targets in {name} ({total or '?'} frames) "
        f"with {tracker.name} ({tracker.backend.name} backend, "
        f"{tracker.precision})")
  boxes, times, start = [], [], time.perf_counter()
  with contextlib.ExitStack() as stack:
    files = [stack.enter_context(open(path, "w")) for path in outputs]
    bar = stack.enter_context(_progress_bar(total))
    for b, seconds in tracker.track_iter(frames, targets):
      for f, box in zip(files, b):
        f.write(_box_line(box))
        f.flush()
      boxes.append(b)
      times.append(seconds)
      bar.update()
  boxes = np.stack(boxes)  # [N, K, 4]
  steps = np.asarray(times[1:])
  print(f"Wrote {len(boxes)} boxes per target to {outputs[0]} ... "
        f"{outputs[-1]}" if len(outputs) > 1 else
        f"Wrote {len(boxes)} boxes to {outputs[0]}")
  if steps.size:
    wall = time.perf_counter() - start
    step = np.median(steps)
    print(f"Speed: {1 / step:.1f} frames/s, {len(targets) / step:.1f} "
          "target-steps/s per tracking step (median, first-frame compile "
          f"excluded); {len(boxes) / wall:.1f} frames/s overall with "
          "decoding")
  if render_to:
    frames_again = video.read_video(_SEQ.value) if total is None else frames
    gt_rows = gt if gt is not None else [None] * len(boxes)
    n = render.write_video(render_to, (
        render.draw_targets(frames_lib.load_frame(fr), b, g, f"#{i + 1}")
        for i, (fr, b, g) in enumerate(zip(frames_again, boxes, gt_rows))))
    print(f"Rendered {n} frames to {render_to} (target k in its colour with "
          "its index; green: ground truth)")


def _box_line(box: np.ndarray) -> str:
  """One `x,y,w,h` line of a boxes file ([4] box)."""
  return app_outputs.format_box(box) + "\n"


def track_live(tracker: tracker_lib.Tracker, seq: str,
               boxes: np.ndarray) -> None:
  """Tracks the camera or stream `seq` live from `boxes` ([4] or [K, 4])
  in its first frame: boxes and source frame indices written as tracked,
  one summary line at the end (Ctrl-C, --max_frames, end of stream)."""
  name = live.output_name(seq)
  output = _OUTPUT.value or os.path.join("track_output", f"{name}.txt")
  outputs = ([output] if boxes.ndim == 1 else
             target_outputs(output, len(boxes)))
  what = "" if boxes.ndim == 1 else f"{len(boxes)} targets in "
  # (file sizes, records) after the last record written in full.
  records, files, stop, written = [], [], "end of stream", ([], 0)
  with contextlib.ExitStack() as stack:
    try:
      app_live.warm_up(tracker, boxes)  # not on the first live frame
      source = stack.enter_context(
          live.open_live(seq, timeout=_LIVE_TIMEOUT.value))
      # Printed once ready: what the source sends from now on is tracked.
      print(f"Tracking {what}{seq} live with {tracker.name} "
            f"({tracker.backend.name} backend, {tracker.precision})",
            flush=True)
      for record in app_live.track(tracker, source, boxes, _MAX_FRAMES.value):
        if not files:  # a source that never sends leaves no empty files
          os.makedirs(os.path.dirname(os.path.abspath(output)),
                      exist_ok=True)
          files = [stack.enter_context(open(path, "w")) for path in
                   [*outputs, frames_output(output)]]
        rows = record.boxes if record.boxes.ndim == 2 else [record.boxes]
        lines = [*map(_box_line, rows), f"{record.index}\n"]
        for f, line in zip(files, lines):
          f.write(line)
          f.flush()
        sizes = [f.tell() for f in files]
        records.append(record)
        written = sizes, len(records)
      stop = ("--max_frames" if len(records) == _MAX_FRAMES.value
              else source.end)
    except KeyboardInterrupt:
      stop = "Ctrl-C"
      # A record cut in the middle is dropped from every file alike.
      for f, size in zip(files, written[0] or [0] * len(files)):
        f.truncate(size)
      del records[written[1]:]
  if records:
    where = (f"boxes to {outputs[0]}" if len(outputs) == 1 else
             f"boxes per target to {outputs[0]} ... {outputs[-1]}")
    print(f"Wrote {len(records)} {where}, their source frame indices to "
          f"{frames_output(output)}")
  print(f"Live: {app_live.summarize(records).line()} (stopped by {stop})",
        flush=True)

