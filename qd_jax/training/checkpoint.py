"""Preemption safety: per-run orbax checkpoints in the workdir, and SIGTERM as "save and stop".

A checkpoint holds everything a run needs to go on: params, Adam's state and step, and the
metadata (epochs done, their metrics, the seed that fixes every later epoch's data order).
Resuming from it gives bitwise the same numbers as never stopping (tests/test_resume.py).
"""

import pathlib
import shutil
import signal

import orbax.checkpoint as ocp

_preempted = False


class Preempted(Exception):
  """SIGTERM arrived; the run saved at an epoch boundary and stopped."""


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
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(directory.absolute(), options=options, item_names=("state", "meta"))

  @staticmethod
  def _tree(state) -> dict:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}

  def epochs(self) -> list[int]:
    """The epochs that have a checkpoint, oldest first."""
    return sorted(self._manager.all_steps())

  def restore(self, state, epoch: int | None = None):
    """(state, meta) from the checkpoint of `epoch` (default: the latest), or (state, None) for
    epoch 0. Later checkpoints are deleted: those epochs are trained again, and saved again."""
    epoch = self._manager.latest_step() if epoch is None else epoch
    restored = None
    if epoch:
      restored = self._manager.restore(epoch, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(self._tree(state)), meta=ocp.args.JsonRestore()))
    for later in self.epochs():  # only once the restore has worked
      if later > (epoch or 0):
        self._manager.delete(later)
    if restored is None:
      return state, None
    tree = restored["state"]
    return state.replace(params=tree["params"], opt_state=tree["opt_state"], step=tree["step"]), restored["meta"]

  def due(self, epoch: int, seconds_since_last: float) -> bool:
    return preempted() or (epoch % self.every == 0 and seconds_since_last >= self.min_seconds)

  def save(self, epoch: int, state, meta: dict) -> None:
    self._manager.save(epoch, args=ocp.args.Composite(
        state=ocp.args.StandardSave(self._tree(state)), meta=ocp.args.JsonSave(meta)), force=True)

  def remove(self, delete: bool = True) -> None:
    self._manager.close()
    if delete:
      shutil.rmtree(self.directory, ignore_errors=True)
