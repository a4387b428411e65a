"""Runs the SiamFC network once on a synthetic pair and prints the shapes."""

from absl import app
import jax
import jax.numpy as jnp

from siamfc_jax import embedding
from siamfc_jax import model


def main(argv):
  del argv
  spec = embedding.alexnet_spec()
  variables = model.init(spec, jax.random.key(0))
  z = jnp.full((1, 127, 127, 3), 128.0)
  x = jnp.full((3, 255, 255, 3), 128.0)
  scores = jax.jit(lambda v: model.SiamFC(spec).apply(v, z, x))(variables)
  print(f"exemplar {z.shape} + 3 searches {x.shape} -> scores {scores.shape}")


if __name__ == "__main__":
  app.run(main)
