"""Training runs: one model per run, trained alone or stacked with others of a sweep (cohort.py),
with validation every epoch, checkpoints, and a divergence guard. The compiled programs are in
steps.py.
"""

import time
from typing import Callable

import jax
import numpy as np

from qd_jax import checkpoint, cohort, models, steps
from qd_jax.data import splits
from qd_jax.errors import QdError


# Chance-level cross-entropy is ln(classes) < 6; a mean above this is runaway, not learning.
DIVERGED_LOSS = 1e4


def _check_loss(loss: float, epoch: int, what: str, learning_rate: float):
  if not np.isfinite(loss) or loss > DIVERGED_LOSS:
    raise QdError(f"training diverged: {what} loss is {loss:.4g} at epoch {epoch}",
                  f"lower --config.learning_rate (it is {learning_rate:g})")


def train_run(model_name: str, split: splits.Split, *, seed: int,
              checkpoints: checkpoint.RunCheckpoints | None = None, **kw) -> dict:
  """Trains one model on `split`: a cohort of one (train_cohort has the keywords)."""
  return train_cohort(model_name, [cohort.Member(split, seed, "", checkpoints)], **kw)[0]


def train_cohort(model_name: str, members: list[cohort.Member], *, epochs: int, batch_size: int,
                 learning_rate: float, eval_batch_size: int, input_pipeline: str,
                 log: Callable[[str], None] = print, impl: str = "xla") -> list[dict]:
  """Trains one model per member, all at once (qd_jax.cohort), and returns each one's metrics
  (the body of its runs.jsonl line).

  With checkpoints, each member resumes from its latest one and saves at epoch boundaries; after
  a SIGTERM they save and raise checkpoint.Preempted.
  """
  mesh = steps.make_mesh()
  if batch_size % mesh.size or eval_batch_size % mesh.size:
    raise QdError(f"batch sizes {batch_size}/{eval_batch_size} do not divide over {mesh.size} devices",
                  f"use multiples of {mesh.size}")
  if input_pipeline != "device" and len(members) > 1:
    raise ValueError("only device-resident data trains several models at once")
  ks = [len(m.split.categories) for m in members]
  microbatch = steps.default_microbatch(model_name, impl, mesh.size)
  progs = {k: steps.Steps(mesh, (model_name, k, learning_rate, impl), microbatch) for k in sorted(set(ks))}
  big = progs[max(ks)]
  compiled_for = lambda: sum(p.compile_seconds for p in progs.values())  # noqa: E731
  states = []
  for m, k in zip(members, ks):
    model, apply, tx = steps.model_and_optimizer(model_name, k, learning_rate, impl)
    states.append(steps.place(steps.create_state(model, apply, tx, m.seed), progs[k].repl))
  for m in members:
    n_train = m.split.count("train")
    if n_train // batch_size == 0:
      raise QdError(f"{n_train} training rows make no batch of {batch_size}", "lower --config.batch_size")
  vals = [steps.eval_set(progs[k], *splits.gather(m.split, "val"), eval_batch_size) for m, k in zip(members, ks)]
  if input_pipeline == "device":
    trains = [splits.gather(m.split, "train") for m in members]
    x_train, y_train = steps.place((cohort.stack_rows([t[0] for t in trains]),
                                    cohort.stack_rows([t[1] for t in trains])), big.repl)
    mask = cohort.class_mask(ks)
    mask = None if mask is None else steps.place(mask, big.repl)
  else:
    from qd_jax.data import pipeline  # imports TF, which the device path never needs

  histories, train_seconds = [[] for _ in members], 0.0
  tags = [f"[{m.tag or f'{model_name} seed {m.seed}'}]" for m in members]
  start = cohort.resume_epoch(members)
  for j, m in enumerate(members):
    if m.checkpoints:
      state, meta = m.checkpoints.restore(states[j], start)
      if meta is None:
        continue
      states[j] = steps.place(state, progs[ks[j]].repl)
      histories[j], train_seconds = meta["history"][:start], meta["train_seconds"]
      log(f"{tags[j]} resumed after epoch {start} from {m.checkpoints.directory}")
  # Stacked once; the epoch program hands the stacked state on. Each epoch splits a copy off for
  # validation and checkpoints, outside the timed part.
  stacked = cohort.stack(states) if input_pipeline == "device" else None
  # Epoch 1's clock must not also time the rows' copy to the device or the stacking.
  jax.block_until_ready((stacked, x_train, y_train) if stacked is not None else states)
  last_save = time.monotonic()
  for epoch in range(start, epochs):
    t0 = time.perf_counter()
    compile_before = compiled_for()
    if input_pipeline == "device":
      idx, active = cohort.epoch_tables(members, epoch, batch_size)
      stacked, out = big.epoch(stacked, x_train, y_train, steps.place(idx, big.steps_split), mask,
                               None if active is None else steps.place(active, big.repl))
      live = np.ones(idx.shape[:2], bool) if active is None else active
      loss_sums = np.sum(np.asarray(out["loss"]) * live, 0)
      corrects = np.sum(np.asarray(out["correct"]) * live, 0)
      counts = live.sum(0)
    else:
      loss_sum, correct, count = 0.0, 0, 0
      for xb, yb in pipeline.train_batches(members[0].split, batch_size=batch_size, seed=members[0].seed,
                                           epoch=epoch, process_index=jax.process_index(),
                                           process_count=jax.process_count()):
        xb, yb = (jax.make_array_from_process_local_data(big.rows, a) for a in (xb, yb))
        states[0], out = big.step(states[0], xb, yb)
        loss_sum, correct, count = loss_sum + out["loss"], correct + out["correct"], count + 1
      loss_sums, corrects, counts = [float(loss_sum)], [int(correct)], [count]
    # A cohort's time is shared: each run is charged its share (same-sized cohorts compare fairly).
    seconds = (time.perf_counter() - t0 - (compiled_for() - compile_before)) / len(members)
    train_seconds += seconds
    if stacked is not None:
      states = cohort.unstack(stacked, states)
    for j, m in enumerate(members):
      train_loss = float(loss_sums[j]) / int(counts[j])
      _check_loss(train_loss, epoch + 1, "training", learning_rate)
      val = steps.evaluate(progs[ks[j]], states[j], vals[j], ks[j])
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
    # One decision for the whole cohort, so its runs always hold checkpoints of the same epochs.
    policy = next((m.checkpoints for m in members if m.checkpoints), None)
    if policy and policy.due(epoch + 1, time.monotonic() - last_save):
      for j, m in enumerate(members):
        if not m.checkpoints:
          continue
        # The seed and the epoch count fix the next epoch's data order, so they are the data state.
        meta = {"history": histories[j], "train_seconds": train_seconds, "seed": m.seed,
                "next_epoch_seed": splits.epoch_seed(m.seed, epoch + 1)}
        m.checkpoints.save(epoch + 1, states[j], meta)
      last_save = time.monotonic()
    if checkpoint.preempted() and any(m.checkpoints for m in members):
      where = ", ".join(str(m.checkpoints.directory) for m in members if m.checkpoints)
      raise checkpoint.Preempted(f"{', '.join(tags)} saved after epoch {epoch + 1} in {where}")

  compile_seconds = compiled_for()
  results = []
  for j, m in enumerate(members):
    test_set = steps.eval_set(progs[ks[j]], *splits.gather(m.split, "test"), eval_batch_size)
    test = steps.evaluate(progs[ks[j]], states[j], test_set, ks[j])
    log(f"{tags[j]} test accuracy {test['accuracy']:.4f} loss {test['loss']:.4f} on {len(test_set.y):,} drawings"
        f" (train {train_seconds:.1f}s, compile {compile_seconds:.1f}s)")
    results.append({
        "model": model_name, "param_count": models.param_count(states[j].params), "seed": m.seed,
        "epochs": histories[j], "test_accuracy": test["accuracy"], "test_loss": test["loss"],
        "per_class_accuracy": dict(zip(m.split.names, test["per_class_accuracy"])),
        "confusion_matrix": test["confusion"], "test_examples": len(test_set.y),
        "train_seconds": train_seconds, "compile_seconds": compile_seconds,
        "input_pipeline": input_pipeline, "batch_size": batch_size, "learning_rate": learning_rate,
        "devices": mesh.size, "layers": impl, "models_at_once": len(members),
        "test_predictions": _by_category(m.split, test["pred"])})
  return results


def _by_category(split: splits.Split, pred: np.ndarray) -> dict:
  """Predicted labels keyed by (category, file row), in splits.gather's order."""
  labels, rows = splits.index(split, "test")
  at = {c.category: labels == c.label for c in split.categories}
  return {"rows": {c: rows[m].tolist() for c, m in at.items()}, "pred": {c: pred[m].tolist() for c, m in at.items()}}
