"""The stroke model's epoch as compiled scans of many steps vs one step per call, side by side.

    python benchmarks/stroke_epochs.py --strokes_dir=../shared/data/quickdraw_strokes

Why nn/registry.py sets scan_epochs=False for the stroke model: on XLA:CPU its LSTM steps ran
several times slower inside a loop over steps (training/programs.py runs an epoch as loops of up
to CHUNK_STEPS steps; scan_epochs=False makes them calls of one step). Prints seconds per epoch (median of --repeats,
after one warm-up epoch that compiles) for both, alternating, and their ratio.
"""

import argparse
import statistics
import time

from qd_jax.data import splits, stroke_split
from qd_jax.data.stroke_file import StrokeFile
from qd_jax.training import cohort, epochs, programs

CATS = ("airplane", "bicycle", "calculator", "camera", "cat", "eye", "guitar", "headphones")


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--strokes_dir", required=True)
  p.add_argument("--rows", type=int, default=200, help="drawings per category (70% train)")
  p.add_argument("--repeats", type=int, default=3)
  args = p.parse_args()
  files = {c: StrokeFile.open(c, args.strokes_dir) for c in CATS}
  split = stroke_split.make_split(files, {c: splits.sizes_for(args.rows, 0.1, 0.2) for c in CATS}, 0, "strokes", 200)
  runners, times = {}, {True: [], False: []}
  for scan in (True, False):
    compiled = programs.Programs("rnn", len(CATS), 1e-3, "auto", programs.mesh())
    compiled.chunk_steps = programs.CHUNK_STEPS if scan else 1  # loops of up to 32 steps, or one step a call
    member = cohort.Member(split, 0, "bench")
    runners[scan] = epochs.DeviceEpochs([member], [compiled.init_state(0)], compiled, [len(CATS)], 128)
    runners[scan].run(0)  # compiles
  for r in range(args.repeats):
    for scan in (True, False):
      t0 = time.perf_counter()
      runners[scan].run(r + 1)
      times[scan].append(time.perf_counter() - t0)
  steps = split.count("train") // 128
  scan_s, step_s = statistics.median(times[True]), statistics.median(times[False])
  print(f"stroke model, {split.count('train'):,} training drawings, {steps} steps of 128 per epoch:")
  print(f"  one scan per epoch:   {scan_s:.2f} s/epoch")
  print(f"  one step per call:    {step_s:.2f} s/epoch")
  print(f"  ratio (scan / steps): {scan_s / step_s:.2f}x")


if __name__ == "__main__":
  main()
