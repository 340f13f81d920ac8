"""The tf.data pipeline that streams training rows from the memory-mapped .npy files.

Used when the training set is larger than `device_data_max_mb` (or when asked for with
`input_pipeline='tfdata'`); smaller sets are gathered once and kept on the device (train.py).
Evaluation sets are always gathered: they are a small fraction of the training rows.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter is not ours to print

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from qd_jax.data import npy  # noqa: E402
from qd_jax.data.categories import ROW_BYTES  # noqa: E402
from qd_jax.data.splits import Split, epoch_seed  # noqa: E402

# TF only feeds host memory; the accelerator belongs to JAX.
tf.config.set_visible_devices([], "GPU")

def _reader(split: Split):
  """Reads one batch of (label, row index) pairs from the category memmaps."""
  maps = [npy.open_rows(c.path) for c in split.categories]

  def read(labels, rows):
    out = np.empty((len(rows), ROW_BYTES), np.uint8)
    for label in np.unique(labels):
      at = np.flatnonzero(labels == label)
      at = at[np.argsort(rows[at])]  # forward reads through each file
      out[at] = maps[label][rows[at]]
    return out

  return read


def train_batches(split: Split, *, batch_size: int, seed: int, epoch: int, shuffle_buffer: int,
                  process_index: int = 0, process_count: int = 1):
  """One epoch of this process's share of each global batch, as numpy (x uint8, y int32).

  The pipeline shuffles (label, row) pairs and reads pixels last, so a process reads only its own
  rows. Every process builds the same seeded global order and keeps the contiguous slice
  `process_index` of each global batch: all processes take the same number of steps, and
  their slices, in process order, make up the single-process batch.
  """
  if batch_size % process_count:
    raise ValueError(f"batch_size {batch_size} does not split over {process_count} processes")
  local = batch_size // process_count
  rng = np.random.default_rng(epoch_seed(seed, epoch))
  streams = [tf.data.Dataset.from_tensor_slices((np.full(len(c.train), c.label, np.int32),
                                                 rng.permutation(c.train).astype(np.int64)))
             for c in split.categories]
  # Interleave the per-file streams in a seeded order that takes each file's rows exactly once.
  order = rng.permutation(np.repeat(np.arange(len(streams), dtype=np.int64),
                                    [len(c.train) for c in split.categories]))
  ds = tf.data.Dataset.choose_from_datasets(streams, tf.data.Dataset.from_tensor_slices(order))
  ds = ds.shuffle(shuffle_buffer, seed=epoch_seed(seed + 1, epoch), reshuffle_each_iteration=False)
  ds = ds.batch(batch_size, drop_remainder=True)
  ds = ds.map(lambda y, i: (y[process_index * local:(process_index + 1) * local],
                            i[process_index * local:(process_index + 1) * local]))
  read = _reader(split)
  ds = ds.map(lambda y, i: (tf.ensure_shape(tf.numpy_function(read, [y, i], tf.uint8, stateful=False),
                                            [local, ROW_BYTES]), y),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  options = tf.data.Options()
  options.deterministic = True
  return ds.prefetch(tf.data.AUTOTUNE).with_options(options).as_numpy_iterator()
