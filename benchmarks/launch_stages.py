"""Where a launch's wall time went, stage by stage, from a py-spy profile of it.

  py-spy record --idle -r 10 -f raw -o PROFILE -- python -m qd_jax.launch ...
  python benchmarks/launch_stages.py PROFILE

(`pip install py-spy`; `PROFILE=1 bash benchmarks/local_all.sh DATA CATEGORIES WORKDIR` does both.) Each
sample is one tenth of a second of the main thread, waiting included (`--idle`), so a stage's
seconds are its samples / rate. A sample goes to the first stage below whose frame it is in, so
compilation inside an epoch counts as compilation, not training; "training" is the epoch calls
and the waits on their results, which is what `train_seconds` times.
"""

import argparse
import collections
import pathlib

# (stage, substrings of a frame "function (path:line)"): the first stage matched, in this order, wins.
STAGES = (
    ("autotune's timings (a machine's first launch)", ("(qd_jax/training/autotune.py",)),
    ("summary.md", ("write_summary (",)),
    ("the report (REPORT.md, analysis.json, figures)", ("build_report (",)),
    ("compilation (lowering, compiling, cache loads)", ("Programs._compiled (", "_program (qd_jax/")),
    ("training (the epoch calls, and waits on them)", ("DeviceEpochs.run (", "StreamEpochs.run (")),
    ("evaluation (validation each epoch, test at the end)", ("Programs.evaluate (", "Programs.eval_set (")),
    ("initialisation", ("Programs.init_state (",)),
    ("stacking, unstacking, rows onto the device", ("DeviceEpochs.__init__ (", "DeviceEpochs.states (")),
    ("checkpoints", ("(qd_jax/training/checkpoint.py",)),
    ("records (runs.jsonl, predictions, TensorBoard)",
     ("(qd_jax/records/jsonl.py", "(qd_jax/records/run_record.py", "(qd_jax/records/tensorboard.py")),
    ("start-up and layout (imports, flags, data, workdir)", ("",)),  # everything else
)


def stages(path: pathlib.Path, rate: float) -> dict[str, float]:
  """Seconds per stage in a py-spy raw profile (lines of `frame;frame;... count`)."""
  seconds = collections.Counter({name: 0.0 for name, _ in STAGES})
  for line in path.read_text(errors="replace").splitlines():
    stack, _, count = line.rpartition(" ")
    if not stack or not count.isdigit():
      continue
    name = next(name for name, needles in STAGES if any(n in stack for n in needles))
    seconds[name] += int(count) / rate
  return dict(seconds)


def main(argv=None) -> dict[str, float]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("profile", type=pathlib.Path)
  p.add_argument("--rate", type=float, default=10.0, help="py-spy's samples per second (-r)")
  args = p.parse_args(argv)
  got = stages(args.profile, args.rate)
  total = sum(got.values())
  print(f"{total:.1f} s sampled:")
  for name, s in got.items():
    print(f"  {s:7.1f} s  {100 * s / max(total, 1e-9):5.1f}%  {name}")
  return got


if __name__ == "__main__":
  main()
