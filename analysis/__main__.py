"""python -m analysis --workdir=DIR: analysis.json, REPORT.md and figures from DIR/runs.jsonl.

Bad input ends with one line on stderr, `analysis: error: ...`, and exit status 2.
"""

import pathlib
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "a folder written by qd_jax.launch (it holds runs.jsonl)")


def _fail(message: str) -> None:
  print(f"analysis: error: {message}", file=sys.stderr)
  sys.exit(2)


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    return FLAGS(argv)
  except flags.Error as e:  # absl's own message spans lines; ours is one
    _fail(f"{str(e).splitlines()[0]}; usage: python -m analysis --workdir=DIR")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    _fail(f"unexpected arguments {argv[1:]}; usage: python -m analysis --workdir=DIR")
  if not FLAGS.workdir:
    _fail("--workdir is required; usage: python -m analysis --workdir=DIR")
  from analysis import report  # statsmodels and matplotlib only once the flags are good
  from qd_jax.errors import QdError
  try:
    a = report.build(pathlib.Path(FLAGS.workdir))
  except (report.AnalysisError, QdError) as e:
    _fail(str(e))
  for line in a["damaged_lines"]:
    print(f"analysis: warning: {line}", file=sys.stderr)
  print(f"analysis: {len(a['verdicts'])} claims decided; wrote {FLAGS.workdir}/analysis.json, "
        f"{FLAGS.workdir}/REPORT.md and {len(a['figures'])} figure(s)")


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
