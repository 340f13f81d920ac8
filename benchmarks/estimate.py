"""Expected training time and cost of each hypothesis at paper scale, from measured throughput.

  python benchmarks/estimate.py --bench bench.json --data_dir DIR [--usd_per_hour 6.571] [--json FILE]

For every hypothesis it lays out the paper's design on DIR's files (qd_jax.experiments.designs, exactly
as the launcher would), groups the runs into cohorts as the sweep would (--models_at_once, the GPU default 16),
and divides each cohort's work (its longest run's steps x batch x epochs x its size) by the
aggregate samples/s that benchmarks/throughput.py measured for that model and batch size, for
that many stacked runs (linear between the measured sizes: qd_jax is 1, qd_jax_models<M> is M).
Evaluation, checkpoints and compilation are not in it; gpu.sh times one whole hypothesis beside
it to show how far that leaves the estimate off. --json writes the rows unrounded, for
benchmarks/cost.py.
"""

import argparse
import json
import sys

import numpy as np

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.experiments import configs, designs, sweep
from qd_jax.experiments.configs import base
from qd_jax.nn import registry
from qd_jax.training import cohort


def rates(bench: list[dict], model: str, batch: int) -> dict[int, float]:
  """Aggregate samples/s by runs stacked: 1 from the qd_jax row, M from each qd_jax_models<M>."""
  out = {}
  for r in bench:
    if (r["model"], r["batch_size"]) == (model, batch) and r["samples_per_s"]:
      if r["impl"] == "qd_jax":
        out[1] = r["samples_per_s"]
      elif r["impl"].startswith("qd_jax_models"):
        out[int(r["impl"][len("qd_jax_models"):])] = r["samples_per_s"]
  if 1 not in out:
    raise QdError(f"the benchmark file has no qd_jax row for {model} at batch {batch}",
                  f"run benchmarks/throughput.py --models {model} --batches {batch}")
  return out


def rate_at(measured: dict[int, float], m: int) -> float:
  """Linear in the number of stacked runs between measured sizes; flat beyond the largest."""
  sizes = sorted(measured)
  return float(np.interp(m, sizes, [measured[s] for s in sizes]))


def hypothesis(config) -> list[dict]:
  """Each model's training work in one hypothesis, cohort by cohort as the sweep would run it."""
  lay = sweep.layout(config, log=lambda _: None)
  members = [cohort.Member(splits.make_split(p.files, p.sizes, seed), seed, "")
             for seed in range(config.seed, config.seed + config.num_seeds) for p in lay.points]
  steps = [m.split.count("train") // config.batch_size for m in members]
  out = []
  for model in registry.parse(config.models):
    epochs = base.epochs_for(config, model)
    groups = cohort.plan(members, model, input_pipeline=lay.input_pipeline, batch_size=config.batch_size,
                         models_at_once=config.models_at_once, device_data_max_mb=config.device_data_max_mb)
    out.append({"model": model, "runs": len(members), "cohorts": [len(g) for g in groups],
                "train_samples": sum(steps) * config.batch_size * epochs,
                # a cohort runs its longest member's steps for all of its members
                "work": [max(steps[i] for i in g) * config.batch_size * epochs * len(g) for g in groups]})
  return out


def main(argv=None) -> list[dict]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--bench", required=True, help="benchmarks/throughput.py --json output")
  p.add_argument("--data_dir", required=True, help="paper-sized files (benchmarks/paper_scale_data.py)")
  p.add_argument("--models_at_once", type=int, default=16,
                 help="runs stacked per sweep where a hypothesis leaves it to the machine (GPU default 16)")
  p.add_argument("--usd_per_hour", type=float, default=0.0, help="the GPU VM's price, for the cost column")
  p.add_argument("--json", help="also write the rows here, unrounded (benchmarks/cost.py --estimate reads it)")
  args = p.parse_args(argv)
  with open(args.bench) as f:
    bench = json.load(f)
  out = []
  overrides = {"data_dir": args.data_dir, "download": False}
  shared = set()
  for config in configs.get_configs("all", overrides=overrides):
    if not config.models_at_once:  # a hypothesis that fixes it (H2 times its models alike) keeps it
      config.models_at_once = args.models_at_once
    if designs.get(config.design).shared_runs:
      if config.design in shared:  # H6 reads H5's grid runs: trained once
        continue
      shared.add(config.design)
    for h in hypothesis(config):
      measured = rates(bench, h["model"], config.batch_size)
      seconds = sum(w / rate_at(measured, m) for w, m in zip(h.pop("work"), h["cohorts"]))
      out.append({"hypothesis": config.hypothesis, **h, "seconds": seconds,
                  "samples_per_s": h["train_samples"] / seconds})
  total = sum(o["seconds"] for o in out)
  print(f"{'hypothesis':>10} {'model':>5} {'runs':>5} {'stacked as':>18} {'train samples':>14} "
        f"{'samples/s':>11} {'minutes':>8}" + (f" {'USD':>7}" if args.usd_per_hour else ""))
  for o in out:
    cost = f" {o['seconds'] / 3600 * args.usd_per_hour:7.3f}" if args.usd_per_hour else ""
    stacked = "+".join(map(str, o["cohorts"]))
    print(f"{o['hypothesis']:>10} {o['model']:>5} {o['runs']:>5} {stacked[:18]:>18} {o['train_samples']:>14,} "
          f"{o['samples_per_s']:>11,.0f} {o['seconds'] / 60:8.2f}{cost}")
  cost = f", {total / 3600 * args.usd_per_hour:.2f} USD at {args.usd_per_hour} USD/h" if args.usd_per_hour else ""
  print(f"all six at paper scale, 3 seeds: {total / 60:.1f} minutes of training{cost}")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(out, f, indent=1)
  return out


if __name__ == "__main__":
  try:
    main(sys.argv[1:])
  except QdError as e:
    sys.exit(f"estimate: {e}")
