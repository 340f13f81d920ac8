"""One category's stroke files, simplified and (where present) raw, like CategoryFile for bitmaps."""

import dataclasses
import functools
import hashlib
import json
import pathlib

from qd_jax.data import ndjson


def _sha256(path: pathlib.Path) -> str:
  with open(path, "rb") as f:
    return hashlib.file_digest(f, "sha256").hexdigest()


@dataclasses.dataclass(frozen=True, eq=False)
class StrokeFile:
  """`simplified/<category>.ndjson`, read and checked once; `raw/<category>.ndjson` beside it
  if it exists (the drawings with their timing, matched by key_id)."""
  category: str
  path: pathlib.Path
  raw_path: pathlib.Path | None = None

  @classmethod
  def open(cls, category: str, folder: pathlib.Path) -> "StrokeFile":
    folder = pathlib.Path(folder)
    raw = folder / "raw" / f"{category}.ndjson"
    f = cls(category, folder / "simplified" / f"{category}.ndjson", raw if raw.is_file() else None)
    f.drawings  # checked now: a bad line refuses the run before anything is written
    return f

  @functools.cached_property
  def drawings(self) -> tuple[ndjson.Drawing, ...]:
    return tuple(ndjson.read(self.path, "simplified"))

  @functools.cached_property
  def raw(self) -> dict[str, ndjson.Drawing]:
    """key_id -> raw drawing, for those with timing ({} without a raw file)."""
    if self.raw_path is None:
      return {}
    return {d.key_id: d for d in ndjson.read(self.raw_path, "raw")}

  @property
  def rows(self) -> int:
    return len(self.drawings)

  def sha256(self) -> str:
    return _sha256(self.path)

  def source(self, path: pathlib.Path | None = None) -> str:
    """The download URL its sidecar names, or "local" for a file the user supplied."""
    path = path or self.path
    sidecar = path.with_name(path.name + ".json")
    return json.loads(sidecar.read_text())["url"] if sidecar.exists() else "local"

  def describe(self) -> dict:
    """What environment.json records of it."""
    out = {"category": self.category, "file": str(self.path.resolve()), "rows": self.rows,
           "sha256": self.sha256(), "source": self.source()}
    if self.raw_path is not None:
      out["raw"] = {"file": str(self.raw_path.resolve()), "rows": len(self.raw),
                    "sha256": _sha256(self.raw_path), "source": self.source(self.raw_path)}
    return out
