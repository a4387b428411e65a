"""`benchmarks/accelerator.py` on CPU with tiny sizes: rows, not speed."""

import math

import jax

from benchmarks import accelerator
from siamfc_jax.configs import tiny


def test_accelerator_table_has_every_row_on_cpu():
  # 1 and 3 sequences both fill the 4 devices: one compilation.
  rows = accelerator.measure(
      accelerator.make_tracker("tiny"), sequences=(1, 3), targets=(2,),
      train_config=tiny.get_config(), train_batch=8,
      train_dtypes=("float32", "bfloat16"), steps=1)
  labels = [r["row"] for r in rows]
  targets = ["targets 2"]
  assert labels == (["track 1 seq", "track 3 seq"] + targets +
                    ["train 8 float32", "train 8 bfloat16"])
  for row, units in zip(rows, [1, 3] + [2] * len(targets) + [8, 8]):
    assert row["ms"] > 0 and math.isfinite(row["ms"]), row
    assert math.isclose(row["rate"], units * 1e3 / row["ms"], rel_tol=1e-9)
  table = accelerator.format_table(rows, accelerator.header("tiny"))
  assert table.splitlines()[0].startswith(
      f"{jax.local_device_count()} x {jax.local_devices()[0].device_kind}")
  assert "train 8 bfloat16" in table and "pairs/s" in table
