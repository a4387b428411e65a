"""`benchmarks/multi_target.py` on a tiny network: figures, not speed."""

import math

from absl import flags
import numpy as np

from benchmarks import multi_target


def test_multi_target_benchmark_times_both_ways_on_a_tiny_network(capsys):
  argv = flags.FLAGS(["multi_target", "--tiny_network", "--frames=3",
                      "--targets=2", "--backends=jax", "--runs=1"])
  try:
    multi_target.main(argv)
  finally:
    flags.FLAGS.unparse_flags()
  printed = capsys.readouterr().out
  table = [line for line in printed.splitlines() if line.startswith("| jax")]
  assert len(table) == 2  # together and separate
  together = [line.split("|") for line in table if "one call" in line]
  for cells, k in zip(together, (2,)):
    seconds, fps, steps = (float(c) for c in cells[4:7])
    assert int(cells[2]) == k and seconds > 0
    assert math.isclose(fps, 3 / seconds, rel_tol=0.05)
    assert math.isclose(steps, 3 * k / seconds, rel_tol=0.05)
    assert float(cells[9]) <= 1e-4  # the boxes of K separate runs


def test_multi_target_boxes_start_at_the_target_and_lie_in_the_frame():
  first = np.array([100.0, 80, 40, 30])
  boxes = multi_target.spread_boxes(first, (360, 480, 3), 16)
  assert boxes.shape == (16, 4)
  np.testing.assert_array_equal(boxes[0], first)
  assert len({tuple(b) for b in boxes}) == 16
  assert np.all(boxes[:, :2] >= 0)
  assert np.all(boxes[:, 0] + boxes[:, 2] <= 480)
  assert np.all(boxes[:, 1] + boxes[:, 3] <= 360)
