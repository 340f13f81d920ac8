"""Where one (model, batch)'s training step spends its time on this CPU, by XLA operation.

Runs the compiled epoch a sweep trains with (autotune's trainer: the same programs as
throughput.py's qd_jax row, with the layers and microbatch given or autotune's choice), traces
a few calls with jax.profiler, and sums each XLA:CPU thunk's time per training step. Each line
names what the operation computes (the root of its fusion, from the compiled HLO), and a dot its
float rate: that says which GEMMs run far from the machine's matmul rate, and how much of a step
is elementwise passes. The two cores run independent thunks at once, so the op times add up to
more than the step's wall time (`busy` is their ratio). The GEMMs line sums the dots: the
step's rate if it did nothing else at the rates its GEMMs ran at, one thunk at a time and two at
a time throughout (a bound on what shrinking every other pass could give, not a forecast), and
`--target` says how small the rest of the step would have to become to reach a given rate.
`--peer torch` (or keras) runs rounds of the peer's step (throughput.py's), qd_jax's untraced
epoch and one traced call of it, and prints qd_jax's ratio to the peer and its GEMMs' bound's,
each paired by round, so a busy spell of the machine hits all three alike. The target becomes
twice the peer's best (item 3's bar), and the step's wall time qd_jax's median window.

    python benchmarks/step_profile.py --model cnn1 --batch 1024 [--target 74818 | --peer torch]
"""

import argparse
import collections
import glob
import gzip
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # peers.py, throughput.py

MAIN_OPS = (" dot(", " gather(", " scatter(", " convolution(", " reduce(")
# Runtime wrappers and markers, not operations of the program.
NOT_OPS = ("Thunk", "$", "Threadpool", "Slinky", "end:", "PjitFunction", "CommonPjRt", "while")


def ops_of(hlo: str) -> dict[str, tuple[str, float]]:
  """{instruction name: (what it computes, flops per execution or 0)} from compiled HLO text."""
  comps, current = {}, None
  for line in hlo.splitlines():
    head = re.match(r"^(?:ENTRY )?%([\w.\-]+) .*\{$", line)
    if head:
      current = comps.setdefault(head.group(1), [])
    elif current is not None and line.strip():
      current.append(line.strip())
  shapes = {}
  for body in comps.values():
    for line in body:
      m = re.match(r"(?:ROOT )?%([\w.\-]+) = (\w+\[[\d,]*\])", line)
      if m:
        shapes[m.group(1)] = m.group(2)
  out = {}
  for body in comps.values():
    for line in body:
      m = re.match(r"(?:ROOT )?%([\w.\-]+) = (\S+) (\w[\w\-]*)\(", line)
      if not m:
        continue
      name, shape, op = m.groups()
      called = re.search(r"calls=%([\w.\-]+)", line)
      fused = comps.get(called.group(1), []) if called else [line]
      # A fusion is named by its main operation (a GEMM with its epilogue, a gather with the
      # copy it feeds), else by its root.
      root = next((r for key in MAIN_OPS for r in fused if key in r), None) or next(
          (r for r in fused if r.startswith("ROOT")), line)
      out[name] = _describe(root, shapes, fallback=f"{op} {shape}")
  return out


def _describe(root: str, shapes: dict, fallback: str) -> tuple[str, float]:
  m = re.match(r"(?:ROOT )?%[\w.\-]+ = (\S+) (\w[\w\-]*)\(([^)]*)\)", root)
  if not m:
    return fallback, 0.0
  shape, op, args = m.groups()
  if op != "dot":
    return f"{op} {shape.split('{')[0]}", 0.0
  operands = [shapes.get(a.strip().lstrip("%"), "?") for a in args.split(",")]
  dims = [[int(d) for d in re.findall(r"\d+", s.split("[", 1)[-1].split("]")[0])] for s in operands]
  contracting = [int(d) for d in re.findall(r"\d+", re.search(r"lhs_contracting_dims=\{([\d,]*)\}", root).group(1))]
  out_dims = [int(d) for d in re.findall(r"\d+", shape.split("[", 1)[1].split("]")[0])]
  k = math.prod(dims[0][d] for d in contracting) if dims[0] else 0
  flops = 2.0 * math.prod(out_dims) * k
  return f"dot {' x '.join(s.split('{')[0] for s in operands)} -> {shape.split('{')[0]}", flops


