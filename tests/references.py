"""Slow, obvious NumPy references that the fast JAX code is checked against."""

import numpy as np


def xcorr_brute_force(z_feat: np.ndarray, x_feat: np.ndarray) -> np.ndarray:
  """Inner product of each exemplar with every sub-window of its searches.

  Args:
    z_feat: [B, hz, wz, C] exemplar features.
    x_feat: [B * S, Hx, Wx, C] search features, exemplar-major.

  Returns:
    [B * S, Hx - hz + 1, Wx - wz + 1] float64 maps.
  """
  b, hz, wz, _ = z_feat.shape
  bs, hx, wx, _ = x_feat.shape
  s = bs // b
  out = np.zeros((bs, hx - hz + 1, wx - wz + 1))
  for n in range(bs):
    z = z_feat[n // s].astype(np.float64)
    for i in range(hx - hz + 1):
      for j in range(wx - wz + 1):
        out[n, i, j] = np.sum(z * x_feat[n, i:i + hz, j:j + wz])
  return out


def crop_pad_resize(image: np.ndarray, centre, side: float, out_size: int,
                    fill) -> np.ndarray:
  """Pads the frame with `fill`, then samples the window bilinearly.

  The window [cx - side/2, cx + side/2) (continuous coordinates, pixel i
  centred at i + 0.5) is resampled at half-pixel output centres.

  Returns:
    [out_size, out_size, C] float64 crop.
  """
  h, w, c = image.shape
  reach = max(side / 2 + abs(centre[0]), side / 2 + abs(centre[1]))
  margin = int(np.ceil(reach)) + 2  # every tap lands in the padded frame
  padded = np.empty((h + 2 * margin, w + 2 * margin, c))
  padded[:] = np.asarray(fill, np.float64)
  padded[margin:margin + h, margin:margin + w] = image

  def taps(start):
    pos = start + margin + (np.arange(out_size) + 0.5) * side / out_size - 0.5
    i0 = np.floor(pos).astype(int)
    return i0, pos - i0

  r0, ty = taps(centre[1] - side / 2)
  c0, tx = taps(centre[0] - side / 2)
  rows = (1 - ty)[:, None, None] * padded[r0] + ty[:, None, None] * padded[r0 + 1]
  return ((1 - tx)[None, :, None] * rows[:, c0]
          + tx[None, :, None] * rows[:, c0 + 1])


def matlab_round(x: float) -> int:
  """MATLAB `round`: halves away from zero."""
  return int(np.sign(x) * np.floor(abs(x) + 0.5))


def original_window(box_1based, context: float = 0.5, scale: float = 1.0):
  """The original's integer crop window for an OTB box, in our coordinates.

  `get_subwindow_tracking.m`: pos = x + w/2 (1-based), sz = round(s),
  xmin = round(pos - (sz + 1) / 2), covering pixels xmin..xmin + sz - 1.

  Returns:
    ((cx, cy) centre, side) of that window in 0-based continuous pixels.
  """
  x, y, w, h = box_1based
  pad = context * (w + h)
  sz = matlab_round(np.sqrt((w + pad) * (h + pad)) * scale)
  xmin = matlab_round(x + w / 2 - (sz + 1) / 2)
  ymin = matlab_round(y + h / 2 - (sz + 1) / 2)
  # 1-based pixel k covers [k - 1, k) in continuous 0-based coordinates.
  return (xmin - 1 + sz / 2, ymin - 1 + sz / 2), float(sz)
