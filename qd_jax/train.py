"""One training run: one model, one seed, one split; optax Adam in jit-compiled, donated steps.

Data parallelism is `jax.jit` over a 1-D device mesh with `NamedSharding`: parameters are
replicated, every batch is split along its first axis, and XLA inserts the gradient all-reduce
(what `pmap` used to spell out by hand).
"""

import functools
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import NamedSharding, PartitionSpec as P

from qd_jax import checkpoint, layers, losses, models
from qd_jax.data import splits
from qd_jax.errors import QdError


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
  apply = model.apply if impl == "xla" else layers.apply_fn(model_name, impl)
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


def _pixels(x: jax.Array) -> jax.Array:
  return x.astype(jnp.float32) / 255.0  # uint8 travels, float32 computes


def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array, microbatch: int = 0):
  """One Adam step. `microbatch` > 0 walks the batch in chunks of that many rows: the same
  gradient, but the fast CPU layers run CNN batches of 1024 about 2x faster in chunks of 128."""
  def loss_fn(params, x, y):
    logits = state.apply_fn({"params": params}, _pixels(x))
    return losses.mean_cross_entropy(logits, y), logits

  chunk = microbatch if microbatch and x.shape[0] % microbatch == 0 else 0
  (loss, logits), grads = layers.microbatch_value_and_grad(loss_fn, chunk)(state.params, x, y)
  correct = jnp.sum(jnp.argmax(logits, -1) == y)
  return state.apply_gradients(grads=grads), {"loss": loss, "correct": correct}


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
    self.train_step = functools.partial(train_step, microbatch=microbatch)
    self.repl = NamedSharding(mesh, P())
    self.rows = NamedSharding(mesh, P("data"))  # (B, ...) split along B
    self.cols = NamedSharding(mesh, P(None, "data"))  # (steps, B, ...) split along B
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

  def epoch(self, state, x_all, y_all, idx):
    """A whole epoch as one program: a scan of train_step over device-resident rows."""
    rows, step = self.rows, self.train_step

    def run(state, x_all, y_all, idx):
      def body(state, batch_idx):
        x = jax.lax.with_sharding_constraint(x_all[batch_idx], rows)
        y = jax.lax.with_sharding_constraint(y_all[batch_idx], rows)
        return step(state, x, y)
      return jax.lax.scan(body, state, idx)

    f = self._compiled(("epoch", x_all.shape, idx.shape), run, state, x_all, y_all, idx,
                       donate_argnums=0, out_shardings=self.repl,
                       in_shardings=(self.repl, self.repl, self.repl, self.cols))
    return f(state, x_all, y_all, idx)

  def evaluate(self, state, xb, yb):
    f = self._compiled(("eval", xb.shape), predict, state, xb, yb,
                       in_shardings=(self.repl, self.cols, self.cols), out_shardings=self.repl)
    return f(state, xb, yb)


