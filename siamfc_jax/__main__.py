"""`python -m siamfc_jax COMMAND`: the `siamfc-jax` command (`cli/`)."""

from siamfc_jax import cli

if __name__ == "__main__":
  cli.main()
