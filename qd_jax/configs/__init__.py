"""One `get_config()` per hypothesis, on the shared schema of base.py."""

import importlib

import ml_collections

from qd_jax.errors import QdError

IMPLEMENTED = ("h1", "h2")
PLANNED = ("h3", "h4", "h5", "h6")  # the "hypotheses" issue


def get_config(hypothesis: str, quick: bool = False, overrides: dict | None = None) -> ml_collections.ConfigDict:
  """The hypothesis' config, cut to seconds if `quick`, then the command line's overrides."""
  if hypothesis in PLANNED:
    raise QdError(f"hypothesis {hypothesis} is not yet implemented in this version of qd_jax",
                  f"run one of {', '.join(IMPLEMENTED)}")
  if hypothesis not in IMPLEMENTED:
    raise QdError(f"unknown hypothesis {hypothesis!r}", f"pass --hypothesis= one of {', '.join(IMPLEMENTED)}")
  config = importlib.import_module(f"qd_jax.configs.{hypothesis}").get_config()
  if quick:
    config.update(config.quick_overrides)
    config.quick = True
  with config.unlocked():
    for key, value in (overrides or {}).items():
      config[key] = value
  return config
