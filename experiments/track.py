r"""Tracks one sequence: boxes to a file, fps and accuracy printed, a video.

  python -m experiments.track                       # the bundled demo clip
  python -m experiments.track --seq=path/to/OTB/Basketball --render=out.mp4
  python -m experiments.track --seq=video.mp4 --init_box=10,20,40,30

--seq is an image folder in the OTB (img/ + groundtruth_rect.txt), VOT
(groundtruth.txt, polygons allowed) or GOT-10k layout, or a video file (then
--init_box gives the first box, 0-based x,y,w,h). Boxes are written one
`x,y,w,h` line per frame (0-based, see siamfc_jax/boxes.py) as they are
tracked, so an error on a later frame keeps the earlier ones.
"""

import itertools
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np

from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.data import sequences
from siamfc_jax.data import video
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import render

_SEQ = flags.DEFINE_string(
    "seq", None, "Image folder (OTB/VOT/GOT-10k layout) or video file; "
    "default: the bundled demo clip.")
_INIT_BOX = flags.DEFINE_string(
    "init_box", None, "x,y,w,h of the target in the first frame (0-based "
    "pixels); required without ground truth.")
_OUTPUT = flags.DEFINE_string(
    "output", None, "Boxes file; default track_output/<name>.txt.")
_RENDER = flags.DEFINE_string(
    "render", None, "Video with the boxes drawn (.mp4 or .gif); default "
    "track_output/<name>.mp4 for the demo, none otherwise.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint directory (orbax), training workdir, or "
    "weights file (.mat, e.g. a CFNet, .npz, .pth); default: the bundled "
    "original SiamFC network.")
_MAX_FRAMES = flags.DEFINE_integer(
    "max_frames", None, "Track only the first N frames.", lower_bound=1)
_PRESET = flags.DEFINE_enum(
    "preset", "siamfc-3s", sorted(tracking.PRESETS),
    "Tracking hyper-parameters; with --checkpoint only when given (else "
    "those it comes with).")
_PRECISION = flags.DEFINE_enum(
    "precision", "fp32", ["fp32", "int8"],
    "fp32: the faithful tracker; int8: the onnxruntime steps quantized, "
    "calibrated on --calibration (siamfc_jax/quantization.py).")
_CALIBRATION = flags.DEFINE_list(
    "calibration", None, "With --precision=int8: sequence folders "
    "(DIR[,DIR]) to calibrate on; default: the bundled demo clip.")
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


def open_input(seq: str | None, init_box: str | None):
  """(name, frames, first box, ground truth [N, 4] or None) of --seq.

  --init_box, when given, replaces the first ground-truth box.
  """
  box = None if init_box is None else _parse_box(init_box)
  if seq is None:
    s = pretrained.demo_sequence()
  elif video.is_video(seq):
    if box is None:
      raise app.UsageError(f"{seq} is a video: give --init_box=x,y,w,h")
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
  return (s.name, list(s.frames), s.boxes[0] if box is None else box,
          s.boxes if has_gt else None)


def _progress(done: int, total: int | None, start: float) -> None:
  """A one-line progress bar on a terminal, a line per 50 frames otherwise."""
  tty = sys.stderr.isatty()
  if done != total and done % (10 if tty else 50):
    return
  rate = done / max(time.perf_counter() - start, 1e-9)
  of = f"/{total}" if total else ""
  bar = ""
  if total:
    filled = round(30 * done / total)
    bar = "[" + "#" * filled + "." * (30 - filled) + "] "
  start_of_line, end_of_line = ("\r", "") if tty else ("", "\n")
  sys.stderr.write(f"{start_of_line}  {bar}frame {done}{of} "
                   f"({rate:.1f} frames/s){end_of_line}")
  if tty and done == total:
    sys.stderr.write("\n")
  sys.stderr.flush()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    preset = _PRESET.value if flags.FLAGS["preset"].present else None
    tracker = tracker_lib.load(_CHECKPOINT.value, preset, _BACKEND.value,
                               _PRECISION.value, _CALIBRATION.value)
  except (FileNotFoundError, ValueError) as e:  # e.g. int8 on JAX
    raise app.UsageError(str(e)) from None
  name, frames, box, gt = open_input(_SEQ.value, _INIT_BOX.value)
  if _MAX_FRAMES.value:
    frames = (frames[:_MAX_FRAMES.value] if isinstance(frames, list) else
              itertools.islice(frames, _MAX_FRAMES.value))
  output = _OUTPUT.value or os.path.join("track_output", f"{name}.txt")
  render_to = _RENDER.value
  if render_to is None and _SEQ.value is None:
    render_to = os.path.join("track_output", f"{name}.mp4")
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)

  total = len(frames) if isinstance(frames, list) else None
  print(f"Tracking {name} ({total or '?'} frames) with {tracker.name} "
        f"({tracker.backend.name} backend, {tracker.precision})")
  boxes, times, start = [], [], time.perf_counter()
  with open(output, "w") as f:
    for b, seconds in tracker.track_iter(frames, box):
      f.write(",".join(f"{v:.3f}" for v in b) + "\n")
      boxes.append(b)
      times.append(seconds)
      _progress(len(boxes), total, start)
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
        render.draw_boxes(tracker_lib.load_frame(fr), [g, b],
                          [render.GROUND_TRUTH_COLOUR,
                           render.PREDICTION_COLOUR], f"#{i + 1}")
        for i, (fr, b, g) in enumerate(zip(frames_again, boxes, gt_rows))))
    print(f"Rendered {n} frames to {render_to} (red: tracker, green: ground "
          "truth)")


if __name__ == "__main__":
  app.run(main)
