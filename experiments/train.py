"""`python -m experiments.train`: `siamfc-jax train` in a checkout (see
siamfc_jax/cli/train.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import train

if __name__ == "__main__":
  entry.run(train.main)
