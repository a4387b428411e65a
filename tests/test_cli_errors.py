"""Broken input through `experiments.track` and `experiments.evaluate`.

Each case runs the command line as a user would (a subprocess, the bundled
network, 6 tiny frames) and checks what the user sees: the exit status, one
`<program>: error: ...` line naming the file or value and no traceback, the
boxes written before a bad frame kept; ground truth longer or shorter than
the frames tracks every frame with one warning line. All subprocesses start
at once (each pays JAX's import and the network's export).
"""

import concurrent.futures
import os
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from tests import fake_datasets

REPO = pathlib.Path(__file__).resolve().parents[1]
N = 6  # frames per sequence
BAD = 4  # 1-based number of the broken frame


def _break(folder: pathlib.Path, case: str) -> str:
  """Breaks an OTB sequence folder; returns what the error must name."""
  gt = folder / "groundtruth_rect.txt"
  frame = folder / "img" / f"{BAD:04d}.jpg"
  lines = gt.read_text().splitlines()
  if case == "undecodable_frame":
    frame.write_bytes(b"not a jpeg")
    return f"{frame}"
  if case == "missing_frame":
    frame.unlink()
    return (f"frame {BAD} missing between {BAD - 1:04d}.jpg and "
            f"{BAD + 1:04d}.jpg")
  if case == "frame_of_another_size":
    Image.new("RGB", (40, 30)).save(frame)
    return f"{frame}: frame shape (30, 40, 3) differs"
  if case == "nan_box":
    lines[0] = "NaN,NaN,NaN,NaN"
    gt.write_text("\n".join(lines) + "\n")
    return f"{gt}:1: the first frame has no box"
  if case == "zero_width_box":
    lines[0] = "9,9,0,12"
    gt.write_text("\n".join(lines) + "\n")
    return f"{gt}:1: the first box has width 0"
  if case == "non_numeric_line":
    lines[2] = "10,9,twelve,12"
    gt.write_text("\n".join(lines) + "\n")
    return f"{gt}:3: non-numeric value in line '10,9,twelve,12'"
  if case == "longer_ground_truth":
    gt.write_text("\n".join(lines + lines[-2:]) + "\n")
    return f"{gt}: {N + 2} ground-truth lines but {N} frames"
  if case == "shorter_ground_truth":
    gt.write_text("\n".join(lines[:N - 2]) + "\n")
    return f"{gt}: {N - 2} ground-truth lines but {N} frames"
  raise AssertionError(case)


# Errors on a frame in the middle: boxes before it are written.
FRAME_ERRORS = ("undecodable_frame", "frame_of_another_size")
READ_ERRORS = ("missing_frame", "nan_box", "zero_width_box",
               "non_numeric_line")
MISMATCHES = ("longer_ground_truth", "shorter_ground_truth")


def _command(module: str, *args: str, verbose: bool = False) -> dict:
  env = {k: v for k, v in os.environ.items() if k != "SIAMFC_VERBOSE"}
  if verbose:
    env["SIAMFC_VERBOSE"] = "1"
  return {"args": [sys.executable, "-m", f"experiments.{module}", *args],
          "cwd": REPO, "env": env, "capture_output": True, "text": True,
          "timeout": 600, "check": False}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """case -> (completed process, expected text, folder of outputs)."""
  tmp = tmp_path_factory.mktemp("cli")
  jobs, expected = {}, {}
  for case in FRAME_ERRORS + READ_ERRORS + MISMATCHES:
    root = tmp / "track" / case
    fake_datasets.write_otb(root, {"seq": N})
    expected["track", case] = _break(root / "seq", case)
    jobs["track", case] = _command(
        "track", f"--seq={root / 'seq'}", f"--output={root / 'boxes.txt'}")
  for case in FRAME_ERRORS + READ_ERRORS:
    # A longer good sequence is tracked first (--batch=1: longest first).
    root = tmp / "evaluate" / case
    fake_datasets.write_otb(root, {"good": N + 1, "seq": N})
    expected["evaluate", case] = _break(root / "seq", case)
    jobs["evaluate", case] = _command(
        "evaluate", "--dataset=otb", f"--root={root}", "--batch=1",
        f"--output={root / 'out'}")
  root = tmp / "evaluate" / "mismatches"
  fake_datasets.write_otb(root, {case: N for case in MISMATCHES})
  expected["evaluate", "mismatches"] = [_break(root / c, c) for c in MISMATCHES]
  jobs["evaluate", "mismatches"] = _command(
      "evaluate", "--dataset=otb", f"--root={root}", f"--output={root / 'out'}")
  expected["track", "verbose"] = expected["track", "non_numeric_line"]
  jobs["track", "verbose"] = _command(
      "track", *jobs["track", "non_numeric_line"]["args"][3:], verbose=True)
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    futures = {key: pool.submit(subprocess.run, **kw)
               for key, kw in jobs.items()}
  return {key: (f.result(), expected[key], tmp / key[0] / key[1])
          for key, f in futures.items()}


def _lines(text: str, prefix: str) -> list[str]:
  return [line for line in text.splitlines() if line.startswith(prefix)]


