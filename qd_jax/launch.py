"""python -m qd_jax.launch --hypothesis=h2 [--data_dir=DIR --categories=a,b,...] [--quick] [--config.X=V]

Bad input ends with one line on stderr and exit status 2; --verbose adds the traceback.
"""

import datetime
import os
import pathlib
import sys
import traceback
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

from qd_jax.errors import QdError
from qd_jax.experiments import configs

FLAGS = flags.FLAGS
flags.DEFINE_string("hypothesis", None, f"one of {', '.join(configs.choices())}")
flags.DEFINE_string("data_dir", None, "folder of official <category>.npy files (downloads land here)")
flags.DEFINE_string("strokes_dir", None, "folder of official simplified/ and raw/ <category>.ndjson (H7)")
flags.DEFINE_string("workdir", None, "output and resume root (default: a new folder under ./runs)")
flags.DEFINE_string("categories", None, "comma-separated official category names (default: the paper's ten)")
flags.DEFINE_bool("quick", False, "the same hypothesis cut to seconds, on real drawings")
flags.DEFINE_integer("seeds", None, "seeds per sweep point (each changes init, split and shuffling)")
flags.DEFINE_bool("verbose", False, "print every run's every epoch, and tracebacks with errors")
flags.DEFINE_bool("tensorboard", True, "write TensorBoard event files under WORKDIR/tensorboard")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for a run over several processes")
flags.DEFINE_integer("num_processes", None, "how many processes take part (with --coordinator_address)")
flags.DEFINE_integer("process_id", None, "this process' index, 0 ... num_processes - 1")

# Set by the launchers JAX auto-detects (Slurm's srun, Open MPI's mpirun) when they start several.
_CLUSTER_SIZE_VARS = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


def _fail(message: str) -> None:
  print(f"qd_jax: error: {message}", file=sys.stderr)
  # A save that failed mid-write (a full disk) leaves orbax's write coroutines unawaited; their
  # warnings at exit are not news after the line above.
  warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
  sys.exit(2)


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    # Defined here, not at import: it reads the --config.* overrides from argv as it is defined.
    config_flags.DEFINE_config_dict("config", configs.schema(), "override a config field: --config.epochs=3",
                                    sys_argv=argv)
    return FLAGS(argv)
  except (KeyError, AttributeError) as e:  # what the config flag raises for an unknown field
    _fail(f"no config field {str(e).strip(chr(34))} (in --config.*); the fields are in qd_jax/experiments/configs/")
  except flags.Error as e:
    _fail(f"{e}; see --helpshort")


def _init_distributed() -> None:
  given = (FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  import jax
  if any(v is not None for v in given):
    if any(v is None for v in given):
      raise QdError("--coordinator_address, --num_processes and --process_id go together",
                    "pass all three, or none for one process")
    if not 0 <= FLAGS.process_id < FLAGS.num_processes:
      raise QdError(f"--process_id={FLAGS.process_id} is not in 0 ... {FLAGS.num_processes - 1}",
                    "number the processes from 0")
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  elif any(int(os.environ.get(v, "1")) > 1 for v in _CLUSTER_SIZE_VARS):
    jax.distributed.initialize()  # JAX reads the coordinator and ranks from the cluster's variables


def _run(todo: list, workdir: pathlib.Path) -> None:
  # Heavy imports only after the flags are known to be good. Only the launcher imports
  # analysis: summary.md after every cohort, and the report (REPORT.md, analysis.json) at the end;
  # both on first use, since statsmodels, scipy and matplotlib take seconds to load and a config
  # that fails its checks should say so without waiting for them.
  from qd_jax.experiments import sweep
  from qd_jax.records import jsonl, storage, workdir as wd
  from qd_jax.training import checkpoint
  checkpoint.install_sigterm_handler()
  storage.set_verbose(FLAGS.verbose)

  def build_report(w):  # inside the sweep, so the workdir's lock covers it too
    from analysis import report
    report.build(w)
    print(f"report: {w / 'REPORT.md'}")

  runs = jsonl.Follower(workdir / "runs.jsonl")

  def write_summary(w):
    from analysis import summary
    summary.write(w, todo, runs.read())

  try:
    sweep.run_hypotheses(todo, workdir, on_cohort=write_summary,
                         on_done=build_report,
                         verbose=FLAGS.verbose, tensorboard_events=FLAGS.tensorboard)
  except checkpoint.Preempted as e:
    print(f"qd_jax: preempted (SIGTERM): {e}; rerun the same command to resume", file=sys.stderr)
    sys.exit(143)
  if wd.is_writer():
    print(f"summary: {workdir / 'summary.md'}")
    if FLAGS.tensorboard:
      print(f"tensorboard: tensorboard --logdir {workdir / 'tensorboard'}")


def main(argv: list[str]) -> None:
  if not FLAGS["verbosity"].present:  # absl's own -v; --verbose is for qd_jax's lines, not the libraries'
    logging.set_verbosity(logging.WARNING)  # JAX's backend probing and orbax's saves are not news to the user
  try:
    if len(argv) > 1:
      raise QdError(f"unexpected arguments {argv[1:]}", "flags take the form --name=value")
    if not FLAGS.hypothesis:
      raise QdError("--hypothesis is required", f"pass --hypothesis= one of {', '.join(configs.choices())}")
    overrides = config_flags.get_override_values(FLAGS["config"])
    for name in ("data_dir", "strokes_dir", "categories"):
      if FLAGS[name].value is not None:
        overrides[name] = FLAGS[name].value
    if FLAGS.seeds is not None:
      overrides["num_seeds"] = FLAGS.seeds
    todo = configs.get_configs(FLAGS.hypothesis, FLAGS.quick, overrides)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = pathlib.Path(FLAGS.workdir or f"runs/{FLAGS.hypothesis}-{stamp}")
    _init_distributed()
    _run(todo, workdir)
  except QdError as e:
    if FLAGS.verbose:
      traceback.print_exc()
    _fail(str(e))
  except OSError as e:  # an I/O error no guard named more precisely: still one line
    from qd_jax.records import storage
    if (code := storage.errno_of(e)) is None:
      raise
    if FLAGS.verbose:
      traceback.print_exc()
    _fail(str(storage.error(code, e.filename or FLAGS.workdir or "the workdir")))


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
