"""The console of a sweep: how far it has got, and how long is left.

After each finished run, one line: `run i/N (h3): [run_id] test accuracy … | elapsed 01:02, ETA 04:10`,
where N counts the runs this launch trains (runs already in runs.jsonl are not among them). The
ETA prices each run left at the seconds per training sample that the finished runs of its model
took in this launch (any model's, before one of its own has finished), so a sweep's larger
points and slower models weigh what they cost.

Per-epoch lines: with `verbose`, every run's every epoch (training/observers.Lines). Without it, a
cohort's epoch gets one line only when the console has been quiet for HEARTBEAT_S, so a sweep of
quick runs prints a line per run and a long run still shows that it moves.
"""

import dataclasses
import time
from typing import Callable

import tqdm

from qd_jax.training import observers

HEARTBEAT_S = 10.0


@dataclasses.dataclass(frozen=True)
class Planned:
  """A run this launch will train."""
  run_id: str
  hypothesis: str
  model: str
  work: int  # training samples over all its epochs: what its time scales with


def clock(seconds: float) -> str:
  return tqdm.tqdm.format_interval(max(0.0, seconds))


class Console(observers.Observer):
  """The sweep's console: an observer of the training loop, and told of each finished cohort."""

  def __init__(self, planned: list[Planned], log: Callable[[str], None], verbose: bool = False,
               started_at: float | None = None):
    self.log, self.verbose = log, verbose
    self.lines = observers.Lines(self._say)
    self.left = {p.run_id: p for p in planned}
    self.total, self.count = len(planned), 0
    self.seconds: dict[str, float] = {}  # model: seconds of its finished runs
    self.work: dict[str, int] = {}  # model: their work
    now = time.perf_counter()
    self.started_at = now if started_at is None else started_at
    self.last_done = self.last_line = now

  def _say(self, line: str) -> None:
    self.last_line = time.perf_counter()
    self.log(line)

  def epoch(self, members, records, epochs_total):
    if self.verbose:
      self.lines.epoch(members, records, epochs_total)
    elif time.perf_counter() - self.last_line >= HEARTBEAT_S:
      self._say(_cohort_line(members, records, epochs_total))

  def tested(self, member, test, train_seconds, compile_seconds):
    if self.verbose:
      self.lines.tested(member, test, train_seconds, compile_seconds)

  def finished(self, records: list[dict]) -> None:
    """A cohort's runs are in runs.jsonl: one line each. The cohort's time since the last one
    finished is shared out by work."""
    now = time.perf_counter()
    done = [self.left.pop(r["run_id"]) for r in records if r["run_id"] in self.left]
    cohort_work = sum(p.work for p in done) or 1
    for p in done:
      self.seconds[p.model] = self.seconds.get(p.model, 0.0) + (now - self.last_done) * p.work / cohort_work
      self.work[p.model] = self.work.get(p.model, 0) + p.work
    self.last_done = now
    eta = self.eta()
    for r in records:
      self.count += 1
      self._say(f"run {self.count}/{self.total} ({r['hypothesis']}): [{r['run_id']}] test accuracy "
                f"{r['test_accuracy']:.4f} | elapsed {clock(now - self.started_at)}, ETA {clock(eta)}")

  def eta(self) -> float:
    """Seconds the runs left will take, at the rates of the runs done so far."""
    overall = sum(self.seconds.values()) / max(1, sum(self.work.values()))
    rate = {m: self.seconds[m] / max(1, self.work[m]) for m in self.seconds}
    return sum(p.work * rate.get(p.model, overall) for p in self.left.values())


def _cohort_line(members, records, epochs_total: int) -> str:
  if len(members) == 1:
    return observers.epoch_line(members[0].tag, records[0], epochs_total, 1)
  val = [h["val_accuracy"] for h in records]
  return (f"[{members[0].tag} and {len(members) - 1} more] epoch {records[0]['epoch']}/{epochs_total}"
          f"  val acc {min(val):.4f} to {max(val):.4f} | {sum(h['samples_per_s'] for h in records):,.0f} samples/s"
          f" ({len(members)} models at once)")
