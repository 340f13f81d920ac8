"""One `get_config()` per hypothesis (the files h1.py, h2.py, ... here), on base.py's schema.

A hypothesis is a config that names its design; adding one is adding a file here.
"""

import importlib
import pkgutil
import re

import ml_collections

from qd_jax.errors import QdError
from qd_jax.experiments import designs
from qd_jax.experiments.configs import base

# The human-baseline page shows people exactly the test drawings this hypothesis scores models on.
HUMAN_BASELINE = "h2"


def hypotheses() -> tuple[str, ...]:
  """The hypotheses in order: every module named h<number> in this folder."""
  found = [m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"h\d+", m.name)]
  return tuple(sorted(found, key=lambda name: int(name[1:])))


def choices() -> tuple[str, ...]:
  return hypotheses() + ("all",)


def schema() -> ml_collections.ConfigDict:
  """Every field any hypothesis has: what `--config.<field>` may name."""
  config = base.get_config(designs.names()[0])
  with config.unlocked():
    for name, default in designs.all_fields().items():
      config[name] = default
  return config


def get_config(hypothesis: str, quick: bool = False, overrides: dict | None = None) -> ml_collections.ConfigDict:
  """The hypothesis' config, cut to seconds if `quick`, then the command line's overrides."""
  if hypothesis not in hypotheses():
    raise QdError(f"unknown hypothesis {hypothesis!r}", f"pass --hypothesis= one of {', '.join(choices())}")
  config = importlib.import_module(f"{__name__}.{hypothesis}").get_config()
  if quick:
    config.update(config.quick_overrides)
    config.quick = True
  for key, value in (overrides or {}).items():
    if key not in config:
      raise QdError(f"--config.{key} is not a field of {hypothesis} (design {config.design})",
                    f"drop it; {hypothesis}'s fields are in qd_jax/experiments/configs/{hypothesis}.py and base.py")
    config[key] = value
  return config


def get_configs(hypothesis: str, quick: bool = False, overrides: dict | None = None) -> list:
  """`all` is every hypothesis in order (but those whose module sets IN_ALL = False), each with
  the same --quick and the overrides it has fields for (a field no hypothesis has is refused)."""
  if hypothesis not in choices():
    raise QdError(f"unknown hypothesis {hypothesis!r}", f"pass --hypothesis= one of {', '.join(choices())}")
  if hypothesis != "all":
    return [get_config(hypothesis, quick, overrides)]
  configs = [get_config(h, quick) for h in hypotheses()
             if getattr(importlib.import_module(f"{__name__}.{h}"), "IN_ALL", True)]
  for key in overrides or {}:
    if not any(key in c for c in configs):
      raise QdError(f"--config.{key} is not a field of any hypothesis", "see qd_jax/experiments/configs/")
  return [get_config(c.hypothesis, quick, {k: v for k, v in (overrides or {}).items() if k in c}) for c in configs]
