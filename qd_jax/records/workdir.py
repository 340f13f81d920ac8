"""The workdir: the single output root of a run (config, environment, runs.jsonl, summary.md)."""

import importlib.metadata
import json
import pathlib
import platform
import sys

import jax

from qd_jax.errors import QdError
from qd_jax.records import jsonl, storage

# The files of records that grow by a line per run; their damaged lines are set aside.
RECORDS = ("runs.jsonl", "test_predictions.jsonl")

PACKAGES = ("qd_jax", "jax", "jaxlib", "flax", "optax", "numpy", "tensorflow-cpu", "tensorflow",
            "tensorflow-datasets", "ml_collections", "absl-py", "scipy", "statsmodels", "tensorboard")


def is_writer() -> bool:
  """Process 0 alone writes the workdir's records; every process trains and checkpoints."""
  return jax.process_index() == 0


def write_atomic(path: pathlib.Path, text: str) -> None:
  storage.write_atomic(path, text.encode())


def prepare(workdir: pathlib.Path, config_json: str) -> None:
  """Creates the workdir, or checks that an existing one was made by the same config."""
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / ".write_test"
    probe.write_text("")
    probe.unlink()
  except OSError as e:
    raise storage.unwritable_workdir(workdir, e) from e
  config_path = workdir / "config.json"
  if config_path.exists() and config_path.read_text() != config_json:
    raise QdError(f"workdir {workdir} holds results of a different config",
                  "pass a new --workdir, or repeat the exact command that made it")
  write_atomic(config_path, config_json)


def check_data(workdir: pathlib.Path, data: list[dict]) -> None:
  """Refuses data files that changed since environment.json recorded them: the runs already in
  the workdir were trained on the recorded bytes. `data` is what environment.json would record
  now: one dict per data file, of any kind, with its "file" and "sha256"."""
  path = workdir / "environment.json"
  try:
    recorded = json.loads(path.read_text()).get("data") or []
  except FileNotFoundError:
    return  # a new workdir
  except (OSError, ValueError, AttributeError) as e:
    raise QdError(f"{path} cannot be read ({e})", "restore it, or pass a new --workdir") from e
  then = {d["file"]: d["sha256"] for d in recorded if isinstance(d, dict) and d.get("file") and d.get("sha256")}
  for d in data:
    if d["file"] in then and d["sha256"] != then[d["file"]]:
      raise QdError(f"data file {d['file']} changed since this workdir recorded it: sha256 {then[d['file']]} "
                    f"then, {d['sha256']} now", "restore that file, or pass a new --workdir to train on it afresh")


def set_aside_damaged(workdir: pathlib.Path) -> list[str]:
  """Moves the damaged lines of the record files to <file>.damaged; one message per line moved."""
  out = []
  for name in RECORDS:
    path = workdir / name
    for number in jsonl.set_aside(path):
      out.append(f"{path} line {number} is damaged (not a JSON object): moved to {path}.damaged, "
                 + ("its run is trained again" if name == "runs.jsonl" else "its run's predictions are left out"))
  return out


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
