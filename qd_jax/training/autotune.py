"""How each (model, batch) trains fastest on this machine: layer formulation, microbatch chunk
and its unroll, runs stacked per cohort and rows per evaluation batch, picked by a short timing on first use and
cached, like cuDNN's autotune.

Constants tuned on one CPU lost their lead on another (benchmarks/README.md), so on XLA:CPU the
choice is measured: each candidate trains a few synthetic steps through the very programs a
sweep runs (training/programs.py), side by side with the others in interleaved windows (on a
shared VM one candidate read 71,331 and 99,682 samples/s in two timings minutes apart:
benchmarks/results/cpu/autotune_cost.log), and the fastest wins. A stacked cohort is chosen
only when it beats the best so far, timed beside it, by STACK_MARGIN, so stacking never makes a
sweep slower. The result is cached per CPU model, core count and jax version in
~/.cache/qd_jax/autotune.json, with every candidate's rate, so a setting that fixes a field reuses the timings of one that did not; config fields
that are set (layers, microbatch, unroll, models_at_once) are kept as given, and every run records what
it ran with and where that came from. On accelerators, and with `--config.autotune=False`, the
registry's measured defaults are used.
"""

import dataclasses
import json
import os
import pathlib
import platform
import time

import jax
import numpy as np

from qd_jax.nn import cpu_networks, registry
from qd_jax.training import step

CACHE = "~/.cache/qd_jax/autotune.json"
STACK_MARGIN = 1.05  # a cohort must beat solo runs by this much, measured, to be chosen
STACKS = (2, 4, 8)  # cohort sizes tried, smallest first; the first slower than the best so far ends the search
CHUNKS = (64, 128, 256)  # microbatch chunks tried with the CPU formulation (where they divide the batch)
# Chunks per loop iteration tried for the chosen chunk beside step.UNROLL, where the batch has
# that many: on one Xeon CNN1 wanted 4 and CNN2 8 (benchmarks/results/cpu/unroll_*.log).
UNROLLS = (4, 8)
REVISION = 3  # the search's, in the cache key (2: the unroll; 3: a tying cohort goes on): older caches time again
# Rows per evaluation batch tried (where they divide eval_batch_size), on a set of EVAL_SET_ROWS:
# the registry's 500 rows for CNN2 scored 0.68x the rows/s of 250 on one EPYC with its convs as GEMMs
# (benchmarks/eval_calls.py); a formulation's rate by batch size is the machine's to say.
EVAL_ROWS = (250, 500)
EVAL_SET_ROWS = 2000  # mid-range of the local grid's validation sets (300 to 4,500 rows)
WINDOW_S = 0.25
# A candidate whose sized call (side_by_side) runs under this fraction of the best of those timed
# with it cannot win: it gets no timed windows. XLA's convolutions trained 4-18x slower than the
# CPU formulation on one EPYC, and at batch 1024 one call of 32 of CNN1's steps took about 20 s
# (32,768 rows at 1,647/s: benchmarks/results/cpu/autotune_cost.log).
ABORT_BELOW = 0.5
# Timed calls run the fewest steps (of CHUNK_STEPS, doubling from 2) that last this long. A call
# gathers all 32 steps' rows whatever it runs: cut to 2 steps at 0.05 s, CNN2's candidates at
# batch 1024 lost a third of their rate to it and the wrong chunk won (benchmarks/autotune_cost.py).
CALL_S = 0.2


@dataclasses.dataclass(frozen=True)
class Setting:
  layers: str  # the formulation that runs: "fast" (nn/cpu_networks.py) or "xla"
  microbatch: int  # rows per chunk inside the step; 0: whole batches
  models_at_once: int  # runs trained stacked in one program
  source: str  # "measured", "cached", "defaults" (the registry's), each with config fields kept
  eval_rows: int = 0  # rows per evaluation batch; 0: the config's eval_batch_size
  unroll: int = step.UNROLL  # microbatch chunks per loop iteration of the step


