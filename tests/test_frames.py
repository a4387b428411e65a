"""Tests of decoding frames and checking boxes (`frames.py`)."""

import numpy as np
from PIL import Image
import pytest

from siamfc_jax import frames


@pytest.mark.parametrize("convert", [
    lambda f: f.mean(-1).astype(np.uint8),                     # grey [H, W]
    lambda f: f.mean(-1, keepdims=True).astype(np.uint8),      # [H, W, 1]
    lambda f: np.concatenate([f, np.full_like(f[..., :1], 9)], -1),  # RGBA
    lambda f: f.astype(np.uint16) * 257,                       # 16-bit
    lambda f: Image.fromarray(f),                              # PIL
    lambda f: f.astype(np.float32),                            # float 0..255
])
def test_frames_of_any_common_format_become_rgb_uint8(convert):
  frame = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
  out = frames.load_frame(convert(frame))
  assert out.shape == (5, 7, 3) and out.dtype == np.uint8
  if out.std(-1).max() > 0:  # colour survives where the input had it
    np.testing.assert_array_equal(out, frame)


@pytest.mark.parametrize("dtype", ["<u2", ">u2"])
def test_16_bit_frames_are_scaled_by_type_not_content(dtype, tmp_path):
  dark = np.full((4, 6), 200, dtype)  # all values <= 255: still 16-bit
  np.testing.assert_array_equal(frames.load_frame(dark), 1)
  bright = np.full((4, 6), 51400, dtype)
  np.testing.assert_array_equal(frames.load_frame(bright), 200)
  Image.fromarray(np.full((4, 6), 200, np.uint16)).save(tmp_path / "f.png")
  np.testing.assert_array_equal(frames.load_frame(tmp_path / "f.png"), 1)


def test_integer_frames_outside_8_bits_are_refused():
  with pytest.raises(ValueError, match=r"int32 frame with values in \[0, 300"):
    frames.load_frame(np.array([[0, 300]], np.int32))
  ok = frames.load_frame(np.array([[0, 255]], np.int64))
  np.testing.assert_array_equal(ok[..., 0], [[0, 255]])


def test_bad_frames_raise_clear_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing.jpg"):
    frames.load_frame(tmp_path / "missing.jpg")
  (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
  with pytest.raises(ValueError, match="bad.jpg"):
    frames.load_frame(tmp_path / "bad.jpg")
  with pytest.raises(ValueError, match="frame must be"):
    frames.load_frame(np.zeros((4, 4, 2)))
