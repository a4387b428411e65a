"""`python -m benchmarks.tracking_speed`: `siamfc-jax benchmark` in a
checkout (see siamfc_jax/cli/benchmark.py)."""

from siamfc_jax.cli import benchmark
from siamfc_jax.cli import entry

if __name__ == "__main__":
  entry.run(benchmark.main)