def enabled(config=None) -> bool:
  """config.autotune (if a config is given), unless QD_JAX_AUTOTUNE=0: the test suite sets it,
  so that its numbers do not depend on how fast the machine running it happens to be."""
  return (config is None or bool(config.autotune)) and os.environ.get("QD_JAX_AUTOTUNE", "1") != "0"


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


def machine() -> str:
  """The cache key of this machine: what the timings depend on, the formulations' revision too."""
  return (f"{cpu_model()} | {os.cpu_count()} cores | jax {jax.__version__} | {jax.default_backend()}"
          f" | formulations r{cpu_networks.REVISION} | autotune r{REVISION}")


def defaults(model: str, batch_size: int, layers: str = "auto", microbatch: int = -1,
             models_at_once: int = 0, eval_batch_size: int = 1000, unroll: int = 0) -> Setting:
  """The registry's measured defaults, with the config's fixed fields kept."""
  spec, backend = registry.get(model), jax.default_backend()
  chosen = spec.layers(layers, backend)
  mb = microbatch if microbatch >= 0 else spec.microbatch(chosen, backend, jax.device_count())
  return Setting(chosen, _fit(mb, batch_size), models_at_once or spec.cohort_size(backend), "defaults",
                 _fit(spec.eval_rows(chosen), eval_batch_size), unroll or step.UNROLL)


def _fit(chunk: int, batch_size: int) -> int:
  return chunk if chunk and chunk < batch_size and batch_size % chunk == 0 else 0


def choose(model: str, batch_size: int, *, layers: str = "auto", microbatch: int = -1, models_at_once: int = 0,
           eval_batch_size: int = 1000, unroll: int = 0, on: bool | None = None, cache: str = CACHE,
           log=lambda _: None) -> Setting:
  """The setting a sweep trains `model` with at `batch_size` (and evaluates it with): measured
  once per machine, then cached. `on` None: `enabled()`."""
  fixed = defaults(model, batch_size, layers, microbatch, models_at_once, eval_batch_size, unroll)
  if not (enabled() if on is None else on) or jax.default_backend() != "cpu" or jax.device_count() > 1:
    return fixed
  path = pathlib.Path(os.path.expanduser(cache))
  key = (f"{model}/batch {batch_size}/layers {layers}/microbatch {microbatch}/unroll {unroll}"
         f"/models_at_once {models_at_once}/eval_batch {eval_batch_size}")
  table = _read(path)
  mine = table.setdefault(machine(), {})
  choices, rates = mine.setdefault("choices", {}), mine.setdefault("rates", {})
  if key in choices:
    return Setting(**{**choices[key], "source": "cached"})
  said, built = [], {}  # built: the candidates' programs and data, for as long as this choice lasts

  def timed(keys: list[tuple], against: tuple | None = None) -> dict[tuple, float]:
    """Samples/s of each candidate key (`measure`'s), timed side by side once per machine: a
    setting that fixes models_at_once (H2's solo runs) reads the solo rates another one timed,
    so both pick the same winner. A key timed `against` an incumbent is cached as the
    incumbent's rate times their ratio, so the cache repeats the side-by-side verdict."""
    missing = [k for k in keys if _name(model, batch_size, k) not in rates]
    if missing:
      if not said:
        log(f"autotune: timing {model} at batch {batch_size} on this CPU (once; cached in {path})")
        said.append(True)
      got = measure(model, batch_size, missing + ([against] if against else []), built)
      for k in missing:
        rates[_name(model, batch_size, k)] = (got[k] / max(got[against], 1e-9) * timed([against])[against]
                                              if against else got[k])
    return {k: rates[_name(model, batch_size, k)] for k in keys}

  found = _measure(model, batch_size, layers, microbatch, unroll, models_at_once, timed)
  evals = timed([("eval", found.layers, rows or eval_batch_size) for rows in _eval_candidates(eval_batch_size)])
  best_eval = max(evals, key=evals.get)  # the first of equals: a tie keeps the whole eval batch
  found = dataclasses.replace(found, eval_rows=0 if best_eval[2] == eval_batch_size else best_eval[2])
  choices[key] = {k: v for k, v in dataclasses.asdict(found).items() if k != "source"}
  _write(path, table)
  return found