def evaluate(steps: Steps, state, x: np.ndarray, y: np.ndarray, batch_size: int, num_classes: int) -> dict:
  """Accuracy, mean loss, per-class accuracy and confusion matrix over every row (padded, masked)."""
  n = len(y)
  nb = -(-n // batch_size)
  pad = nb * batch_size - n
  xb = np.concatenate([x, np.zeros((pad, x.shape[1]), x.dtype)]).reshape(nb, batch_size, -1)
  yb = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(nb, batch_size)
  xb, yb = place((xb, yb), steps.cols)
  pred, ce = (np.asarray(a).reshape(-1)[:n] for a in steps.evaluate(state, xb, yb))
  confusion = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(confusion, (y, pred), 1)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
  return {"accuracy": float(np.mean(pred == y)), "loss": float(np.mean(ce)),
          "per_class_accuracy": per_class.tolist(), "confusion": confusion.tolist(), "pred": pred}


# Chance-level cross-entropy is ln(classes) < 6; a mean above this is runaway, not learning.
DIVERGED_LOSS = 1e4


def _check_loss(loss: float, epoch: int, what: str, learning_rate: float):
  if not np.isfinite(loss) or loss > DIVERGED_LOSS:
    raise QdError(f"training diverged: {what} loss is {loss:.4g} at epoch {epoch}",
                  f"lower --config.learning_rate (it is {learning_rate:g})")


def train_run(model_name: str, split: splits.Split, *, seed: int, epochs: int, batch_size: int,
              learning_rate: float, eval_batch_size: int, input_pipeline: str,
              shuffle_buffer: int, log: Callable[[str], None] = print, tag: str = "",
              checkpoints: checkpoint.RunCheckpoints | None = None, impl: str = "xla") -> dict:
  """Trains one model on `split` and returns its metrics (the body of one runs.jsonl line).

  With `checkpoints`, it resumes from the latest one and saves at epoch boundaries; after a
  SIGTERM it saves and raises checkpoint.Preempted.
  """
  mesh = make_mesh()
  if batch_size % mesh.size or eval_batch_size % mesh.size:
    raise QdError(f"batch sizes {batch_size}/{eval_batch_size} do not divide over {mesh.size} devices",
                  f"use multiples of {mesh.size}")
  k = len(split.categories)
  model, apply, tx = model_and_optimizer(model_name, k, learning_rate, impl)
  # Microbatches only on one device: chunking a batch that is split over devices would reshard it.
  microbatch = layers.default_microbatch(model_name, impl) if mesh.size == 1 else 0
  steps = Steps(mesh, (model_name, k, learning_rate, impl), microbatch)
  state = place(create_state(model, apply, tx, seed), steps.repl)
  x_val, y_val = splits.gather(split, "val")
  n_train = split.count("train")
  num_steps = n_train // batch_size
  if num_steps == 0:
    raise QdError(f"{n_train} training rows make no batch of {batch_size}", "lower --config.batch_size")
  if input_pipeline == "device":
    x_train, y_train = place(splits.gather(split, "train"), steps.repl)
  else:
    from qd_jax.data import pipeline  # imports TF, which the device path never needs

  history, train_seconds = [], 0.0
  tag = f"[{tag or f'{model_name} seed {seed}'}]"
  if checkpoints:
    state, meta = checkpoints.restore(state)
    state = place(state, steps.repl)
    if meta:
      history, train_seconds = meta["history"], meta["train_seconds"]
      log(f"{tag} resumed after epoch {len(history)} from {checkpoints.directory}")
  for epoch in range(len(history), epochs):
    t0 = time.perf_counter()
    compile_before = steps.compile_seconds
    if input_pipeline == "device":
      rng = np.random.default_rng(splits.epoch_seed(seed, epoch))
      idx = rng.permutation(n_train)[:num_steps * batch_size].reshape(num_steps, batch_size)
      state, m = steps.epoch(state, x_train, y_train, place(idx.astype(np.int32), steps.cols))
      loss_sum, correct = float(jnp.sum(m["loss"])), int(jnp.sum(m["correct"]))
    else:
      loss_sum, correct, count = 0.0, 0, 0
      for xb, yb in pipeline.train_batches(split, batch_size=batch_size, seed=seed, epoch=epoch,
                                           shuffle_buffer=shuffle_buffer,
                                           process_index=jax.process_index(),
                                           process_count=jax.process_count()):
        xb, yb = (jax.make_array_from_process_local_data(steps.rows, a) for a in (xb, yb))
        state, m = steps.step(state, xb, yb)
        loss_sum, correct, count = loss_sum + m["loss"], correct + m["correct"], count + 1
      loss_sum, correct = float(loss_sum), int(correct)
      num_steps = count
    seconds = time.perf_counter() - t0 - (steps.compile_seconds - compile_before)
    train_seconds += seconds
    train_loss = loss_sum / num_steps
    _check_loss(train_loss, epoch + 1, "training", learning_rate)
    val = evaluate(steps, state, x_val, y_val, eval_batch_size, k)
    _check_loss(val["loss"], epoch + 1, "validation", learning_rate)
    samples_per_s = num_steps * batch_size / seconds
    history.append({"epoch": epoch + 1, "train_loss": train_loss,
                    "train_accuracy": correct / (num_steps * batch_size),
                    "val_loss": val["loss"], "val_accuracy": val["accuracy"],
                    "seconds": seconds, "samples_per_s": samples_per_s})
    h = history[-1]
    log(f"{tag} epoch {epoch + 1}/{epochs}  train loss {h['train_loss']:.4f} acc {h['train_accuracy']:.4f}"
        f" | val loss {h['val_loss']:.4f} acc {h['val_accuracy']:.4f} | {samples_per_s:,.0f} samples/s")
    if checkpoints:
      # The seed and the epoch count fix the next epoch's data order, so they are the data state.
      meta = {"history": history, "train_seconds": train_seconds, "seed": seed,
              "next_epoch_seed": splits.epoch_seed(seed, epoch + 1)}
      checkpoints.save(epoch + 1, state, meta, force=checkpoint.preempted())
      if checkpoint.preempted():
        raise checkpoint.Preempted(f"{tag} saved after epoch {epoch + 1} in {checkpoints.directory}")

  x_test, y_test = splits.gather(split, "test")
  test = evaluate(steps, state, x_test, y_test, eval_batch_size, k)
  log(f"{tag} test accuracy {test['accuracy']:.4f} loss {test['loss']:.4f} on {len(y_test):,} drawings"
      f" (train {train_seconds:.1f}s, compile {steps.compile_seconds:.1f}s)")
  return {"model": model_name, "param_count": models.param_count(state.params), "seed": seed,
          "epochs": history, "test_accuracy": test["accuracy"], "test_loss": test["loss"],
          "per_class_accuracy": dict(zip(split.names, test["per_class_accuracy"])),
          "confusion_matrix": test["confusion"], "test_examples": len(y_test),
          "train_seconds": train_seconds, "compile_seconds": steps.compile_seconds,
          "input_pipeline": input_pipeline, "batch_size": batch_size, "learning_rate": learning_rate,
          "devices": mesh.size, "layers": impl, "test_predictions": _by_category(split, test["pred"])}


def _by_category(split: splits.Split, pred: np.ndarray) -> dict:
  """Predicted labels keyed by (category, file row), in splits.gather's order."""
  rows, out, at = {}, {}, 0
  for c in split.categories:
    rows[c.category] = np.sort(c.test).tolist()
    out[c.category] = pred[at:at + len(c.test)].tolist()
    at += len(c.test)
  return {"rows": rows, "pred": out}
