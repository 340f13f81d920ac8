"""qd_jax.data.pipeline: the tf.data stream of training rows, its shards, and TF's devices."""

import importlib
import inspect

import numpy as np
import pytest

from qd_jax.data import npy, pipeline, splits  # pipeline first: it quiets TF's start-up logs

import tensorflow as tf  # noqa: E402

from conftest import decode_rows, open_files, row_keys, row_labels

NAMES = ("airplane", "cat", "smiley face")
B = 32


@pytest.fixture
def split(tiny_data_dir):
  """450 training rows (150 per category): one epoch of B=32 is 14 batches, 2 rows dropped."""
  files = open_files({n: tiny_data_dir / f"{n}.npy" for n in NAMES})
  return splits.make_split(files, {n: splits.Sizes(150, 20, 30) for n in NAMES}, seed=0)


def _keys(split, part):
  return {(c.category, int(i)) for c in split.categories for i in c.rows(part)}


def _epoch(split, **kw):
  args = dict(batch_size=B, seed=0, epoch=0)
  args.update(kw)
  return list(pipeline.train_batches(split, **args))


def _ids(batches):
  return [k for x, _ in batches for k in row_keys(x)]


def test_one_epoch_covers_training_rows_once_with_labels(split):
  batches = _epoch(split)
  n_train = split.count("train")
  assert len(batches) == n_train // B == 14
  for x, y in batches:
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    assert x.shape == (B, 784) and x.dtype == np.uint8
    assert y.shape == (B,) and y.dtype == np.int32
    _, names = decode_rows(x)
    label_of = {c.category: c.label for c in split.categories}
    assert y.tolist() == [label_of[n] for n in names]
    np.testing.assert_array_equal(y, row_labels(x))  # byte 4: the file's own position
  seen = _ids(batches)
  assert len(seen) == len(set(seen)) == n_train - n_train % B  # at most once, all but < B rows
  assert set(seen) <= _keys(split, "train")
  assert len(_keys(split, "train") - set(seen)) == n_train % B


def test_batches_mix_categories(split):
  """The per-file streams are interleaved, not concatenated."""
  batches = _epoch(split)
  assert all(len(set(y.tolist())) >= 2 for _, y in batches[:3])
  firsts = [decode_rows(x)[1] for x, _ in batches]
  assert {n for names in firsts[:5] for n in names} == set(NAMES)


def test_same_seed_and_epoch_give_identical_batches(split):
  a, b = _epoch(split, seed=4, epoch=2), _epoch(split, seed=4, epoch=2)
  assert len(a) == len(b)
  for (xa, ya), (xb, yb) in zip(a, b):
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)


def test_other_epoch_or_seed_changes_the_order(split):
  base = _ids(_epoch(split, seed=4, epoch=2))
  other_epoch = _ids(_epoch(split, seed=4, epoch=3))
  other_seed = _ids(_epoch(split, seed=5, epoch=2))
  assert other_epoch != base and other_seed != base
  assert set(other_epoch) <= _keys(split, "train") and set(other_seed) <= _keys(split, "train")
  # Not just a rotation of one order: the first batches hold different rows.
  assert set(other_epoch[:B]) != set(base[:B])


@pytest.mark.parametrize("epoch", [0, 1])
def test_two_processes_shard_each_global_batch(split, epoch):
  single = _epoch(split, epoch=epoch)
  shards = [_epoch(split, epoch=epoch, process_index=p, process_count=2) for p in range(2)]
  for s in shards:
    assert len(s) == len(single)
    for x, y in s:
      assert x.shape == (B // 2, 784) and y.shape == (B // 2,) and y.dtype == np.int32
  ids0, ids1 = set(_ids(shards[0])), set(_ids(shards[1]))
  assert not ids0 & ids1
  for b, (x, _) in enumerate(single):
    union = row_keys(shards[0][b][0]) + row_keys(shards[1][b][0])
    assert len(set(union)) == B
    assert set(union) == set(row_keys(x)), f"batch {b}"


def test_processes_yield_the_same_number_of_batches(tiny_data_dir):
  split = splits.make_split(
      open_files({n: tiny_data_dir / f"{n}.npy" for n in NAMES}),
      {"airplane": splits.Sizes(150, 20, 30), "cat": splits.Sizes(149, 20, 30),
       "smiley face": splits.Sizes(148, 20, 30)}, seed=0)
  n = split.count("train")
  single = len(_epoch(split))
  assert n == 447 and single == n // B == 13
  counts = [len(_epoch(split, process_index=p, process_count=2)) for p in range(2)]
  assert counts == [single, single]


def test_only_training_rows_are_read(split, monkeypatch):
  reads = {}
  real = npy.memmap_rows

  class Recorder:
    def __init__(self, path, header):
      self.mm = real(path, header)
      self.shape = self.mm.shape
      self.log = reads.setdefault(path, [])

    def take(self, idx, axis=None, out=None, mode="raise"):
      assert isinstance(idx, np.ndarray) and idx.ndim == 1 and axis == 0, f"read {type(idx).__name__} {idx!r}"
      self.log.append(idx.copy())
      return self.mm.take(idx, axis, out, mode)

  monkeypatch.setattr(npy, "memmap_rows", Recorder)
  batches = _epoch(split)
  assert set(reads) == {c.file.path for c in split.categories}
  for c in split.categories:
    got = np.concatenate(reads[c.file.path]) if reads[c.file.path] else np.zeros(0, np.int64)
    assert len(set(got.tolist())) == len(got)  # no row read twice
    assert set(got.tolist()) <= set(c.train.tolist()), c.category
  # Exactly the rows that reach a batch are read: the dropped remainder is never touched.
  read_total = sum(len(np.concatenate(v)) for v in reads.values() if v)
  assert read_total == len(batches) * B > split.count("train") - B
  seen = set(_ids(batches))
  assert not seen & _keys(split, "val") and not seen & _keys(split, "test")


def test_tf_sees_no_gpu():
  assert tf.config.get_visible_devices("GPU") == []


def test_import_hides_gpus_from_tf(monkeypatch):
  calls = []
  real = tf.config.set_visible_devices

  def spy(*args, **kwargs):
    calls.append(inspect.signature(real).bind(*args, **kwargs).arguments)

  monkeypatch.setattr(tf.config, "set_visible_devices", spy)
  importlib.reload(pipeline)
  assert len(calls) == 1
  args = dict(calls[0])
  assert list(args["devices"]) == [] and args["device_type"] == "GPU"