def _print_bound(batch, wall, op_time, dot_s, gflop, target):
  """The GEMMs line, and with a target the room it leaves the rest of the step (seconds a step)."""
  # A bound, not a forecast: the step with nothing but its GEMMs, at the rates they ran at here.
  print(f"GEMMs: {dot_s * 1e6:,.0f} us of op time a step ({dot_s / op_time:.0%}), {gflop:.3f} GFLOP; alone at "
        f"these rates: {batch / dot_s:,.0f} samples/s back to back, {2 * batch / dot_s:,.0f} two at a time throughout")
  if target:
    step_s = batch / target
    print(f"target {target:,.0f} samples/s: a {step_s * 1e6:,.0f} us step, in which the work besides the GEMMs "
          f"({(op_time - dot_s) * 1e6:,.0f} us of op time now) must fit in {(2 * step_s - dot_s) * 1e6:,.0f} us "
          f"with both cores busy throughout, {(op_time / wall * step_s - dot_s) * 1e6:,.0f} us at this busy")


def _trace(call, steps: int, calls: int):
  """(seconds, runs) per (program, operation) over `calls` traced epoch calls."""
  import jax
  with tempfile.TemporaryDirectory() as folder:
    jax.profiler.start_trace(folder)
    for _ in range(calls):
      call(steps)
    jax.profiler.stop_trace()
    traces = glob.glob(f"{folder}/plugins/profile/*/*.trace.json.gz")
    if not traces:
      sys.exit(f"step_profile.py: jax.profiler wrote no trace.json.gz under {folder}; this jax "
               f"({jax.__version__}) writes its traces elsewhere: point the glob in _trace() there")
    events = json.load(gzip.open(traces[0]))["traceEvents"]
  # Keyed by (program, operation): XLA names operations per program, so the gather program and
  # the epoch's both have a `bitcast_pad_fusion`.
  total, count = collections.Counter(), collections.Counter()
  for e in events:
    if e.get("ph") == "X" and not e["name"].startswith(NOT_OPS):
      key = (e.get("args", {}).get("hlo_module", "?"), e["name"])
      total[key] += e["dur"] * 1e-6
      count[key] += 1
  return total, count


def _peer_runners(name: str, model: str, batch: int, steps: int) -> dict:
  """peers.runners, or one line naming what to install and exit."""
  import peers
  import throughput
  if (why := peers.available(name)) is not None:
    sys.exit(f"step_profile.py: --peer {why}")
  return peers.runners(name, model, batch, steps, *throughput.synthetic(steps * batch))


def beside_peer(name, model, batch, call, steps, rounds, dot_seconds) -> tuple[float, float, tuple]:
  """Rounds of: the peer's window, qd_jax's untraced window, one traced qd_jax call. Prints the
  peer's and qd_jax's rates and, paired by round, qd_jax's ratio and its GEMMs' bound's (what
  the step would reach doing nothing else, at the rates its GEMMs ran at that round, traced, so
  if anything below their untraced rates) to the peer's. Returns (the peer's best samples/s, qd_jax's median, the rounds' summed trace)."""
  import peers
  import throughput
  theirs = _peer_runners(name, model, batch, steps)
  runners = {"qd_jax": peers.Runner(lambda: call(steps), 0.0, "qd_jax"), **theirs}
  rates, bounds = {k: [] for k in runners}, []
  total, count = collections.Counter(), collections.Counter()
  for _ in range(rounds):
    for k, r in throughput.time_runners(runners, 1, min_time=0.5, pause=0.2).items():
      rates[k] += r
    time.sleep(0.2)  # the peer's worker threads idle before the trace
    t, c = _trace(call, steps, 1)
    total, count = total + t, count + c
    bounds.append(batch * steps / dot_seconds(t))
  best = max(theirs, key=lambda k: max(rates[k]))
  ours, peer_best = max(rates["qd_jax"]), max(rates[best])
  median, low, high = throughput.paired(rates["qd_jax"], rates[best])
  b_median, b_low, b_high = throughput.paired(bounds, rates[best])
  print(f"{best} {peer_best:,.0f} samples/s, qd_jax {ours:,.0f} untraced (best of {rounds} windows each, alternating): "
        f"{ours / peer_best:.2f}x, paired by round {median:.2f}x ({low:.2f}-{high:.2f}); its GEMMs alone at each round's "
        f"rates, paired: {b_median:.2f}x ({b_low:.2f}-{b_high:.2f})")
  return peer_best, statistics.median(rates["qd_jax"]), (total, count)


