"""The compiled programs of one model setting: the Adam step (training/step.py), a whole epoch of
a cohort, evaluation.

`Programs` owns its model and optimizer: it is built from (model, classes, learning rate, layers,
mesh) and `programs.get` caches it by exactly those, so runs that share a setting share its
compilations and no key is kept in step with anything by hand.

Data parallelism is `jax.jit` over a 1-D device mesh with `NamedSharding`: parameters are
replicated, every batch is split along its batch axis, and XLA inserts the gradient all-reduce
(what `pmap` used to spell out by hand). Steps are jitted with the state donated.
"""

import dataclasses
import functools
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import NamedSharding, PartitionSpec as P

from qd_jax.nn import losses, models, registry
from qd_jax.training import cohort
from qd_jax.training.step import STEP_METRICS, UNROLL, train_step


@functools.cache
def mesh() -> jax.sharding.Mesh:
  # Auto axes: jit places and all-reduces by the shardings it is given (GSPMD), as pmap did.
  return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


def place(tree, sharding: NamedSharding):
  """Host values that every process holds alike, as global arrays (one process or many)."""
  def one(a):
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])
  return jax.tree_util.tree_map(one, tree)


def predict(state: train_state.TrainState, xb: jax.Array, yb: jax.Array, n: jax.Array, *, prepare: Callable):
  """Predicted class and per-example cross-entropy for the first `n` (a device scalar) of the
  batches (nb, B, ...); zeros past them. With n an argument, a set's last call runs only its
  own batches, through the same program as its full calls."""
  def body(i, out):
    logits = state.apply_fn({"params": state.params}, prepare(xb[i]))
    pred, ce = out
    return pred.at[i].set(jnp.argmax(logits, -1)), ce.at[i].set(losses.cross_entropy(logits, yb[i]))
  return jax.lax.fori_loop(0, n, body, (jnp.zeros(yb.shape, jnp.int32), jnp.zeros(yb.shape, jnp.float32)))


CHUNK_STEPS = 32  # an epoch runs in calls of 32 steps; the last call runs the steps left
# Evaluation batches per call: on XLA:CPU, calls of one small batch each took up to 1.44x the time
# of one call over them all (benchmarks/eval_calls.py); a set's last call runs the batches left.
EVAL_CALL_BATCHES = 8
# The initialisation at XLA:CPU's backend optimisation level 1: it compiled in a quarter of the
# default's time and drew the same bits (benchmarks/init_compile.py; tests/test_train.py checks
# the bits on the CPU at hand). Level 0 changed Flax's truncated-normal draws. A first launch
# compiles one initialisation per model and class count, so this is paid 11 times locally.
CPU_INIT_OPTIONS = {"xla_backend_optimization_level": 1}


def persistent_cache(folder: str) -> None:
  """XLA's compiled programs kept in `folder` (config.compilation_cache_dir), for later launches."""
  jax.config.update("jax_compilation_cache_dir", folder)
  # Every program, however quick to compile: a later sweep then loads even the gather and
  # evaluation programs instead of compiling them again, a few hundred per --hypothesis=all.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  if jax.default_backend() == "cpu":
    # JAX also puts XLA's GPU autotuning cache in the folder by default, and so writes the folder's
    # absolute path into every program's key: a cache copied or mounted elsewhere (another HOME,
    # a batch VM) then missed every program. XLA:CPU keeps no such cache (tests/test_train.py).
    jax.config.update("jax_persistent_cache_enable_xla_caches", "none")


def init_options() -> dict | None:
  """XLA options of the initialisation program: CPU_INIT_OPTIONS on the CPU, the defaults elsewhere."""
  return CPU_INIT_OPTIONS if jax.default_backend() == "cpu" else None


def chunks(steps: int, size: int = CHUNK_STEPS) -> list[tuple[int, int]]:
  """(start, steps) of an epoch's calls: `size` steps each, the last one fewer."""
  return [(s, min(size, steps - s)) for s in range(0, steps, size)]


def _shapes(extras: dict | None) -> tuple:
  """What a compiled program depends on in a run's step inputs: their names and shapes."""
  return tuple(sorted((name, np.shape(a)) for name, a in (extras or {}).items()))


_SHARED = {}  # Programs._compiled's shared programs: the gather (any model), the initialisation
_SPENT = {}  # (shapes, sharding) -> the last chunks the gather wrote, oldest first, for SPENT_SHAPES shapes
SPENT_SHAPES = 4


