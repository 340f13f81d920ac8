"""Training throughput of qd_jax, tf.keras and PyTorch on this machine, side by side.

Every implementation trains the same architecture with Adam(1e-3) on the same synthetic uint8
rows, in this one process. Compile time is kept out of samples/s and reported on its own.

  python benchmarks/throughput.py --json bench.json [--models fc,cnn1,cnn2] [--batches 128,1024]
      [--steps N] [--impls qd_jax,qd_jax_models,keras,torch] [--models-at-once 3,16] [--rounds 5]
      [--min-time 0.5]

qd_jax is qd_jax's own compiled epoch (training.programs.Programs.epoch: a lax.scan over device-resident rows).
Both use the layers and microbatch (and its unroll) a sweep picks on this machine (qd_jax.training.autotune).
qd_jax_default is what a sweep here runs, its cohort size included (where that is one run, it is
the qd_jax row itself, not timed twice); qd_jax_models<M> is the same
epoch over M stacked runs (qd_jax.training.cohort). Their samples/s count all the stacked runs.
See benchmarks/README.md.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling modules, however run
import peers  # noqa: E402
from peers import LEARNING_RATE, NUM_CLASSES, Runner, available  # noqa: E402
from timing import best_seconds  # noqa: E402

MODELS = ("fc", "cnn1", "cnn2")
IMPLS = ("qd_jax", "qd_jax_default", "qd_jax_models", "keras", "torch")
PEERS = ("keras", "torch")


def synthetic(n: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, NUM_CLASSES, n).astype(np.int32)


def forward_flops(model: str) -> int:
  """Multiply-adds x 2 of one forward pass per drawing, from the layer shapes (bias, ReLU,
  pooling and the softmax left out). A training step is about 3x this."""
  fc = 784 * 25 + 25 * 12 + 12 * NUM_CLASSES
  conv1 = 26 * 26 * 4 * 3 * 3
  if model == "fc":
    return 2 * fc
  if model == "cnn1":
    return 2 * (conv1 + 25 * 25 * 8 * 2 * 2 * 4 + 5000 * 64 + 64 * NUM_CLASSES)
  return 2 * (conv1 + 12 * 12 * 8 * 2 * 2 * 4 + 288 * 64 + 64 * NUM_CLASSES)


def gemm_gflops(n: int = 2048) -> float:
  """The machine's float32 matmul rate through XLA, best of 5: the ceiling the table is read against."""
  import jax.numpy as jnp
  a = jnp.ones((n, n), jnp.float32)
  return 2 * n ** 3 / best_seconds(lambda a: a @ a, a) / 1e9


def qd_jax_setting(model, batch, layers="auto"):
  """What a sweep on this machine trains `model` with at `batch` (training/autotune.py)."""
  from qd_jax.training import autotune
  return autotune.choose(model, batch, layers=layers, log=print)


def qd_jax_runner(model, batch, n_steps, x, y, models=1, layers="auto"):
  """qd_jax's compiled epoch (training.programs.Programs.epoch) over `models` stacked runs, with
  the layers and microbatch (and its unroll) a sweep would use here."""
  import jax
  from qd_jax.training import cohort, programs
  setting = qd_jax_setting(model, batch, layers)
  compiled = programs.Programs(model, NUM_CLASSES, LEARNING_RATE, setting.layers, programs.mesh(),
                               setting.microbatch, unroll=setting.unroll)  # not cached: timed alone
  holder = {"state": cohort.stack([compiled.init_state(seed) for seed in range(models)])}
  # Every run reads the same rows; what is measured is the work of `models` separate runs.
  xa, ya = programs.place((np.stack([x] * models), np.stack([y] * models)), compiled.repl)
  order = np.arange(n_steps * batch, dtype=np.int32).reshape(n_steps, 1, batch)
  idx = programs.place(np.repeat(order, models, axis=1), compiled.steps_split)

  def call():
    holder["state"], m = compiled.epoch(holder["state"], xa, ya, idx)
    jax.block_until_ready(m)
    return n_steps * batch * models

  call()  # compiles; Programs times the compilation itself
  mb = compiled.microbatch if compiled.microbatch and compiled.microbatch < batch else 0
  what = f"{models} models stacked, " if models > 1 else ""
  return Runner(call, compiled.compile_seconds,
                f"{what}qd_jax Programs.epoch, layers {compiled.layers}, microbatch {mb or 'off'}"
                + (f", unroll {compiled.unroll}" if mb else ""))


def time_runners(runners: dict, rounds: int, min_time: float, pause: float) -> dict:
  """Interleaved rounds, so a busy spell hits every implementation alike; samples/s per window."""
  rates = {k: [] for k in runners}
  for _ in range(rounds):
    for key, r in runners.items():
      time.sleep(pause)  # let the previous framework's worker threads go idle
      done, t0 = 0, time.perf_counter()
      while True:
        done += r.call()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
          break
      rates[key].append(done / elapsed)
  return rates


