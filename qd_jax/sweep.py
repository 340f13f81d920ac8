"""A hypothesis as a sweep of training runs: resolve the data, then train every model for every seed.

`train_and_evaluate(config, workdir)` is the testable entry point behind `python -m qd_jax.launch`.
"""

import json
import os
import pathlib
import shutil
import time
from typing import Callable

import jax
import ml_collections

from qd_jax import checkpoint, cohort, hypotheses, jsonl, models, steps, summary, train, workdir as wd
from qd_jax.data import categories as cats, download, npy, splits
from qd_jax.errors import QdError

PIPELINES = ("auto", "device", "tfdata")
LAYERS = ("auto", "fast", "xla")


def is_writer() -> bool:
  """Process 0 alone writes the workdir's records; every process trains and checkpoints."""
  return jax.process_index() == 0


def default_data_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("QD_DATA_DIR") or pathlib.Path.home() / ".cache/qd_jax/quickdraw")


def validate(config: ml_collections.ConfigDict) -> None:
  """Refuses values that would fail later, naming the flag to fix."""
  positive = ("rows_per_category", "epochs", "batch_size", "eval_batch_size", "num_seeds",
              "device_data_max_mb", "checkpoint_every")
  for key in positive:
    if config[key] <= 0:
      raise QdError(f"--config.{key}={config[key]} must be positive", f"pass --config.{key}=N with N > 0")
  if config.checkpoint_min_seconds < 0:
    raise QdError(f"--config.checkpoint_min_seconds={config.checkpoint_min_seconds} is negative",
                  "pass 0 to save at every due epoch")
  if config.keep_checkpoints < 2:
    # cohort.resume_epoch: runs that a kill left one save apart resume from the older save
    raise QdError(f"--config.keep_checkpoints={config.keep_checkpoints} keeps too few to resume a cohort",
                  "pass --config.keep_checkpoints=2 or more")
  if config.models_at_once < 0:
    raise QdError(f"--config.models_at_once={config.models_at_once} is negative", "pass 0 (auto) or N >= 1")
  if not config.learning_rate > 0:
    raise QdError(f"--config.learning_rate={config.learning_rate} must be > 0", "try --config.learning_rate=0.001")
  for key in ("val_fraction", "test_fraction"):
    if not 0 < config[key] < 1:
      raise QdError(f"--config.{key}={config[key]} must lie in (0, 1)", f"try --config.{key}=0.2")
  if config.val_fraction + config.test_fraction >= 1:
    raise QdError("val_fraction + test_fraction leave no training rows", "lower them, e.g. 0.1 and 0.2")
  if config.hypothesis == "h4":
    for key in ("majority_train_rows", "test_rows_per_class"):
      if config[key] <= 0:
        raise QdError(f"--config.{key}={config[key]} must be positive", f"pass --config.{key}=N with N > 0")
  if config.input_pipeline not in PIPELINES:
    raise QdError(f"--config.input_pipeline={config.input_pipeline!r} is not one of {', '.join(PIPELINES)}",
                  "pass --config.input_pipeline=auto")
  if config.layers not in LAYERS:
    raise QdError(f"--config.layers={config.layers!r} is not one of {', '.join(LAYERS)}", "pass --config.layers=auto")
  model_names(config)


def model_names(config) -> list[str]:
  names = [m.strip() for m in config.models.split(",") if m.strip()]
  bad = [m for m in names if m not in models.MODEL_NAMES]
  if bad or not names:
    raise QdError(f"--config.models={config.models!r} names no known model" if not names else
                  f"unknown model {bad[0]!r} in --config.models", f"use {','.join(models.MODEL_NAMES)}")
  return names


def resolve_data(config, log: Callable[[str], None]) -> tuple[dict[str, pathlib.Path], int]:
  """The category files to use and the balanced rows per category they allow."""
  names = cats.parse_list(config.categories) if config.categories else cats.PAPER_CATEGORIES
  names = hypotheses.categories_used(config, names)
  data_dir = pathlib.Path(config.data_dir) if config.data_dir else default_data_dir()
  files = download.ensure_local(names, data_dir, hypotheses.rows_needed(config),
                                base_url=config.bucket_url, download=config.download)
  files = {n: files[n] for n in names}
  rows_in = {n: npy.read_header(p).rows for n, p in files.items()}
  rows = min(config.rows_per_category, *rows_in.values())
  log(f"data: {len(files)} categories from {data_dir}: {', '.join(names)}")
  return files, rows


def data_record(files: dict[str, pathlib.Path]) -> list[dict]:
  out = []
  for name, path in files.items():
    sidecar = path.with_name(path.name + ".json")
    source = json.loads(sidecar.read_text())["url"] if sidecar.exists() else "local"
    out.append({"category": name, "file": str(path.resolve()), "rows": npy.read_header(path).rows,
                "sha256": npy.sha256(path), "source": source})
  return out


def device_budget_rows(config) -> int:
  """How many training rows fit in device_data_max_mb."""
  return config.device_data_max_mb * 2**20 // cats.ROW_BYTES


def choose_pipeline(config, train_rows: int) -> str:
  if config.input_pipeline != "auto":
    return config.input_pipeline
  return "device" if train_rows <= device_budget_rows(config) else "tfdata"


