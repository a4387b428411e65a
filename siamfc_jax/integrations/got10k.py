"""A SiamFC tracker for the got10k toolkit's experiments.

    from got10k.experiments import ExperimentOTB
    from siamfc_jax.integrations.got10k import SiamFCTracker

    tracker = SiamFCTracker()                      # bundled SiamFC-3s
    ExperimentOTB("data/OTB", version=2015).run(tracker)
    ExperimentGOT10k("data/GOT-10k", subset="val").run(SiamFCTracker(origin=0))

Coordinates. The toolkit reads each dataset's annotation file as it is,
passes its first row to `init` unchanged and scores what `update` returns
against the same file, so a tracker must answer in the coordinates it was
given: the toolkit converts nothing. OTB files are 1-based (the top-left
pixel is (1, 1)); GOT-10k and VOT files are 0-based. The adapter therefore
takes an `origin`: it subtracts it from x and y of the box given to `init`,
tracks in the 0-based convention of `siamfc_jax.boxes` (so the exemplar is
cropped around the right pixels), and adds it back to every box it returns.
Scores are unaffected either way; a wrong origin only shifts the crops by
one pixel. The default, 1, is right for `ExperimentOTB` and is what
siamfc-pytorch does (`x - 1 + (w - 1) / 2` in, `+ 1` out) for every
dataset; pass `origin=0` for `ExperimentGOT10k` and `ExperimentVOT`.

With got10k installed the adapter subclasses `got10k.trackers.Tracker`;
without it, it is a class with the same interface (`name`,
`is_deterministic`, `init`, `update`, `track`).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
from PIL import Image

from siamfc_jax import tracker as tracker_lib

try:
  # pylint: disable-next=g-import-not-at-top
  from got10k.trackers import Tracker as _Base
  HAVE_GOT10K = True
except ImportError:  # the toolkit is optional
  HAVE_GOT10K = False

  class _Base:
    """got10k 0.1.3's `Tracker` interface, for use without the toolkit."""

    def __init__(self, name: str, is_deterministic: bool = False):
      self.name = name
      self.is_deterministic = is_deterministic

    def init(self, image, box):
      raise NotImplementedError

    def update(self, image):
      raise NotImplementedError

    def track(self, img_files, box, visualize=False):
      """As got10k: PIL RGB frames, `init` then `update`, wall times."""
      del visualize  # needs the toolkit's viewer
      boxes = np.zeros((len(img_files), 4))
      boxes[0] = box
      times = np.zeros(len(img_files))
      for f, img_file in enumerate(img_files):
        image = Image.open(img_file)
        if image.mode != "RGB":
          image = image.convert("RGB")
        start = time.time()
        if f == 0:
          self.init(image, box)
        else:
          boxes[f, :] = self.update(image)
        times[f] = time.time() - start
      return boxes, times


class SiamFCTracker(_Base):
  """A `siamfc_jax.Tracker` behind the got10k `Tracker` interface.

  Attributes:
    name: names the toolkit's result folders.
    is_deterministic: True, so the toolkit runs each sequence once.
    tracker: the wrapped `siamfc_jax.Tracker`.
    origin: coordinate of the top-left pixel in the boxes exchanged with the
      toolkit (1 for OTB, 0 for GOT-10k and VOT; see the module docstring).
  """

  def __init__(self, tracker: tracker_lib.Tracker | None = None,
               name: str | None = None, origin: int = 1):
    """Wraps `tracker` (default: `Tracker.pretrained()`).

    Args:
      tracker: the tracker to wrap.
      name: result folder name; default the tracker's name.
      origin: 1 or 0 (see the module docstring).
    """
    if origin not in (0, 1):
      raise ValueError(f"origin must be 0 or 1, got {origin!r}")
    if tracker is None:
      tracker = tracker_lib.Tracker.pretrained()
    super().__init__(name or tracker.name, is_deterministic=True)
    self.tracker = tracker
    self.origin = origin
    self._offset = np.array([origin, origin, 0, 0], np.float64)

  def init(self, image: Any, box: Sequence[float]) -> None:
    """Starts on `image` (PIL image, path or array) at `box` [x, y, w, h]."""
    box = np.asarray(box, np.float64).reshape(-1)
    if box.size != 4:
      raise ValueError(f"box must be [x, y, w, h], got {box.tolist()}")
    self.tracker.init(image, box - self._offset)

  def update(self, image: Any) -> np.ndarray:
    """Returns the [4] float64 box [x, y, w, h] in `image`, in the caller's
    coordinates (those of the box given to `init`)."""
    return self.tracker.update(image) + self._offset

  def track(self, img_files: Sequence[str], box: Sequence[float],
            visualize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The toolkit's `track`, with frames decoded in a background thread.

    Returns the same boxes as `init` / `update` frame by frame (the same
    8-bit RGB frames reach the network), and per-frame seconds of
    `init` / `update` without decoding.

    Args:
      img_files: N frame paths.
      box: [x, y, w, h] in the first frame, in the caller's coordinates.
      visualize: show frames with the toolkit's viewer (falls back to the
        toolkit's frame-by-frame loop).

    Returns:
      ([N, 4] float64 boxes, row 0 = `box`; [N] float64 seconds).
    """
    if visualize:
      return super().track(img_files, box, visualize=True)
    box = np.asarray(box, np.float64).reshape(4)
    boxes, times = self.tracker.track(img_files, box - self._offset)
    boxes = boxes + self._offset
    boxes[0] = box  # exactly the given box, as the toolkit's loop keeps it
    return boxes, times
