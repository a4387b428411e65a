"""`python -m experiments.compare_runs`: `siamfc-jax compare_runs` in a
checkout (see siamfc_jax/cli/compare_runs.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import compare_runs

if __name__ == "__main__":
  entry.run(compare_runs.main)
