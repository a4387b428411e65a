"""A SiamFC tracker for the official VOT toolkit (vot-toolkit 0.9.0, TraX).

The toolkit runs a tracker as a separate process and talks to it over TraX
(the `vot-trax` package): for each frame it sends the image path, on
(re)initialisation also the target region, and reads back one region. This
module is that process:

    python -m siamfc_jax.integrations.vot [--checkpoint=PATH]
        [--preset=siamfc-3s] [--backend=auto]

(each flag defaults to the environment variable SIAMFC_CHECKPOINT,
SIAMFC_PRESET or SIAMFC_BACKEND, then to the bundled SiamFC-3s on this
machine's default backend, as `tracker.load`).

Setting up a workspace (the toolkit and its pins are in requirements.txt:
vot-toolkit==0.9.0, vot-trax==4.0.2, attributee==0.1.9, since attributee
0.1.10 does not import on Python 3.11). In one command, from any sequence
folder our readers know (`vot_workspace.py`):

    python -m experiments.vot_workspace --root=DIR --workspace=ws
    cd ws && vot evaluate SiamFC_JAX && vot analysis SiamFC_JAX

or by hand, from the toolkit's own download (whose car1 has 742 lines of
ground truth for 252 frames: `vot analysis` fails on it, and
`--root=ws/sequences` builds a workspace with them matched):

    vot initialize vot2015/rgb --workspace ws   # downloads VOT2015
    # Add the section below to ws/trackers.ini. Copy the toolkit's
    # vot/stack/vot2015/rgb.yaml to ws/stack.yaml, set its baseline's
    # `type: siamfc_jax.integrations.vot_supervised.SupervisedExperiment`
    # (see vot_supervised.py) and `stack: stack.yaml` in ws/config.yaml.
    cd ws && vot test SiamFC_JAX             # a synthetic sequence
    vot evaluate --workspace ws SiamFC_JAX
    vot analysis --workspace ws SiamFC_JAX   # ws/analysis/<date>.json

    [SiamFC_JAX]
    label = SiamFC-3s (siamfc_jax)
    protocol = traxpython
    command = siamfc_jax.integrations.vot
    timeout = 300
    env_SIAMFC_BACKEND = auto

`traxpython` starts `<the toolkit's python> -m siamfc_jax.integrations.vot`,
so siamfc_jax must be installed where vot-toolkit is (or add
`paths = /path/to/siamfc_jax/checkout`, which goes on the tracker's
PYTHONPATH); `env_SIAMFC_CHECKPOINT = ...` / `env_SIAMFC_PRESET = ...`
choose another network or preset. `timeout` is how long the toolkit waits
for each reply (default 30 s): the first request of every process loads
the network and compiles or exports the frame step, and the toolkit starts
a fresh process per sequence. Sequences of your own need no download: a
`sequences/` folder with `list.txt` and, per sequence, a `sequence` file
(`channels.color=color/%08d.jpg`, `fps=30`, `format=default`),
`groundtruth.txt` (0-based polygons or `x,y,w,h`) and
`color/00000001.jpg...`, with a `stack.yaml` that names no `dataset` and a
`config.yaml` (`stack: stack.yaml`, `registry: [./trackers.ini]`);
`tests/test_vot_toolkit.py` builds one.

The supervised ("baseline") experiment of vot-toolkit 0.8.1 and 0.9.0
cannot run any TraX tracker (it fails at the first initialisation, the
toolkit's own dummy tracker included); `vot_supervised.py` has the
toolkit's experiment with that call fixed, to name in the stack. Note that
`vot evaluate` exits with status 0 after a tracker error: look for
"Evaluation concluded successfuly" in its output.

Regions. Rectangles `[x, y, w, h]` are used as they are; 4-point polygons
become the axis-aligned box of the original SiamFC (`polygon_to_box`), as
`sequences.read_vot` does; the coordinates are 0-based on both sides (VOT's
convention and `siamfc_jax.boxes`'), so nothing is shifted. Every reply is
a rectangle, the tracker's box (the initialisation box on an
initialisation request).

Deliberate differences and what they cost, measured by
`tests/test_vot_toolkit.py` on 20 frames of VOT2015 bag and 25 of ball2
against our own VOT protocol (`protocols.evaluate(..., "vot")`):

* TraX messages carry coordinates as text with 4 decimals: our boxes
  reach the toolkit rounded to 1e-4 px (and polygons reach us through
  float32). The toolkit's run and ours fail, skip and re-initialise on the
  same frames, with boxes equal to 1e-2 px.
* The toolkit scores overlap on rasterised regions
  (`vot.region.raster.calculate_overlap`: polygon corners rounded to whole
  pixels, a polygon from x1 to x2 covering x2 - x1 + 1 pixels, a w-wide
  rectangle w pixels), our metrics on exact areas
  (`metrics.region_overlap`). Failures (no overlap at all) agree but for a
  box within a pixel of the target. Accuracy differs within a one-pixel
  band around the target: 0.005 on the 84x106 px bag, 0.05 on the 17x16 px
  ball (the raster's higher, as `polygon_to_box`'s +1 matches the pixel
  the raster adds). Given the toolkit's own raster overlaps, our burn-in
  (10), skipping (5), masking and length-weighted averaging reproduce the
  toolkit's accuracy and failures to 1e-12.
* The `vot` command asks GitHub for a newer toolkit on every call
  (`vot.check_updates`, 5 s timeout, silent offline). That is the toolkit,
  not this tracker, which reads nothing but the frames it is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import numpy as np

from siamfc_jax.data import sequences

ENV_CHECKPOINT = "SIAMFC_CHECKPOINT"
ENV_PRESET = "SIAMFC_PRESET"
ENV_BACKEND = "SIAMFC_BACKEND"
TRACKER_NAME = "SiamFC_JAX"
# Where the frame step runs (`tracker.load`'s backend).
BACKENDS = ("auto", "jax", "onnxruntime")


def region_to_box(kind: str, values: Sequence[float]) -> np.ndarray:
  """The initialisation box of a TraX region.

  Args:
    kind: "rectangle" or "polygon" (TraX `Region.RECTANGLE`/`POLYGON`).
    values: [4] `x, y, w, h` for a rectangle; [8] `x1, y1, ..., x4, y4`
      for a polygon, 0-based pixels.

  Returns:
    [4] float64 box `[x, y, w, h]` (`polygon_to_box` for a polygon).

  Raises:
    ValueError: another kind, or a polygon of other than 4 points.
  """
  values = np.asarray(values, dtype=np.float64).reshape(-1)
  if kind == "rectangle" and values.size == 4:
    return values
  if kind == "polygon" and values.size == 8:
    return sequences.polygon_to_box(values)
  raise ValueError(f"expected a rectangle [x, y, w, h] or a 4-point polygon "
                   f"(8 values), got a {kind} of {values.size} values")


def _trax_values(region: Any) -> tuple[str, list[float]]:
  """(kind, flat coordinates) of a `trax.region.Region`."""
  if region.type == "rectangle":
    return region.type, list(region.bounds())
  if region.type == "polygon":
    return region.type, [c for point in region for c in point]
  return region.type, []


def serve(tracker: Any, server: Any) -> int:
  """Answers TraX requests until the client quits.

  Args:
    tracker: a `siamfc_jax.Tracker` (anything with `init(image, box)` and
      `update(image) -> [4] box`).
    server: a `trax.Server` offering rectangles and polygons, image paths.

  Returns:
    The number of frames answered (initialisations included).
  """
  from trax import TraxStatus  # pylint: disable=g-import-not-at-top
  from trax.region import Rectangle  # pylint: disable=g-import-not-at-top

  answered = 0
  while True:
    request = server.wait()
    if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
      return answered
    image = request.image["color"].path()
    if request.type == TraxStatus.INITIALIZE:
      if len(request.objects) != 1:
        raise ValueError(f"one target per sequence, got "
                         f"{len(request.objects)}")
      box = region_to_box(*_trax_values(request.objects[0][0]))
      tracker.init(image, box)
    else:
      box = tracker.update(image)
    server.status([(Rectangle.create(*(float(v) for v in box)), {})])
    answered += 1


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  """Flags of `main`, defaults from the environment (see the docstring)."""
  parser = argparse.ArgumentParser(
      prog="python -m siamfc_jax.integrations.vot",
      description="SiamFC as a TraX tracker for the VOT toolkit.")
  parser.add_argument(
      "--checkpoint", default=os.environ.get(ENV_CHECKPOINT) or None,
      help="checkpoint or weights file (default: the bundled network; "
      f"${ENV_CHECKPOINT})")
  parser.add_argument(
      "--preset", default=os.environ.get(ENV_PRESET) or None,
      help=f"tracking preset, e.g. siamfc-5s (${ENV_PRESET})")
  parser.add_argument(
      "--backend", default=os.environ.get(ENV_BACKEND) or "auto",
      choices=BACKENDS,
      help=f"where the frame step runs (${ENV_BACKEND}; default auto)")
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Serves the tracker of `argv` to the TraX client that started us."""
  args = parse_args(sys.argv[1:] if argv is None else argv)
  # pylint: disable=g-import-not-at-top
  from trax import Image, Region, Server
  from siamfc_jax import tracker as tracker_lib
  # pylint: enable=g-import-not-at-top
  # Answer the client's hello first: loading takes seconds, and the toolkit
  # times the handshake too.
  with Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH],
              tracker_name=TRACKER_NAME,
              tracker_description="SiamFC (siamfc_jax)") as server:
    tracker = tracker_lib.load(args.checkpoint, args.preset, args.backend)
    serve(tracker, server)
  return 0


if __name__ == "__main__":
  sys.exit(main())
