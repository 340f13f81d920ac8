"""What the training loop reports while it trains, to whoever watches it.

`loop.train_cohort` calls an Observer when runs start (with the epochs their checkpoints already
hold), after every epoch of the cohort, and when each run is scored on its test rows. `Lines`,
the default, prints one line per run per epoch, as the loop always has; the sweep passes the
console (experiments/progress.py) and the TensorBoard writer (records/tensorboard.py) instead.
"""

from typing import Callable, Sequence


class Observer:
  """Watches nothing; subclasses override what they watch."""

  def started(self, member, history: list[dict]) -> None:
    """`member` begins training; `history` is what its checkpoint restored ([] when it starts afresh)."""

  def epoch(self, members: Sequence, records: Sequence[dict], epochs_total: int) -> None:
    """One epoch of the cohort trained: records[j] is members[j]'s new line of history."""

  def tested(self, member, test: dict, train_seconds: float, compile_seconds: float) -> None:
    """`member` was scored on its test rows (programs.Programs.evaluate's dict)."""


def epoch_line(tag: str, h: dict, epochs_total: int, cohort_size: int) -> str:
  return (f"[{tag}] epoch {h['epoch']}/{epochs_total}  train loss {h['train_loss']:.4f} acc {h['train_accuracy']:.4f}"
          f" | val loss {h['val_loss']:.4f} acc {h['val_accuracy']:.4f} | {h['samples_per_s']:,.0f} samples/s"
          + (f" ({cohort_size} models at once)" if cohort_size > 1 else ""))


def score_line(tag: str, test: dict, train_seconds: float, compile_seconds: float) -> str:
  return (f"[{tag}] test accuracy {test['accuracy']:.4f} loss {test['loss']:.4f} on {len(test['pred']):,} drawings"
          f" (train {train_seconds:.1f}s, compile {compile_seconds:.1f}s)")


class Lines(Observer):
  """Every run's every epoch and its test scores, one line each."""

  def __init__(self, log: Callable[[str], None]):
    self.log = log

  def epoch(self, members, records, epochs_total):
    for m, h in zip(members, records):
      self.log(epoch_line(m.tag, h, epochs_total, len(members)))

  def tested(self, member, test, train_seconds, compile_seconds):
    self.log(score_line(member.tag, test, train_seconds, compile_seconds))


class Many(Observer):
  """Several observers, called in order."""

  def __init__(self, *observers: Observer):
    self.observers = observers

  def started(self, member, history):
    for o in self.observers:
      o.started(member, history)

  def epoch(self, members, records, epochs_total):
    for o in self.observers:
      o.epoch(members, records, epochs_total)

  def tested(self, member, test, train_seconds, compile_seconds):
    for o in self.observers:
      o.tested(member, test, train_seconds, compile_seconds)
