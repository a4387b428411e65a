"""`python -m experiments.convert`: `siamfc-jax convert` in a checkout (see
siamfc_jax/cli/convert.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import convert

if __name__ == "__main__":
  entry.run(convert.main)
