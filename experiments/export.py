"""`python -m experiments.export`: `siamfc-jax export` in a checkout (see
siamfc_jax/cli/export.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import export

if __name__ == "__main__":
  entry.run(export.main)
