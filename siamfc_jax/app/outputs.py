"""A session's downloads: boxes files, corrections, settings, scores, video.

Boxes are in `experiments.track`'s format, one `x,y,w,h` line per frame
(0-based pixels, 3 decimals; `nan` where a target is not tracked): one
target gives `<name>.txt`, K targets `<name>_target<k>.txt`. The frames
where a box was drawn by hand after the target's first are its corrections:
listed in `settings.json` and in `<boxes file stem>_corrections.txt`, one
`frame,x,y,w,h` line each (0-based frame).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Mapping

import numpy as np

from siamfc_jax import frames as frames_lib
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import render
from siamfc_jax.evaluation import reports

SETTINGS_FILE = "settings.json"
VIDEO_FILE = "tracked.mp4"
SUCCESS_PLOT = "success_plots.png"


def boxes_files(name: str, num_targets: int) -> list[str]:
  """File names of the targets' boxes, as `experiments.track` names them."""
  if num_targets == 1:
    return [f"{name}.txt"]
  return [f"{name}_target{k}.txt" for k in range(num_targets)]


def format_box(box) -> str:
  """One `x,y,w,h` line of a boxes file (no newline), as `track` writes."""
  return ",".join(f"{v:.3f}" for v in box)


def write_boxes(folder: pathlib.Path, name: str, boxes: np.ndarray,
                corrections: Mapping[int, Mapping[int, list[float]]]
                ) -> list[str]:
  """Writes each target's boxes file and corrections file.

  Args:
    folder: where to write.
    name: the clip's name.
    boxes: [N, K, 4], NaN where a target is not tracked.
    corrections: target -> {frame: box drawn by hand}.

  Returns:
    The names of the files written.
  """
  written = []
  for k, file in enumerate(boxes_files(name, boxes.shape[1])):
    (folder / file).write_text(
        "".join(format_box(b) + "\n" for b in boxes[:, k]))
    written.append(file)
    fixed = corrections.get(k, {})
    if fixed:
      file = file[:-len(".txt")] + "_corrections.txt"
      (folder / file).write_text("".join(
          f"{t}," + format_box(fixed[t]) + "\n" for t in sorted(fixed)))
      written.append(file)
  return written


def scores(boxes: np.ndarray, ground_truth: np.ndarray | None
           ) -> dict[str, Any] | None:
  """OTB scores (AUC, precision@20px, success curve) of each target
  against the ground truth, over the frames tracked so far (up to the last
  with a box), or None without ground truth."""
  if ground_truth is None:
    return None
  out = []
  for k in range(boxes.shape[1]):
    tracked = np.flatnonzero(np.isfinite(boxes[:, k]).all(axis=1))
    if not tracked.size:
      continue
    pred = boxes[:tracked[-1] + 1, k]
    try:
      s = metrics.otb_scores(pred, ground_truth[:len(pred)])
    except ValueError:  # no frame with ground truth
      return None
    out.append({"target": k, "frames": len(pred), "auc": s["auc"],
                "precision20": s["precision20"],
                "success_curve": s["success_curve"].tolist()})
  return {"targets": out} if out else None


def write_plot(folder: pathlib.Path, name: str, scored: Mapping[str, Any]
               ) -> str:
  """The success plot of the targets (as `experiments.evaluate` draws)."""
  runs = [{"protocol": "otb", "tracker": f"{name} target {t['target']}",
           "overall": {"success_curve": t["success_curve"], "auc": t["auc"]}}
          for t in scored["targets"]]
  written = reports.plot_curves(runs, folder)
  return written[0].name


def write_settings(folder: pathlib.Path, settings: Mapping[str, Any]) -> str:
  (folder / SETTINGS_FILE).write_text(
      json.dumps(reports.jsonable(settings), indent=2) + "\n")
  return SETTINGS_FILE


def write_video(folder: pathlib.Path, frames, boxes: np.ndarray,
                ground_truth: np.ndarray | None) -> str:
  """The clip with each target's box in its colour (`render.draw_targets`),
  the ground truth in green when the clip has it."""
  gt = ground_truth if ground_truth is not None else [None] * len(boxes)
  render.write_video(folder / VIDEO_FILE, (
      render.draw_targets(frames_lib.load_frame(f), b, g, f"#{i + 1}")
      for i, (f, b, g) in enumerate(zip(frames, boxes, gt))))
  return VIDEO_FILE
