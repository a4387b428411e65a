"""siamfc_jax: SiamFC and CFNet object tracking in JAX/Flax."""

__version__ = "0.1.0"
