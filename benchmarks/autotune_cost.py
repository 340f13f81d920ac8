"""What autotune's first timing costs, with and without its cuts (training/autotune.py,
side_by_side): a candidate whose sized call runs under ABORT_BELOW x the best of its group gets
no windows, and a slow candidate's calls are cut to CALL_S. Each (model, batch) is tuned twice
in this one run, from empty caches: "full" times every candidate in whole windows of whole calls
(ABORT_BELOW 0, CALL_S infinite), "cut" as a sweep does; both interleave their windows. Printed
per (model, batch): the seconds of each, their ratio, what each chose, and the full timing's
rate of the cut's choice against its best (two timings of one machine: their noise included).

  python benchmarks/autotune_cost.py [--models fc,cnn1,cnn2] [--batches 128,1024]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # qd_jax, however run
from qd_jax.training import autotune, programs  # noqa: E402

MODES = {"full": (0.0, float("inf")), "cut": (autotune.ABORT_BELOW, autotune.CALL_S)}


def tune(model: str, batch: int, mode: str, folder: str) -> tuple[float, autotune.Setting, dict]:
  """(seconds, the choice, every candidate's rate) of one autotune from an empty cache."""
  autotune.ABORT_BELOW, autotune.CALL_S = MODES[mode]
  programs._SHARED.clear()  # the initialisation and the gather compile afresh for each mode alike
  cache = os.path.join(folder, f"{model}_{batch}_{mode}.json")
  t0 = time.perf_counter()
  got = autotune.choose(model, batch, on=True, cache=cache)
  seconds = time.perf_counter() - t0
  rates = autotune._read(pathlib.Path(cache))[autotune.machine()]["rates"]
  return seconds, got, rates


def key(model: str, batch: int, s: autotune.Setting) -> str:
  return autotune._name(model, batch, ("train", s.layers, s.microbatch, s.models_at_once, s.unroll))


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", default="fc,cnn1,cnn2")
  p.add_argument("--batches", default="128,1024")
  args = p.parse_args(argv)
  print(f"{autotune.machine()}; load average {os.getloadavg()[0]:.2f} at start")
  print("| model | batch | full s | cut s | cut/full | full's choice | cut's choice | full rate of cut's choice / its best |")
  print("|---|---:|---:|---:|---:|---|---|---:|")
  totals, timings = {m: 0.0 for m in MODES}, []
  with tempfile.TemporaryDirectory() as folder:
    for model in args.models.split(","):
      for batch in (int(b) for b in args.batches.split(",")):
        out = {mode: tune(model, batch, mode, folder) for mode in MODES}
        for mode in MODES:
          totals[mode] += out[mode][0]
        (full_s, full, rates), (cut_s, cut, _) = out["full"], out["cut"]
        mine = rates.get(key(model, batch, cut))
        quality = f"{mine / rates[key(model, batch, full)]:.2f}x" if mine else "-"
        print(f"| {model} | {batch} | {full_s:.1f} | {cut_s:.1f} | {cut_s / full_s:.2f}x | "
              f"{full.layers}/{full.microbatch}/x{full.models_at_once}/eval {full.eval_rows} | "
              f"{cut.layers}/{cut.microbatch}/x{cut.models_at_once}/eval {cut.eval_rows} | {quality} |", flush=True)
        timings.append((model, batch, {mode: out[mode][2] for mode in MODES}))
  print("\nevery candidate's samples/s (the cut's rough first-call rates where it stopped early):")
  for model, batch, rates in timings:
    for name in rates["full"]:
      cut = rates["cut"].get(name)
      print(f"  {name}: full {rates['full'][name]:,.0f}, cut " + (f"{cut:,.0f}" if cut is not None else "not timed"))
  print(f"\nin all: full {totals['full']:.1f} s, cut {totals['cut']:.1f} s ({totals['cut'] / totals['full']:.2f}x); "
        f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
  main()
