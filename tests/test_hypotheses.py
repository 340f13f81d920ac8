"""Each hypothesis' design: the paper's sizes where the files hold them, cut and said where not."""

import numpy as np
import pytest

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.experiments import configs, designs

from conftest import open_files

NAMES = ("airplane", "cat", "smiley face", "rainbow")


@pytest.fixture
def files(make_category_files, tmp_path):
  return open_files(make_category_files(tmp_path, {"airplane": 3000, "cat": 2500, "smiley face": 2600,
                                                   "rainbow": 2700}))


def _points(hypothesis, files, **overrides):
  config = configs.get_config(hypothesis, overrides=overrides)
  logs = []
  design = designs.get(config.design)
  used = design.categories(config, tuple(files))
  return design.points(config, {c: files[c] for c in used}, logs.append), logs


def _rows_needed(hypothesis):
  config = configs.get_config(hypothesis)
  return designs.get(config.design).rows_needed(config)


def test_paper_designs_ask_for_the_paper_sizes():
  assert _rows_needed("h6") == 20_000
  assert _rows_needed("h3") == 10_000
  assert _rows_needed("h4") == 50_000 * 8 // 7 + 1 + 10_000
  assert _rows_needed("h2") == 10_000


def test_h3_keeps_the_sizes_that_exist_and_says_so(files):
  pts, logs = _points("h3", files)
  assert [p.info["rows_per_category"] for p in pts] == [500, 1000]
  assert all(p.rows_per_category == p.rows_requested == p.info["rows_per_category"] for p in pts)
  assert any("reduced scale: h3" in line for line in logs)


def test_h6_falls_back_to_five_even_sizes(files):
  pts, logs = _points("h6", files)
  assert [p.info["rows_per_category"] for p in pts] == [500, 1000, 1500, 2000, 2500]
  assert any("reduced scale: h6" in line for line in logs)


def test_h5_takes_the_first_k_categories(files):
  pts, _ = _points("h5", files, k_sweep="2,3,4")
  assert [list(p.files) for p in pts] == [list(NAMES[:k]) for k in (2, 3, 4)]
  assert all(p.rows_per_category == 2500 and p.rows_requested == 10_000 for p in pts)
  with pytest.raises(QdError, match="at least 5 categories"):
    _points("h5", files, k_sweep="3,5")


def test_h4_ratios_share_one_fresh_balanced_test_set(files):
  pts, logs = _points("h4", files)
  assert [p.info["imbalance_ratio"] for p in pts] == [0.002, 0.02, 0.1, 0.2, 0.5, 1.0]
  major, minor = "airplane", "cat"
  # The smaller file (2,500 rows) bounds both classes: 20% test, the rest train + val at 7:1.
  assert {p.sizes[major].test for p in pts} == {p.sizes[minor].test for p in pts} == {500}
  n_major = pts[0].info["majority_train_rows"]
  assert n_major == int(2000 / (1 + 1 / 7))
  for p in pts:
    assert p.sizes[major].train == n_major
    assert p.sizes[minor].train == max(1, round(p.info["imbalance_ratio"] * n_major))
  tests = [splits.make_split(p.files, p.sizes, seed=0) for p in pts]
  for s in tests:  # the same test rows at every ratio, never in training
    for c in s.categories:
      assert np.array_equal(c.test, tests[0].categories[c.label].test)
      assert not set(c.test) & set(c.train)
  assert any("reduced scale: h4" in line for line in logs)


def test_bad_sweep_lists_are_one_line_errors(files):
  with pytest.raises(QdError, match="rows_sweep"):
    _points("h3", files, rows_sweep="500,abc")
  with pytest.raises(QdError, match="imbalance_ratios"):
    _points("h4", files, imbalance_ratios="0.5,2")
