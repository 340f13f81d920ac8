"""Training throughput of qd_jax, tf.keras and PyTorch on this machine, side by side.

Every implementation trains the same architecture with Adam(1e-3) on the same synthetic uint8
rows, in this one process. Compile time is kept out of samples/s and reported on its own.

  python benchmarks/throughput.py --json bench.json [--models fc,cnn1,cnn2] [--batches 128,1024]
      [--steps N] [--impls qd_jax,qd_jax_models,keras,torch] [--models-at-once 3,16] [--rounds 5]
      [--min-time 0.5]

qd_jax is qd_jax's own compiled epoch (steps.Steps.epoch: a lax.scan over device-resident rows).
qd_jax_models<M> is the same epoch over M stacked runs (qd_jax.cohort), as sweeps train them;
its samples/s count all M runs. See benchmarks/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

MODELS = ("fc", "cnn1", "cnn2")
IMPLS = ("qd_jax", "qd_jax_models", "keras", "torch")
PEERS = ("keras", "torch")
LEARNING_RATE = 1e-3
NUM_CLASSES = 10


def synthetic(n: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, NUM_CLASSES, n).astype(np.int32)


class Runner:
  """One implementation ready to train: `call()` runs `steps` steps and returns the sample count."""

  def __init__(self, call, compile_s: float | None, detail: str):
    self.call, self.compile_s, self.detail = call, compile_s, detail


def _compile_estimate(call) -> float:
  """First call minus a warm one: what building and compiling the step cost."""
  seconds = []
  for _ in range(2):
    t0 = time.perf_counter()
    call()
    seconds.append(time.perf_counter() - t0)
  return max(0.0, seconds[0] - seconds[1])


def qd_jax_runner(model, batch, n_steps, x, y, models=1):
  """qd_jax's compiled epoch (steps.Steps.epoch) over `models` stacked runs (qd_jax.cohort)."""
  import jax
  from qd_jax import cohort, layers, steps
  mesh = steps.make_mesh()
  impl = steps.layers_impl("auto")  # the layers qd_jax trains with by default
  net, apply, tx = steps.model_and_optimizer(model, NUM_CLASSES, LEARNING_RATE, impl)
  setting = ("benchmark", model, NUM_CLASSES, LEARNING_RATE, impl)
  mb = layers.default_microbatch(model, impl) if mesh.size == 1 else 0  # as train_run chooses it
  st = steps.Steps(mesh, setting, mb)
  states = [steps.create_state(net, apply, tx, seed) for seed in range(models)]
  holder = {"state": steps.place(cohort.stack(states), st.repl)}
  # Every run reads the same rows; what is measured is the work of `models` separate runs.
  xa, ya = steps.place((np.stack([x] * models), np.stack([y] * models)), st.repl)
  order = np.arange(n_steps * batch, dtype=np.int32).reshape(n_steps, 1, batch)
  idx = steps.place(np.repeat(order, models, axis=1), st.steps_split)

  def call():
    holder["state"], m = st.epoch(holder["state"], xa, ya, idx)
    jax.block_until_ready(m)
    return n_steps * batch * models

  call()  # compiles; Steps times the compilation itself
  mb = mb if mb and mb < batch else 0
  what = f"{models} models stacked, " if models > 1 else ""
  return Runner(call, st.compile_seconds, f"{what}qd_jax.steps.Steps.epoch, layers {impl}, microbatch {mb or 'off'}")


def keras_runner(model, batch, steps, x, y, jit_compile):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter
  import tensorflow as tf
  keras = tf.keras
  L = keras.layers
  body = [keras.Input((784,), dtype="uint8"), L.Rescaling(1 / 255.0)]
  if model == "fc":
    body += [L.Dense(25, activation="relu"), L.Dense(12, activation="relu")]
  else:
    pool = [L.MaxPooling2D(2)] if model == "cnn2" else []
    body += [L.Reshape((28, 28, 1)), L.Conv2D(4, 3, activation="relu"), *pool,
             L.Conv2D(8, 2, activation="relu"), *pool, L.Flatten(), L.Dense(64, activation="relu")]
  net = keras.Sequential(body + [L.Dense(NUM_CLASSES)])
  net.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=jit_compile,
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True).repeat()
  ds = ds.prefetch(tf.data.AUTOTUNE)

  def call():
    net.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps * batch

  return Runner(call, _compile_estimate(call), f"model.fit, jit_compile={jit_compile}")


def torch_runner(model, batch, steps, x, y):
  import torch
  from torch import nn
  threads = os.cpu_count() or 1
  torch.set_num_threads(threads)
  if model == "fc":
    layers_ = [nn.Linear(784, 25), nn.ReLU(), nn.Linear(25, 12), nn.ReLU(), nn.Linear(12, NUM_CLASSES)]
  else:
    pool = [nn.MaxPool2d(2)] if model == "cnn2" else []
    layers_ = [nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 4, 3), nn.ReLU(), *pool, nn.Conv2d(4, 8, 2),
               nn.ReLU(), *pool, nn.Flatten(), nn.Linear(288 if pool else 5000, 64), nn.ReLU(),
               nn.Linear(64, NUM_CLASSES)]
  torch.manual_seed(0)
  net = nn.Sequential(*layers_)
  opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
  loss_fn = nn.CrossEntropyLoss()
  xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

  def call():
    for i in range(steps):
      xb = xt[i * batch:(i + 1) * batch].float().div_(255.0)  # uint8 travels, float32 computes
      opt.zero_grad(set_to_none=True)
      loss_fn(net(xb), yt[i * batch:(i + 1) * batch]).backward()
      opt.step()
    return steps * batch

  call()
  return Runner(call, 0.0, f"eager, {threads} threads")


