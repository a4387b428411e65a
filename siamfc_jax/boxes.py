"""The one box convention of siamfc_jax, and the context rule of Sec. 2.4.

Boxes are `[x, y, w, h]` float pixels: (x, y) is the top-left corner,
0-based, in continuous image coordinates where pixel (row i, column j) covers
[j, j + 1) x [i, i + 1) and has its centre at (j + 0.5, i + 0.5). This is the
GOT-10k convention; OTB files are 1-based, so their reader subtracts 1 from x
and y. The centre of a box is (x + w / 2, y + h / 2).

Internally the tracker keeps a centre `[cx, cy]` and a size `[w, h]`, both in
this continuous frame (always x before y).

Where this differs from the original MATLAB code: it stores a 1-based centre
`x + w / 2`, which lies half a pixel right of (below) the true centre, and
crops around it with rounding, so its exemplar and search crops both sit about
0.5 px up-left of the target. The offset is the same for z and x and cancels in
the displacement; we crop at the exact centre instead.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

# Amount of context around the target (Sec. 2.4: p = (w + h) / 4).
CONTEXT_ORIGINAL = 0.5


def to_centre_size(box: jax.Array) -> tuple[jax.Array, jax.Array]:
  """[..., 4] float boxes -> ([..., 2] centres (cx, cy), [..., 2] sizes)."""
  box = jnp.asarray(box)
  return box[..., :2] + box[..., 2:] / 2, box[..., 2:]


def from_centre_size(centre: jax.Array, size: jax.Array) -> jax.Array:
  """[..., 2] centres and [..., 2] sizes -> [..., 4] float boxes."""
  return jnp.concatenate([centre - size / 2, size], axis=-1)


def context_side(size: jax.Array,
                 context: float = CONTEXT_ORIGINAL) -> jax.Array:
  """Side of the square context region of Sec. 2.4, in pixels.

  s = sqrt((w + 2p)(h + 2p)) with 2p = context * (w + h); context 0.5 gives
  the paper's p = (w + h) / 4. The exemplar is this square resized to 127.

  Args:
    size: [..., 2] float target sizes (w, h) in pixels.
    context: amount of context (the original's `contextAmount`).

  Returns:
    [...] float sides in pixels.
  """
  pad = context * (size[..., 0] + size[..., 1])
  return jnp.sqrt((size[..., 0] + pad) * (size[..., 1] + pad))


def read_boxes(path) -> np.ndarray:
  """Reads a text file of boxes, one `x,y,w,h` a line (0-based, as above).

  Numbers are separated by commas or spaces; blank lines and lines starting
  with `#` are skipped. Used for the first-frame boxes of several targets
  (`experiments.track --init_boxes`).

  Args:
    path: the file.

  Returns:
    [K, 4] float64 boxes, K >= 1, in line order.

  Raises:
    FileNotFoundError: no such file.
    ValueError: no boxes, or a line that is not 4 numbers (naming the file
      and the line number).
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"boxes file not found: {path}")
  rows = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      text = line.strip()
      if not text or text.startswith("#"):
        continue
      try:
        box = np.array([float(v) for v in text.replace(",", " ").split()])
      except ValueError:
        box = np.zeros(0)
      if box.shape != (4,):
        raise ValueError(f"{path}, line {number}: expected x,y,w,h; got "
                         f"{text!r}")
      rows.append(box)
  if not rows:
    raise ValueError(f"{path}: no boxes (expected one x,y,w,h a line)")
  return np.stack(rows)
