"""`python -m experiments.vot_workspace`: `siamfc-jax vot_workspace` in a
checkout (see siamfc_jax/cli/vot_workspace.py)."""

from siamfc_jax.cli import entry
from siamfc_jax.cli import vot_workspace

if __name__ == "__main__":
  entry.run(vot_workspace.main)
