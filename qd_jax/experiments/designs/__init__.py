"""The design registry: each design turns a config and its category files into sweep points.

A design is one module of this folder that defines `DESIGN`. It owns its config fields (their
defaults live in the module, beside the code that reads them), and says which categories it
trains on, how many rows a file must hold for the paper's sizes (for downloads), and the points.
A config names its design (`config.design`); a new hypothesis that reuses one is a config file.

The paper's sizes are used where the files hold them; otherwise the same design is cut to what
exists, and every cut is printed and recorded (`rows_requested`, `point`).
"""

import dataclasses
import importlib
import pkgutil
from typing import Callable

from qd_jax.data import splits
from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError

Files = dict[str, CategoryFile]
Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Point:
  """One sweep point: the classes and how many rows of each go to train, val and test."""
  info: dict  # recorded as the run's "point"; its first field is the one swept
  files: Files  # label order
  sizes: dict[str, splits.Sizes]
  rows_per_category: int  # drawn per category before the split (imbalance: the majority's)
  rows_requested: int  # what the design asked for at this point, before any cut to the data
  swept: tuple[str, ...] = ()  # the info fields that name the run (records/run_record.run_id); () = the first
  augmentation: str = "none"  # training/balance.ARMS: how the minority is helped, with no new real data


@dataclasses.dataclass(frozen=True)
class Design:
  name: str
  fields: dict  # the design's own config fields and their defaults
  points: Callable[[object, Files, Log], list[Point]]
  rows_needed: Callable[[object], int]  # the most rows one file must hold at the paper's sizes
  categories: Callable[[object, tuple], tuple] = lambda config, names: names  # those it trains on
  validate: Callable[[object], None] = lambda config: None
  # Where a design's data are not config.data_dir's bitmap files: (config, names, log) -> Files,
  # and (config, point, seed, model input kind) -> the split a run of that model trains on.
  files: Callable | None = None
  split: Callable | None = None
  # (config, point, member, result, workdir) -> more fields for a finished run's runs.jsonl line
  finish_run: Callable | None = None
  input_kinds: tuple[str, ...] = ("bitmap",)  # the model input kinds its splits deliver
  # Runs named by the design, not the hypothesis: hypotheses that share this design (H5 and H6 on
  # one grid) train each run once, and each reads all of them.
  shared_runs: bool = False
  quick: dict = dataclasses.field(default_factory=dict)  # its fields under --quick


def names() -> tuple[str, ...]:
  return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)))


def get(name: str) -> Design:
  if name not in names():
    raise QdError(f"unknown design {name!r}", f"use one of {', '.join(names())}")
  return importlib.import_module(f"{__name__}.{name}").DESIGN


def all_fields() -> dict:
  """Every design's fields: the schema that --config.<field> overrides are checked against."""
  out = {}
  for name in names():
    out.update(get(name).fields)
  return out


def _expand(token: str) -> list[str]:
  """"3..9" is 3, 4, ..., 9 and "2000..14000/1000" steps by 1,000; anything else is itself."""
  if ".." not in token:
    return [token]
  first, _, rest = token.partition("..")
  last, _, step = rest.partition("/")
  return [str(v) for v in range(int(first), int(last) + 1, int(step or 1))]


def _values(text: str, flag: str, cast, ok, what: str, example: str) -> list:
  try:
    values = [cast(v) for token in text.split(",") if token.strip() for v in _expand(token.strip())]
  except ValueError:
    values = []
  if not values or not all(ok(v) for v in values):
    raise QdError(f"--config.{flag}={text!r} is not a list of {what}", f"e.g. --config.{flag}={example}")
  return values


def ints(text: str, flag: str) -> list[int]:
  return _values(text, flag, int, lambda v: v > 0, "positive integers", "3,4,5 or 3..9 or 2000..14000/1000")


def floats(text: str, flag: str) -> list[float]:
  return _values(text, flag, float, lambda v: 0 < v <= 1, "ratios in (0, 1]", "0.1,1")


def smallest(files: Files) -> CategoryFile:
  return min(files.values(), key=lambda f: f.rows)


def balanced_point(config, files: Files, rows: int, info: dict, asked: int) -> Point:
  """Every category cut alike: `rows` each, split by the config's fractions."""
  sizes = splits.sizes_for(rows, config.val_fraction, config.test_fraction)
  return Point(info, dict(files), {c: sizes for c in files}, rows, asked)


def capped_rows(config, files: Files, log: Log) -> int:
  """config.rows_per_category, or the smallest file's rows if fewer, said when it cuts."""
  small = smallest(files)
  if small.rows < config.rows_per_category:
    log(f"reduced scale: {small.rows:,} rows per category instead of {config.rows_per_category:,} "
        f"({small.path} has {small.rows:,})")
  return min(config.rows_per_category, small.rows)
