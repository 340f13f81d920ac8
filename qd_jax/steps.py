"""The compiled programs of training: the Adam step, a whole epoch of M stacked runs, evaluation.

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

from qd_jax import layers, losses, models


def make_mesh() -> jax.sharding.Mesh:
  # Auto axes: jit places and all-reduces by the shardings it is given (GSPMD), as pmap did.
  return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


def layers_impl(requested: str) -> str:
  """"auto": the hand-laid CPU formulations of qd_jax.layers on CPUs, XLA's own layers elsewhere."""
  if requested != "auto":
    return requested
  return "fast" if jax.default_backend() == "cpu" else "xla"


@functools.cache
def model_and_optimizer(model_name: str, num_classes: int, learning_rate: float, impl: str = "xla"):
  """One (model, apply, Adam) per setting, so runs that share it share compiled steps (same treedef).

  `apply` computes `model.apply` with the layer formulation `impl` on the same parameters.
  """
  model = models.create(model_name, num_classes)
  apply = model.apply if impl == "xla" else layers.apply_fn(model_name)
  return model, apply, optax.adam(learning_rate)


def create_state(model, apply, tx, seed: int) -> train_state.TrainState:
  params = models.init_params(model, jax.random.key(seed))
  return train_state.TrainState.create(apply_fn=apply, params=params, tx=tx)


def place(tree, sharding: NamedSharding):
  """Host values that every process holds alike, as global arrays (one process or many)."""
  def one(a):
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])
  return jax.tree_util.tree_map(one, tree)


def default_microbatch(model_name: str, impl: str, devices: int) -> int:
  """Chunk rows for microbatch_value_and_grad on the fast path on one XLA:CPU device, measured
  best there at batches 128 and 1024: 64 for CNN1, 128 for CNN2; 0 (whole batches) for FC, for
  XLA's layers, on accelerators, where chunks would only serialise work the chip runs in
  parallel, and over several devices, where chunking a split batch would reshard it."""
  if impl != "fast" or jax.default_backend() != "cpu" or devices > 1:
    return 0
  return {"cnn1": 64, "cnn2": 128}.get(model_name, 0)


