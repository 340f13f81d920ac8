"""A finished run's final parameters in the workdir, so a page can load them later.

Flax's msgpack serialization (arrays and dicts only; nothing is pickled), with a JSON sidecar
naming what the parameters are: the model, its classes in label order, its input kind.
"""

import json
import pathlib

import flax.serialization
import jax
import numpy as np

from qd_jax.errors import QdError
from qd_jax.records import workdir as wd

FOLDER = "params"


def save(workdir: pathlib.Path, run_id: str, params, meta: dict) -> str:
  """Writes params/<run>.msgpack and its .json; returns the msgpack's path inside workdir."""
  folder = pathlib.Path(workdir) / FOLDER
  folder.mkdir(parents=True, exist_ok=True)
  name = run_id.replace("/", "_") + ".msgpack"
  data = flax.serialization.to_bytes(jax.tree_util.tree_map(np.asarray, params))
  tmp = folder / f".{name}.tmp"
  tmp.write_bytes(data)
  tmp.replace(folder / name)
  wd.write_atomic(folder / f"{name}.json", json.dumps({"run_id": run_id, **meta}, indent=1) + "\n")
  return f"{FOLDER}/{name}"


def load(path: pathlib.Path) -> tuple[dict, dict]:
  """(params as nested dicts of arrays, the sidecar's metadata)."""
  path = pathlib.Path(path)
  try:
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    params = flax.serialization.msgpack_restore(path.read_bytes())
  except (OSError, ValueError) as e:
    raise QdError(f"cannot load the parameters in {path}: {e}",
                  "rerun the hypothesis into this workdir, or pass another --workdir") from None
  if not isinstance(params, dict) or not isinstance(meta, dict):
    raise QdError(f"{path} does not hold a parameter tree", "rerun the hypothesis into this workdir")
  return params, meta
