"""Context crops resampled on device (Sec. 2.4), batched over scales.

A crop is a square window of side `side` pixels centred at `centre` (the
continuous coordinates of `boxes.py`), resampled to `out_size` x `out_size`
pixels by bilinear interpolation. Output pixel j samples the image at
`centre - side / 2 + (j + 0.5) * side / out_size`: half-pixel centres, the
same mapping as MATLAB `imresize` (`u / s + 0.5 * (1 - 1 / s)`, 1-based) and
`jax.image.resize`. Image pixels outside the frame take the `fill` colour
(the original pads with the mean colour of the first frame).

Deliberate differences from the original (`get_subwindow_tracking.m`):

- the window is placed at the exact sub-pixel centre and size instead of
  rounded integer pixel bounds;
- bilinear sampling instead of bicubic `imresize` with antialiasing, as the
  TensorFlow and PyTorch ports do: it is one gather per axis on device;
- every scale is cropped once from the frame, not through the two-stage
  pyramid of `make_scale_pyramid.m` (which shifts each scale by 0.5-1 px).

Only gathers and elementwise ops: the crop jit-compiles, vmaps and exports.
"""

import jax
import jax.numpy as jnp


def _axis_taps(start: jax.Array, step: jax.Array, out_size: int,
               length: int | jax.Array) -> tuple[jax.Array, jax.Array]:
  """Bilinear taps along one axis.

  Args:
    start: [] float, left (top) edge of the window in pixels.
    step: [] float, window pixels per output pixel.
    out_size: number of output samples.
    length: image extent along this axis.

  Returns:
    [out_size, 2] int32 clipped pixel indices and [out_size, 2] float32
    weights, 0 for taps outside the image.
  """
  # Continuous sample position -> pixel-index coordinate (centres at i + .5).
  pos = start + (jnp.arange(out_size, dtype=jnp.float32) + 0.5) * step - 0.5
  i0 = jnp.floor(pos)
  t = pos - i0
  idx = jnp.stack([i0, i0 + 1], axis=-1)
  w = jnp.stack([1 - t, t], axis=-1)
  inside = (idx >= 0) & (idx <= length - 1)
  w = jnp.where(inside, w, 0.0)
  return jnp.clip(idx, 0, length - 1).astype(jnp.int32), w


def _take_rows(a: jax.Array, idx: jax.Array) -> jax.Array:
  """`a[idx]` for indices known to lie in [0, len(a)): a plain gather."""
  return a.at[idx].get(mode="promise_in_bounds", wrap_negative_indices=False)


def crop_scales(image: jax.Array, centre: jax.Array, sides: jax.Array,
                out_size: int, fill: jax.Array,
                image_size: jax.Array | None = None) -> jax.Array:
  """Crops of several sizes around one centre (the scale pyramid).

  Args:
    image: [H, W, C] frame (any real dtype; uint8 or float32 in [0, 255]).
    centre: [2] float (cx, cy) window centre in pixels.
    sides: [S] float window sides in pixels (> 0).
    out_size: output side in pixels (static).
    fill: [C] float32 colour of pixels outside the frame.
    image_size: optional [2] int (w, h) of the real frame inside a larger,
      padded `image` (batched sequences of unequal sizes); pixels beyond it
      count as outside. Defaults to the whole array.

  Returns:
    [S, out_size, out_size, C] float32 crops.
  """
  image = jnp.asarray(image)
  height, width, channels = image.shape
  w, h = (width, height) if image_size is None else (image_size[0],
                                                     image_size[1])
  fill = jnp.asarray(fill, jnp.float32)
  s, n = sides.shape[0], out_size
  taps = jax.vmap(_axis_taps, in_axes=(0, 0, None, None))
  step = sides / out_size
  rows, wy = taps(centre[1] - sides / 2, step, out_size, h)  # [S, N, 2]
  cols, wx = taps(centre[0] - sides / 2, step, out_size, w)
  # Separable: blend the two rows of every output row, then two columns.
  # Taps outside the frame carry weight 0; the missing weight is `fill`.
  # Written for ONNX Runtime as much as for XLA (both get it fast): whole
  # frame rows are gathered (a copy per row, no per-pixel indexing), pixels
  # are gathered as C-blocks, the tap axis is never the innermost one, and
  # `fill` is tiled to a whole row rather than broadcast along a size-C axis.
  # (Of the rank of what it is added to: jax2onnx mis-shapes the broadcast
  # of a rank-1 row when W is symbolic.)
  fill_row = jnp.broadcast_to(fill[None], (width, channels)).reshape(
      1, width * channels)
  frame = image.reshape(height, width * channels).astype(jnp.float32)
  frame = frame - fill_row  # [H, W * C]
  r = (wy[..., 0, None] * _take_rows(frame, rows[..., 0])
       + wy[..., 1, None] * _take_rows(frame, rows[..., 1]))  # [S, N, W * C]
  # Column c of output row (s, i) is pixel block (s * N + i) * W + c of r.
  base = (jnp.arange(s * n, dtype=jnp.int32) * width).reshape(s, n, 1)
  pixels = r.reshape(s * n * width, channels)
  wx = jnp.broadcast_to(wx[:, None, :, :, None], (s, 1, n, 2, channels))
  out = (wx[..., 0, :] * _take_rows(pixels, base + cols[:, None, :, 0])
         + wx[..., 1, :] * _take_rows(pixels, base + cols[:, None, :, 1]))
  fill_row = jnp.broadcast_to(fill[None], (n, channels)).reshape(
      1, 1, n * channels)
  return (out.reshape(s, n, n * channels) + fill_row).reshape(s, n, n,
                                                                channels)


def crop_and_resize(image: jax.Array, centre: jax.Array, side: jax.Array,
                    out_size: int, fill: jax.Array,
                    image_size: jax.Array | None = None) -> jax.Array:
  """One square context crop, resampled (`crop_scales` with S = 1).

  Args:
    image: [H, W, C] frame (any real dtype; uint8 or float32 in [0, 255]).
    centre: [2] float (cx, cy) window centre in pixels.
    side: [] float window side in pixels (> 0).
    out_size: output side in pixels (static).
    fill: [C] float32 colour of pixels outside the frame.
    image_size: optional [2] int (w, h) of the real frame (see
      `crop_scales`).

  Returns:
    [out_size, out_size, C] float32 crop.
  """
  sides = jnp.reshape(jnp.asarray(side, jnp.float32), (1,))
  return crop_scales(image, centre, sides, out_size, fill, image_size)[0]


def mean_colour(image: jax.Array) -> jax.Array:
  """[H, W, C] frame -> [C] float32 mean colour (the original's avgChans)."""
  return jnp.mean(jnp.asarray(image, jnp.float32), axis=(0, 1))
