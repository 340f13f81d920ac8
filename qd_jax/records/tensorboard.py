"""TensorBoard event files: each run's curves, test scores and hyperparameters, for
`tensorboard --logdir DIR/tensorboard`.

One folder per run, `DIR/tensorboard/<run_id with / as _>/`, written by process 0 with
TensorBoard's own protos and record writer: TensorFlow is not imported for it (its import took
8-12 s of every launch on 2 cores). The step is the epoch (1, 2, ...). A run that (re)starts has its
folder written anew from the epochs its checkpoint holds, so a resumed run keeps one curve:
an interrupted launch may have logged epochs past its last checkpoint, and those are trained
again. A run's folder is complete before its line goes into runs.jsonl.

`Board` is an observer of training.loop (training/observers.py, matched by its methods: records
sits below training), plus `finish(record)` and `backfill(records)` for the sweep.
"""

import os
import pathlib
import shutil
import socket
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.plugins.scalar import summary_v2 as scalar_summary
from tensorboard.summary.writer.record_writer import RecordWriter

SCALARS = {"train/loss": "train_loss", "train/accuracy": "train_accuracy", "val/loss": "val_loss",
           "val/accuracy": "val_accuracy", "perf/samples_per_s": "samples_per_s"}  # tag: history key


def folder(root: pathlib.Path, run_id: str) -> pathlib.Path:
  return pathlib.Path(root) / run_id.replace("/", "_")


class _EventFile:
  """One run's event file: scalars as the scalar plugin's summaries, hparams as the HParams
  plugin's session start, each an Event in TensorBoard's record format."""

  def __init__(self, path: pathlib.Path):
    path.mkdir(parents=True, exist_ok=True)
    name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}"
    self._file = open(path / name, "wb")
    self._records = RecordWriter(self._file)
    self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

  def _write(self, event) -> None:
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: dict) -> None:
    for tag, value in scalars.items():
      self._write(event_pb2.Event(wall_time=time.time(), step=step, summary=scalar_summary.scalar_pb(tag, value)))

  def write_hparams(self, values: dict) -> None:
    self._write(event_pb2.Event(wall_time=time.time(), summary=hparams_summary.hparams_pb(values)))

  def flush(self) -> None:
    self._file.flush()

  def close(self) -> None:
    self._file.close()


def hparams(record: dict) -> dict:
  """The run's hyperparameters for the HParams dashboard: model, seed, the sweep point's fields
  and how it trained."""
  point = {k: v for k, v in record["point"].items() if isinstance(v, (bool, int, float, str))}
  return {"hypothesis": record["hypothesis"], "model": record["model"], "seed": record["seed"], **point,
          "num_categories": record["num_categories"], "rows_per_category": record["rows_per_category"],
          "epochs": len(record["epochs"]), "batch_size": record["batch_size"],
          "learning_rate": record["learning_rate"], "layers": record["layers"]}


def _write_epoch(writer, h: dict) -> None:
  writer.write_scalars(h["epoch"], {tag: h[key] for tag, key in SCALARS.items()})


class Board:
  """The event files of a sweep's runs, under `root` (DIR/tensorboard)."""

  def __init__(self, root: pathlib.Path):
    self.root = pathlib.Path(root)
    self._writers = {}  # run_id: the open writer of a run in training

  def _start(self, run_id: str, history: list[dict]):
    path = folder(self.root, run_id)
    shutil.rmtree(path, ignore_errors=True)  # whatever an interrupted launch wrote is written again
    writer = self._writers[run_id] = _EventFile(path)
    for h in history:
      _write_epoch(writer, h)
    writer.flush()
    return writer

  def started(self, member, history: list[dict]) -> None:
    self._start(member.tag, history)

  def epoch(self, members, records, epochs_total: int) -> None:
    for m, h in zip(members, records):
      _write_epoch(self._writers[m.tag], h)
      self._writers[m.tag].flush()  # TensorBoard shows the epoch now, and a kill loses none

  def tested(self, member, test, train_seconds, compile_seconds) -> None:
    """Test scores are written by `finish`, from the record."""

  def finish(self, record: dict) -> None:
    """The run's test scores and hyperparameters; then its folder is closed, complete."""
    writer = self._writers.pop(record["run_id"], None) or self._start(record["run_id"], record["epochs"])
    writer.write_scalars(len(record["epochs"]), {"test/accuracy": record["test_accuracy"],
                                                 "test/loss": record["test_loss"]})
    writer.write_hparams(hparams(record))
    writer.close()

  def discard(self, run_ids) -> None:
    """Deletes the folders of runs trained without event files: what they hold is stale."""
    for run_id in run_ids:
      shutil.rmtree(folder(self.root, run_id), ignore_errors=True)

  def backfill(self, records: list[dict]) -> None:
    """Writes the folder of every finished run that has none (a workdir from before event files)."""
    for record in records:
      if not folder(self.root, record["run_id"]).exists():
        self.finish(record)
