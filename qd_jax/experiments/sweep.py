"""A hypothesis as a sweep of training runs: its design laid out on the data, then every model
trained for every seed and point, cohort by cohort, into the workdir.

`train_and_evaluate(config, workdir)` is the testable entry point behind `python -m qd_jax.launch`.
"""

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import time
from typing import Callable

import ml_collections

from qd_jax.data import resolve, splits
from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError
from qd_jax.experiments import designs, progress
from qd_jax.experiments.configs import base
from qd_jax.nn import registry
from qd_jax.records import jsonl, lock, run_record, tensorboard, workdir as wd
from qd_jax.training import autotune, checkpoint, cohort, epochs, loop, observers, programs

Log = Callable[[str], None]
# summary.md is rebuilt from runs.jsonl after a cohort at most this often (and always at the end):
# a sweep of small runs finishes several cohorts a second, and the rebuild cost more than some.
SUMMARY_EVERY_S = 10.0


@dataclasses.dataclass(frozen=True)
class Layout:
  """A config's design laid out on its data: what the sweep will train."""
  config: ml_collections.ConfigDict
  files: dict[str, CategoryFile]
  points: list[designs.Point]
  input_pipeline: str


def layout(config, log: Log) -> Layout:
  """Everything that can refuse the input, before any file is written. benchmarks/estimate.py
  lays out the designs with it too."""
  base.validate(config)
  design = designs.get(config.design)
  names = design.categories(config, resolve.category_names(config.categories))
  if design.files:
    files = design.files(config, names, log)
  else:
    folder = resolve.data_dir(config.data_dir)
    files = resolve.category_files(names, folder, design.rows_needed(config), bucket_url=config.bucket_url,
                                   download_missing=config.download)
    log(f"data: {len(files)} categories from {folder}: {', '.join(names)}")
  pts = design.points(config, files, log)
  biggest = max(sum(s.train for s in p.sizes.values()) for p in pts)
  return Layout(config, files, pts, epochs.choose(config.input_pipeline, biggest, config.device_data_max_mb))


def _write_workdir(workdir: pathlib.Path, layouts: list[Layout], log: Log) -> None:
  config_json = json.dumps({lay.config.hypothesis: json.loads(lay.config.to_json_best_effort()) for lay in layouts},
                           sort_keys=True, indent=2)
  used = {n: f for lay in layouts for n, f in lay.files.items()}
  data = [f.describe() for f in used.values()]
  wd.prepare(workdir, config_json)
  wd.check_data(workdir, data)  # before anything new is trained or appended
  for line in wd.set_aside_damaged(workdir):
    log(line)
  wd.write_atomic(workdir / "environment.json", json.dumps(wd.environment(data), indent=2))


def _take(workdir: pathlib.Path, layouts: list[Layout], held: contextlib.ExitStack, log: Log) -> None:
  """Process 0 locks the workdir (for as long as `held` lasts) before it writes anything, then
  writes it; every process stops if it could not."""
  failure = None
  if wd.is_writer():
    try:
      held.enter_context(lock.hold(workdir))
      _write_workdir(workdir, layouts, log)
    except QdError as e:
      failure = e
  lock.agree(failure)


def _planned(layouts: list[Layout], done: set) -> list[progress.Planned]:
  """The runs this launch will train (those not in runs.jsonl, each once however many hypotheses
  share it), with their work for the ETA."""
  out, seen = [], set(done)
  for lay in layouts:
    c = lay.config
    for model in registry.parse(c.models):
      for seed in range(c.seed, c.seed + c.num_seeds):
        for point in lay.points:
          run_id = _run_id(c, model, seed, point)
          if run_id not in seen:
            seen.add(run_id)
            out.append(progress.Planned(run_id, c.hypothesis, model,
                                        sum(s.train for s in point.sizes.values()) * base.epochs_for(c, model)))
  return out


def _run_id(config, model: str, seed: int, point: designs.Point) -> str:
  """Runs of a design that hypotheses share (H5 and H6's grid) are named by the design."""
  owner = config.design if designs.get(config.design).shared_runs else config.hypothesis
  return run_record.run_id(owner, model, seed, point.info, point.swept)


def _members(lay: Layout, model: str, workdir: pathlib.Path, done: set, log: Log) -> list:
  """(point, cohort.Member) for every run of `model` not yet in runs.jsonl."""
  config, todo, design = lay.config, [], designs.get(lay.config.design)
  for seed in range(config.seed, config.seed + config.num_seeds):
    for point in lay.points:
      run_id = _run_id(config, model, seed, point)
      ckpt_dir = workdir / "checkpoints" / run_id.replace("/", "_")
      if run_id in done:
        log(f"[{run_id}] already in {workdir / 'runs.jsonl'}; skipped")
        if wd.is_writer():
          shutil.rmtree(ckpt_dir, ignore_errors=True)  # a kill may have come between record and cleanup
        continue
      ckpts = checkpoint.RunCheckpoints(ckpt_dir, config.checkpoint_every, config.keep_checkpoints,
                                        config.checkpoint_min_seconds)
      split = (design.split(config, point, seed, registry.get(model).input_kind) if design.split
               else splits.make_split(point.files, point.sizes, seed, config.row_order))
      todo.append((point, cohort.Member(split, seed, run_id, ckpts, point.augmentation)))
  return todo


