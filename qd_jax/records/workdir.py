"""The workdir: the single output root of a run (config, environment, runs.jsonl, summary.md)."""

import importlib.metadata
import os
import pathlib
import platform
import sys

import jax

from qd_jax.errors import QdError
from qd_jax.records import jsonl

PACKAGES = ("qd_jax", "jax", "jaxlib", "flax", "optax", "numpy", "tensorflow-cpu", "tensorflow",
            "tensorflow-datasets", "ml_collections", "absl-py", "scipy", "statsmodels", "clu", "tensorboard")


def is_writer() -> bool:
  """Process 0 alone writes the workdir's records; every process trains and checkpoints."""
  return jax.process_index() == 0


def write_atomic(path: pathlib.Path, text: str) -> None:
  tmp = path.with_name(f".{path.name}.tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def prepare(workdir: pathlib.Path, config_json: str) -> None:
  """Creates the workdir, or checks that an existing one was made by the same config."""
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / ".write_test"
    probe.write_text("")
    probe.unlink()
  except OSError as e:
    raise QdError(f"cannot write to workdir {workdir} ({e.strerror})", "pass a writable --workdir") from e
  config_path = workdir / "config.json"
  if config_path.exists() and config_path.read_text() != config_json:
    raise QdError(f"workdir {workdir} holds results of a different config",
                  "pass a new --workdir, or repeat the exact command that made it")
  write_atomic(config_path, config_json)


def environment(data: list[dict]) -> dict:
  versions = {}
  for name in PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      pass
  return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions,
          "devices": [str(d) for d in jax.devices()], "process_count": jax.process_count(),
          "jax_rng": rng_settings(), "data": data}


def rng_settings() -> dict:
  return {"default_prng_impl": jax.config.jax_default_prng_impl,
          "threefry_partitionable": jax.config.jax_threefry_partitionable}


def read_runs(workdir: pathlib.Path) -> list[dict]:
  """runs.jsonl's whole records (a torn last line is skipped: that run simply reruns)."""
  return jsonl.read(workdir / "runs.jsonl")
