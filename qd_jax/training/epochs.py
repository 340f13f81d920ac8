"""The two ways an epoch's training rows reach the step, behind one interface: `run(epoch)`
trains every run of the cohort for one epoch and returns its sums; `states()` hands back each
run's state.

* `DeviceEpochs` ("device"): the cohort's training rows are gathered once and placed on the
  device; an epoch is one compiled scan of the stacked step over a host-computed permutation.
* `StreamEpochs` ("tfdata"): one run's rows streamed from the memmaps by tf.data
  (data/pipeline.py), for training sets larger than device_data_max_mb.

Both train on the same batches in the same order (splits.epoch_order), so their numbers agree
to float rounding (tests/test_train.py).
"""

import dataclasses

import jax
import numpy as np

from qd_jax.training import balance, cohort
from qd_jax.training.programs import Programs, place

PIPELINES = ("device", "tfdata")


@dataclasses.dataclass
class EpochSums:
  """Per run: summed batch losses, correct predictions, and the steps it really took."""
  loss: np.ndarray  # (M,)
  correct: np.ndarray  # (M,)
  steps: np.ndarray  # (M,)


def choose(requested: str, train_rows: int, device_data_max_mb: int) -> str:
  """"auto": on the device when the largest run's training rows fit in device_data_max_mb."""
  if requested != "auto":
    return requested
  return "device" if cohort.padded_rows(train_rows) <= cohort.device_budget_rows(device_data_max_mb) else "tfdata"


class DeviceEpochs:
  """The whole cohort in one program: its states stacked once, its rows on the device."""

  def __init__(self, members: list[cohort.Member], states: list, programs: Programs, num_classes: list[int],
               batch_size: int):
    self.members, self.programs, self.batch_size, self._templates = members, programs, batch_size, states
    rows = [m.split.gather("train") for m in members]
    self.x, self.y = place((cohort.stack_rows([x for x, _ in rows]), cohort.stack_rows([y for _, y in rows])),
                           programs.repl)
    k = programs.num_classes  # cohort.padded_classes of the most: every state is padded to it
    mask = cohort.class_mask(num_classes, k)
    self.mask = None if mask is None else place(mask, programs.repl)
    extras = cohort.stack_extras([balance.extras(m.augmentation, m.split, m.seed) for m in members], k)
    self.extras = None if extras is None else place(extras, programs.repl)
    self.stacked = cohort.stack(states, programs.state_shapes())
    jax.block_until_ready((self.stacked, self.x, self.y))  # so epoch 1's clock times training alone

  def run(self, epoch: int) -> EpochSums:
    idx, active = cohort.epoch_tables(self.members, epoch, self.batch_size)
    p = self.programs
    self.stacked, out = p.epoch(self.stacked, self.x, self.y, idx, self.mask, active, self.extras)
    live = np.ones(idx.shape[:2], bool) if active is None else active
    return EpochSums(np.sum(np.asarray(out["loss"]) * live, 0), np.sum(np.asarray(out["correct"]) * live, 0),
                     live.sum(0))

  def states(self) -> list:
    return cohort.unstack(self.stacked, self._templates)


class StreamEpochs:
  """One run, batch by batch from tf.data; each process reads its slice of every global batch."""

  def __init__(self, members: list[cohort.Member], states: list, programs: Programs, num_classes: list[int],
               batch_size: int):
    if len(members) != 1:
      raise ValueError("only device-resident data trains several models at once")
    from qd_jax.data import pipeline  # imports TF, which the device path never needs
    self._pipeline, self.member, self.programs, self.batch_size = pipeline, members[0], programs, batch_size
    self.state = states[0]
    extras = balance.extras(self.member.augmentation, self.member.split, self.member.seed)
    self.extras = place(extras, programs.repl) if extras else None

  def run(self, epoch: int) -> EpochSums:
    loss, correct, steps = 0.0, 0, 0
    for xb, yb in self._pipeline.train_batches(self.member.split, batch_size=self.batch_size, seed=self.member.seed,
                                               epoch=epoch, process_index=jax.process_index(),
                                               process_count=jax.process_count()):
      xb, yb = (jax.make_array_from_process_local_data(self.programs.rows, a) for a in (xb, yb))
      self.state, out = self.programs.step(self.state, xb, yb, self.extras)
      loss, correct, steps = loss + out["loss"], correct + out["correct"], steps + 1
    return EpochSums(np.array([float(loss)]), np.array([int(correct)]), np.array([steps]))

  def states(self) -> list:
    return [self.state]


RUNNERS = {"device": DeviceEpochs, "tfdata": StreamEpochs}
