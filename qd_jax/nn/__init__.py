"""The networks: Flax modules, their XLA:CPU formulations, the losses, and the registry by name."""