def _read(path: pathlib.Path) -> dict:
  try:
    table = json.loads(path.read_text())
    return table if isinstance(table, dict) else {}
  except (OSError, ValueError):
    return {}  # none yet, or unreadable: measure again rather than fail a sweep


def _write(path: pathlib.Path, table: dict) -> None:
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
    os.replace(tmp, path)
  except OSError:
    pass  # a read-only cache only costs a new timing next time


def _candidates(model: str, batch_size: int, layers: str, microbatch: int) -> list[tuple[str, int]]:
  """(layers, microbatch) pairs to time: chunks only with the CPU formulation, where they divide."""
  spec, out = registry.get(model), []
  for asked in ([layers] if layers != "auto" else ["fast", "xla"]):
    f = spec.layers(asked, "cpu")
    if microbatch >= 0:
      chunks = [microbatch]
    else:
      chunks = [0] + ([c for c in CHUNKS if _fit(c, batch_size)] if f == "fast" else [])
    out += [(f, _fit(c, batch_size)) for c in chunks]
  return list(dict.fromkeys(out))


def _eval_candidates(eval_batch_size: int) -> list[int]:
  """Rows per evaluation batch to time: 0 (the whole eval_batch_size) first, so a tie keeps it."""
  return [0] + [r for r in EVAL_ROWS if _fit(r, eval_batch_size)]


def _name(model: str, batch_size: int, key: tuple) -> str:
  """A candidate's name in the cache's rates."""
  if key[0] == "eval":
    return f"{model}/eval/{key[1]}/rows {key[2]}"
  return f"{model}/batch {batch_size}/{key[1]}/microbatch {key[2]}/unroll {key[4]}/x{key[3]}"


def _measure(model: str, batch_size: int, layers: str, microbatch: int, unroll: int, models_at_once: int,
             timed) -> Setting:
  """timed(keys, against=None): samples/s of ("train", layers, microbatch, models, unroll) candidates."""
  solo = timed([("train", *c, 1, unroll or step.UNROLL) for c in _candidates(model, batch_size, layers, microbatch)])
  best = max(solo, key=solo.get)
  if not unroll:
    best = _unrolled(best, batch_size, timed)
  setting = lambda key: Setting(key[1], key[2], key[3], "measured", unroll=key[4])  # noqa: E731
  if models_at_once:
    return setting(best[:3] + (models_at_once, best[4]))
  incumbent = best
  for size in STACKS:  # each larger cohort must beat the best so far, timed beside it, by the margin
    bigger = best[:3] + (size, best[4])
    rate, theirs = timed([bigger], against=incumbent)[bigger], timed([incumbent])[incumbent]
    if rate < theirs:  # slower: a larger one only adds vmapped work; a tie goes on to the next size
      break
    incumbent = bigger if rate >= STACK_MARGIN * theirs else incumbent
  return setting(incumbent)


