"""How fast the tf.data path (qd_jax.data.pipeline) delivers training batches, with no step consuming them.

  python benchmarks/pipeline_rate.py [--batches 128,1024] [--rows 50000]

It writes ten synthetic category files of --rows rows to a temporary folder (the page cache then
holds them, as it would hold a hot dataset), and times whole epochs of `train_batches`, best of
--rounds. benchmarks/throughput.py calls it to set the pipeline beside each model's step rate.
The default, 10 x 50,000 rows, is sized like the data this path exists for (over
`device_data_max_mb`, millions of rows): with ten times fewer, TF's start-up at each epoch weighs
on the rate (about half of it, here) and the figure says little about streaming.
"""

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np


def rates(batches: list[int], rows: int = 50000, rounds: int = 3, categories: int = 10) -> dict[int, float]:
  """Best samples/s of one epoch per batch size."""
  from qd_jax.data import pipeline, splits
  from qd_jax.data.category_file import CategoryFile
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(0)
    files = {}
    for c in range(categories):
      path = pathlib.Path(tmp) / f"c{c}.npy"
      np.save(path, rng.integers(0, 256, (rows, 784), dtype=np.uint8))
      files[f"c{c}"] = CategoryFile.open(f"c{c}", path)
    split = splits.make_split(files, {c: splits.Sizes(rows, 0, 0) for c in files}, seed=0)
    for batch in batches:
      best = 0.0
      for epoch in range(rounds + 1):  # the first epoch warms TF up and is not counted
        t0, n = time.perf_counter(), 0
        for _, y in pipeline.train_batches(split, batch_size=batch, seed=0, epoch=epoch):
          n += len(y)
        if epoch:
          best = max(best, n / (time.perf_counter() - t0))
      out[batch] = best
  return out


def main(argv=None) -> dict[int, float]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--batches", default="128,1024")
  p.add_argument("--rows", type=int, default=50000, help="rows per category file (10 files)")
  p.add_argument("--rounds", type=int, default=3)
  args = p.parse_args(argv)
  got = rates([int(b) for b in args.batches.split(",")], args.rows, args.rounds)
  for batch, rate in got.items():
    print(f"tf.data delivers {rate:,.0f} samples/s at batch {batch}")
  return got


if __name__ == "__main__":
  main(sys.argv[1:])
