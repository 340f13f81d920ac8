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

from qd_jax import checkpoint, cohort, layers, losses, models
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


def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array, class_mask=None,
               microbatch: int = 0):
  """One Adam step. `microbatch` > 0 walks the batch in chunks of that many rows: the same
  gradient, but the fast CPU layers run CNN batches of 1024 about 2x faster in chunks of 128.
  `class_mask` (K,) drops padded classes from the softmax (cohorts whose runs differ in k)."""
  def loss_fn(params, x, y):
    logits = state.apply_fn({"params": params}, _pixels(x))
    if class_mask is not None:
      logits = jnp.where(class_mask, logits, -1e9)  # exp underflows to 0: the k-class softmax
    return losses.mean_cross_entropy(logits, y), logits

  chunk = microbatch if microbatch and x.shape[0] % microbatch == 0 else 0
  (loss, logits), grads = layers.microbatch_value_and_grad(loss_fn, chunk)(state.params, x, y)
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


def train_run(model_name: str, split: splits.Split, *, seed: int, tag: str = "",
              checkpoints: checkpoint.RunCheckpoints | None = None, **kw) -> dict:
  """Trains one model on `split`: a cohort of one (train_cohort has the keywords)."""
  return train_cohort(model_name, [cohort.Member(split, seed, tag, checkpoints)], **kw)[0]


