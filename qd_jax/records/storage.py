"""Writes that fail for reasons outside qd_jax (a full disk, a read-only file system, no
permission) become one QdError naming the path and the fix, wherever they happen.

Python's own writes raise OSError. orbax writes through tensorstore's C++ threads, whose errors
reach Python as a ValueError or a bare Exception that only spells the errno in its message
(`... [os_error_code='28']`), so `errno_of` reads that too.
"""

import contextlib
import errno as errnos
import gc
import logging
import os
import pathlib
import re
import sys
import warnings

from qd_jax.errors import QdError

RERUN = "then rerun the same command: what is recorded is kept and unfinished runs resume"

_FIXES = {
    errnos.ENOSPC: "free space on that disk, {rerun}",
    errnos.EDQUOT: "free space or raise the disk quota, {rerun}",
    errnos.EFBIG: "raise the file-size limit (ulimit -f), {rerun}",
    errnos.EROFS: "the file system is read-only: make it writable, {rerun}",
    errnos.EACCES: "give this user access there, {rerun}",
    errnos.EPERM: "give this user access there, {rerun}",
    errnos.EIO: "the disk reported an I/O error: check it, {rerun}",
}
_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")

_verbose = False


def set_verbose(verbose: bool) -> None:
  """--verbose: background threads' tracebacks are shown, not muted (see `quiet`)."""
  global _verbose
  _verbose = verbose


def verbose() -> bool:
  return _verbose


def errno_of(e: BaseException) -> int | None:
  """The errno of an I/O failure that is the environment's fault, looking through the causes of
  `e` and the errno that tensorstore writes into its messages; None for anything else."""
  seen = 0
  while e is not None and seen < 8:
    code = e.errno if isinstance(e, OSError) else None
    if code is None:
      m = _OS_ERROR_CODE.search(str(e))
      code = int(m[1]) if m else None
    if code in _FIXES:
      return code
    e, seen = e.__cause__ or e.__context__, seen + 1
  return None


def error(code: int, path, action: str = "write", rerun: str = RERUN) -> QdError:
  return QdError(f"cannot {action} {path}: {os.strerror(code)}", _FIXES[code].format(rerun=rerun))


def unwritable_workdir(workdir, e: OSError) -> QdError:
  """The refusal of a workdir that cannot be created or written at all."""
  code = errno_of(e)
  fix = _FIXES[code].format(rerun="then run again") if code else "pass a writable --workdir"
  return QdError(f"cannot write to workdir {workdir} ({e.strerror})", fix)


@contextlib.contextmanager
def guard(path, action: str = "write", rerun: str = RERUN):
  """OSError of the environment's making inside the block -> QdError naming `path` (or the
  file the error names). Other errors pass unchanged."""
  try:
    yield
  except OSError as e:
    code = errno_of(e)
    if code is None:
      raise
    raise error(code, e.filename or path, action, rerun) from e


def _from_orbax(record: logging.LogRecord) -> bool:
  """orbax's own log lines (absl's logger) and asyncio's about the futures orbax abandoned."""
  return record.name == "asyncio" or f"{os.sep}orbax{os.sep}" in record.pathname


# The interpreter's warning (through `warnings`, not sys.unraisablehook) for each coroutine that
# orbax abandoned, printed whenever one is collected.
ABANDONED = "coroutine '.*' was never awaited"


class Quiet:
  """What the block inside `quiet` sets when the work it muted failed."""
  failed = False


@contextlib.contextmanager
def quiet():
  """Mutes what orbax's background threads and abandoned coroutines print while the block runs
  (orbax logs every writer thread's failure with its traceback, and asyncio and the interpreter
  print more when the futures are collected), unless --verbose. After a failure (the block sets
  `.failed`) it collects garbage before it ends, so what was abandoned reports here rather than
  at exit, and the muting stays on for the rest of the process, since orbax's threads can still
  report later."""
  q = Quiet()
  if _verbose:
    yield q
    return
  hook, loggers = sys.unraisablehook, [logging.getLogger(n) for n in ("absl", "asyncio")]
  mute = lambda record: not _from_orbax(record)  # noqa: E731 (a logging filter may be a callable)
  for lg in loggers:
    lg.addFilter(mute)
  sys.unraisablehook = lambda unraisable: None
  try:
    with warnings.catch_warnings():
      warnings.filterwarnings("ignore", message=ABANDONED, category=RuntimeWarning)
      try:
        yield q
      finally:
        if q.failed:
          gc.collect()  # what the failure abandoned reports now, muted, not at exit
  finally:
    if q.failed:
      warnings.filterwarnings("ignore", message=ABANDONED, category=RuntimeWarning)  # and at exit
    else:
      sys.unraisablehook = hook
      for lg in loggers:
        lg.removeFilter(mute)


def write_atomic(path: pathlib.Path, data: bytes, rerun: str = RERUN, action: str = "write") -> None:
  """`path` holds `data`, or, if the write fails, what it held before (temp file, fsync, rename).
  The temp file is the process's own, so processes that share a folder never rename another's."""
  path = pathlib.Path(path)
  tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
  try:
    with guard(path, action, rerun):
      with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
      os.replace(tmp, path)
  finally:
    with contextlib.suppress(OSError):
      tmp.unlink()  # gone after the rename; a failed write leaves no temp file behind
