"""Timing-only stand-ins for the official files at the paper's sizes, for machines without them.

  python benchmarks/paper_scale_data.py DIR [--from ../shared/data/quickdraw]

Writes `<category>.npy` for every category the paper's designs name (the ten, and hammer for
H4), each with as many rows as the largest design asks of it (each design's rows_needed).
The rows are real drawings drawn with replacement from --from's files when given, else uniform
noise. The labels are therefore meaningless: use these files to time sweeps at paper scale,
never to report accuracy. A SOURCES.md in DIR says so.
"""

import argparse
import pathlib
import sys

import numpy as np

from qd_jax.data import categories as cats
from qd_jax.data.category_file import CategoryFile
from qd_jax.experiments import configs, designs


def rows_per_category() -> dict[str, int]:
  need: dict[str, int] = {}
  for config in configs.get_configs("all"):
    design = designs.get(config.design)
    names = cats.parse_list(config.categories) if config.categories else cats.PAPER_CATEGORIES
    for name in design.categories(config, names):
      need[name] = max(need.get(name, 0), design.rows_needed(config))
  return need


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("dir", type=pathlib.Path)
  p.add_argument("--from", dest="source", type=pathlib.Path, help="a folder of official .npy files to resample")
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)
  rng = np.random.default_rng(args.seed)
  pool = None
  if args.source:
    files = sorted(args.source.glob("*.npy"))
    if not files:
      p.error(f"--from {args.source} holds no .npy files")
    pool = np.concatenate([np.asarray(CategoryFile.open(f.stem, f).pixels) for f in files])
  args.dir.mkdir(parents=True, exist_ok=True)
  need = rows_per_category()
  for name, rows in need.items():
    x = pool[rng.integers(0, len(pool), rows)] if pool is not None else rng.integers(0, 256, (rows, 784), np.uint8)
    np.save(args.dir / f"{name}.npy", x, allow_pickle=False)
  origin = f"rows resampled with replacement from {args.source}" if pool is not None else "uniform noise"
  (args.dir / "SOURCES.md").write_text(
      "# Timing-only data (benchmarks/paper_scale_data.py)\n\n"
      f"Not Quick, Draw! categories: {origin}, under the official names and at the paper's sizes, "
      "so sweeps can be timed at paper scale. The labels mean nothing; never report accuracy on it.\n\n"
      + "".join(f"- {n}.npy: {r:,} rows\n" for n, r in need.items()))
  print(f"wrote {len(need)} files, {sum(need.values()):,} rows ({origin}) to {args.dir}")


if __name__ == "__main__":
  main(sys.argv[1:])
