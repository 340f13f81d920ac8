"""How each (model, batch) trains fastest on this machine: layer formulation, microbatch chunk,
runs stacked per cohort and rows per evaluation batch, picked by a short timing on first use and
cached, like cuDNN's autotune.

Constants tuned on one CPU lost their lead on another (benchmarks/README.md), so on XLA:CPU the
choice is measured: each candidate trains a few synthetic steps through the very programs a
sweep runs (training/programs.py), and the fastest wins. A stacked cohort is chosen only when it
beats the next smaller one by STACK_MARGIN, so stacking never makes a sweep slower. The result is
cached per CPU model, core count and jax version in ~/.cache/qd_jax/autotune.json, with every
candidate's rate, so a setting that fixes a field reuses the timings of one that did not; config fields
that are set (layers, microbatch, models_at_once) are kept as given, and every run records what
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

CACHE = "~/.cache/qd_jax/autotune.json"
STACK_MARGIN = 1.05  # a cohort must beat solo runs by this much, measured, to be chosen
STACKS = (2, 4, 8)  # cohort sizes tried, smallest first; the first that does not pay ends the search
CHUNKS = (64, 128, 256)  # microbatch chunks tried with the CPU formulation (where they divide the batch)
# Rows per evaluation batch tried (where they divide eval_batch_size), on a set of EVAL_SET_ROWS:
# the registry's 500 rows for CNN2 scored 0.68x the rows/s of 250 on one EPYC with its convs as GEMMs
# (benchmarks/eval_calls.py); a formulation's rate by batch size is the machine's to say.
EVAL_ROWS = (250, 500)
EVAL_SET_ROWS = 2000  # mid-range of the local grid's validation sets (300 to 4,500 rows)
WINDOW_S = 0.25


@dataclasses.dataclass(frozen=True)
class Setting:
  layers: str  # the formulation that runs: "fast" (nn/cpu_networks.py) or "xla"
  microbatch: int  # rows per chunk inside the step; 0: whole batches
  models_at_once: int  # runs trained stacked in one program
  source: str  # "measured", "cached", "defaults" (the registry's), each with config fields kept
  eval_rows: int = 0  # rows per evaluation batch; 0: the config's eval_batch_size


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
          f" | formulations r{cpu_networks.REVISION}")


def defaults(model: str, batch_size: int, layers: str = "auto", microbatch: int = -1,
             models_at_once: int = 0, eval_batch_size: int = 1000) -> Setting:
  """The registry's measured defaults, with the config's fixed fields kept."""
  spec, backend = registry.get(model), jax.default_backend()
  chosen = spec.layers(layers, backend)
  mb = microbatch if microbatch >= 0 else spec.microbatch(chosen, backend, jax.device_count())
  return Setting(chosen, _fit(mb, batch_size), models_at_once or spec.cohort_size(backend), "defaults",
                 _fit(spec.eval_rows(chosen), eval_batch_size))


def _fit(chunk: int, batch_size: int) -> int:
  return chunk if chunk and chunk < batch_size and batch_size % chunk == 0 else 0


def choose(model: str, batch_size: int, *, layers: str = "auto", microbatch: int = -1, models_at_once: int = 0,
           eval_batch_size: int = 1000, on: bool | None = None, cache: str = CACHE, log=lambda _: None) -> Setting:
  """The setting a sweep trains `model` with at `batch_size` (and evaluates it with): measured
  once per machine, then cached. `on` None: `enabled()`."""
  fixed = defaults(model, batch_size, layers, microbatch, models_at_once, eval_batch_size)
  if not (enabled() if on is None else on) or jax.default_backend() != "cpu" or jax.device_count() > 1:
    return fixed
  path = pathlib.Path(os.path.expanduser(cache))
  key = (f"{model}/batch {batch_size}/layers {layers}/microbatch {microbatch}/models_at_once {models_at_once}"
         f"/eval_batch {eval_batch_size}")
  table = _read(path)
  mine = table.setdefault(machine(), {})
  choices, rates = mine.setdefault("choices", {}), mine.setdefault("rates", {})
  if key in choices:
    return Setting(**{**choices[key], "source": "cached"})
  said = []

  def timed(name: str, measure) -> float:
    # Each candidate is timed once per machine: a setting that fixes models_at_once (H2's solo
    # runs) reads the solo rates another one measured, so both pick the same winner.
    if name not in rates:
      if not said:
        log(f"autotune: timing {model} at batch {batch_size} on this CPU (once; cached in {path})")
        said.append(name)
      rates[name] = measure()
    return rates[name]

  def train_rate(layers_: str, chunk: int, models: int) -> float:
    return timed(f"{model}/batch {batch_size}/{layers_}/microbatch {chunk}/x{models}",
                 lambda: rate(model, batch_size, layers_, chunk, models))

  found = _measure(model, batch_size, layers, microbatch, models_at_once, train_rate)

  def eval_rows_rate(rows: int) -> float:
    rows = rows or eval_batch_size
    return timed(f"{model}/eval/{found.layers}/rows {rows}", lambda: eval_rate(model, found.layers, rows))

  found = dataclasses.replace(found, eval_rows=max(_eval_candidates(eval_batch_size), key=eval_rows_rate))
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


def _measure(model: str, batch_size: int, layers: str, microbatch: int, models_at_once: int, timed) -> Setting:
  """timed(layers, microbatch, models): samples/s of that candidate."""
  rates = {c: timed(*c, 1) for c in _candidates(model, batch_size, layers, microbatch)}
  best = max(rates, key=rates.get)
  if models_at_once:
    return Setting(*best, models_at_once, "measured")
  m, fastest = 1, rates[best]
  for size in STACKS:  # each larger cohort must beat the one before it by the margin
    got = timed(*best, size)
    if got < STACK_MARGIN * fastest:
      break
    m, fastest = size, got
  return Setting(*best, m, "measured")


def rate(model: str, batch_size: int, layers: str, microbatch: int, models: int) -> float:
  """Training samples/s of `models` stacked runs (all of them together) on synthetic rows,
  through the compiled epoch program a sweep runs; the best of a few short windows."""
  from qd_jax.training import cohort, programs  # programs imports this module's callers
  compiled = programs.Programs(model, 10, 1e-3, layers, programs.mesh(), microbatch)
  # One call of the sweep's own size (CHUNK_STEPS steps): calls of 128 steps timed rates within
  # noise of these and took twice as long on a slow candidate (XLA's convolutions).
  steps = max(2, compiled.chunk_steps)
  rng = np.random.default_rng(0)
  shape = (models, steps * batch_size, *compiled.input_kind.example_shape)
  x = programs.place(rng.integers(0, 256, shape, dtype=np.uint8), compiled.repl)
  y = programs.place(rng.integers(0, 10, shape[:2]).astype(np.int32), compiled.repl)
  order = np.arange(steps * batch_size, dtype=np.int32).reshape(steps, 1, batch_size)
  idx = programs.place(np.repeat(order, models, axis=1), compiled.steps_split)
  state = cohort.stack([compiled.init_state(seed) for seed in range(models)])
  state, out = compiled.epoch(state, x, y, idx)  # compiles
  jax.block_until_ready(out)
  best = 0.0
  for _ in range(3):
    done, t0 = 0, time.perf_counter()
    while True:
      state, out = compiled.epoch(state, x, y, idx)
      jax.block_until_ready(out)
      done += steps * batch_size * models
      if (elapsed := time.perf_counter() - t0) >= WINDOW_S:
        break
    best = max(best, done / elapsed)
  return best


def eval_rate(model: str, layers: str, rows: int, set_rows: int = EVAL_SET_ROWS) -> float:
  """Rows/s of the evaluation programs a sweep runs (training/programs.py) over a synthetic set
  of `set_rows`, in batches of `rows`; the best of a few short windows."""
  from qd_jax.training import programs
  compiled = programs.Programs(model, 10, 1e-3, layers, programs.mesh(), eval_rows=0)
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (set_rows, *compiled.input_kind.example_shape), dtype=np.uint8)
  data = compiled.eval_set(x, rng.integers(0, 10, set_rows).astype(np.int32), rows)
  state = compiled.init_state(0)
  compiled.evaluate(state, data)  # compiles
  best = 0.0
  for _ in range(3):
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < WINDOW_S or not done:
      compiled.evaluate(state, data)
      done += set_rows
    best = max(best, done / (time.perf_counter() - t0))
  return best
