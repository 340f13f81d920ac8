"""A cohort's training rows onto the device: gathered from the memmaps, stacked and placed, the
way training/epochs.DeviceEpochs does it, with the stacked buffer 64-byte aligned (what
cohort.stack_rows allocates) and not (a plain np.zeros), side by side in one process.

    python benchmarks/place_rows.py --data_dir=../shared/data/quickdraw

Prints the best of --rounds milliseconds of each stage, and whether the placed array shares the
host buffer (XLA:CPU takes an aligned buffer without copying it).
"""

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from qd_jax.data import resolve, splits  # noqa: E402
from qd_jax.training import cohort, programs  # noqa: E402

CATEGORIES = "airplane,cat,rainbow,dog,smiley face,clock,bird,flower,house,skull"


def _best_ms(f, rounds: int) -> tuple[float, object]:
  best, out = float("inf"), None
  for _ in range(rounds):
    t0 = time.perf_counter()
    out = jax.block_until_ready(f())
    best = min(best, time.perf_counter() - t0)
  return 1e3 * best, out


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--data_dir", required=True)
  ap.add_argument("--categories", default=CATEGORIES)
  ap.add_argument("--train_rows", type=int, default=3500, help="training rows per category")
  ap.add_argument("--rounds", type=int, default=7)
  args = ap.parse_args()
  names = args.categories.split(",")
  files = resolve.category_files(names, pathlib.Path(args.data_dir), args.train_rows, bucket_url="",
                                 download_missing=False)
  split = splits.make_split(files, {n: splits.Sizes(args.train_rows, 0, 0) for n in names}, 0, "random")
  repl = programs.get("cnn2", len(names), 1e-3, "fast").repl
  x, _ = split.gather("train")
  shape = (1, cohort.padded_rows(len(x)), *x.shape[1:])
  print(f"# {cohort.__name__}.stack_rows of one run: {len(x):,} rows padded to {shape[1]:,} "
        f"({np.prod(shape) / 2**20:.1f} MiB); {jax.devices()[0].device_kind}")
  ms, _ = _best_ms(lambda: split.gather("train"), args.rounds)
  print(f"gather from the memmaps: {ms:.1f} ms")

  def stacked(aligned: bool) -> np.ndarray:
    out = cohort.host_zeros(shape, x.dtype) if aligned else np.zeros(shape, x.dtype)
    out[0, :len(x)] = x
    return out

  for aligned in (False, True):
    ms, host = _best_ms(lambda: stacked(aligned), args.rounds)
    place_ms, placed = _best_ms(lambda: programs.place(host, repl), args.rounds)
    host[0, 0, 0] ^= 1  # a write after placing shows whether the device array is the host buffer
    shared = int(np.asarray(placed)[0, 0, 0]) == int(host[0, 0, 0])
    print(f"{'aligned' if aligned else 'np.zeros'}: stack {ms:.1f} ms, place {place_ms:.1f} ms, "
          f"host buffer {'shared' if shared else 'copied'} (address mod 64 = {host.ctypes.data % 64})")


if __name__ == "__main__":
  main()
