r"""Exports the tracker's two steps to ONNX or StableHLO, with a JSON sidecar.

  siamfc-jax export --format=onnx --out=export/onnx
  siamfc-jax export --format=stablehlo --out=export/shlo \
      --checkpoint=runs/siamfc/ckpt --frame_size=640,480 --params_as_inputs
  siamfc-jax export --precision=int8 --out=export/int8 \
      [--calibration=path/to/seq1,path/to/seq2]

Writes exemplar.<ext>, frame.<ext> and siamfc_export.json into --out (see
siamfc_jax/export/ for what each step takes and returns), prints each
file and its size, then runs the written files on the first frames of the
bundled demo clip and prints how far their score maps and boxes are from
the JAX step's. The network is the bundled original SiamFC unless
--checkpoint is given. With --precision=int8 the ONNX steps are quantized
after calibrating on the --calibration sequences (default: the demo clip;
the sidecar names them), and the parity printed is that of int8 with the
fp32 JAX step: close, not equal (siamfc_jax/export/int8.py).
"""

import json

from absl import app
from absl import flags
import jax
import numpy as np

from siamfc_jax.cli import precision
from siamfc_jax import export
from siamfc_jax import pretrained
from siamfc_jax import frames as frames_lib
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking

_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint directory; default: the bundled original "
    "SiamFC network.")
_FORMAT = flags.DEFINE_enum("format", "onnx", list(export.FORMATS),
                            "onnx (jax2onnx) or stablehlo (jax.export).")
_OUT = flags.DEFINE_string("out", None, "Directory to write.")
_PRESET = flags.DEFINE_enum(
    "preset", None, sorted(tracking.PRESETS),
    "Tracking hyper-parameters to bake in; default: those of the checkpoint "
    "(siamfc-3s for the bundled network).")
_FRAME_SIZE = flags.DEFINE_list(
    "frame_size", None, "W,H to fix the frame size; default: symbolic (any "
    "size).")
_PARAMS_AS_INPUTS = flags.DEFINE_bool(
    "params_as_inputs", False, "Network variables as inputs instead of "
    "constants.")
_PLATFORMS = flags.DEFINE_list(
    "platforms", None, "StableHLO only: platforms to lower for (cpu, cuda, "
    "tpu); default: this machine's JAX backend.")
_PARITY_FRAMES = flags.DEFINE_integer(
    "parity_frames", 5, "Demo clip frames stepped to check parity; 0 skips "
    "it.", lower_bound=0)
_OVERWRITE = flags.DEFINE_bool("overwrite", False,
                               "Replace an existing export in --out.")

flags.mark_flags_as_required(["out"])


def _frame_size(values):
  if values is None:
    return None
  try:
    size = [int(v) for v in values]
  except ValueError:
    size = []
  if len(size) != 2 or min(size) < 1:
    raise app.UsageError(f"--frame_size must be W,H (positive); got {values}")
  return size


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  frame_size = _frame_size(_FRAME_SIZE.value)
  try:
    tracker = tracker_lib.load(_CHECKPOINT.value, _PRESET.value, "jax")
    paths = export.export(_OUT.value, tracker.spec, tracker.variables,
                          tracker.params, _FORMAT.value, frame_size,
                          _PARAMS_AS_INPUTS.value, _PLATFORMS.value,
                          overwrite=_OVERWRITE.value,
                          precision=precision.PRECISION.value,
                          calibration=precision.CALIBRATION.value)
  except (FileNotFoundError, FileExistsError, ValueError) as e:
    raise app.UsageError(str(e)) from None
  print(f"Exported {tracker.name} ({_FORMAT.value} "
        f"{precision.PRECISION.value}, frame size "
        f"{'x'.join(map(str, frame_size)) if frame_size else 'symbolic'}, "
        f"variables {'as inputs' if _PARAMS_AS_INPUTS.value else 'baked in'})")
  for path in paths:
    print(f"  wrote {path} ({path.stat().st_size / 2**20:.2f} MiB)")
  if precision.PRECISION.value == "int8":
    calibration = json.loads(paths[-1].read_text())["calibration"]
    print("  calibrated on " + ", ".join(
        f"{s['name']} ({s['frames']} frames)"
        for s in calibration["sequences"]) + f" ({calibration['method']})")
  if not _PARITY_FRAMES.value:
    return
  seq = pretrained.demo_sequence()
  frames = [frames_lib.load_frame(p)
            for p in seq.frames[:_PARITY_FRAMES.value + 1]]
  if frame_size and (frames[0].shape[1], frames[0].shape[0]) != tuple(
      frame_size):
    print(f"Parity not checked: the demo clip is {frames[0].shape[1]}x"
          f"{frames[0].shape[0]}, the export {frame_size[0]}x{frame_size[1]}")
    return
  here = jax.default_backend()
  if _FORMAT.value == "stablehlo" and here not in (_PLATFORMS.value or [here]):
    print(f"Parity not checked: exported for {_PLATFORMS.value}, this "
          f"machine runs {here}")
    return
  try:
    steps = export.load(_OUT.value, tracker.variables
                        if _PARAMS_AS_INPUTS.value else None)
  except ImportError as e:
    print(f"Parity not checked: {e}")
    return
  result = export.parity(steps, tracker.variables, frames,
                         np.asarray(seq.boxes[0], np.float32))
  print(f"Parity with the JAX step on {result['frames']} demo frames: score "
        f"maps max relative difference {result['max_rel_score_diff']:.2e}, "
        f"boxes max difference {result['max_box_diff_px']:.2e} px")

