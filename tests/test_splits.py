"""qd_jax.data.splits: sizes, seeded stratified splits, and gathering the selected rows."""

import numpy as np
import pytest

from qd_jax.data import npy, splits
from qd_jax.errors import QdError

from conftest import category_rows, decode_rows, open_files

NAMES = ("airplane", "cat", "smiley face")


def _files(d, names=NAMES):
  return open_files({n: d / f"{n}.npy" for n in names})


def _same(a: splits.CategorySplit, b: splits.CategorySplit):
  for part in splits.PARTS:
    np.testing.assert_array_equal(a.rows(part), b.rows(part), err_msg=f"{a.category} {part}")


@pytest.mark.parametrize("rows,val,test,want", [
    (5000, 0.1, 0.2, (3500, 500, 1000)),
    (1000, 0.1, 0.2, (700, 100, 200)),
    (200, 0.0, 0.2, (160, 0, 40)),
    (10, 0.0, 0.0, (10, 0, 0)),
    (3, 0.2, 0.2, (1, 1, 1)),
])
def test_sizes_for(rows, val, test, want):
  s = splits.sizes_for(rows, val, test)
  assert (s.train, s.val, s.test) == want
  assert s.total == rows


@pytest.mark.parametrize("rows,val,test", [(1, 0.1, 0.2), (2, 0.5, 0.5), (0, 0.1, 0.2),
                                           (4, 0.1, 0.1), (10, 0.5, 0.5)])
def test_sizes_for_refuses_too_few_rows(rows, val, test):
  with pytest.raises(QdError) as e:
    splits.sizes_for(rows, val, test)
  assert f"{rows} rows" in str(e.value) and "\n" not in str(e.value)


def test_split_is_stratified_disjoint_and_in_range(tiny_data_dir):
  files = _files(tiny_data_dir)
  sizes = {"airplane": splits.Sizes(120, 20, 40), "cat": splits.Sizes(100, 30, 50),
           "smiley face": splits.Sizes(150, 10, 30)}
  split = splits.make_split(files, sizes, seed=0)
  assert split.names == NAMES
  for label, c in enumerate(split.categories):
    want = sizes[c.category]
    assert c.label == label and c.file is files[c.category] and c.file.rows == 200
    assert (len(c.train), len(c.val), len(c.test)) == (want.train, want.val, want.test)
    parts = [set(c.rows(p).tolist()) for p in splits.PARTS]
    assert sum(len(p) for p in parts) == want.total  # no repeats inside a part
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    for p in splits.PARTS:
      idx = c.rows(p)
      assert np.issubdtype(idx.dtype, np.integer)
      assert idx.size == 0 or (idx.min() >= 0 and idx.max() < 200)
  assert split.count("train") == 370 and split.count("val") == 60 and split.count("test") == 120
  desc = split.describe()
  assert [d["category"] for d in desc] == list(NAMES)
  assert desc[1] == {"category": "cat", "label": 1, "file": str(files["cat"].path), "rows_in_file": 200,
                     "train": 100, "val": 30, "test": 50}


def test_split_is_a_shuffle_not_a_prefix(tiny_data_dir):
  """The shared files are ordered by source: the split must not just take the first rows."""
  split = splits.make_split(_files(tiny_data_dir, ("cat",)), {"cat": splits.Sizes(60, 10, 30)}, 0)
  c = split.categories[0]
  assert set(np.concatenate([c.train, c.val, c.test]).tolist()) != set(range(100))
  assert max(c.test) >= 100  # 30 of 200 rows all below 100: chance 1e-10


def test_same_seed_same_split_other_seed_differs(tiny_data_dir):
  files = _files(tiny_data_dir)
  sizes = {n: splits.Sizes(140, 20, 40) for n in NAMES}
  a = splits.make_split(files, sizes, seed=7)
  b = splits.make_split(files, sizes, seed=7)
  c = splits.make_split(files, sizes, seed=8)
  for x, y in zip(a.categories, b.categories):
    _same(x, y)
  for x, z in zip(a.categories, c.categories):
    assert not np.array_equal(x.test, z.test)
    assert not np.array_equal(x.train, z.train)


def test_categories_are_split_independently(tiny_data_dir):
  """Same seed, different categories in the same file: different permutations."""
  split = splits.make_split(_files(tiny_data_dir), {n: splits.Sizes(140, 20, 40) for n in NAMES}, 0)
  tests = [tuple(c.test.tolist()) for c in split.categories]
  assert len(set(tests)) == 3


def test_category_split_ignores_other_categories(tiny_data_dir, make_category_files):
  make_category_files(tiny_data_dir, {"The Mona Lisa": 300})
  sizes = {n: splits.Sizes(140, 20, 40) for n in (*NAMES, "The Mona Lisa")}
  alone = splits.make_split(_files(tiny_data_dir, ("cat",)), sizes, seed=3).categories[0]
  three = splits.make_split(_files(tiny_data_dir), sizes, seed=3)
  four = splits.make_split(_files(tiny_data_dir, ("The Mona Lisa", "smiley face", "cat", "airplane")),
                           sizes, seed=3)
  _same(alone, three.categories[1])
  _same(alone, four.categories[2])
  _same(three.categories[0], four.categories[3])
  assert four.categories[2].label == 2 and three.categories[1].label == 1


