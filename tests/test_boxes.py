"""Tests of the box convention's helpers."""

import numpy as np
import pytest

from siamfc_jax import boxes


def test_read_boxes_takes_one_box_a_line_with_commas_or_spaces(tmp_path):
  path = tmp_path / "boxes.txt"
  path.write_text("# x y w h\n1 2 3 4\n\n5.5,6,7,8\n  9, 10 11,12  \n")
  np.testing.assert_array_equal(boxes.read_boxes(path), [
      [1, 2, 3, 4], [5.5, 6, 7, 8], [9, 10, 11, 12]])


@pytest.mark.parametrize("content, error, match", [
    ("1,2,3,4\n1,2,x,4\n", ValueError, "line 2: expected x,y,w,h"),
    ("1,2,3\n", ValueError, "line 1: expected x,y,w,h"),
    ("\n# only a comment\n", ValueError, "no boxes"),
    (None, FileNotFoundError, "boxes file not found"),
])
def test_read_boxes_refuses_bad_files_naming_file_and_line(tmp_path, content,
                                                           error, match):
  path = tmp_path / "boxes.txt"
  if content is not None:
    path.write_text(content)
  with pytest.raises(error, match=match) as info:
    boxes.read_boxes(path)
  assert str(path) in str(info.value)
