"""Reading official Quick, Draw! ndjson (`simplified/` and `raw/`), every line checked.

One JSON object per line (json.loads only: nothing is eval'd or unpickled). A line that is not
a drawing stops the read with one error naming the file and the line number.
"""

import dataclasses
import json
import math
import pathlib

import numpy as np

from qd_jax.errors import QdError

KINDS = ("simplified", "raw")  # (x, y) in 0..255 as Google simplified it; (x, y, t) as drawn
FIX = "delete the file and download it again, or point --strokes_dir at official ndjson files"


@dataclasses.dataclass(frozen=True)
class Drawing:
  """One drawing: its strokes as float arrays (n, 2) of (x, y) or (n, 3) of (x, y, t ms)."""
  key_id: str
  word: str
  strokes: tuple[np.ndarray, ...]

  @property
  def points(self) -> int:
    return sum(len(s) for s in self.strokes)


def _number(v) -> bool:
  return type(v) in (int, float) and math.isfinite(v)


def _stroke(s, kind: str) -> np.ndarray:
  dims = 2 if kind == "simplified" else 3
  if not isinstance(s, list) or len(s) != dims:
    raise ValueError(f"a stroke is a list of {dims} coordinate lists ({'x, y' if dims == 2 else 'x, y, t'})")
  if not all(isinstance(c, list) for c in s) or len({len(c) for c in s}) != 1 or not s[0]:
    raise ValueError("a stroke's coordinate lists must be non-empty and of equal length")
  if not all(_number(v) for c in s for v in c):
    raise ValueError("a stroke holds a value that is not a finite number")
  a = np.asarray(s, np.float64).T
  if kind == "simplified" and (a.min() < 0 or a.max() > 255 or np.any(a != np.round(a))):
    raise ValueError("simplified coordinates must be integers in 0..255")
  return a


def parse_drawing(obj, kind: str) -> Drawing:
  """One record; raises ValueError with a short reason if it is not one."""
  if not isinstance(obj, dict):
    raise ValueError("the line is not a JSON object")
  strokes = obj.get("drawing")
  if not isinstance(strokes, list) or not strokes:
    raise ValueError('"drawing" must be a non-empty list of strokes')
  key = obj.get("key_id", "")
  if not isinstance(key, (str, int)) or isinstance(key, bool):
    raise ValueError('"key_id" must be a string')
  word = obj.get("word", "")
  if not isinstance(word, str):
    raise ValueError('"word" must be a string')
  return Drawing(str(key), word, tuple(_stroke(s, kind) for s in strokes))


def read(path: pathlib.Path, kind: str, limit: int | None = None) -> list[Drawing]:
  """Every drawing of the file (or its first `limit`), each line checked."""
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}")
  path, out = pathlib.Path(path), []
  try:
    with open(path, "rb") as f:
      for number, line in enumerate(f, 1):
        if limit is not None and len(out) >= limit:
          break
        try:
          out.append(parse_drawing(json.loads(line), kind))
        except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
          reason = "not valid JSON" if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) else str(e)
          raise QdError(f"{path}:{number}: {reason}", FIX) from None
  except OSError as e:
    raise QdError(f"cannot read {path}: {e.strerror}", FIX) from None
  if not out:
    raise QdError(f"{path} holds no drawings", FIX)
  return out


def whole_lines(data: bytes) -> tuple[bytes, int]:
  """(the bytes up to and including the last newline, how many lines that is)."""
  end = data.rfind(b"\n") + 1
  return data[:end], data[:end].count(b"\n")