def train_cohort(model_name: str, members: list[cohort.Member], *, epochs: int, batch_size: int,
                 learning_rate: float, eval_batch_size: int, input_pipeline: str,
                 log: Callable[[str], None] = print, impl: str = "xla") -> list[dict]:
  """Trains one model per member, all at once (qd_jax.cohort), and returns each one's metrics
  (the body of its runs.jsonl line).

  With checkpoints, each member resumes from its latest one and saves at epoch boundaries; after
  a SIGTERM they save and raise checkpoint.Preempted.
  """
  mesh = make_mesh()
  if batch_size % mesh.size or eval_batch_size % mesh.size:
    raise QdError(f"batch sizes {batch_size}/{eval_batch_size} do not divide over {mesh.size} devices",
                  f"use multiples of {mesh.size}")
  if input_pipeline != "device" and len(members) > 1:
    raise ValueError("only device-resident data trains several models at once")
  ks = [len(m.split.categories) for m in members]
  # Microbatches only on one device: chunking a batch that is split over devices would reshard it.
  microbatch = layers.default_microbatch(model_name, impl) if mesh.size == 1 else 0
  steps = {k: Steps(mesh, (model_name, k, learning_rate, impl), microbatch) for k in sorted(set(ks))}
  big = steps[max(ks)]
  states = []
  for m, k in zip(members, ks):
    model, apply, tx = model_and_optimizer(model_name, k, learning_rate, impl)
    states.append(place(create_state(model, apply, tx, m.seed), steps[k].repl))
  for m in members:
    n_train = m.split.count("train")
    if n_train // batch_size == 0:
      raise QdError(f"{n_train} training rows make no batch of {batch_size}", "lower --config.batch_size")
  vals = [splits.gather(m.split, "val") for m in members]
  if input_pipeline == "device":
    trains = [splits.gather(m.split, "train") for m in members]
    x_train, y_train = place((cohort.stack_rows([t[0] for t in trains]),
                              cohort.stack_rows([t[1] for t in trains])), big.repl)
    mask = cohort.class_mask(ks)
    mask = None if mask is None else place(mask, big.repl)
  else:
    from qd_jax.data import pipeline  # imports TF, which the device path never needs

  histories, train_seconds = [[] for _ in members], 0.0
  tags = [f"[{m.tag or f'{model_name} seed {m.seed}'}]" for m in members]
  start = cohort.resume_epoch(members)
  for j, m in enumerate(members):
    if m.checkpoints and start:
      state, meta = m.checkpoints.restore(states[j], start)
      states[j] = place(state, steps[ks[j]].repl)
      histories[j], train_seconds = meta["history"][:start], meta["train_seconds"]
      log(f"{tags[j]} resumed after epoch {start} from {m.checkpoints.directory}")
  for epoch in range(start, epochs):
    t0 = time.perf_counter()
    compile_before = sum(st.compile_seconds for st in steps.values())
    if input_pipeline == "device":
      idx, active = cohort.epoch_tables(members, epoch, batch_size)
      stacked = cohort.stack(states)
      stacked, out = big.epoch(stacked, x_train, y_train, place(idx, big.steps_split), mask,
                               None if active is None else place(active, big.repl))
      states = cohort.unstack(stacked, states)
      live = np.ones(idx.shape[:2], bool) if active is None else active
      loss_sums = np.sum(np.asarray(out["loss"]) * live, 0)
      corrects = np.sum(np.asarray(out["correct"]) * live, 0)
      counts = live.sum(0)
    else:
      loss_sum, correct, count = 0.0, 0, 0
      for xb, yb in pipeline.train_batches(members[0].split, batch_size=batch_size, seed=members[0].seed,
                                           epoch=epoch,
                                           process_index=jax.process_index(),
                                           process_count=jax.process_count()):
        xb, yb = (jax.make_array_from_process_local_data(big.rows, a) for a in (xb, yb))
        states[0], out = big.step(states[0], xb, yb)
        loss_sum, correct, count = loss_sum + out["loss"], correct + out["correct"], count + 1
      loss_sums, corrects, counts = [float(loss_sum)], [int(correct)], [count]
    # A cohort's time is shared: each run is charged its share (same-sized cohorts compare fairly).
    seconds = (time.perf_counter() - t0 - (sum(st.compile_seconds for st in steps.values())
                                           - compile_before)) / len(members)
    train_seconds += seconds
    for j, m in enumerate(members):
      train_loss = float(loss_sums[j]) / int(counts[j])
      _check_loss(train_loss, epoch + 1, "training", learning_rate)
      val = evaluate(steps[ks[j]], states[j], *vals[j], eval_batch_size, ks[j])
      _check_loss(val["loss"], epoch + 1, "validation", learning_rate)
      seen = int(counts[j]) * batch_size
      histories[j].append({"epoch": epoch + 1, "train_loss": train_loss,
                           "train_accuracy": int(corrects[j]) / seen,
                           "val_loss": val["loss"], "val_accuracy": val["accuracy"],
                           "seconds": seconds, "samples_per_s": seen / seconds})
      h = histories[j][-1]
      log(f"{tags[j]} epoch {epoch + 1}/{epochs}  train loss {h['train_loss']:.4f} acc {h['train_accuracy']:.4f}"
          f" | val loss {h['val_loss']:.4f} acc {h['val_accuracy']:.4f} | {h['samples_per_s']:,.0f} samples/s"
          + (f" ({len(members)} models at once)" if len(members) > 1 else ""))
    for j, m in enumerate(members):
      if m.checkpoints:
        # The seed and the epoch count fix the next epoch's data order, so they are the data state.
        meta = {"history": histories[j], "train_seconds": train_seconds, "seed": m.seed,
                "next_epoch_seed": splits.epoch_seed(m.seed, epoch + 1)}
        m.checkpoints.save(epoch + 1, states[j], meta, force=checkpoint.preempted())
    if checkpoint.preempted() and any(m.checkpoints for m in members):
      where = ", ".join(str(m.checkpoints.directory) for m in members if m.checkpoints)
      raise checkpoint.Preempted(f"{', '.join(tags)} saved after epoch {epoch + 1} in {where}")

  compile_seconds = sum(st.compile_seconds for st in steps.values())
  results = []
  for j, m in enumerate(members):
    x_test, y_test = splits.gather(m.split, "test")
    test = evaluate(steps[ks[j]], states[j], x_test, y_test, eval_batch_size, ks[j])
    log(f"{tags[j]} test accuracy {test['accuracy']:.4f} loss {test['loss']:.4f} on {len(y_test):,} drawings"
        f" (train {train_seconds:.1f}s, compile {compile_seconds:.1f}s)")
    results.append({
        "model": model_name, "param_count": models.param_count(states[j].params), "seed": m.seed,
        "epochs": histories[j], "test_accuracy": test["accuracy"], "test_loss": test["loss"],
        "per_class_accuracy": dict(zip(m.split.names, test["per_class_accuracy"])),
        "confusion_matrix": test["confusion"], "test_examples": len(y_test),
        "train_seconds": train_seconds, "compile_seconds": compile_seconds,
        "input_pipeline": input_pipeline, "batch_size": batch_size, "learning_rate": learning_rate,
        "devices": mesh.size, "layers": impl, "models_at_once": len(members),
        "test_predictions": _by_category(m.split, test["pred"])})
  return results


def _by_category(split: splits.Split, pred: np.ndarray) -> dict:
  """Predicted labels keyed by (category, file row), in splits.gather's order."""
  rows, out, at = {}, {}, 0
  for c in split.categories:
    rows[c.category] = np.sort(c.test).tolist()
    out[c.category] = pred[at:at + len(c.test)].tolist()
    at += len(c.test)
  return {"rows": rows, "pred": out}
