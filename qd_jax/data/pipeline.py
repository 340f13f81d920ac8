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
from qd_jax.data.splits import Split, epoch_seed  # noqa: E402

# TF only feeds host memory; the accelerator belongs to JAX.
tf.config.set_visible_devices([], "GPU")

_CHUNK = 256  # rows read from a memmap per call


def _category_stream(path, rows: np.ndarray, label: int) -> tf.data.Dataset:
  mm = npy.open_rows(path)

  def read(idx):
    order = np.argsort(idx)  # forward reads, then back to the shuffled order
    out = np.empty((len(idx), mm.shape[1]), np.uint8)
    out[order] = mm[idx[order]]
    return out

  ds = tf.data.Dataset.from_tensor_slices(rows.astype(np.int64)).batch(_CHUNK)
  ds = ds.map(lambda i: tf.numpy_function(read, [i], tf.uint8, stateful=False),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.unbatch().map(lambda x: (tf.ensure_shape(x, [mm.shape[1]]), tf.constant(label, tf.int32)))


def train_batches(split: Split, *, batch_size: int, seed: int, epoch: int, shuffle_buffer: int,
                  process_index: int = 0, process_count: int = 1):
  """One epoch of this process's share of each global batch, as numpy (x uint8, y int32).

  Every process builds the same seeded global order, so the shards are disjoint and the union
  of the processes' batch b is the single-process batch b.
  """
  rng = np.random.default_rng(epoch_seed(seed, epoch))
  streams = [_category_stream(c.path, rng.permutation(c.train), c.label) for c in split.categories]
  # Interleave the per-file streams in a seeded order that takes each file's rows exactly once.
  order = rng.permutation(np.repeat(np.arange(len(streams), dtype=np.int64),
                                    [len(c.train) for c in split.categories]))
  ds = tf.data.Dataset.choose_from_datasets(streams, tf.data.Dataset.from_tensor_slices(order))
  ds = ds.shuffle(shuffle_buffer, seed=epoch_seed(seed + 1, epoch), reshuffle_each_iteration=False)
  ds = ds.shard(process_count, process_index)
  ds = ds.batch(batch_size // process_count, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.deterministic = True
  return ds.with_options(options).as_numpy_iterator()