def _train_model(lay: Layout, model: str, workdir: pathlib.Path, done: set, log: Log, on_cohort,
                 console: progress.Console, board: tensorboard.Board | None) -> None:
  config = lay.config
  observer = observers.Many(*(o for o in (board, console) if o))
  todo = _members(lay, model, workdir, done, log)
  if not todo:
    return
  setting = autotune.choose(model, config.batch_size, layers=config.layers, microbatch=config.microbatch,
                            unroll=config.unroll,
                            models_at_once=config.models_at_once, eval_batch_size=config.eval_batch_size,
                            on=autotune.enabled(config), log=log)
  settings = dataclasses.replace(loop.Settings.from_config(config, lay.input_pipeline, setting),
                                 epochs=base.epochs_for(config, model))
  members = [m for _, m in todo]
  groups = cohort.plan(members, model, input_pipeline=lay.input_pipeline, batch_size=config.batch_size,
                       models_at_once=setting.models_at_once, device_data_max_mb=config.device_data_max_mb)
  for group in groups:
    results = loop.train_cohort(model, [members[i] for i in group], settings, log, observer)
    records = []
    for i, result in zip(group, results):
      point, member = todo[i]
      records.append(run_record.build(config, point, member, result, lay.input_pipeline, setting.source,
                                      settings.epochs))
      if wd.is_writer():
        if finish_run := designs.get(config.design).finish_run:
          records[-1].update(finish_run(config, point, member, result, workdir))
        if board:
          board.finish(records[-1])  # its event files are whole before the run counts as done
        jsonl.append(workdir / "test_predictions.jsonl", run_record.predictions(member, result), sort_keys=True)
        jsonl.append(workdir / "runs.jsonl", records[-1], sort_keys=True)
      done.add(member.tag)  # a later hypothesis that shares the run reads it instead
      member.checkpoints.remove(delete=wd.is_writer())  # the finished run lives in runs.jsonl
    console.finished(records)
    if wd.is_writer():
      on_cohort(workdir)


class _AtMostEvery:
  """fn(workdir) at most once per `seconds`, and whenever `force`d."""

  def __init__(self, fn: Callable[[pathlib.Path], None], seconds: float, clock: Callable[[], float] = time.monotonic):
    self.fn, self.seconds, self.clock, self.last = fn, seconds, clock, -float("inf")

  def __call__(self, workdir: pathlib.Path, force: bool = False) -> None:
    if force or self.clock() - self.last >= self.seconds:
      self.fn(workdir)
      self.last = self.clock()


def _check_shared(layouts: list[Layout]) -> None:
  """Hypotheses that share a design's runs must ask for the same runs: same config but the name."""
  first = {}
  for lay in layouts:
    if designs.get(lay.config.design).shared_runs:
      mine = {k: v for k, v in lay.config.to_dict().items() if k != "hypothesis"}
      other = first.setdefault(lay.config.design, (lay.config.hypothesis, mine))
      differ = sorted(k for k in mine if mine[k] != other[1].get(k))
      if differ:
        raise QdError(f"{other[0]} and {lay.config.hypothesis} share the {lay.config.design} design's runs but "
                      f"their configs differ in {', '.join(differ)}", "give both the same --config values")


def run_hypotheses(configs: list, workdir: pathlib.Path, log: Log = print,
                   on_cohort: Callable[[pathlib.Path], None] = lambda workdir: None,
                   on_done: Callable[[pathlib.Path], None] = lambda workdir: None, *, verbose: bool = False,
                   tensorboard_events: bool = True) -> list[dict]:
  """Runs every (seed, point, model) of each config into `workdir`; finished runs are not redone.
  `on_cohort(workdir)` runs on process 0 after a cohort's records are written (at most once per
  SUMMARY_EVERY_S), and at the end;
  `on_done(workdir)` (the report) after that. Process 0 holds the workdir's lock throughout.
  The console gets a line per finished run (per epoch too with `verbose`); with
  `tensorboard_events`, process 0 writes DIR/tensorboard (records/tensorboard.py)."""
  start = time.perf_counter()
  if configs[0].compilation_cache_dir:
    programs.persistent_cache(os.path.expanduser(configs[0].compilation_cache_dir))
  if not wd.is_writer():
    log = lambda _: None  # noqa: E731 (one voice in the console)
  layouts = [layout(config, log) for config in configs]
  _check_shared(layouts)
  # Everything above may refuse the input; only now does the workdir get written.
  with contextlib.ExitStack() as held:
    _take(workdir, layouts, held, log)
    _train_all(layouts, workdir, log, on_cohort, verbose, tensorboard_events, start)
    if wd.is_writer():
      on_done(workdir)
    return wd.read_runs(workdir)


def _train_all(layouts, workdir: pathlib.Path, log: Log, on_cohort, verbose: bool, tensorboard_events: bool,
               start: float) -> None:
  runs = wd.read_runs(workdir)
  done = {r["run_id"] for r in runs}
  planned = _planned(layouts, done)
  board = tensorboard.Board(workdir / "tensorboard") if wd.is_writer() else None
  if board and tensorboard_events:
    board.backfill(runs)
  elif board:
    board.discard(p.run_id for p in planned)  # so that a later launch writes them whole
    board = None
  log(f"sweep: {len(planned)} run(s) to train" + (f", {len(done)} already in {workdir / 'runs.jsonl'}" if done else ""))
  console = progress.Console(planned, log, verbose, started_at=start)
  on_cohort = _AtMostEvery(on_cohort, SUMMARY_EVERY_S)
  for lay in layouts:
    for model in registry.parse(lay.config.models):
      _train_model(lay, model, workdir, done, log, on_cohort, console, board)
  if wd.is_writer():
    on_cohort(workdir, force=True)
    if (workdir / "checkpoints").is_dir() and not any((workdir / "checkpoints").iterdir()):
      (workdir / "checkpoints").rmdir()
  log(f"results: {workdir / 'runs.jsonl'} ({time.perf_counter() - start:.0f} s in all)")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: pathlib.Path, log: Log = print) -> list[dict]:
  """One hypothesis into `workdir` (the Flax-examples entry point)."""
  return run_hypotheses([config], workdir, log)