def bench_one(model, batch, steps, impls, args, x, y) -> list[dict]:
  runners = {}
  for impl in impls:
    if impl == "qd_jax":
      runners[impl] = qd_jax_runner(model, batch, steps, x, y, layers=args.layers)
    elif impl == "qd_jax_default":
      m = qd_jax_setting(model, batch, args.layers).models_at_once
      if m > 1 or "qd_jax" not in impls:
        runners[impl] = qd_jax_runner(model, batch, steps, x, y, m, args.layers)
    elif impl == "qd_jax_models":
      for m in args.models_at_once:
        runners[f"qd_jax_models{m}"] = qd_jax_runner(model, batch, steps, x, y, m, args.layers)
    elif impl in PEERS:  # keras: both settings; the faster one is reported
      runners.update(peers.runners(impl, model, batch, steps, x, y))
  rates = time_runners(runners, args.rounds, args.min_time, args.pause)
  if "qd_jax_default" in impls and "qd_jax_default" not in runners:
    # A cohort of one is the qd_jax row's very program: timing it twice measured only the noise
    # (0.93x-1.16x of itself on one EPYC, results/cpu/bench_amd_epyc_2026-12-03b_47c6c33.log).
    solo = runners["qd_jax"]
    runners["qd_jax_default"] = Runner(solo.call, solo.compile_s, "a cohort of one: the qd_jax row, as it is")
    rates["qd_jax_default"] = rates["qd_jax"]
  if "keras" in impls:
    best = max(("keras_xla", "keras_noxla"), key=lambda k: max(rates[k]))
    runners["keras"], rates["keras"] = runners[best], rates[best]
  rows = []
  for impl in named(impls, args):
    rows.append({"model": model, "batch_size": batch, "impl": impl, "samples_per_s": max(rates[impl]),
                 "median_samples_per_s": statistics.median(rates[impl]), "window_samples_per_s": rates[impl],
                 "compile_s": runners[impl].compile_s, "detail": runners[impl].detail})
  if "keras" in impls:
    import tensorflow as tf
    tf.keras.backend.clear_session()
  return rows


def named(impls, args) -> list[str]:
  """Row names: qd_jax_models becomes qd_jax_models<M> for each M."""
  return [n for i in impls for n in ([f"qd_jax_models{m}" for m in args.models_at_once]
                                     if i == "qd_jax_models" else [i])]


def paired(ours: list[float], theirs: list[float]) -> tuple[float, float, float]:
  """Median, least and greatest of the round-by-round ratios ours[r] / theirs[r]: windows of
  one round ran seconds apart, so each ratio saw the same spell of the machine, where the best
  windows of two implementations may come from different rounds."""
  ratios = [a / b for a, b in zip(ours, theirs)]
  return statistics.median(ratios), min(ratios), max(ratios)


def format_table(rows: list[dict], models, batches, impls) -> str:
  def row(model, batch, impl):
    return next((r for r in rows if (r["model"], r["batch_size"], r["impl"]) == (model, batch, impl)), None)

  def cell(model, batch, impl):
    r = row(model, batch, impl)
    return r and r["samples_per_s"]

  def spread(model, batch, peer):
    ours, theirs = row(model, batch, "qd_jax"), peer and row(model, batch, peer)
    if not (ours and theirs and ours["window_samples_per_s"] and theirs["window_samples_per_s"]):
      return "-"
    mid, lo, hi = paired(ours["window_samples_per_s"], theirs["window_samples_per_s"])
    return f"{mid:.2f}x ({lo:.2f}-{hi:.2f})"

  stacked = [i for i in impls if i.startswith("qd_jax_models") or i == "qd_jax_default"]
  head = ["model", "batch", *impls, "faster peer", "qd_jax/peer", "paired by round",
          *(f"{i[6:]}/qd_jax" for i in stacked),
          "qd_jax GFLOP/s"]
  lines = []
  for model in models:
    for batch in batches:
      vals = {i: cell(model, batch, i) for i in impls}
      peers = {p: vals[p] for p in PEERS if p in vals and vals[p] is not None}
      peer = max(peers, key=peers.get) if peers else None
      ratio = lambda i: f"{vals[i] / peers[peer]:.2f}x" if peer and vals.get(i) else "-"
      lines.append([model, str(batch), *(f"{v:,.0f}" if v is not None else "not installed"
                                         for v in vals.values()),
                    peer or "-", ratio("qd_jax"), spread(model, batch, peer),
                    *(f"{vals[i] / vals['qd_jax']:.2f}x" if vals.get(i) and vals.get("qd_jax") else "-"
                      for i in stacked),
                    f"{vals['qd_jax'] * 3 * forward_flops(model) / 1e9:.0f}" if vals.get("qd_jax") else "-"])
  widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head))]
  fmt = lambda r: " | ".join(str(c).rjust(w) for c, w in zip(r, widths))
  out = [fmt(head), "-+-".join("-" * w for w in widths), *map(fmt, lines)]
  out += ["", "compile seconds (excluded above): " + "; ".join(
      f"{r['model']}/{r['batch_size']}/{r['impl']} {r['compile_s']:.1f}"
      for r in rows if r["compile_s"] is not None)]
  return "\n".join(out)