def _check_one_error(run, program: str, names: str) -> None:
  assert run.returncode == 1, run.stderr
  errors = _lines(run.stderr, f"{program}: error: ")
  assert len(errors) == 1, run.stderr
  assert names in errors[0], errors[0]
  assert "Traceback" not in run.stderr and "Error:" not in run.stderr


@pytest.mark.parametrize("case", FRAME_ERRORS + READ_ERRORS)
def test_track_refuses_bad_input_in_one_line_and_keeps_the_boxes(runs, case):
  run, names, folder = runs["track", case]
  _check_one_error(run, "track", names)
  boxes = folder / "boxes.txt"
  if case in FRAME_ERRORS:  # the frames before the bad one were tracked
    assert len(np.loadtxt(boxes, delimiter=",", ndmin=2)) == BAD - 1
  else:  # refused before tracking
    assert not boxes.exists()


@pytest.mark.parametrize("case", FRAME_ERRORS + READ_ERRORS)
def test_evaluate_refuses_bad_input_in_one_line_and_keeps_results(runs, case):
  run, names, folder = runs["evaluate", case]
  _check_one_error(run, "evaluate", names)
  kept = list((folder / "out" / "results" / "OTB").glob("*/good.txt"))
  if case in FRAME_ERRORS:  # the good sequence was tracked before
    assert len(kept) == 1 and len(np.loadtxt(kept[0], delimiter=",")) == N + 1
  else:  # refused while reading the dataset
    assert not kept


@pytest.mark.parametrize("case", MISMATCHES)
def test_track_follows_a_longer_or_shorter_ground_truth_with_a_warning(
    runs, case):
  run, names, folder = runs["track", case]
  assert run.returncode == 0, run.stderr
  warnings = _lines(run.stderr, "track: warning: ")
  assert len(warnings) == 1 and names in warnings[0], run.stderr
  assert len(np.loadtxt(folder / "boxes.txt", delimiter=",")) == N
  assert "success AUC" in run.stdout  # scored on the annotated frames


def test_evaluate_tracks_every_frame_of_mismatched_ground_truth(runs):
  run, names, folder = runs["evaluate", "mismatches"]
  assert run.returncode == 0, run.stderr
  warnings = _lines(run.stderr, "evaluate: warning: ")
  assert len(warnings) == 2, run.stderr
  for name, warning in zip(names, warnings):
    assert name in warning
  for case in MISMATCHES:
    result, = (folder / "out" / "results" / "OTB").glob(f"*/{case}.txt")
    assert len(np.loadtxt(result, delimiter=",")) == N


def test_siamfc_verbose_shows_the_traceback(runs):
  run, _, _ = runs["track", "verbose"]
  assert run.returncode != 0
  assert "Traceback" in run.stderr and "non-numeric value" in run.stderr


# Refused before the network is loaded (fast): a video or a live source
# without a first box (naming the flag and the app that draws it), a camera
# that does not exist, a live source to render.
REFUSALS = ("video_without_box", "stream_without_box", "missing_camera",
            "live_render")


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
  """case -> (completed process, texts its error line must hold)."""
  tmp = tmp_path_factory.mktemp("refusals")
  clip = tmp / "clip.mp4"
  clip.write_bytes(b"not read: refused before")
  url = "rtsp://127.0.0.1:9/cam"
  cases = {
      "video_without_box": ([f"--seq={clip}"], [
          f"{clip} is a video", "--init_box=x,y,w,h",
          "siamfc-jax app"]),
      "stream_without_box": ([f"--seq={url}"], [
          f"{url} is a live source", "--init_box=x,y,w,h",
          "siamfc-jax app"]),
      "missing_camera": (["--seq=/dev/video97", "--init_box=1,2,3,4"], [
          "camera /dev/video97: /dev/video97 not found: expected a video "
          "device"]),
      "live_render": ([f"--seq={url}", "--init_box=1,2,3,4",
                       f"--render={tmp / 'x.mp4'}"], [
                           "--render needs a video or a sequence"]),
  }
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    futures = {case: pool.submit(subprocess.run, **_command(
        "track", *args, f"--output={tmp / case / 'boxes.txt'}"))
               for case, (args, _) in cases.items()}
  return {case: (futures[case].result(), cases[case][1]) for case in cases}


@pytest.mark.parametrize("case", REFUSALS)
def test_track_refuses_a_source_it_cannot_track_in_one_line(refusals, case):
  if case == "missing_camera" and not sys.platform.startswith("linux"):
    pytest.skip("cameras by device path are Linux's")
  run, texts = refusals[case]
  assert run.returncode == 1, run.stderr
  errors = _lines(run.stderr, "track: error: ")
  assert len(errors) == 1 and run.stderr.strip() == errors[0], run.stderr
  for text in texts:
    assert text in errors[0]
  assert "Tracking" not in run.stdout  # before the network was loaded


# Other trackers' results (`--results=NAME=DIR --results_only`): refused in
# one line naming the file and line or the sequences, and nothing of ours
# (an earlier run's results) touched. No network is loaded: quick.
OTHERS = {"Biker": N, "Crossing": N + 1, "Car4": N}
RESULTS_ERRORS = ("missing_sequence", "fewer_boxes", "nan_box",
                  "non_numeric_line", "our_name", "no_equals")


