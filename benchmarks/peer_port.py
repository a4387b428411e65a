r"""Times the most used PyTorch port of SiamFC against our tracker, here.

  pip install torch==2.13.0 opencv-python-headless got10k
  git clone https://github.com/huanglianghua/siamfc-pytorch PORT_DIR
  python -m benchmarks.peer_port --port_dir=PORT_DIR [--seq=DIR] [--repeats=3]
      [--precision=fp32,int8]

huanglianghua/siamfc-pytorch, unchanged (imported from --port_dir; nothing
of it is in this repository), gets the bundled original SiamFC network: our
conv weights (HWIO -> its OIHW) and its batch-norm layers set to identity,
the way `../shared/reference/peer-results-shared-sequences.md` ran it. Its
embedding is checked against ours first. Then both trackers run the
sequence (an image folder; default: the bundled demo clip) in turn,
--repeats times, so that other work on a shared machine slows both alike;
with --precision=fp32,int8 ours runs in both precisions (int8: the
onnxruntime backend quantized, `siamfc_jax/export/int8.py`), each in turn.

Per tracker and repeat it prints the median milliseconds of a tracker call
(decoding excluded: the got10k toolkit's timing, which the port and
`Tracker.track` both report), the frames per second those calls give, the
frames per second of the whole run with decoding, and the success AUC.
AUCs differ because the port crops and upsamples differently
(`siamfc_jax/speed/torch_step.py`), not because of the network.
"""

import importlib
import importlib.util
import statistics
import sys
import time

from absl import app
from absl import flags
import numpy as np

from siamfc_jax.cli import entry
from siamfc_jax import model
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import sequences
from siamfc_jax.evaluation import metrics

_PORT_DIR = flags.DEFINE_string(
    "port_dir", None, "A checkout of huanglianghua/siamfc-pytorch (the "
    "folder holding its `siamfc/` package).", required=True)
_SEQ = flags.DEFINE_string(
    "seq", None, "Sequence folder (OTB, VOT or GOT-10k layout); default: "
    "the bundled demo clip.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Runs of each tracker, in "
                                "turn.", lower_bound=1)
_BACKEND = flags.DEFINE_enum(
    "backend", "auto", ["auto", "jax", "onnxruntime"],
    "Our backend; auto: ONNX Runtime on CPU when it is installed.")
_PRECISION = flags.DEFINE_list(
    "precision", ["fp32"], "Our precisions (fp32, int8), each run in turn "
    "with the port.")

# What the port imports, and the package to install for it.
_PORT_NEEDS = {"torch": "torch", "cv2": "opencv-python-headless",
               "got10k": "got10k"}


def load_port(port_dir: str):
  """The port's `TrackerSiamFC` with the bundled original network.

  Raises:
    ImportError: a package the port needs is missing, or no port there.
  """
  for module, package in _PORT_NEEDS.items():
    if importlib.util.find_spec(module) is None:
      raise ImportError(f"the port needs {module}: pip install {package}")
  sys.path.insert(0, port_dir)
  try:
    port = importlib.import_module("siamfc.siamfc")
  except ModuleNotFoundError as e:
    raise ImportError(f"{port_dir}: no siamfc-pytorch checkout ({e})") from e
  import torch  # pylint: disable=g-import-not-at-top
  tracker = port.TrackerSiamFC()
  state = tracker.net.state_dict()
  _, variables = pretrained.network()
  for i in range(1, 6):
    layer = variables["params"]["embedding"][f"conv{i}"]
    kernel = np.asarray(layer["kernel"]).transpose(3, 2, 0, 1)  # -> OIHW
    state[f"backbone.conv{i}.0.weight"] = torch.from_numpy(kernel.copy())
    state[f"backbone.conv{i}.0.bias"] = torch.from_numpy(
        np.array(layer["bias"]))
    if i < 5:  # batch norm (eps 1e-6) as identity: BN is folded already
      n = kernel.shape[0]
      state[f"backbone.conv{i}.1.weight"] = torch.ones(n)
      state[f"backbone.conv{i}.1.bias"] = torch.zeros(n)
      state[f"backbone.conv{i}.1.running_mean"] = torch.zeros(n)
      state[f"backbone.conv{i}.1.running_var"] = torch.full((n,), 1 - 1e-6)
  tracker.net.load_state_dict(state)
  tracker.net.eval()
  return tracker


def embedding_difference(port_tracker) -> float:
  """Max relative difference of the port's embedding from ours on a random
  [255, 255, 3] image."""
  import torch  # pylint: disable=g-import-not-at-top
  spec, variables = pretrained.network()
  image = np.random.default_rng(0).uniform(0, 255, (1, 255, 255, 3))
  ours = np.asarray(model.embed(spec, variables, image.astype(np.float32)))
  with torch.no_grad():
    theirs = port_tracker.net.backbone(
        torch.from_numpy(image.transpose(0, 3, 1, 2)).float())
  theirs = theirs.numpy().transpose(0, 2, 3, 1)
  return float(np.abs(theirs - ours).max() / np.abs(ours).max())


def _run(name, track, files, gt) -> dict:
  start = time.perf_counter()
  boxes, seconds = track()
  wall = time.perf_counter() - start
  calls = np.asarray(seconds)[1:]  # updates; frame 0 is init
  return {"tracker": name, "ms": 1e3 * float(np.median(calls)),
          "fps": len(calls) / float(np.sum(calls)),
          "fps_with_decode": len(files) / wall,
          "auc": metrics.otb_scores(boxes, gt)["auc"]}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    port = load_port(_PORT_DIR.value)
  except ImportError as e:
    raise app.UsageError(str(e)) from None
  seq = (sequences.read_sequence(_SEQ.value) if _SEQ.value
         else pretrained.demo_sequence())
  files = [str(f) for f in seq.frames]
  try:
    ours = [tracker_lib.Tracker.pretrained(backend=_BACKEND.value,
                                           precision=p)
            for p in dict.fromkeys(_PRECISION.value)]
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f"port embedding vs ours: max relative difference "
        f"{embedding_difference(port):.1e}")
  box = np.asarray(seq.boxes[0], np.float64)

  def track_port():
    # The port takes and returns OTB boxes, 1-based.
    boxes, seconds = port.track(files, box + [1, 1, 0, 0])
    return boxes - [1, 1, 0, 0], seconds

  runs = []
  for _ in range(_REPEATS.value):
    runs.append(_run("siamfc-pytorch", track_port, files, seq.boxes))
    for tracker in ours:
      runs.append(_run(f"siamfc_jax ({tracker.backend.name} "
                       f"{tracker.precision})",
                       lambda t=tracker: t.track(files, box), files,
                       seq.boxes))
    for r in runs[-1 - len(ours):]:
      print(f"{r['tracker']:26s} {r['ms']:7.1f} ms/frame {r['fps']:6.2f} "
            f"fps, {r['fps_with_decode']:6.2f} fps with decoding, AUC "
            f"{r['auc']:.3f}", flush=True)
  ms = {name: statistics.median(r["ms"] for r in runs if r["tracker"] == name)
        for name in dict.fromkeys(r["tracker"] for r in runs)}
  (port_name, port_ms), *mine = ms.items()
  for our_name, our_ms in mine:
    print(f"{seq.name}, {len(files)} frames, median of {_REPEATS.value} "
          f"runs: {our_name} {our_ms:.1f} ms/frame is {port_ms / our_ms:.2f}x "
          f"as fast as {port_name} {port_ms:.1f} ms/frame")


if __name__ == "__main__":
  entry.run(main)