def available(impl: str) -> str | None:
  """None when importable, else the one-line reason it is skipped."""
  module = {"keras": "tensorflow", "torch": "torch"}.get(impl)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if module is None:
    return None
  try:
    __import__(module)
  except ImportError as e:
    return f"{impl}: not installed ({e.__class__.__name__}: {e})"
  return None


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
      runners[impl] = qd_jax_runner(model, batch, steps, x, y)
    elif impl == "qd_jax_models":
      for m in args.models_at_once:
        runners[f"qd_jax_models{m}"] = qd_jax_runner(model, batch, steps, x, y, m)
    elif impl == "keras":  # both settings; the faster one is reported
      runners["keras_xla"] = keras_runner(model, batch, steps, x, y, True)
      runners["keras_noxla"] = keras_runner(model, batch, steps, x, y, False)
    elif impl == "torch":
      runners[impl] = torch_runner(model, batch, steps, x, y)
  rates = time_runners(runners, args.rounds, args.min_time, args.pause)
  if "keras" in impls:
    best = max(("keras_xla", "keras_noxla"), key=lambda k: max(rates[k]))
    runners["keras"], rates["keras"] = runners[best], rates[best]
  rows = []
  for impl in named(impls, args):
    rows.append({"model": model, "batch_size": batch, "impl": impl, "samples_per_s": max(rates[impl]),
                 "median_samples_per_s": statistics.median(rates[impl]),
                 "compile_s": runners[impl].compile_s, "detail": runners[impl].detail})
  if "keras" in impls:
    import tensorflow as tf
    tf.keras.backend.clear_session()
  return rows


def named(impls, args) -> list[str]:
  """Row names: qd_jax_models becomes qd_jax_models<M> for each M."""
  return [n for i in impls for n in ([f"qd_jax_models{m}" for m in args.models_at_once]
                                     if i == "qd_jax_models" else [i])]


def format_table(rows: list[dict], models, batches, impls) -> str:
  def cell(model, batch, impl):
    r = next((r for r in rows if (r["model"], r["batch_size"], r["impl"]) == (model, batch, impl)), None)
    return r and r["samples_per_s"]

  stacked = [i for i in impls if i.startswith("qd_jax_models")]
  head = ["model", "batch", *impls, "faster peer", "qd_jax/peer", *(f"{i[6:]}/qd_jax" for i in stacked)]
  lines = []
  for model in models:
    for batch in batches:
      vals = {i: cell(model, batch, i) for i in impls}
      peers = {p: vals[p] for p in PEERS if p in vals and vals[p] is not None}
      peer = max(peers, key=peers.get) if peers else None
      ratio = lambda i: f"{vals[i] / peers[peer]:.2f}x" if peer and vals.get(i) else "-"
      lines.append([model, str(batch), *(f"{v:,.0f}" if v is not None else "not installed"
                                         for v in vals.values()),
                    peer or "-", ratio("qd_jax"),
                    *(f"{vals[i] / vals['qd_jax']:.2f}x" if vals.get(i) and vals.get("qd_jax") else "-"
                      for i in stacked)])
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
  p.add_argument("--steps", type=int, default=0, help="steps per timed call (0: 4096 samples' worth)")
  p.add_argument("--impls", default=",".join(IMPLS))
  p.add_argument("--rounds", type=int, default=5, help="timed windows per implementation")
  p.add_argument("--min-time", type=float, default=0.5, help="seconds per timed window (at least one call)")
  p.add_argument("--pause", type=float, default=0.2, help="idle seconds before each window")
  p.add_argument("--models-at-once", default="8", help="M for the qd_jax_models<M> rows (a list: 3,16)")
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
  impls, rows, skipped = [], [], {}
  for impl in args.impls:
    reason = available(impl)
    if reason:
      print(reason)
      skipped[impl] = reason
    impls.append(impl)
  import jax
  print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"on {jax.devices()[0].platform}; load average {os.getloadavg()[0]:.2f} at start", flush=True)
  t_start = time.perf_counter()
  for model in args.models:
    for batch in args.batches:
      steps = args.steps or max(2, 4096 // batch)
      x, y = synthetic(steps * batch)
      measured = [i for i in impls if i not in skipped]
      got = bench_one(model, batch, steps, measured, args, x, y)
      rows += got
      rows += [{"model": model, "batch_size": batch, "impl": i, "samples_per_s": None,
                "median_samples_per_s": None, "compile_s": None, "detail": "not installed"}
               for i in skipped]
      print("  " + ", ".join(f"{r['impl']} {r['samples_per_s']:,.0f}/s" for r in got),
            f"({model}, batch {batch}, {steps} steps/call)", flush=True)
      with open(args.json, "w") as f:  # after every setting, so a run cut short still leaves rows
        json.dump(rows, f, indent=1)
  print()
  print(format_table(rows, args.models, args.batches, named(impls, args)))
  print(f"\nbest of {args.rounds} windows of >= {args.min_time}s each; {time.perf_counter() - t_start:.0f}s "
        f"in all; load average {os.getloadavg()[0]:.2f} at the end")
  with open(args.json, "w") as f:
    json.dump(rows, f, indent=1)
  return rows


if __name__ == "__main__":
  main(sys.argv[1:])
