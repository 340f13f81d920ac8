"""The tf.data pipeline that streams training rows from the memory-mapped .npy files.

Used when the training set is larger than `device_data_max_mb` (or when asked for with
`input_pipeline='tfdata'`); smaller sets are gathered once and kept on the device (train.py).
Evaluation sets are always gathered: they are a small fraction of the training rows.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter is not ours to print

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from qd_jax.data.categories import ROW_BYTES  # noqa: E402
from qd_jax.data.splits import Split, epoch_order  # noqa: E402

READ_ROWS = 8192  # rows per memmap read

# TF only feeds host memory; the accelerator belongs to JAX.
tf.config.set_visible_devices([], "GPU")

def _reader(split: Split):
  """Reads the pixels of (label, file row) pairs, a group of batches at a time, from the category memmaps."""
  maps = [c.file.pixels for c in split.categories]

  def read(labels, rows):
    out = np.empty((len(rows), ROW_BYTES), np.uint8)
    for label in np.unique(labels):
      at = np.flatnonzero(labels == label)
      out[at] = np.take(maps[label], rows[at], axis=0)  # faster than a memmap's fancy indexing
    return out

  return read


def train_batches(split: Split, *, batch_size: int, seed: int, epoch: int,
                  process_index: int = 0, process_count: int = 1):
  """One epoch of this process's share of each global batch, as numpy (x uint8, y int32).

  The order is the device-resident path's (splits.epoch_order), so both paths train on the same
  batches. Only (label, row) pairs are shuffled in memory; tf.data reads the pixels of groups
  of batches (READ_ROWS rows) from the memmaps in parallel and prefetches them. Each process reads just the
  contiguous slice `process_index` of every global batch: all processes take the same number of
  steps, and their slices, in process order, make up the single-process batch.
  """
  if batch_size % process_count:
    raise ValueError(f"batch_size {batch_size} does not split over {process_count} processes")
  local = batch_size // process_count
  labels, rows = split.index("train")
  order = epoch_order(len(labels), seed, epoch, batch_size)
  order = order[:, process_index * local:(process_index + 1) * local]
  # One element is a group of batches: tf.data's per-element cost (a numpy_function call, a
  # tensor handoff) then comes once per ~8k rows instead of once per batch.
  group = max(1, READ_ROWS // local)
  starts = range(0, len(order), group)
  ds = tf.data.Dataset.from_tensor_slices(np.asarray(list(starts), np.int64))
  read = _reader(split)

  def read_group(start):
    part = order[start:start + group]
    return read(labels[part].reshape(-1), rows[part].reshape(-1)), labels[part]

  ds = ds.map(lambda s: tf.numpy_function(read_group, [s], (tf.uint8, tf.int32), stateful=False),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  options = tf.data.Options()
  options.deterministic = True
  return _batches(ds.prefetch(2).with_options(options).as_numpy_iterator(), local)


def _batches(groups, local: int):
  for x, y in groups:
    x = x.reshape(len(y), local, ROW_BYTES)
    for i in range(len(y)):
      yield x[i], y[i]