def _spent_chunk(shapes: tuple, sharding: NamedSharding):
  """The chunk before last of these ((shape, dtype), ...) to overwrite, or zeros (a gather runs while the last is read)."""
  pool = _SPENT[(shapes, sharding)] = _SPENT.pop((shapes, sharding), [])
  while len(_SPENT) > SPENT_SHAPES:
    del _SPENT[next(iter(_SPENT))]
  return pool.pop(0) if len(pool) == 2 else place(tuple(np.zeros(s, d) for s, d in shapes), sharding)


@dataclasses.dataclass
class EvalSet:
  """Rows to score, padded to whole batches and placed on the devices once for every epoch."""
  batches: list[tuple[jax.Array, jax.Array, jax.Array]]  # (EVAL_CALL_BATCHES, batch, ...), (..., batch), n
  counts: list[int]  # the batches each call really holds (its n, on the host)
  y: np.ndarray  # the true labels, unpadded


class Programs:
  """The compiled functions of one (model, classes, learning rate, layers) on `mesh`; the
  seconds spent compiling are counted apart from the seconds spent running."""

  def __init__(self, model_name: str, num_classes: int, learning_rate: float, layers: str,
               mesh_: jax.sharding.Mesh, microbatch: int = 0, eval_rows: int | None = None, unroll: int = UNROLL):
    spec = registry.get(model_name)
    self.model_name, self.learning_rate = model_name, learning_rate
    self.layers = spec.layers(layers, jax.default_backend())
    self.model, self.num_classes, self.input_kind = spec.create(num_classes), num_classes, spec.input_kind
    self.apply = spec.apply(self.layers, num_classes)
    self.tx = optax.adam(learning_rate)
    self.microbatch, self.unroll = microbatch, unroll
    # Rows per evaluation batch (autotune.Setting.eval_rows); None: the registry's for this formulation.
    rows = spec.eval_rows(self.layers) if eval_rows is None else eval_rows
    self.eval_rows = rows if rows % mesh_.size == 0 else 0
    # Models whose own loops (an LSTM's scan) ran several times slower inside the epoch's scan on
    # XLA:CPU (nn/registry.py, scan_epochs) take their epoch one step per call.
    self.chunk_steps = CHUNK_STEPS if spec.scan_epochs else 1
    prepare = spec.input_kind.prepare
    self._step = functools.partial(train_step, prepare=prepare, augment=spec.input_kind.augment,
                                   microbatch=self.microbatch, unroll=unroll)
    self._predict = functools.partial(predict, prepare=prepare)
    self.repl = NamedSharding(mesh_, P())
    self.rows = NamedSharding(mesh_, P("data"))  # (B, ...) split along B
    self.cols = NamedSharding(mesh_, P(None, "data"))  # (steps, B, ...) split along B
    self.steps_split = NamedSharding(mesh_, P(None, None, "data"))  # (steps, M, B) split along B
    self.compile_seconds = 0.0
    self._executables = {}
    self._state_shapes = None

  def init_state(self, seed: int, init: str = "flax") -> train_state.TrainState:
    """The run's initial state: Flax's initialisers, or Keras' (models.INITS) on the same keys,
    from one compiled program: the initialisers run op by op otherwise, which cost more per run
    than a small run's training (the same bits). The program depends on neither the formulation
    nor the batch, so every Programs of this model and class count shares it (autotune's
    candidates too), each taking the state with its own apply_fn."""
    key = jax.random.key(seed)
    shared_key = ("init", self.model_name, self.num_classes, init, self.learning_rate, self.repl)
    f = self._compiled(shared_key, functools.partial(self._create, init=init), key, shared=True,
                       options=init_options(), out_shardings=self.repl)
    return f(key).replace(apply_fn=self.apply, tx=self.tx)

  def state_shapes(self) -> train_state.TrainState:
    """The shapes of this setting's state, traced once (every cohort asks) and not compiled: what
    cohort.stack pads to."""
    if self._state_shapes is None:
      self._state_shapes = jax.eval_shape(self._create, jax.random.key(0)).replace(apply_fn=self.apply, tx=self.tx)
    return self._state_shapes

  def _create(self, key, init: str = "flax") -> train_state.TrainState:
    params = models.init_params(self.model, key, self.input_kind.example_shape, init)
    return train_state.TrainState.create(apply_fn=self.apply, params=params, tx=self.tx)

  def _compiled(self, key, fn: Callable, *args, shared: bool = False, options: dict | None = None, **jit_kwargs):
    """fn compiled for args (with XLA compiler `options`), once per key; `shared` keys (programs
    that no formulation changes) are compiled once in the process for every Programs, and charged
    to the one that compiled them."""
    table = _SHARED if shared else self._executables
    if key not in table:
      t0 = time.perf_counter()
      table[key] = jax.jit(fn, **jit_kwargs).lower(*args).compile(compiler_options=options)
      self.compile_seconds += time.perf_counter() - t0
    return table[key]

  def executables(self) -> list:
    """Every program this setting has compiled, and the shared ones (gather, initialisation)."""
    return [*self._executables.values(), *_SHARED.values()]

  def step(self, state, x, y, extras=None):
    key = ("step", x.shape, _shapes(extras))
    f = self._compiled(key, lambda s, x, y, e: self._step(s, x, y, None, e), state, x, y, extras, donate_argnums=0,
                       in_shardings=(self.repl, self.rows, self.rows, self.repl), out_shardings=self.repl)
    return f(state, x, y, extras)

  def epoch(self, state, x_all, y_all, idx, class_mask=None, active=None, extras=None):
    """A whole epoch of M stacked runs (cohort.stack: a cohort of one's state as it is): the
    cohort's step scanned over batches gathered from the device-resident rows x_all (M, N, ...)
    by indices idx (S, M, B) (host values); active (S, M) masks steps, and `extras`
    ({name: (M, ...)}, cohort.stack_extras) are the runs' step inputs.

    The epoch runs in calls of `chunk_steps` steps, each fed by a gather program. The call's
    step count is an argument, so the costly program depends on neither N nor S: runs of every
    size share its one compilation, and only the cheap gather compiles per padded N."""
    idx = np.asarray(idx)
    live_all = np.ones(idx.shape[:2], bool) if active is None else np.asarray(active)
    size, outs = self.chunk_steps, []
    for start, n in chunks(idx.shape[0], size):
      live = np.zeros((size, idx.shape[1]), bool)
      live[:n] = live_all[start:start + n]
      i = np.zeros((size, *idx.shape[1:]), idx.dtype)  # rows past n: row 0, gathered but not trained on
      i[:n] = idx[start:start + n]
      x, y = self._gather(x_all, y_all, place(i, self.steps_split))
      state, out = self._scan(state, x, y, class_mask, place(live, self.repl), extras, place(np.int32(n), self.repl))
      outs.append((n, out))  # read after the last call: a read here would wait for this one
    return state, {k: np.concatenate([np.asarray(o[k])[:n] for n, o in outs]) for k in outs[0][1]}

  def _gather(self, x_all, y_all, idx):
    """(C, M, B, ...) rows and (C, M, B) labels of one chunk, split along B, written over a spent
    chunk (donated): on XLA:CPU fresh outputs were paged in anew by every call (benchmarks/gather_reuse.py)."""
    def take(x_all, y_all, idx, spent):
      del spent  # only its memory is used: the outputs alias it
      per_run = jax.vmap(lambda a, j: a[j], in_axes=(0, 1), out_axes=1)
      return per_run(x_all, idx), per_run(y_all, idx)
    shapes = ((idx.shape + x_all.shape[2:], x_all.dtype), (idx.shape, y_all.dtype))
    spent = _spent_chunk(shapes, self.steps_split)
    key = ("gather", x_all.shape, y_all.shape, idx.shape, self.repl, self.steps_split, x_all.dtype, y_all.dtype)
    f = self._compiled(key, take, x_all, y_all, idx, spent, shared=True, donate_argnums=3, keep_unused=True,
                       in_shardings=(self.repl, self.repl, self.steps_split, self.steps_split),
                       out_shardings=(self.steps_split, self.steps_split))
    out = f(x_all, y_all, idx, spent)
    _SPENT[(shapes, self.steps_split)].append(out)
    return out

  def _scan(self, state, x, y, class_mask, live, extras, steps):
    """The first `steps` (a device scalar) of the C steps in x, y; the step metrics (C, M), zero past them."""
    step = cohort.stacked_step(self._step)

    def run(state, x, y, class_mask, live, extras, steps):
      if x.shape[0] == 1:  # one step, no loop around it: an LSTM's scan ran 7x slower inside one (stroke_epochs.py)
        state, out = step(state, x[0], y[0], class_mask, live[0], extras)
        return state, jax.tree_util.tree_map(lambda a: a[None], out)

      def body(i, carry):
        state, outs = carry
        state, out = step(state, x[i], y[i], class_mask, live[i], extras)
        return state, jax.tree_util.tree_map(lambda buf, v: buf.at[i].set(v), outs, out)

      # The buffers' shapes from STEP_METRICS: a jax.eval_shape of the step traced it a second time.
      outs = {k: jnp.zeros(x.shape[:2], dtype) for k, dtype in STEP_METRICS.items()}
      return jax.lax.fori_loop(0, steps, body, (state, outs))

    key = ("scan", x.shape, None if class_mask is None else class_mask.shape, _shapes(extras))
    f = self._compiled(key, run, state, x, y, class_mask, live, extras, steps, donate_argnums=0,
                       out_shardings=self.repl, in_shardings=(self.repl, self.steps_split, self.steps_split, self.repl,
                                                              self.repl, self.repl, self.repl))
    return f(state, x, y, class_mask, live, extras, steps)

  def eval_set(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> EvalSet:
    """x, y cut into batches of `batch_size` rows (or the CPU formulation's eval_rows, where they
    divide it), the last one padded, and the batches into calls of EVAL_CALL_BATCHES, the last
    call padded with empty batches that it does not run."""
    batch_size, size = self.eval_batch(batch_size), EVAL_CALL_BATCHES
    nb = -(-len(y) // batch_size)
    calls = -(-nb // size)
    xb, yb = (cohort.host_zeros((calls * size * batch_size, *a.shape[1:]), a.dtype) for a in (x, y))
    xb[:len(x)], yb[:len(y)] = x, y
    xb, yb = xb.reshape(calls, size, batch_size, *x.shape[1:]), yb.reshape(calls, size, batch_size)
    counts = [min(size, nb - c * size) for c in range(calls)]
    return EvalSet([(*place((xb[c], yb[c]), self.cols), place(np.int32(n), self.repl)) for c, n in enumerate(counts)],
                   counts, y)

  def eval_batch(self, batch_size: int) -> int:
    """Rows per evaluation batch for the config's `batch_size`: eval_rows where they divide it."""
    return self.eval_rows if self.eval_rows and batch_size % self.eval_rows == 0 else batch_size

  def evaluate(self, state, data: EvalSet) -> dict:
    """Accuracy, mean loss, per-class accuracy and confusion matrix over every row (padding dropped).
    Calls of one shape, so sets of every size share one compilation."""
    def call(xb, yb, n):
      f = self._compiled(("eval", xb.shape), self._predict, state, xb, yb, n,
                         in_shardings=(self.repl, self.cols, self.cols, self.repl), out_shardings=self.repl)
      return f(state, xb, yb, n)
    y, n, k = data.y, len(data.y), self.num_classes
    outs = [call(*batch) for batch in data.batches]  # read after the last call, as the epoch's are
    pred, ce = (np.concatenate([np.asarray(o[i])[:c].reshape(-1) for o, c in zip(outs, data.counts)])[:n]
                for i in (0, 1))
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    return {"accuracy": float(np.mean(pred == y)), "loss": float(np.mean(ce)),
            "per_class_accuracy": per_class.tolist(), "confusion": confusion.tolist(), "pred": pred}


def get(model_name: str, num_classes: int, learning_rate: float, layers: str, microbatch: int = 0,
        eval_rows: int | None = None, unroll: int = UNROLL) -> Programs:
  """One Programs per setting in this process: seeds and sweep points reuse its compilations."""
  # Cached with every field spelled out: functools.cache keys a left-out default apart from the
  # same value passed, which gave one setting two Programs and two compilations.
  return _get(model_name, num_classes, learning_rate, layers, microbatch, eval_rows, unroll)


@functools.cache
def _get(*setting) -> Programs:
  model_name, num_classes, learning_rate, layers, microbatch, eval_rows, unroll = setting
  return Programs(model_name, num_classes, learning_rate, layers, mesh(), microbatch, eval_rows, unroll)
