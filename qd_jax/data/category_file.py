"""One category's bitmap file: its header read once, then passed along in place of a bare path."""

import dataclasses
import functools
import json
import pathlib

import numpy as np

from qd_jax.data import npy


@dataclasses.dataclass(frozen=True, eq=False)
class CategoryFile:
  """An official-layout `<category>.npy`, checked on open (header and byte count)."""
  category: str
  path: pathlib.Path
  header: npy.NpyHeader

  @classmethod
  def open(cls, category: str, path: pathlib.Path) -> "CategoryFile":
    path = pathlib.Path(path)
    return cls(category, path, npy.read_header(path))

  @property
  def rows(self) -> int:
    return self.header.rows

  @functools.cached_property
  def pixels(self) -> np.ndarray:
    """A read-only (N, 784) uint8 memmap; nothing is read until rows are indexed."""
    return npy.memmap_rows(self.path, self.header)

  def sha256(self) -> str:
    return npy.sha256(self.path)

  def source(self) -> str:
    """The download URL its sidecar names, or "local" for a file the user supplied."""
    sidecar = self.path.with_name(self.path.name + ".json")
    return json.loads(sidecar.read_text())["url"] if sidecar.exists() else "local"

  def describe(self) -> dict:
    """What environment.json records of it."""
    return {"category": self.category, "file": str(self.path.resolve()), "rows": self.rows,
            "sha256": self.sha256(), "source": self.source()}
