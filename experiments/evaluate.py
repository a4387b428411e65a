"""`python -m experiments.evaluate`: `siamfc-jax evaluate` in a checkout
(see siamfc_jax/cli/evaluate.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import evaluate

if __name__ == "__main__":
  entry.run(evaluate.main)