def _unrolled(best: tuple, batch_size: int, timed) -> tuple:
  """The chosen solo candidate at its fastest unroll: UNROLLS that its chunks allow, each timed
  beside it. They train the same model to float rounding (tests/test_train.py) and cost nothing
  else, so the fastest wins without a margin; a tie keeps step.UNROLL."""
  chunk = best[2]
  others = [best[:4] + (u,) for u in UNROLLS if chunk and u <= batch_size // chunk]
  if not others:
    return best
  rates = {**timed([best]), **timed(others, against=best)}  # the incumbent first: a tie keeps it
  return max(rates, key=rates.get)


def measure(model: str, batch_size: int, keys: list[tuple], built: dict | None = None) -> dict[tuple, float]:
  """Samples/s of each candidate, built (or taken from `built`, which keeps them) and then timed
  side by side (`side_by_side`): keys ("train", layers, microbatch, models, unroll) train `models`
  stacked runs at `batch_size` (all of them together), ("eval", layers, rows) evaluate in
  batches of `rows`."""
  built = {} if built is None else built
  for k in keys:
    if k not in built:
      built[k] = _trainer(model, batch_size, *k[1:]) if k[0] == "train" else _evaluator(model, *k[1:])
  return side_by_side({k: built[k] for k in keys})


def side_by_side(calls: dict) -> dict:
  """{key: (call, units)} -> {key: samples/s}. call(n) runs n of its `units` of work and returns
  the samples it did. Each one's first call, of 2 units (or 1), compiles; then its n doubles until
  a call lasts CALL_S or runs all units. A candidate whose call then runs under ABORT_BELOW x the
  best of them cannot win and keeps that rate; the rest get three rounds of WINDOW_S windows,
  interleaved, so that a busy spell of the machine hits each of them alike, and keep their best."""
  sized, first = {}, {}
  for key, (call, units) in calls.items():
    n = min(2, units)
    call(n)
    while True:
      t0 = time.perf_counter()
      done = call(n)
      elapsed = time.perf_counter() - t0
      if elapsed >= CALL_S or n == units:
        break
      n = min(2 * n, units)
    sized[key], first[key] = n, done / elapsed
  top = max(first.values())
  live = [k for k in calls if first[k] >= ABORT_BELOW * top]
  best = {k: 0.0 for k in live}
  for _ in range(3):
    for k in live:
      done, t0 = 0, time.perf_counter()
      while True:
        done += calls[k][0](sized[k])
        if (elapsed := time.perf_counter() - t0) >= WINDOW_S:
          break
      best[k] = max(best[k], done / elapsed)
  return {**first, **best}


def _trainer(model: str, batch_size: int, layers: str, microbatch: int, models: int, unroll: int = step.UNROLL):
  """(call, CHUNK_STEPS): call(n) trains `models` stacked runs n steps on synthetic rows, through
  the compiled epoch program a sweep runs (its step count is an argument). Calls of 128 steps
  timed rates within noise of 32."""
  from qd_jax.training import cohort, programs  # programs imports this module's callers
  compiled = programs.Programs(model, 10, 1e-3, layers, programs.mesh(), microbatch, unroll=unroll)
  steps = max(2, compiled.chunk_steps)
  rng = np.random.default_rng(0)
  shape = (models, steps * batch_size, *compiled.input_kind.example_shape)
  x = programs.place(rng.integers(0, 256, shape, dtype=np.uint8), compiled.repl)
  y = programs.place(rng.integers(0, 10, shape[:2]).astype(np.int32), compiled.repl)
  order = np.arange(steps * batch_size, dtype=np.int32).reshape(steps, 1, batch_size)
  idx = np.repeat(order, models, axis=1)
  holder = {"state": cohort.stack([compiled.init_state(seed) for seed in range(models)])}

  def call(n: int) -> int:
    holder["state"], out = compiled.epoch(holder["state"], x, y, idx[:n])
    jax.block_until_ready(out)
    return n * batch_size * models

  call.programs = compiled  # what benchmarks/step_profile.py reads the compiled HLO from
  return call, steps


def _evaluator(model: str, layers: str, rows: int, set_rows: int = EVAL_SET_ROWS):
  """(call, 1): call(1) scores a synthetic set of `set_rows` in batches of `rows`, through the
  evaluation programs a sweep runs (training/programs.py)."""
  from qd_jax.training import programs
  compiled = programs.Programs(model, 10, 1e-3, layers, programs.mesh(), eval_rows=0)
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (set_rows, *compiled.input_kind.example_shape), dtype=np.uint8)
  data = compiled.eval_set(x, rng.integers(0, 10, set_rows).astype(np.int32), rows)
  state = compiled.init_state(0)

  def call(_: int) -> int:
    compiled.evaluate(state, data)
    return set_rows

  return call, 1
