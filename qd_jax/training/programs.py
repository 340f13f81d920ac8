"""The compiled programs of one model setting: the Adam step, a whole epoch of a cohort, evaluation.

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


def microbatch_value_and_grad(loss_fn, chunk: int):
  """value_and_grad(loss_fn, has_aux=True) that walks the batch in chunks of `chunk` rows.

  loss_fn(params, x, y) -> (mean loss, logits). With equal chunks, the mean of the chunk means
  is the batch mean, so the result equals the whole-batch one. Chunks keep the intermediates
  small: on XLA:CPU, CNN batches of 1024 train faster in chunks (training/autotune.py). Each
  scan step runs two chunks, whose graphs are independent: XLA:CPU then overlaps one chunk's
  single-threaded kernels (the conv kernel-gradient GEMMs) with the other's.
  """
  vg = jax.value_and_grad(loss_fn, has_aux=True)

  def run(params, x, y):
    n = x.shape[0]
    if not chunk or chunk >= n:
      return vg(params, x, y)
    if n % chunk:
      raise ValueError(f"batch {n} is not a multiple of microbatch {chunk}")
    k = n // chunk

    def body(acc, xy):
      (loss, logits), g = vg(params, *xy)
      return jax.tree_util.tree_map(jnp.add, acc, (loss, g)), logits

    zero = (jnp.zeros((), jnp.float32), jax.tree_util.tree_map(jnp.zeros_like, params))
    (loss, g), logits = jax.lax.scan(body, zero, (x.reshape(k, chunk, *x.shape[1:]),
                                              y.reshape(k, chunk, *y.shape[1:])), unroll=2)
    mean = jax.tree_util.tree_map(lambda a: a / k, (loss, g))
    return (mean[0], logits.reshape(n, *logits.shape[2:])), mean[1]

  return run


def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array, class_mask=None, *,
               prepare: Callable, microbatch: int = 0):
  """One Adam step on raw rows x (prepare turns them into the network's input). `microbatch` > 0
  walks the batch in chunks of that many rows: the same gradient, faster for CNNs on XLA:CPU.
  `class_mask` (K,) drops padded classes from the softmax (cohorts whose runs differ in k)."""
  def loss_fn(params, x, y):
    logits = state.apply_fn({"params": params}, prepare(x))
    if class_mask is not None:
      logits = jnp.where(class_mask, logits, -1e9)  # exp underflows to 0: the k-class softmax
    return losses.mean_cross_entropy(logits, y), logits

  chunk = microbatch if microbatch and x.shape[0] % microbatch == 0 else 0
  (loss, logits), grads = microbatch_value_and_grad(loss_fn, chunk)(state.params, x, y)
  correct = jnp.sum(jnp.argmax(logits, -1) == y)
  return state.apply_gradients(grads=grads), {"loss": loss, "correct": correct}


def predict(state: train_state.TrainState, xb: jax.Array, yb: jax.Array, *, prepare: Callable):
  """Predicted class and per-example cross-entropy for batches (nb, B, ...)."""
  def one(batch):
    logits = state.apply_fn({"params": state.params}, prepare(batch[0]))
    return jnp.argmax(logits, -1), losses.cross_entropy(logits, batch[1])
  return jax.lax.map(one, (xb, yb))


@dataclasses.dataclass
class EvalSet:
  """Rows to score, padded to whole batches and placed on the devices once for every epoch."""
  xb: jax.Array  # (nb, batch, ...)
  yb: jax.Array  # (nb, batch)
  y: np.ndarray  # the true labels, unpadded


class Programs:
  """The compiled functions of one (model, classes, learning rate, layers) on `mesh`; the
  seconds spent compiling are counted apart from the seconds spent running."""

  def __init__(self, model_name: str, num_classes: int, learning_rate: float, layers: str,
               mesh_: jax.sharding.Mesh, microbatch: int = 0):
    spec = registry.get(model_name)
    self.layers = spec.layers(layers, jax.default_backend())
    self.model, self.num_classes, self.input_kind = spec.create(num_classes), num_classes, spec.input_kind
    self.apply = spec.apply(self.layers, num_classes)
    self.tx = optax.adam(learning_rate)
    self.microbatch = microbatch
    self.scan_epochs = spec.scan_epochs
    prepare = spec.input_kind.prepare
    self._step = functools.partial(train_step, prepare=prepare, microbatch=self.microbatch)
    self._predict = functools.partial(predict, prepare=prepare)
    self.repl = NamedSharding(mesh_, P())
    self.rows = NamedSharding(mesh_, P("data"))  # (B, ...) split along B
    self.cols = NamedSharding(mesh_, P(None, "data"))  # (steps, B, ...) split along B
    self.steps_split = NamedSharding(mesh_, P(None, None, "data"))  # (steps, M, B) split along B
    self.compile_seconds = 0.0
    self._executables = {}

  def init_state(self, seed: int) -> train_state.TrainState:
    """A run's initial state, from one compiled program per setting: flax's initializers run op
    by op otherwise, which cost more per run than a small run's training (the same bits)."""
    def init(key):
      params = models.init_params(self.model, key, self.input_kind.example_shape)
      return train_state.TrainState.create(apply_fn=self.apply, params=params, tx=self.tx)
    key = jax.random.key(seed)
    return self._compiled(("init",), init, key, out_shardings=self.repl)(key)

  def _compiled(self, key, fn: Callable, *args, **jit_kwargs):
    if key not in self._executables:
      t0 = time.perf_counter()
      self._executables[key] = jax.jit(fn, **jit_kwargs).lower(*args).compile()
      self.compile_seconds += time.perf_counter() - t0
    return self._executables[key]

  def step(self, state, x, y):
    f = self._compiled(("step", x.shape), self._step, state, x, y, donate_argnums=0,
                       in_shardings=(self.repl, self.rows, self.rows), out_shardings=self.repl)
    return f(state, x, y)

  def epoch(self, state, x_all, y_all, idx, class_mask=None, active=None):
    """A whole epoch of M stacked runs as one program: a scan of the cohort's step over
    device-resident rows x_all (M, N, ...), with indices idx (S, M, B) and active (S, M)."""
    step, split_b = cohort.stacked_step(self._step), self.cols

    def one(state, x_all, y_all, i, class_mask, act):
      take = jax.vmap(lambda a, j: a[j])
      x = jax.lax.with_sharding_constraint(take(x_all, i), split_b)  # (M, B, ...)
      y = jax.lax.with_sharding_constraint(take(y_all, i), split_b)
      return step(state, x, y, class_mask, act)

    def run(state, x_all, y_all, idx, class_mask, active):
      return jax.lax.scan(lambda st, inputs: one(st, x_all, y_all, inputs[0], class_mask, inputs[1]),
                          state, (idx, active))

    shapes = tuple(None if a is None else a.shape for a in (x_all, idx, class_mask, active))
    if not self.scan_epochs:
      return self._stepwise(one, shapes, state, x_all, y_all, idx, class_mask, active)
    f = self._compiled(("epoch", shapes), run, state, x_all, y_all, idx, class_mask, active,
                       donate_argnums=0, out_shardings=self.repl,
                       in_shardings=(self.repl, self.repl, self.repl, self.steps_split, self.repl, self.repl))
    return f(state, x_all, y_all, idx, class_mask, active)

  def _stepwise(self, one, shapes, state, x_all, y_all, idx, class_mask, active):
    """`epoch` one compiled step per call: for models whose own loops (an LSTM's scan) ran
    several times slower inside the epoch's scan on XLA:CPU (nn/registry.py, scan_epochs)."""
    f = self._compiled(("epoch_step", shapes), one, state, x_all, y_all, idx[0], class_mask,
                       None if active is None else active[0], donate_argnums=0, out_shardings=self.repl,
                       in_shardings=(self.repl, self.repl, self.repl, self.cols, self.repl, self.repl))
    outs = []
    for s in range(idx.shape[0]):
      state, out = f(state, x_all, y_all, idx[s], class_mask, None if active is None else active[s])
      outs.append(out)
    return state, jax.tree_util.tree_map(lambda *a: jnp.stack(a), *outs)

  def eval_set(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> EvalSet:
    nb = -(-len(y) // batch_size)
    pad = nb * batch_size - len(y)
    xb = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]).reshape(nb, batch_size, *x.shape[1:])
    yb = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(nb, batch_size)
    return EvalSet(*place((xb, yb), self.cols), y)

  def evaluate(self, state, data: EvalSet) -> dict:
    """Accuracy, mean loss, per-class accuracy and confusion matrix over every row (padding dropped)."""
    f = self._compiled(("eval", data.xb.shape), self._predict, state, data.xb, data.yb,
                       in_shardings=(self.repl, self.cols, self.cols), out_shardings=self.repl)
    y, n, k = data.y, len(data.y), self.num_classes
    pred, ce = (np.asarray(a).reshape(-1)[:n] for a in f(state, data.xb, data.yb))
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    return {"accuracy": float(np.mean(pred == y)), "loss": float(np.mean(ce)),
            "per_class_accuracy": per_class.tolist(), "confusion": confusion.tolist(), "pred": pred}


@functools.cache
def get(model_name: str, num_classes: int, learning_rate: float, layers: str, microbatch: int = 0) -> Programs:
  """One Programs per setting in this process: seeds and sweep points reuse its compilations."""
  return Programs(model_name, num_classes, learning_rate, layers, mesh(), microbatch)
