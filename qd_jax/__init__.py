"""qd_jax: the 'Quick, Draw! Image Classification' (2018) experiments in JAX/Flax."""

__version__ = "0.1.0"
