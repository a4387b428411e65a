"""`python -m experiments.app`: `siamfc-jax app` in a checkout (see
siamfc_jax/cli/app.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import app

if __name__ == "__main__":
  entry.run(app.main)
