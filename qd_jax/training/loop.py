"""Training a cohort of runs of one model: resume, epochs, checkpoints, evaluation, results.

The compiled programs are in programs.py, the two ways rows reach them in epochs.py, and what
stacks runs together in cohort.py. Each run's record is built from its RunResult by
records/run_record.py.
"""

import dataclasses
import time
from typing import Callable

import numpy as np

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.nn import models
from qd_jax.training import checkpoint, cohort, epochs, observers, programs, step

# Chance-level cross-entropy is ln(classes) < 6; a mean above this is runaway, not learning.
DIVERGED_LOSS = 1e4


@dataclasses.dataclass(frozen=True)
class Settings:
  """How every run of a cohort trains."""
  epochs: int
  batch_size: int
  eval_batch_size: int
  learning_rate: float
  input_pipeline: str = "device"  # epochs.PIPELINES
  layers: str = "auto"  # nn.registry.LAYERS: what is asked for; RunResult.layers is what ran
  microbatch: int = 0  # rows per chunk inside the step (0: whole batches); training/autotune.py
  init: str = "flax"  # nn.models.INITS
  eval_rows: int | None = None  # rows per evaluation batch (autotune.Setting.eval_rows); None: the registry's
  unroll: int = step.UNROLL  # microbatch chunks per loop iteration of the step (autotune.Setting.unroll)

  @classmethod
  def from_config(cls, config, input_pipeline: str, setting) -> "Settings":
    """`setting`: the autotune.Setting chosen for this model on this machine."""
    return cls(config.epochs, config.batch_size, config.eval_batch_size, config.learning_rate,
               input_pipeline, setting.layers, setting.microbatch, config.init, setting.eval_rows, setting.unroll)


@dataclasses.dataclass
class RunResult:
  """One trained run: its per-epoch history, its test scores and what it cost."""
  model: str
  seed: int
  param_count: int
  history: list[dict]  # per epoch: train/val loss and accuracy, seconds, samples/s
  test: dict  # accuracy, loss, per_class_accuracy, confusion, pred (programs.Programs.evaluate)
  train_seconds: float  # a stacked run's share of its cohort's time
  compile_seconds: float
  layers: str
  microbatch: int
  eval_rows: int  # rows per evaluation batch that ran
  models_at_once: int
  devices: int
  params: object = None  # the final parameters (for designs that score or keep a run further)
  unroll: int = step.UNROLL  # microbatch chunks per loop iteration of the step


def _check_loss(loss: float, epoch: int, what: str, learning_rate: float):
  if not np.isfinite(loss) or loss > DIVERGED_LOSS:
    raise QdError(f"training diverged: {what} loss is {loss:.4g} at epoch {epoch}",
                  f"lower --config.learning_rate (it is {learning_rate:g})")


def _check_batches(members: list[cohort.Member], settings: Settings, devices: int) -> None:
  if settings.batch_size % devices or settings.eval_batch_size % devices:
    raise QdError(f"batch sizes {settings.batch_size}/{settings.eval_batch_size} do not divide over {devices} devices",
                  f"use multiples of {devices}")
  for m in members:
    n_train = m.split.count("train")
    if n_train // settings.batch_size == 0:
      raise QdError(f"{n_train} training rows make no batch of {settings.batch_size}", "lower --config.batch_size")


def _resume(members, states: list, run_programs: list, log) -> tuple[int, list, list[list[dict]], float]:
  """(first epoch to train, states, histories, train seconds so far) from the members' checkpoints.
  A damaged checkpoint sends the whole cohort to the next older epoch they all hold, or afresh:
  every epoch's data order is a function of (seed, epoch), so the numbers stay those of a run
  never stopped."""
  epochs_held = cohort.resume_candidates(members)
  for i, start in enumerate(epochs_held):
    try:
      restored = [m.checkpoints.restore(s, start) if m.checkpoints else (s, None) for m, s in zip(members, states)]
      break
    except checkpoint.Damaged as e:
      then = epochs_held[i + 1]
      log(f"checkpoint {e}; " + (f"resuming from epoch {then} instead" if then
                                            else "no older one is good, so starting afresh"))
  histories, train_seconds = [[] for _ in members], 0.0
  for j, (m, (state, meta)) in enumerate(zip(members, restored)):
    if meta is None:
      continue
    states[j] = programs.place(state, run_programs[j].repl)
    histories[j], train_seconds = meta["history"][:start], meta["train_seconds"]
    log(f"[{m.tag}] resumed after epoch {start} from {m.checkpoints.directory}")
  return start, states, histories, train_seconds


def _epoch_record(epoch: int, sums: epochs.EpochSums, j: int, val: dict, seconds: float, batch_size: int) -> dict:
  seen = int(sums.steps[j]) * batch_size
  return {"epoch": epoch + 1, "train_loss": float(sums.loss[j]) / int(sums.steps[j]),
          "train_accuracy": int(sums.correct[j]) / seen, "val_loss": val["loss"], "val_accuracy": val["accuracy"],
          "seconds": seconds, "samples_per_s": seen / seconds}


