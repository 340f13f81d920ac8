"""One writer per workdir: an exclusive OS lock on DIR/.lock, held for the whole launch.

A flock(2) lock belongs to the open file, so the kernel drops it when its process ends, however
it ends: a kill -9 leaves no stale lock, and nothing has to be cleaned up by hand. The file also
names its holder (host, pid, when it took the lock) for the refusal a second launch gets. The
processes of one multi-process run share the lock: process 0 takes it, and `agree` tells the
others whether it could.
"""

import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import socket
import time

import jax
import numpy as np

from qd_jax.errors import QdError
from qd_jax.records import storage

LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold(workdir: pathlib.Path):
  """Holds workdir's lock while the block runs, creating the folder if need be. Another
  process holding it is refused at once with a QdError that names it."""
  workdir = pathlib.Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(workdir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise storage.unwritable_workdir(workdir, e) from e
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise QdError(f"workdir {workdir} is in use by another launch ({_holder(fd)})",
                    "wait for it to end (or stop it), or pass another --workdir") from None
    with storage.guard(workdir / LOCK_NAME):
      record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                           "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")})
      os.ftruncate(fd, 0)
      os.pwrite(fd, record.encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
  """Who holds the lock, from what it wrote. It writes that just after it locks, so a refusal
  in between waits a moment for it."""
  deadline = time.monotonic() + 2.0
  while not (text := os.pread(fd, 4096, 0)) and time.monotonic() < deadline:
    time.sleep(0.05)
  try:
    h = json.loads(text)
    return f"pid {h['pid']} on host {h['host']}, started {h['started']}"
  except (ValueError, KeyError, TypeError):
    return "a process that has not said who it is"


def agree(failure: QdError | None) -> None:
  """Process 0 passes what stopped it from locking and preparing the workdir (None: nothing);
  every process then stops, or none does. Only process 0 knows; the others wait here for it."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    ok = int(multihost_utils.broadcast_one_to_all(np.int32(failure is None)))
    if not ok and failure is None:
      failure = QdError("process 0 could not lock or prepare the workdir",
                        "see its error, fix that, then start every process again")
  if failure is not None:
    raise failure
