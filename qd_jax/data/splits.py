"""Seeded, stratified train/val/test splits over memory-mapped category files.

Each category gets its own permutation of all rows in its file, seeded by (seed, category),
so a category's split does not depend on which other categories run beside it. The shared
files are ordered by source, hence the permutation before anything is cut. Test rows come first
in that permutation, then validation, then training: test rows never touch training, and for a
fixed test size a larger training set only adds rows.

`row_order="first"` draws a category's rows from the first ones of its file instead, as the
paper's authors did (`x[:sample_size]`); the permutation then runs over those rows only.
"""

import dataclasses
import zlib

import numpy as np

from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError

PARTS = ("train", "val", "test")
ROW_ORDERS = ("random", "first")  # config.row_order


@dataclasses.dataclass(frozen=True)
class Sizes:
  train: int
  val: int
  test: int
  # Oversampling: the training rows repeated, every one before any twice, up to this many (0: none).
  train_repeated: int = 0

  @property
  def total(self) -> int:
    return self.train + self.val + self.test


def sizes_for(rows: int, val_fraction: float, test_fraction: float) -> Sizes:
  """Cuts `rows` drawn rows of one category into train/val/test by fraction."""
  test = int(round(rows * test_fraction))
  val = int(round(rows * val_fraction))
  if rows - test - val < 1 or (test_fraction > 0 and test < 1) or (val_fraction > 0 and val < 1):
    raise QdError(f"{rows} rows per category are too few to split "
                  f"(val {val_fraction}, test {test_fraction})", "ask for more rows per category")
  return Sizes(train=rows - test - val, val=val, test=test)


@dataclasses.dataclass(frozen=True)
class CategorySplit:
  file: CategoryFile
  label: int
  train: np.ndarray  # row indices into the file
  val: np.ndarray
  test: np.ndarray

  @property
  def category(self) -> str:
    return self.file.category

  def rows(self, part: str) -> np.ndarray:
    return getattr(self, part)


@dataclasses.dataclass(frozen=True)
class Split:
  categories: tuple[CategorySplit, ...]

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(c.category for c in self.categories)

  def count(self, part: str) -> int:
    return sum(len(c.rows(part)) for c in self.categories)

  def index(self, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels int32, file rows int64) of one part, in the order `gather` returns them."""
    labels = [np.full(len(c.rows(part)), c.label, np.int32) for c in self.categories]
    rows = [np.sort(c.rows(part)) for c in self.categories]  # sorted reads walk the memmap forwards
    return np.concatenate(labels), np.concatenate(rows).astype(np.int64)

  def gather(self, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (N, 784), y int32 (N,)) for one part; reads only the selected rows."""
    labels, rows = self.index(part)
    pixels = self.categories[0].file.pixels
    x, at = np.empty((len(rows), *pixels.shape[1:]), pixels.dtype), 0
    for c in self.categories:  # each category's rows straight into place: no concatenated copy
      mine = rows[labels == c.label]
      np.take(c.file.pixels, mine, axis=0, out=x[at:at + len(mine)])
      at += len(mine)
    return x, labels

  def describe(self) -> list[dict]:
    """What the run really used, for runs.jsonl and environment.json."""
    out = []
    for c in self.categories:
      unique = len(np.unique(c.train))
      out.append({"category": c.category, "label": c.label, "file": str(c.file.path), "rows_in_file": c.file.rows,
                  **{p: len(c.rows(p)) for p in PARTS}, **({"train_unique": unique} if unique < len(c.train) else {})})
    return out


def epoch_seed(seed: int, epoch: int) -> int:
  """The seed of one epoch's shuffle, shared by the device-resident and tf.data paths."""
  return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def category_rng(seed: int, category: str) -> np.random.Generator:
  return np.random.default_rng([seed, zlib.crc32(category.encode())])


def make_split(files: dict[str, CategoryFile], sizes: dict[str, Sizes], seed: int,
               row_order: str = "random") -> Split:
  """files and sizes are keyed by category; labels follow the order of `files`."""
  if row_order not in ROW_ORDERS:
    raise QdError(f"--config.row_order={row_order!r} is not one of {', '.join(ROW_ORDERS)}",
                  "pass --config.row_order=random")
  out = []
  for label, (category, file) in enumerate(files.items()):
    want = sizes[category]
    if want.total > file.rows:
      raise QdError(f"{file.path} has {file.rows} rows but {want.total} were asked for",
                    "lower rows_per_category or use a folder with more rows")
    perm = category_rng(seed, category).permutation(file.rows if row_order == "random" else want.total)
    test, val, train = np.split(perm[:want.total], [want.test, want.test + want.val])
    if want.train_repeated > len(train):
      train = np.resize(train, want.train_repeated)  # cycles through the drawn rows in order
    out.append(CategorySplit(file, label, train, val, test))
  return Split(tuple(out))


def epoch_order(n: int, seed: int, epoch: int, batch_size: int) -> np.ndarray:
  """(steps, batch_size) positions into a part's rows (in `Split.index` order) for one epoch; the
  last n % batch_size of the permutation are left out. Both input paths use it."""
  steps = n // batch_size
  rng = np.random.default_rng(epoch_seed(seed, epoch))
  return rng.permutation(n)[:steps * batch_size].reshape(steps, batch_size)
