"""A hypothesis as a sweep of training runs: its design laid out on the data, then every model
trained for every seed and point, cohort by cohort, into the workdir.

`train_and_evaluate(config, workdir)` is the testable entry point behind `python -m qd_jax.launch`.
"""

import dataclasses
import json
import os
import pathlib
import shutil
import time
from typing import Callable

import jax
import ml_collections

from qd_jax.data import resolve, splits
from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError
from qd_jax.experiments import designs
from qd_jax.experiments.configs import base
from qd_jax.nn import registry
from qd_jax.records import jsonl, run_record, workdir as wd
from qd_jax.training import checkpoint, cohort, epochs, loop

Log = Callable[[str], None]


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
  folder = resolve.data_dir(config.data_dir)
  files = resolve.category_files(names, folder, design.rows_needed(config), bucket_url=config.bucket_url,
                                 download_missing=config.download)
  log(f"data: {len(files)} categories from {folder}: {', '.join(names)}")
  pts = design.points(config, files, log)
  biggest = max(sum(s.train for s in p.sizes.values()) for p in pts)
  return Layout(config, files, pts, epochs.choose(config.input_pipeline, biggest, config.device_data_max_mb))


def _write_workdir(workdir: pathlib.Path, layouts: list[Layout]) -> None:
  config_json = json.dumps({lay.config.hypothesis: json.loads(lay.config.to_json_best_effort()) for lay in layouts},
                           sort_keys=True, indent=2)
  used = {n: f for lay in layouts for n, f in lay.files.items()}
  wd.prepare(workdir, config_json)
  wd.write_atomic(workdir / "environment.json",
                  json.dumps(wd.environment([f.describe() for f in used.values()]), indent=2))


def _members(lay: Layout, model: str, workdir: pathlib.Path, done: set, log: Log) -> list:
  """(point, cohort.Member) for every run of `model` not yet in runs.jsonl."""
  config, todo = lay.config, []
  owner = config.design if designs.get(config.design).shared_runs else config.hypothesis
  for seed in range(config.seed, config.seed + config.num_seeds):
    for point in lay.points:
      run_id = run_record.run_id(owner, model, seed, point.info, point.swept)
      ckpt_dir = workdir / "checkpoints" / run_id.replace("/", "_")
      if run_id in done:
        log(f"[{run_id}] already in {workdir / 'runs.jsonl'}; skipped")
        if wd.is_writer():
          shutil.rmtree(ckpt_dir, ignore_errors=True)  # a kill may have come between record and cleanup
        continue
      ckpts = checkpoint.RunCheckpoints(ckpt_dir, config.checkpoint_every, config.keep_checkpoints,
                                        config.checkpoint_min_seconds)
      split = splits.make_split(point.files, point.sizes, seed, config.row_order)
      todo.append((point, cohort.Member(split, seed, run_id, ckpts, point.augmentation)))
  return todo


def _train_model(lay: Layout, model: str, workdir: pathlib.Path, done: set, log: Log, on_cohort) -> None:
  config = lay.config
  todo = _members(lay, model, workdir, done, log)
  settings = dataclasses.replace(loop.Settings.from_config(config, lay.input_pipeline),
                                 epochs=base.epochs_for(config, model))
  members = [m for _, m in todo]
  groups = cohort.plan(members, model, input_pipeline=lay.input_pipeline, batch_size=config.batch_size,
                       models_at_once=config.models_at_once, device_data_max_mb=config.device_data_max_mb)
  for group in groups:
    results = loop.train_cohort(model, [members[i] for i in group], settings, log)
    for i, result in zip(group, results):
      point, member = todo[i]
      if wd.is_writer():
        jsonl.append(workdir / "test_predictions.jsonl", run_record.predictions(member, result), sort_keys=True)
        jsonl.append(workdir / "runs.jsonl", run_record.build(config, point, member, result, lay.input_pipeline,
                                                              settings.epochs), sort_keys=True)
      done.add(member.tag)  # a later hypothesis that shares the run reads it instead
      member.checkpoints.remove(delete=wd.is_writer())  # the finished run lives in runs.jsonl
    if wd.is_writer():
      on_cohort(workdir)


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
                   on_cohort: Callable[[pathlib.Path], None] = lambda workdir: None) -> list[dict]:
  """Runs every (seed, point, model) of each config into `workdir`; finished runs are not redone.
  `on_cohort(workdir)` runs on process 0 after each cohort's records are written, and at the end."""
  start = time.perf_counter()
  if configs[0].compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(configs[0].compilation_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  if not wd.is_writer():
    log = lambda _: None  # noqa: E731 (one voice in the console)
  layouts = [layout(config, log) for config in configs]
  _check_shared(layouts)
  # Everything above may refuse the input; only now does the workdir get written.
  if wd.is_writer():
    _write_workdir(workdir, layouts)
  done = {r["run_id"] for r in wd.read_runs(workdir)}
  for lay in layouts:
    for model in registry.parse(lay.config.models):
      _train_model(lay, model, workdir, done, log, on_cohort)
  if wd.is_writer():
    on_cohort(workdir)
    if (workdir / "checkpoints").is_dir() and not any((workdir / "checkpoints").iterdir()):
      (workdir / "checkpoints").rmdir()
  log(f"results: {workdir / 'runs.jsonl'} ({time.perf_counter() - start:.0f} s in all)")
  return wd.read_runs(workdir)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: pathlib.Path, log: Log = print) -> list[dict]:
  """One hypothesis into `workdir` (the Flax-examples entry point)."""
  return run_hypotheses([config], workdir, log)
