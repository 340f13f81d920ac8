"""Seeded, stratified splits of stroke files, delivering either input kind a model asks for.

The rows are cut exactly as `splits.make_split` cuts bitmap files (one permutation per
(seed, category)), so the stroke model and CNN2 of one seed train and test on the same
drawings: the stroke model on their stroke-3 rows, CNN2 on their rendered bitmaps.
"""

import dataclasses

import numpy as np

from qd_jax.data import splits, strokes
from qd_jax.data.stroke_file import StrokeFile


@dataclasses.dataclass(frozen=True)
class StrokeSplit(splits.Split):
  """A Split whose `gather` encodes drawings as `kind` (data/strokes.KINDS)."""
  kind: str = "strokes"
  max_points: int = 0  # stroke-3 length: longer drawings keep their first max_points points

  def drawings(self, part: str) -> list[strokes.Strokes]:
    """The part's drawings (simplified strokes), in `index` order."""
    labels, rows = self.index(part)
    return [list(c.file.drawings[r].strokes) for c in self.categories for r in rows[labels == c.label]]

  def gather(self, part: str) -> tuple[np.ndarray, np.ndarray]:
    labels, _ = self.index(part)
    x, _ = strokes.encode(self.drawings(part), self.kind, self.max_points)
    return x, labels

  def describe(self) -> list[dict]:
    """Split.describe, plus the input kind and, for stroke-3, how many drawings the cap cut."""
    out = super().describe()
    for d, c in zip(out, self.categories):
      d["input_kind"] = self.kind
      if self.kind == "strokes":
        d["max_points"] = self.max_points
        d["cut_to_max_points"] = {p: int(sum(c.file.drawings[r].points > self.max_points for r in c.rows(p)))
                                  for p in splits.PARTS}
    return out


def make_split(files: dict[str, StrokeFile], sizes: dict[str, splits.Sizes], seed: int, kind: str,
               max_points: int) -> StrokeSplit:
  if kind not in strokes.KINDS:
    raise ValueError(f"strokes cannot feed input kind {kind!r}")
  return StrokeSplit(splits.make_split(files, sizes, seed).categories, kind, max_points)