def _run_id(hypothesis: str, model: str, seed: int, point: dict) -> str:
  swept = [f"{k}={v}" for k, v in list(point.items())[:1]]  # the first field is the one swept
  return "/".join([hypothesis, model, f"seed{seed}", *swept])


def plan_cohorts(config, model_name: str, pipeline: str, members: list) -> list[list[int]]:
  """Which runs train at once (qd_jax.cohort): config.models_at_once, or the measured default,
  capped so the stacked training rows stay within device_data_max_mb."""
  if not members:
    return []
  if pipeline != "device":
    return [[i] for i in range(len(members))]
  size = config.models_at_once or cohort.default_size(model_name, jax.default_backend())
  rows = max(m.split.count("train") for m in members)
  size = max(1, min(size, device_budget_rows(config) // rows))
  step_counts = [m.split.count("train") // config.batch_size for m in members]
  return cohort.plan(step_counts, cohort.resume_groups(members), size)


def plan(config, log):
  """(files, sweep points, input pipeline): everything that can refuse the input, before any
  file is written. benchmarks/estimate.py lays out the designs with it too."""
  validate(config)
  files, rows = resolve_data(config, log)
  pts = hypotheses.points(config, files, rows, log)
  biggest = max(sum(s.train for s in p.sizes.values()) for p in pts)
  return files, pts, choose_pipeline(config, biggest)


def run_hypotheses(configs: list, workdir: pathlib.Path, log: Callable[[str], None] = print) -> list[dict]:
  """Runs every (seed, point, model) of each config into `workdir`; finished runs are not redone."""
  start = time.perf_counter()
  if configs[0].compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(configs[0].compilation_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  writer = is_writer()
  if not writer:
    log = lambda _: None  # noqa: E731 (one voice in the console)
  plans = [(config, *plan(config, log)) for config in configs]
  # Everything above may refuse the input; only now does the workdir get written.
  config_json = json.dumps({c.hypothesis: json.loads(c.to_json_best_effort()) for c in configs},
                           sort_keys=True, indent=2)
  used = {n: p for _, files, _, _ in plans for n, p in files.items()}
  if writer:
    wd.prepare(workdir, config_json)
    wd.write_atomic(workdir / "environment.json", json.dumps(wd.environment(data_record(used)), indent=2))
  done = {r["run_id"] for r in wd.read_runs(workdir)}
  for config, files, pts, pipeline in plans:
    for name in model_names(config):
      todo = []
      for seed in range(config.seed, config.seed + config.num_seeds):
        for point in pts:
          run_id = _run_id(config.hypothesis, name, seed, point.info)
          ckpt_dir = workdir / "checkpoints" / run_id.replace("/", "_")
          if run_id in done:
            log(f"[{run_id}] already in {workdir / 'runs.jsonl'}; skipped")
            if writer:
              shutil.rmtree(ckpt_dir, ignore_errors=True)  # a kill may have come between record and cleanup
            continue
          ckpts = checkpoint.RunCheckpoints(ckpt_dir, config.checkpoint_every, config.keep_checkpoints,
                                            config.checkpoint_min_seconds)
          split = splits.make_split(point.files, point.sizes, seed)
          todo.append((point, cohort.Member(split, seed, run_id, ckpts)))
      for group in plan_cohorts(config, name, pipeline, [m for _, m in todo]):
        members = [todo[i][1] for i in group]
        results = train.train_cohort(name, members, epochs=config.epochs, batch_size=config.batch_size,
                                     learning_rate=config.learning_rate,
                                     eval_batch_size=config.eval_batch_size, input_pipeline=pipeline,
                                     log=log, impl=steps.layers_impl(config.layers))
        for i, result in zip(group, results):
          point, member = todo[i]
          predictions = result.pop("test_predictions")
          record = {"run_id": member.tag, "hypothesis": config.hypothesis, "point": point.info,
                    "categories": list(point.files), "num_categories": len(point.files),
                    "rows_per_category": point.rows_per_category,
                    "rows_requested": point.rows_requested, "split": member.split.describe(),
                    "quick": config.quick, "jax_rng": wd.rng_settings(), **result}
          if writer:
            jsonl.append(workdir / "test_predictions.jsonl", {"run_id": member.tag, **predictions}, sort_keys=True)
            jsonl.append(workdir / "runs.jsonl", record, sort_keys=True)
          member.checkpoints.remove(delete=writer)  # the finished run lives in runs.jsonl
        if writer:
          summary.write(workdir, configs)
  if writer:
    summary.write(workdir, configs)
    if (workdir / "checkpoints").is_dir() and not any((workdir / "checkpoints").iterdir()):
      (workdir / "checkpoints").rmdir()
  log(f"results: {workdir / 'runs.jsonl'} and {workdir / 'summary.md'} "
      f"({time.perf_counter() - start:.0f} s in all)")
  return wd.read_runs(workdir)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                       log: Callable[[str], None] = print) -> list[dict]:
  """One hypothesis into `workdir` (the Flax-examples entry point)."""
  return run_hypotheses([config], workdir, log)
