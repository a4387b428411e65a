"""`python -m experiments.track`: `siamfc-jax track` in a checkout (see
siamfc_jax/cli/track.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import track

if __name__ == "__main__":
  entry.run(track.main)
