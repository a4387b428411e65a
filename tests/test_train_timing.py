"""`benchmarks/train_timing.py` on a tiny config: a row, not speed."""

from benchmarks import train_timing
from siamfc_jax.configs import cfnet


def test_train_step_benchmark_times_a_tiny_config():
  row = train_timing.time_train_step(cfnet.get_config("tiny"), 4, steps=1)
  assert row["batch"] == 4 and row["ms"] > 0 and row["pairs_per_s"] > 0