def _save(members, epoch: int, states: list, histories: list, train_seconds: float) -> None:
  # Before the cohort's first save every run names it, so a kill between two runs' first saves
  # still reruns them as this cohort (training/cohort.interrupted), not the saved one alone.
  if any(m.checkpoints and not m.checkpoints.epochs() for m in members):
    for m in members:
      if m.checkpoints:
        m.checkpoints.name_cohort([n.tag for n in members])
  # The seed and the epoch count fix the next epoch's data order, so they are the data state.
  for m, state, history in zip(members, states, histories):
    if m.checkpoints:
      meta = {"history": history, "train_seconds": train_seconds, "seed": m.seed,
              "next_epoch_seed": splits.epoch_seed(m.seed, epoch + 1)}
      m.checkpoints.save(epoch + 1, state, meta)


def train_cohort(model_name: str, members: list[cohort.Member], settings: Settings,
                 log: Callable[[str], None] = print, observer: observers.Observer | None = None) -> list[RunResult]:
  """Trains one run per member, all at once, and returns each one's result.

  With checkpoints, the members resume from the latest epoch they all hold and save at epoch
  boundaries, on one decision for the cohort; after a SIGTERM they save and raise
  checkpoint.Preempted. `observer` watches the epochs (default: observers.Lines(log)).
  """
  observer = observer or observers.Lines(log)
  devices = programs.mesh().size
  _check_batches(members, settings, devices)
  ks = [len(m.split.categories) for m in members]
  get = lambda k: programs.get(model_name, k, settings.learning_rate, settings.layers, settings.microbatch,  # noqa: E731
                               settings.eval_rows, settings.unroll)
  run_programs = [get(k) for k in ks]  # each run's own: its initialisation and evaluation
  # The stacked state's classes: padded so that cohorts of fewer classes share one epoch program
  # (a streamed run trains its state as it is).
  cohort_programs = get(cohort.padded_classes(max(ks)) if settings.input_pipeline == "device" else max(ks))
  compiled = lambda: sum(p.compile_seconds for p in {*run_programs, cohort_programs})  # noqa: E731
  compiled_at_start = compiled()
  states = [p.init_state(m.seed, settings.init) for p, m in zip(run_programs, members)]
  start, states, histories, train_seconds = _resume(members, states, run_programs, log)
  for m, history in zip(members, histories):
    observer.started(m, history)
  vals = [p.eval_set(*m.split.gather("val"), settings.eval_batch_size) for p, m in zip(run_programs, members)]
  runner = epochs.RUNNERS[settings.input_pipeline](members, states, cohort_programs, ks, settings.batch_size)
  policy = next((m.checkpoints for m in members if m.checkpoints), None)
  last_save = time.monotonic()
  for epoch in range(start, settings.epochs):
    t0, compiled_before = time.perf_counter(), compiled()
    sums = runner.run(epoch)
    # A cohort's time is shared: each run is charged its share (same-sized cohorts compare fairly).
    seconds = (time.perf_counter() - t0 - (compiled() - compiled_before)) / len(members)
    train_seconds += seconds
    states = runner.states()
    for j in range(len(members)):
      val = run_programs[j].evaluate(states[j], vals[j])
      histories[j].append(_epoch_record(epoch, sums, j, val, seconds, settings.batch_size))
      _check_loss(histories[j][-1]["train_loss"], epoch + 1, "training", settings.learning_rate)
      _check_loss(val["loss"], epoch + 1, "validation", settings.learning_rate)
    observer.epoch(members, [h[-1] for h in histories], settings.epochs)
    if policy and policy.due(epoch + 1, time.monotonic() - last_save):
      _save(members, epoch, states, histories, train_seconds)
      last_save = time.monotonic()
    if checkpoint.preempted() and policy:
      where = ", ".join(str(m.checkpoints.directory) for m in members if m.checkpoints)
      raise checkpoint.Preempted(f"{', '.join(m.tag for m in members)} saved after epoch {epoch + 1} in {where}")
  return _finish(model_name, members, states, histories, run_programs, train_seconds, compiled() - compiled_at_start,
                 settings, observer)


def _finish(model_name, members, states, histories, run_programs, train_seconds, compile_seconds, settings, observer):
  """Each run scored on its test rows."""
  out = []
  for m, state, history, p in zip(members, states, histories, run_programs):
    test = p.evaluate(state, p.eval_set(*m.split.gather("test"), settings.eval_batch_size))
    observer.tested(m, test, train_seconds, compile_seconds)
    out.append(RunResult(model_name, m.seed, models.param_count(state.params), history, test, train_seconds,
                         compile_seconds, p.layers, p.microbatch, p.eval_batch(settings.eval_batch_size),
                         len(members), programs.mesh().size, state.params, p.unroll))
  return out


def train_run(model_name: str, split, settings: Settings, *, seed: int,
              checkpoints: checkpoint.RunCheckpoints | None = None, log: Callable[[str], None] = print) -> RunResult:
  """Trains one model on `split`: a cohort of one."""
  return train_cohort(model_name, [cohort.Member(split, seed, f"{model_name} seed {seed}", checkpoints)],
                      settings, log)[0]
