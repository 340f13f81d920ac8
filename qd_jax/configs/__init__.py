"""One `get_config()` per hypothesis, on the shared schema of base.py."""

import importlib

import ml_collections

from qd_jax.errors import QdError

HYPOTHESES = ("h1", "h2", "h3", "h4", "h5", "h6")
CHOICES = HYPOTHESES + ("all",)


def get_config(hypothesis: str, quick: bool = False, overrides: dict | None = None) -> ml_collections.ConfigDict:
  """The hypothesis' config, cut to seconds if `quick`, then the command line's overrides."""
  if hypothesis not in HYPOTHESES:
    raise QdError(f"unknown hypothesis {hypothesis!r}", f"pass --hypothesis= one of {', '.join(CHOICES)}")
  config = importlib.import_module(f"qd_jax.configs.{hypothesis}").get_config()
  if quick:
    config.update(config.quick_overrides)
    config.quick = True
  with config.unlocked():
    for key, value in (overrides or {}).items():
      config[key] = value
  return config


def get_configs(hypothesis: str, quick: bool = False, overrides: dict | None = None) -> list:
  """`all` is H1 ... H6 in order, each with the same --quick and overrides."""
  names = HYPOTHESES if hypothesis == "all" else (hypothesis,)
  if hypothesis not in CHOICES:
    raise QdError(f"unknown hypothesis {hypothesis!r}", f"pass --hypothesis= one of {', '.join(CHOICES)}")
  return [get_config(h, quick, overrides) for h in names]