def test_larger_train_only_adds_rows(tiny_data_dir):
  files = _files(tiny_data_dir)
  small = splits.make_split(files, {n: splits.Sizes(30, 20, 40) for n in NAMES}, seed=5)
  large = splits.make_split(files, {n: splits.Sizes(140, 20, 40) for n in NAMES}, seed=5)
  for s, g in zip(small.categories, large.categories):
    np.testing.assert_array_equal(s.test, g.test)
    np.testing.assert_array_equal(s.val, g.val)
    np.testing.assert_array_equal(s.train, g.train[:30])


def test_same_test_size_keeps_test_rows_when_val_changes(tiny_data_dir):
  files = _files(tiny_data_dir)
  a = splits.make_split(files, {n: splits.Sizes(100, 0, 40) for n in NAMES}, seed=5)
  b = splits.make_split(files, {n: splits.Sizes(100, 50, 40) for n in NAMES}, seed=5)
  for x, y in zip(a.categories, b.categories):
    np.testing.assert_array_equal(x.test, y.test)
    assert not set(y.val.tolist()) & set(x.test.tolist())


def test_asking_more_rows_than_the_file_has(tiny_data_dir):
  files = _files(tiny_data_dir)
  sizes = {n: splits.Sizes(140, 20, 40) for n in NAMES}
  sizes["cat"] = splits.Sizes(141, 20, 40)
  with pytest.raises(QdError) as e:
    splits.make_split(files, sizes, seed=0)
  msg = str(e.value)
  assert str(files["cat"].path) in msg and "201" in msg and "200" in msg and "\n" not in msg


def test_exactly_all_rows_is_allowed(tiny_data_dir):
  split = splits.make_split(_files(tiny_data_dir, ("cat",)), {"cat": splits.Sizes(140, 20, 40)}, 0)
  c = split.categories[0]
  assert sorted(np.concatenate([c.train, c.val, c.test]).tolist()) == list(range(200))


def test_damaged_file_is_refused_naming_it(tiny_data_dir):
  cat = tiny_data_dir / "cat.npy"
  cat.write_bytes(cat.read_bytes()[:-100])
  with pytest.raises(QdError) as e:
    _files(tiny_data_dir)  # a category file's header is checked once, when it is opened
  assert str(cat) in str(e.value)


@pytest.mark.parametrize("part", splits.PARTS)
def test_gather_returns_the_files_rows(tiny_data_dir, part):
  files = _files(tiny_data_dir)
  split = splits.make_split(files, {n: splits.Sizes(120, 30, 50) for n in NAMES}, seed=11)
  x, y = split.gather(part)
  n = split.count(part)
  assert x.shape == (n, 784) and x.dtype == np.uint8
  assert y.shape == (n,) and y.dtype == np.int32
  assert not isinstance(x, np.memmap)
  ids, names = decode_rows(x)
  start = 0
  for label, c in enumerate(split.categories):
    k = len(c.rows(part))
    seg = slice(start, start + k)
    start += k
    assert names[seg] == [c.category] * k
    assert (y[seg] == label).all()
    assert sorted(ids[seg].tolist()) == sorted(c.rows(part).tolist())
    full = category_rows(c.category, 200, label)
    np.testing.assert_array_equal(x[seg], full[ids[seg]])
    np.testing.assert_array_equal(x[seg], np.load(c.file.path)[np.sort(c.rows(part))])


def test_gather_empty_part(tiny_data_dir):
  split = splits.make_split(_files(tiny_data_dir), {n: splits.Sizes(150, 0, 50) for n in NAMES}, 0)
  x, y = split.gather("val")
  assert x.shape == (0, 784) and y.shape == (0,)


def test_epoch_seed():
  seeds = {splits.epoch_seed(s, e) for s in range(5) for e in range(20)}
  assert len(seeds) == 100
  assert splits.epoch_seed(3, 4) == splits.epoch_seed(3, 4)
  assert splits.epoch_seed(3, 4) != splits.epoch_seed(4, 3)
  assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)


def test_gather_maps_each_file_once(tiny_data_dir, monkeypatch):
  """gather reads through one memmap per category file, opened once and then kept."""
  files = _files(tiny_data_dir)
  split = splits.make_split(files, {n: splits.Sizes(100, 20, 40) for n in NAMES}, seed=0)
  opened = []
  real = npy.memmap_rows

  def spy(path, header):
    opened.append(path)
    return real(path, header)

  monkeypatch.setattr(npy, "memmap_rows", spy)
  split.gather("test")
  split.gather("val")
  assert opened == [files[n].path for n in NAMES]


def test_fixture_classes_are_learnable(make_category_files):
  """Guards the shared fixture: a nearest-centroid rule separates the gathered classes."""
  names = ("airplane", "cat", "rainbow", "dog", "smiley face", "clock", "bird", "flower", "house",
           "skull", "The Mona Lisa")
  files = open_files(make_category_files("learn", {n: 60 for n in names}))
  split = splits.make_split(files, {n: splits.Sizes(40, 0, 20) for n in names}, seed=0)
  x, y = split.gather("train")
  xt, yt = split.gather("test")
  cut = np.arange(784) >= 7  # ignore the id bytes
  centroids = np.stack([x[y == k][:, cut].mean(0) for k in range(len(names))])
  d = ((xt[:, cut].astype(np.float64)[:, None, :] - centroids[None]) ** 2).sum(-1)
  assert (d.argmin(1) == yt).mean() == 1.0