def profile(model: str, batch: int, layers: str, microbatch: int, calls: int, target: float = 0.0,
            min_share: float = 0.005, peer: str = "", rounds: int = 5) -> None:
  import jax
  from qd_jax.training import autotune
  setting = autotune.choose(model, batch, layers=layers, microbatch=microbatch, models_at_once=1)
  call, steps = autotune._trainer(model, batch, setting.layers, setting.microbatch, 1, setting.unroll)
  for _ in range(3):
    call(steps)
  ops = {}
  for executable in call.programs.executables():
    text = executable.as_text()
    program = re.match(r"HloModule ([\w.\-]+)", text).group(1)
    ops.update({(program, name): what for name, what in ops_of(text).items()})

  def dots(total):  # the operations with FLOPs: GEMMs
    return [k for k in total if ops.get(k, ("", 0.0))[1]]

  if peer:
    peer_rate, ours, (total, count) = beside_peer(peer, model, batch, call, steps, rounds,
                                                  lambda t: sum(t[k] for k in dots(t)))
    target, calls, wall = target or 2 * peer_rate, rounds, batch / ours  # item 3's bar: twice the peer
  else:
    t0 = time.perf_counter()
    for _ in range(calls):
      call(steps)
    wall = (time.perf_counter() - t0) / (calls * steps)
    total, count = _trace(call, steps, calls)
  per_step, op_seconds = calls * steps, sum(total.values())
  busy = op_seconds / per_step
  print(f"{autotune.cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}")
  print(f"{model} at batch {batch}: layers {setting.layers}, microbatch {setting.microbatch or 'whole batch'}"
        f"{f' (unroll {setting.unroll})' if setting.microbatch else ''} "
        f"(autotune: {setting.source}); {wall * 1e6:,.0f} us a step untraced, {batch / wall:,.0f} samples/s; "
        f"op time {busy * 1e6:,.0f} us a step (busy {busy / wall:.2f}x the wall)")
  dot_s = sum(total[k] for k in dots(total)) / per_step
  gflop = sum(ops[k][1] * count[k] for k in dots(total)) / per_step / 1e9
  _print_bound(batch, wall, busy, dot_s, gflop, target)
  print(f"{'us/step':>8} {'share':>6} {'runs/step':>9} {'GFLOP/s':>8}  operation")
  for key, seconds in total.most_common():
    what, flops = ops.get(key, (key[1], 0.0))
    share, s = seconds / op_seconds, seconds / per_step
    if share < min_share:
      break
    rate = f"{flops * count[key] / seconds / 1e9:8.0f}" if flops else " " * 8
    print(f"{s * 1e6:8.1f} {share:6.1%} {count[key] / per_step:9.2f} {rate}  {key[0]}/{key[1]}: {what}")


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--model", default="cnn1")
  p.add_argument("--batch", type=int, default=1024)
  p.add_argument("--layers", default="auto")
  p.add_argument("--microbatch", type=int, default=-1, help="rows per chunk; -1: autotune's choice")
  p.add_argument("--calls", type=int, default=3, help="calls of the epoch program traced (32 steps each); with --peer, one a round")
  p.add_argument("--target", type=float, default=0.0,
                  help="samples/s to reach (say, twice the faster peer's): what it leaves the non-GEMM work")
  p.add_argument("--min-share", type=float, default=0.005, help="list operations down to this share of op time (0: all)")
  p.add_argument("--peer", choices=("torch", "keras"), default="",
                 help="time this peer's step beside qd_jax's; the target becomes twice its rate unless --target is given")
  p.add_argument("--rounds", type=int, default=5, help="windows of each, alternating, with --peer")
  a = p.parse_args(argv)
  profile(a.model, a.batch, a.layers, a.microbatch, a.calls, a.target, a.min_share, a.peer, a.rounds)


if __name__ == "__main__":
  main()