def parse(argv):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--json", required=True, help="where to write the rows")
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--batches", default="128,1024")
  p.add_argument("--steps", type=int, default=0, help="steps per timed call (0: 32,768 samples' worth)")
  p.add_argument("--impls", default=",".join(IMPLS))
  p.add_argument("--rounds", type=int, default=5, help="timed windows per implementation")
  p.add_argument("--min-time", type=float, default=0.5, help="seconds per timed window (at least one call)")
  p.add_argument("--pause", type=float, default=0.2, help="idle seconds before each window")
  p.add_argument("--models-at-once", default="8", help="M for the qd_jax_models<M> rows (a list: 3,16)")
  p.add_argument("--layers", default="auto", choices=("auto", "xla", "fast"),
                 help="qd_jax's layer formulation (auto: fast on CPUs, XLA's on accelerators)")
  p.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                 help="skip the tf.data delivery check (written to <json stem>_pipeline.json)")
  p.add_argument("--pipeline-rows", type=int, default=50000, help="rows per file for that check")
  a = p.parse_args(argv)
  a.models = [m for m in a.models.split(",") if m]
  a.batches = [int(b) for b in a.batches.split(",") if b]
  a.impls = [i for i in a.impls.split(",") if i]
  a.models_at_once = [int(m) for m in a.models_at_once.split(",") if m]
  bad = [m for m in a.models if m not in MODELS] + [i for i in a.impls if i not in IMPLS]
  if bad:
    p.error(f"unknown model or impl: {', '.join(bad)} (models {MODELS}, impls {IMPLS})")
  return a


def main(argv=None) -> list[dict]:
  args = parse(argv)
  rows, impls = [], args.impls
  skipped = {impl: reason for impl in impls if (reason := available(impl))}
  for reason in skipped.values():
    print(reason)
  measured = [i for i in impls if i not in skipped]
  import jax
  from qd_jax.training.autotune import cpu_model
  print(f"{cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"on {jax.devices()[0].platform}; load average {os.getloadavg()[0]:.2f} at start", flush=True)
  print(f"float32 matmul through XLA (2048^3): {gemm_gflops():,.0f} GFLOP/s", flush=True)
  t_start = time.perf_counter()
  for model in args.models:
    for batch in args.batches:
      # 32k samples a call: model.fit's set-up per call then costs keras a few percent, not half
      steps = args.steps or max(2, 32768 // batch)
      x, y = synthetic(steps * batch)
      got = bench_one(model, batch, steps, measured, args, x, y)
      rows += got
      rows += [{"model": model, "batch_size": batch, "impl": i, "samples_per_s": None,
                "median_samples_per_s": None, "window_samples_per_s": None, "compile_s": None,
                "detail": "not installed"}
               for i in skipped]
      print("  " + ", ".join(f"{r['impl']} {r['samples_per_s']:,.0f}/s" for r in got),
            f"({model}, batch {batch}, {steps} steps/call)", flush=True)
      with open(args.json, "w") as f:  # after every setting, so a run cut short still leaves rows
        json.dump(rows, f, indent=1)
  print()
  print(format_table(rows, args.models, args.batches, named(impls, args)))
  print(f"\nbest of {args.rounds} windows of >= {args.min_time}s each; {time.perf_counter() - t_start:.0f}s "
        f"in all; load average {os.getloadavg()[0]:.2f} at the end")
  if args.pipeline:
    pipeline_check(rows, args)
  return rows


def pipeline_check(rows: list[dict], args) -> list[dict]:
  """tf.data's delivery beside each qd_jax step's consumption, at the same batch sizes."""
  import pipeline_rate
  delivered = pipeline_rate.rates(args.batches, rows=args.pipeline_rows)
  out = []
  print("\ntf.data path (qd_jax.data.pipeline, 10 files in the page cache) against the qd_jax step:")
  for r in rows:
    if r["impl"] == "qd_jax" and r["samples_per_s"]:
      rate = delivered[r["batch_size"]]
      out.append({"model": r["model"], "batch_size": r["batch_size"], "delivered_per_s": rate,
                  "consumed_per_s": r["samples_per_s"], "ratio": rate / r["samples_per_s"]})
      print(f"  {r['model']:>4} batch {r['batch_size']:>4}: delivers {rate:>10,.0f}/s, the step takes "
            f"{r['samples_per_s']:>10,.0f}/s: {out[-1]['ratio']:5.2f}x")
  with open(os.path.splitext(args.json)[0] + "_pipeline.json", "w") as f:
    json.dump(out, f, indent=1)
  return out


if __name__ == "__main__":
  main(sys.argv[1:])
