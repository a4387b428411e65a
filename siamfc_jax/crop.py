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


def crop_and_resize(image: jax.Array, centre: jax.Array, side: jax.Array,
                    out_size: int, fill: jax.Array,
                    image_size: jax.Array | None = None) -> jax.Array:
  """One square context crop, resampled.

  Args:
    image: [H, W, C] frame (any real dtype; uint8 or float32 in [0, 255]).
    centre: [2] float (cx, cy) window centre in pixels.
    side: [] float window side in pixels (> 0).
    out_size: output side in pixels (static).
    fill: [C] float32 colour of pixels outside the frame.
    image_size: optional [2] int (w, h) of the real frame inside a larger,
      padded `image` (batched sequences of unequal sizes); pixels beyond it
      count as outside. Defaults to the whole array.

  Returns:
    [out_size, out_size, C] float32 crop.
  """
  image = jnp.asarray(image)
  if image_size is None:
    w, h = image.shape[1], image.shape[0]
  else:
    w, h = image_size[0], image_size[1]
  fill = jnp.asarray(fill, jnp.float32)
  step = side / out_size
  rows, wy = _axis_taps(centre[1] - side / 2, step, out_size, h)
  cols, wx = _axis_taps(centre[0] - side / 2, step, out_size, w)
  # Separable: blend the two rows of every output row, then two columns.
  # Taps outside the frame carry weight 0; the missing weight is `fill`.
  r = image[rows].astype(jnp.float32) - fill  # [N, 2, W, C]
  r = jnp.einsum("nk,nkwc->nwc", wy, r)
  c = r[:, cols]  # [N, N, 2, C]
  return jnp.einsum("mk,nmkc->nmc", wx, c) + fill


def crop_scales(image: jax.Array, centre: jax.Array, sides: jax.Array,
                out_size: int, fill: jax.Array,
                image_size: jax.Array | None = None) -> jax.Array:
  """Crops of several sizes around one centre (the scale pyramid).

  Args:
    image: [H, W, C] frame.
    centre: [2] float (cx, cy) in pixels.
    sides: [S] float window sides in pixels.
    out_size: output side in pixels (static).
    fill: [C] float32 padding colour.
    image_size: optional [2] int (w, h) of the real frame (see above).

  Returns:
    [S, out_size, out_size, C] float32 crops.
  """
  return jax.vmap(crop_and_resize, in_axes=(None, None, 0, None, None, None))(
      image, centre, sides, out_size, fill, image_size)


def mean_colour(image: jax.Array) -> jax.Array:
  """[H, W, C] frame -> [C] float32 mean colour (the original's avgChans)."""
  return jnp.mean(jnp.asarray(image, jnp.float32), axis=(0, 1))