def _their_results(folder: pathlib.Path, truth, seed: int) -> None:
  folder.mkdir(parents=True)
  for name, gt in truth.items():
    pred = fake_datasets.perturb(gt, seed, lost=False) + [1, 1, 0, 0]
    np.savetxt(folder / f"{name}.txt", pred, fmt="%.3f", delimiter="\t")


def _break_results(folder: pathlib.Path, case: str) -> str:
  path = folder / "Crossing.txt"
  lines = path.read_text().splitlines()
  if case == "missing_sequence":
    (folder / "Car4.txt").unlink()
    return (f"{folder}: no results (<seq>.txt or <seq>/<seq>_001.txt) for 1 "
            "of the 3 otb100 sequences: Car4")
  if case == "fewer_boxes":
    path.write_text("\n".join(lines[:3]) + "\n")
    return f"{path}: 3 boxes but Crossing has {N + 1} frames"
  if case == "nan_box":
    lines[2] = "nan\tnan\tnan\tnan"
    path.write_text("\n".join(lines) + "\n")
    return f"{path}:3: NaN or infinite value in line"
  if case == "non_numeric_line":
    lines[1] = "10\t9\ttwelve\t12"
    path.write_text("\n".join(lines) + "\n")
    return f"{path}:2: non-numeric value in line"
  if case == "our_name":
    return "holds our tracker's results of that name"
  if case == "no_equals":
    return "--results=" + str(folder) + ": expected NAME=DIR"
  raise AssertionError(case)


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory):
  """case -> (completed process, expected text, output folder)."""
  tmp = tmp_path_factory.mktemp("comparisons")
  jobs, expected = {}, {}
  for case in RESULTS_ERRORS + ("two_trackers",):
    root, output = tmp / case / "OTB100", tmp / case / "out"
    truth = fake_datasets.write_otb(root, OTHERS)
    # An earlier run of ours: its results must stay as they are.
    ours = output / "results" / "OTB2015" / "siamfc-3s"
    ours.mkdir(parents=True)
    (ours / "tracker.json").write_text("{}")
    (ours / "Biker.txt").write_text("1,2,3,4\n")
    name = "siamfc-3s" if case == "our_name" else "SiamRPN"
    _their_results(tmp / case / "SiamRPN", truth, 0)
    args = [f"--results={name}={tmp / case / 'SiamRPN'}"]
    if case == "two_trackers":
      _their_results(tmp / case / "ECO", truth, 1)
      args += [f"--results=ECO={tmp / case / 'ECO'}", "--table=latex"]
    else:
      expected[case] = _break_results(tmp / case / "SiamRPN", case)
      if case == "no_equals":
        args = [f"--results={tmp / case / 'SiamRPN'}"]
    jobs[case] = _command("evaluate", "--dataset=otb100", f"--root={root}",
                          f"--output={output}", "--results_only", *args)
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    futures = {case: pool.submit(subprocess.run, **kw)
               for case, kw in jobs.items()}
  return {case: (f.result(), expected.get(case), tmp / case / "out")
          for case, f in futures.items()}


def _ours_untouched(output: pathlib.Path) -> None:
  ours = output / "results" / "OTB2015" / "siamfc-3s"
  assert sorted(p.name for p in ours.iterdir()) == ["Biker.txt",
                                                     "tracker.json"]
  assert (ours / "Biker.txt").read_text() == "1,2,3,4\n"
  assert not (output / "reports" / "OTB2015" / "siamfc-3s").exists()


@pytest.mark.parametrize("case", RESULTS_ERRORS)
def test_evaluate_refuses_bad_results_in_one_line_and_keeps_ours(
    comparisons, case):
  run, names, output = comparisons[case]
  _check_one_error(run, "evaluate", names)
  _ours_untouched(output)


def test_evaluate_compares_other_trackers_results_alone(comparisons):
  run, _, output = comparisons["two_trackers"]
  assert run.returncode == 0, run.stderr
  assert "Traceback" not in run.stderr
  # One line per warning: the subset's missing folders, the attributes
  # none of the three sequences has.
  warned = _lines(run.stderr, "evaluate: warning: ")
  assert any("left out of the attribute analysis" in w for w in warned)
  assert len(run.stderr.strip().splitlines()) == len(warned) + 2  # scored
  lines = run.stdout.splitlines()
  assert "OTB-100: overall (3 sequences)" in lines
  assert any(line.startswith("SiamRPN ") for line in lines)
  assert any(line.startswith("ECO ") for line in lines)
  folder = output / "reports" / "OTB2015" / "SiamRPN"
  assert f"Table: {folder / 'comparison.tex'}" in lines
  assert f"Plot: {folder / 'attributes' / 'SV.png'}" in lines
  assert (output / "reports" / "OTB2015" / "ECO" / "report.json").is_file()
  assert "\\textbf{" in (folder / "comparison.tex").read_text()
  _ours_untouched(output)
