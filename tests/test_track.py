"""End-to-end tests of `python -m experiments.track`."""

import pathlib
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest

import siamfc_jax
from siamfc_jax.evaluation import metrics

REPO = pathlib.Path(__file__).resolve().parents[1]


def _track(*args, cwd=REPO):
  return subprocess.run([sys.executable, "-m", "experiments.track", *args],
                        cwd=cwd, capture_output=True, text=True, timeout=600,
                        check=False)


def test_cli_tracks_vot15_bag_and_writes_boxes_and_video(data_dir, tmp_path):
  seq = data_dir / "sequences" / "vot15_bag"
  if not seq.is_dir():
    pytest.skip(f"{seq} not found")
  out, video = tmp_path / "boxes.txt", tmp_path / "bag.mp4"
  run = _track(f"--seq={seq}", f"--output={out}", f"--render={video}",
               "--max_frames=25")
  assert run.returncode == 0, run.stderr
  boxes = np.loadtxt(out, delimiter=",")
  assert boxes.shape == (25, 4) and np.all(np.isfinite(boxes))
  assert "success AUC" in run.stdout and "fps" in run.stdout
  with imageio.get_reader(video) as reader:
    assert sum(1 for _ in reader) == 25


def test_cli_tracks_a_video_file_from_an_initial_box(tmp_path):
  seq = siamfc_jax.demo_sequence()
  clip = tmp_path / "clip.mp4"
  with imageio.get_writer(clip, fps=10, macro_block_size=1) as w:
    for path in seq.frames[:6]:
      w.append_data(imageio.imread(path))
  x, y, bw, bh = seq.boxes[0]
  out = tmp_path / "clip.txt"
  run = _track(f"--seq={clip}", f"--init_box={x},{y},{bw},{bh}",
               f"--output={out}")
  assert run.returncode == 0, run.stderr
  boxes = np.loadtxt(out, delimiter=",")
  assert boxes.shape == (6, 4)
  assert "Tracking clip (6 frames)" in run.stdout  # counted by ffmpeg
  # A clean console: no JAX backend probe, no fork warning (ffmpeg).
  assert "Unable to initialize backend" not in run.stderr
  assert "os.fork()" not in run.stderr and "Warning" not in run.stderr
  # The tracker stays on the bag.
  assert metrics.iou(boxes[-1:], seq.boxes[5:6])[0] > 0.5
  assert "success AUC" not in run.stdout  # no ground truth for a video


@pytest.mark.parametrize("args, message", [
    (["--seq=/nonexistent/folder"], "does not exist"),
    (["--init_box=1,2,3"], "x,y,w,h"),
    (["--precision=int8", "--backend=jax"],
     "precision 'int8' needs the onnxruntime backend"),
    (["--precision=int8", "--calibration=/nonexistent/folder"],
     "calibration folder /nonexistent/folder not found"),
])
def test_cli_reports_bad_input_without_a_traceback(args, message):
  run = _track(*args)
  assert run.returncode != 0
  assert message in run.stderr and "Traceback" not in run.stderr


def _tiny_checkpoint(path):
  """A tiny random network with the SiamFC-3s geometry, saved (fast)."""
  import jax  # pylint: disable=g-import-not-at-top
  from siamfc_jax import checkpoints  # pylint: disable=g-import-not-at-top
  from siamfc_jax import embedding  # pylint: disable=g-import-not-at-top
  from siamfc_jax import model  # pylint: disable=g-import-not-at-top
  spec = embedding.alexnet_spec(width=0.125)
  return checkpoints.save(path, spec, model.init(spec, jax.random.key(0)))


def test_cli_tracks_several_targets_into_one_file_each(tmp_path):
  ckpt = _tiny_checkpoint(tmp_path / "ckpt")
  seq = siamfc_jax.demo_sequence()
  boxes = np.array([seq.boxes[0], [20, 30, 40, 50], [200, 100, 30, 30]])
  flags = [f"--init_box={','.join(map(str, b))}" for b in boxes]
  common = [f"--checkpoint={ckpt}", "--backend=jax", "--max_frames=4"]
  out, video = tmp_path / "out" / "bag.txt", tmp_path / "bag.gif"
  run = _track(*flags, *common, f"--output={out}", f"--render={video}")
  assert run.returncode == 0, run.stderr
  assert "3 targets" in run.stdout and "target-steps/s" in run.stdout
  tracked = [np.loadtxt(tmp_path / "out" / f"bag_target{k}.txt",
                        delimiter=",") for k in range(3)]
  assert not out.exists()
  for k, t in enumerate(tracked):
    assert t.shape == (4, 4)
    np.testing.assert_allclose(t[0], boxes[k], atol=1e-3)
  with imageio.get_reader(video) as reader:
    assert sum(1 for _ in reader) == 4


@pytest.mark.parametrize("content, message", [
    ("1,2,3,4\n1,2,x,4\n", "line 2: expected x,y,w,h"),
    ("\n# nothing\n", "no boxes"),
])
def test_cli_refuses_a_bad_boxes_file_naming_the_line(tmp_path, content,
                                                      message):
  listing = tmp_path / "boxes.txt"
  listing.write_text(content)
  run = _track(f"--init_boxes={listing}", "--max_frames=2")
  assert run.returncode != 0
  assert message in run.stderr and str(listing) in run.stderr
  assert "Traceback" not in run.stderr
