"""Tests of the on-device context crops (Sec. 2.4)."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from siamfc_jax import boxes
from siamfc_jax import crop
from tests import references

GREY_LEVEL = 1.0  # the tolerance: < 1 grey level


def _random_frame(h=60, w=80, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (h, w, 3)).astype(np.uint8)


@pytest.mark.parametrize("centre, side, out_size", [
    ((40.0, 30.0), 20.0, 31),       # upsampling, inside
    ((40.3, 29.7), 50.5, 31),       # sub-pixel, downsampling
    ((2.0, 3.0), 40.0, 17),         # crosses the top-left corner
    ((79.0, 59.5), 33.0, 25),       # crosses the bottom-right corner
    ((-30.0, 100.0), 10.0, 9),      # entirely outside: all fill
    ((40.0, 30.0), 200.0, 63),      # larger than the frame on every side
])
def test_crop_matches_numpy_pad_and_resize(centre, side, out_size):
  frame = _random_frame()
  fill = np.array([10.0, 120.0, 250.0], np.float32)
  got = jax.jit(crop.crop_and_resize, static_argnums=3)(
      frame, jnp.array(centre), jnp.float32(side), out_size, fill)
  want = references.crop_pad_resize(frame, centre, side, out_size, fill)
  assert got.shape == (out_size, out_size, 3) and got.dtype == jnp.float32
  # float32 sample positions: ~1e-5 px, i.e. ~3e-3 grey levels at worst.
  np.testing.assert_allclose(got, want, atol=1e-2)


def test_identity_crop_returns_the_pixels():
  frame = _random_frame()
  got = crop.crop_and_resize(frame, jnp.array([30.0, 20.0]), jnp.float32(16),
                             16, np.zeros(3))
  np.testing.assert_array_equal(got, frame[12:28, 22:38])


def test_crop_scales_equals_one_crop_per_scale():
  frame = _random_frame()
  sides = jnp.array([20.0, 25.0, 31.0])
  centre = jnp.array([50.5, 10.0])
  fill = crop.mean_colour(frame)
  many = crop.crop_scales(frame, centre, sides, 15, fill)
  for i, side in enumerate(sides):
    np.testing.assert_allclose(
        many[i], crop.crop_and_resize(frame, centre, side, 15, fill), atol=1e-2)


def test_crop_compiles_once_per_shape():
  traces = []

  @jax.jit
  def f(image, centre, side):
    traces.append(1)
    return crop.crop_and_resize(image, centre, side, 15, jnp.zeros(3))

  frame = _random_frame()
  for i in range(5):
    f(frame, jnp.array([10.0 + i, 20.0]), jnp.float32(12 + i))
  assert len(traces) == 1


def test_crop_matches_numpy_reference_on_real_frames(data_dir):
  """Original integer windows on vot15_bag, including border-crossing ones."""
  seq = data_dir / "sequences" / "vot15_bag"
  if not seq.is_dir():
    pytest.skip(f"{seq} not found")
  polys = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
  frames = sorted((seq / "img").glob("*.jpg"))
  for k in [0, 60, 120, 195]:
    frame = np.asarray(Image.open(frames[k]).convert("RGB"))
    fill = frame.reshape(-1, 3).mean(0)
    xs, ys = polys[k, 0::2], polys[k, 1::2]
    box = [xs.min() + 1, ys.min() + 1, np.ptp(xs), np.ptp(ys)]  # 1-based
    h, w = frame.shape[:2]
    corner_box = [w - 20, 5, 60, 40]  # crosses the right and top borders
    for b, scale, out_size in [(box, 1.0, 127), (box, 255 / 127, 255),
                               (corner_box, 2.0, 255)]:
      centre, side = references.original_window(b, scale=scale)
      got = crop.crop_and_resize(frame, jnp.array(centre, jnp.float32),
                                 jnp.float32(side), out_size, fill)
      want = references.crop_pad_resize(frame, centre, side, out_size, fill)
      assert np.abs(np.asarray(got) - want).max() < GREY_LEVEL


def test_context_side_is_the_paper_formula():
  w, h = 40.0, 10.0
  p = (w + h) / 4
  np.testing.assert_allclose(boxes.context_side(jnp.array([w, h])),
                             np.sqrt((w + 2 * p) * (h + 2 * p)), rtol=1e-6)


def test_box_centre_size_round_trip():
  box = jnp.array([[1.5, 2.0, 10.0, 4.0]])
  centre, size = boxes.to_centre_size(box)
  np.testing.assert_allclose(centre, [[6.5, 4.0]])
  np.testing.assert_allclose(boxes.from_centre_size(centre, size), box)