def microbatch_value_and_grad(loss_fn, chunk: int):
  """value_and_grad(loss_fn, has_aux=True) that walks the batch in chunks of `chunk` rows.

  loss_fn(params, x, y) -> (mean loss, logits). With equal chunks, the mean of the chunk means
  is the batch mean, so the result equals the whole-batch one. Chunks keep the intermediates
  small: on XLA:CPU, CNN batches of 1024 train faster in chunks (default_microbatch). Each scan
  step runs two chunks, whose graphs are independent: XLA:CPU then overlaps one chunk's
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


def _pixels(x: jax.Array) -> jax.Array:
  return x.astype(jnp.float32) / 255.0  # uint8 travels, float32 computes


def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array, class_mask=None,
               microbatch: int = 0):
  """One Adam step. `microbatch` > 0 walks the batch in chunks of that many rows: the same
  gradient, but the fast CPU layers run CNN batches of 1024 about 2x faster in chunks
  (default_microbatch).
  `class_mask` (K,) drops padded classes from the softmax (cohorts whose runs differ in k)."""
  def loss_fn(params, x, y):
    logits = state.apply_fn({"params": params}, _pixels(x))
    if class_mask is not None:
      logits = jnp.where(class_mask, logits, -1e9)  # exp underflows to 0: the k-class softmax
    return losses.mean_cross_entropy(logits, y), logits

  chunk = microbatch if microbatch and x.shape[0] % microbatch == 0 else 0
  (loss, logits), grads = microbatch_value_and_grad(loss_fn, chunk)(state.params, x, y)
  correct = jnp.sum(jnp.argmax(logits, -1) == y)
  return state.apply_gradients(grads=grads), {"loss": loss, "correct": correct}


def cohort_step(state, x, y, class_mask, active, microbatch: int = 0):
  """train_step for M stacked runs (leading axis M on everything); inactive runs keep their state."""
  step = functools.partial(train_step, microbatch=microbatch)
  if x.shape[0] == 1 and class_mask is None:  # one run: no vmap, the solo program exactly
    new, m = step(jax.tree_util.tree_map(lambda a: a[0], state), x[0], y[0])
    new, m = jax.tree_util.tree_map(lambda a: a[None], (new, m))
  else:
    new, m = jax.vmap(step)(state, x, y, class_mask)
  if active is not None:
    keep = lambda n, o: jnp.where(active.reshape(-1, *[1] * (n.ndim - 1)), n, o)  # noqa: E731
    new = jax.tree_util.tree_map(keep, new, state)
  return new, m


def predict(state: train_state.TrainState, xb: jax.Array, yb: jax.Array):
  """Predicted class and per-example cross-entropy for batches (nb, B, 784)."""
  def one(batch):
    logits = state.apply_fn({"params": state.params}, _pixels(batch[0]))
    return jnp.argmax(logits, -1), losses.cross_entropy(logits, batch[1])
  return jax.lax.map(one, (xb, yb))


_EXECUTABLES = {}  # seeds and sweep points of one setting reuse each other's compilations


class Steps:
  """The compiled functions of one run, placed on `mesh`; compile time is kept apart."""

  def __init__(self, mesh: jax.sharding.Mesh, setting: tuple, microbatch: int = 0):
    self.microbatch = microbatch
    self.train_step = functools.partial(train_step, microbatch=microbatch)
    self.repl = NamedSharding(mesh, P())
    self.rows = NamedSharding(mesh, P("data"))  # (B, ...) split along B
    self.cols = NamedSharding(mesh, P(None, "data"))  # (steps, B, ...) split along B
    self.steps_split = NamedSharding(mesh, P(None, None, "data"))  # (steps, M, B) split along B
    self.compile_seconds = 0.0
    self._setting = (setting, microbatch, tuple(d.id for d in mesh.devices.flat))

  def _compiled(self, key, fn: Callable, *args, **jit_kwargs):
    key = (self._setting, key)
    if key not in _EXECUTABLES:
      t0 = time.perf_counter()
      _EXECUTABLES[key] = jax.jit(fn, **jit_kwargs).lower(*args).compile()
      self.compile_seconds += time.perf_counter() - t0
    return _EXECUTABLES[key]

  def step(self, state, x, y):
    f = self._compiled(("step", x.shape), self.train_step, state, x, y, donate_argnums=0,
                       in_shardings=(self.repl, self.rows, self.rows), out_shardings=self.repl)
    return f(state, x, y)

  def epoch(self, state, x_all, y_all, idx, class_mask=None, active=None):
    """A whole epoch of M stacked runs as one program: a scan of cohort_step over
    device-resident rows x_all (M, N, 784), with indices idx (S, M, B) and active (S, M)."""
    step, microbatch, split_b = cohort_step, self.microbatch, self.cols

    def run(state, x_all, y_all, idx, class_mask, active):
      def body(state, inputs):
        i, act = inputs
        take = jax.vmap(lambda a, j: a[j])
        x = jax.lax.with_sharding_constraint(take(x_all, i), split_b)  # (M, B, 784)
        y = jax.lax.with_sharding_constraint(take(y_all, i), split_b)
        return step(state, x, y, class_mask, act, microbatch)
      return jax.lax.scan(body, state, (idx, active))

    shapes = tuple(None if a is None else a.shape for a in (x_all, idx, class_mask, active))
    f = self._compiled(("epoch", shapes), run, state, x_all, y_all, idx, class_mask, active,
                       donate_argnums=0, out_shardings=self.repl,
                       in_shardings=(self.repl, self.repl, self.repl, self.steps_split,
                                     self.repl, self.repl))
    return f(state, x_all, y_all, idx, class_mask, active)

  def evaluate(self, state, xb, yb):
    f = self._compiled(("eval", xb.shape), predict, state, xb, yb,
                       in_shardings=(self.repl, self.cols, self.cols), out_shardings=self.repl)
    return f(state, xb, yb)


@dataclasses.dataclass
class EvalSet:
  """Rows to score, padded to whole batches and placed on the devices once for every epoch."""
  xb: jax.Array  # (nb, batch, 784)
  yb: jax.Array  # (nb, batch)
  y: np.ndarray  # the true labels, unpadded


def eval_set(steps: Steps, x: np.ndarray, y: np.ndarray, batch_size: int) -> EvalSet:
  nb = -(-len(y) // batch_size)
  pad = nb * batch_size - len(y)
  xb = np.concatenate([x, np.zeros((pad, x.shape[1]), x.dtype)]).reshape(nb, batch_size, -1)
  yb = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(nb, batch_size)
  return EvalSet(*place((xb, yb), steps.cols), y)


def evaluate(steps: Steps, state, data: EvalSet, num_classes: int) -> dict:
  """Accuracy, mean loss, per-class accuracy and confusion matrix over every row (padding dropped)."""
  y, n = data.y, len(data.y)
  pred, ce = (np.asarray(a).reshape(-1)[:n] for a in steps.evaluate(state, data.xb, data.yb))
  confusion = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(confusion, (y, pred), 1)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
  return {"accuracy": float(np.mean(pred == y)), "loss": float(np.mean(ce)),
          "per_class_accuracy": per_class.tolist(), "confusion": confusion.tolist(), "pred": pred}
