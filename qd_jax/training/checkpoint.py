"""Preemption safety: per-run orbax checkpoints in the workdir, and SIGTERM as "save and stop".

A checkpoint holds everything a run needs to go on: params, Adam's state and step, and the
metadata (epochs done, their metrics, the seed that fixes every later epoch's data order).
Resuming from it gives bitwise the same numbers as never stopping (tests/test_resume.py).

A checkpoint that does not restore, or restores to other bytes than were saved (the metadata
holds the saved state's sha256: orbax keeps no checksum, and a flipped bit in its data files
restores without a word), raises `Damaged`; training/loop.py then falls back to an older one.
"""

import hashlib
import json
import pathlib
import shutil
import signal

import jax
import numpy as np
import orbax.checkpoint as ocp

from qd_jax.records import storage

_preempted = False
COHORT_FILE = "cohort.json"  # beside a run's epochs: the cohort it trains in (RunCheckpoints.name_cohort)


class Preempted(Exception):
  """SIGTERM arrived; the run saved at an epoch boundary and stopped."""


class Damaged(Exception):
  """A checkpoint that cannot be restored as it was saved; str() says which and why."""


def install_sigterm_handler() -> None:
  def handler(signum, frame):
    global _preempted
    _preempted = True  # acted on at the next epoch boundary, after the compiled epoch returns

  signal.signal(signal.SIGTERM, handler)


def preempted() -> bool:
  return _preempted


class RunCheckpoints:
  """The checkpoints of one training run: due every `every` epochs but at most once per
  `min_seconds` (on a fast GPU, saving every epoch of every run took more time than training),
  the last `keep` kept. A SIGTERM saves regardless."""

  def __init__(self, directory: pathlib.Path, every: int, keep: int, min_seconds: float = 0.0):
    self.directory = directory
    self.every = every
    self.min_seconds = min_seconds
    # Synchronous saves: a SIGKILL can then only lose the epoch in flight, never a half-written save.
    # A save that failed (a full disk) leaves a temp folder, removed when the next run opens these.
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False,
                                           cleanup_tmp_directories=True)
    self._manager = ocp.CheckpointManager(directory.absolute(), options=options, item_names=("state", "meta"))

  @staticmethod
  def _tree(state) -> dict:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}

  def epochs(self) -> list[int]:
    """The epochs that have a checkpoint, oldest first."""
    return sorted(self._manager.all_steps())

  def restore(self, state, epoch: int | None = None):
    """(state, meta) from the checkpoint of `epoch` (default: the latest), or (state, None) for
    epoch 0. Later checkpoints are deleted: those epochs are trained again, and saved again.
    Raises Damaged, deleting nothing, when that checkpoint does not restore as it was saved."""
    epoch = self._manager.latest_step() if epoch is None else epoch
    restored = self._read(state, epoch) if epoch else None
    for later in self.epochs():  # only once the restore has worked
      if later > (epoch or 0):
        self._manager.delete(later)
    if restored is None:
      return state, None
    tree = restored["state"]
    return state.replace(params=tree["params"], opt_state=tree["opt_state"], step=tree["step"]), restored["meta"]

  def _read(self, state, epoch: int):
    where = self.directory / str(epoch)
    problem = None
    with storage.quiet() as q:  # orbax's reader threads and coroutines print each failure
      try:
        restored = self._manager.restore(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(self._tree(state)), meta=ocp.args.JsonRestore()))
      except Exception as e:  # noqa: BLE001 (a damaged checkpoint raises any of a dozen types)
        problem = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:120]}"
        q.failed = True
    if problem:
      raise Damaged(f"{where} is damaged ({problem})")
    saved = restored["meta"].get("state_sha256") if isinstance(restored["meta"], dict) else None
    if saved is not None and saved != digest(restored["state"]):
      raise Damaged(f"{where} is damaged (its arrays do not match the sha256 saved with them)")
    return restored

  def due(self, epoch: int, seconds_since_last: float) -> bool:
    return preempted() or (epoch % self.every == 0 and seconds_since_last >= self.min_seconds)

  def save(self, epoch: int, state, meta: dict) -> None:
    """Saves; a full disk or a read-only one is a QdError naming the checkpoint's folder."""
    tree, code = self._tree(state), None
    meta = {**meta, "state_sha256": digest(tree)}
    with storage.quiet() as q:  # orbax's writer threads each log their failure
      try:
        self._manager.save(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(meta)), force=True)
      except Exception as e:  # noqa: BLE001 (tensorstore's I/O errors are ValueErrors or bare)
        q.failed, code = True, storage.errno_of(e)
        if code is None or storage.verbose():
          raise
      # here the failed save's futures are freed, inside quiet(), so exit prints none of them
    if code is not None:
      raise storage.error(code, self.directory / str(epoch), "save the checkpoint")

  def name_cohort(self, tags: list[str]) -> None:
    """Writes the tags of the runs this one trains beside (itself among them, in the cohort's
    order) next to its checkpoints, before its first save: training/cohort.interrupted reads it."""
    with storage.guard(self.directory, "save the checkpoint"):
      self.directory.mkdir(parents=True, exist_ok=True)
    storage.write_atomic(self.directory / COHORT_FILE, json.dumps(tags).encode(), action="save the checkpoint")

  def cohort(self) -> list[str] | None:
    """The tags `name_cohort` wrote, or None."""
    try:
      tags = json.loads((self.directory / COHORT_FILE).read_text())
    except (OSError, ValueError):
      return None
    return tags if isinstance(tags, list) else None

  def remove(self, delete: bool = True) -> None:
    self._manager.close()
    if delete:
      shutil.rmtree(self.directory, ignore_errors=True)


def digest(tree) -> str:
  """sha256 of a state's arrays: names, dtypes, shapes and bytes. Arrays replicated over
  several processes are read from this process's copy."""
  h = hashlib.sha256()
  for path, a in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
      a = a.addressable_data(0)
    a = np.ascontiguousarray(a)
    h.update(f"{jax.tree_util.keystr(path)}:{a.dtype}:{a.shape}:".encode())
    h.update(a.tobytes())
  return h.hexdigest()
