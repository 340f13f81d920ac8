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
  assert _rows_needed("h6") == _rows_needed("h5") == 14_000  # Fig. 10's grid: n = 2,000 ... 14,000
  assert _rows_needed("h3") == 10_000
  assert _rows_needed("h4") == 50_000 * 8 // 7 + 1 + 10_000
  assert _rows_needed("h2") == 10_000


def test_h3_keeps_the_sizes_that_exist_and_says_so(files):
  pts, logs = _points("h3", files)
  assert [p.info["rows_per_category"] for p in pts] == [500, 1000]
  assert all(p.rows_per_category == p.rows_requested == p.info["rows_per_category"] for p in pts)
  assert any("reduced scale: h3" in line for line in logs)


def test_h5_and_h6_lay_out_one_k_by_n_grid(files):
  pts, logs = _points("h5", files, k_values="2..4", n_values="500,1000")
  assert [(p.info["num_categories"], p.info["rows_per_category"]) for p in pts] == [
      (k, n) for k in (2, 3, 4) for n in (500, 1000)]
  assert all(list(p.files) == list(NAMES[:p.info["num_categories"]]) for p in pts)
  assert all(p.rows_per_category == p.rows_requested == p.info["rows_per_category"] for p in pts)
  assert all(p.swept == ("num_categories", "rows_per_category") for p in pts) and logs == []
  h6, _ = _points("h6", files, k_values="2..4", n_values="500,1000")
  assert [p.info for p in h6] == [p.info for p in pts]
  with pytest.raises(QdError, match="at least 5 categories"):
    _points("h5", files, k_values="3,5")


def test_the_grid_at_reduced_scale_takes_every_n_the_files_allow(files):
  # the paper's n = 2,000 ... 14,000 do not fit files of 2,500 rows: n = 1,000 and 2,000 (by 1,000)
  pts, logs = _points("h5", files, k_values="2,3")
  assert sorted({p.info["rows_per_category"] for p in pts}) == [1000, 2000]
  assert len(pts) == 4 and any("reduced scale: h5" in line for line in logs)
  finer, _ = _points("h5", files, k_values="2,3", reduced_n_step=500)
  assert sorted({p.info["rows_per_category"] for p in finer}) == [1000, 1500, 2000, 2500]


def test_lists_take_ranges():
  assert designs.ints("3..9", "k") == [3, 4, 5, 6, 7, 8, 9]
  assert designs.ints("7000..20000/1000", "n") == list(range(7000, 20001, 1000))
  assert designs.ints("1,3..4", "k") == [1, 3, 4]
  for bad in ("3..x", "5..9/0", "a"):
    with pytest.raises(QdError, match="--config.k="):
      designs.ints(bad, "k")


def test_h4_ratios_share_one_fresh_balanced_test_set(files):
  pts, logs = _points("h4", files, minority_counts="", augmentations="none")
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


def test_h4_runs_every_arm_where_imbalanced_and_the_paper_counts_beside_its_ratios(files):
  pts, logs = _points("h4", files)
  n_major = pts[0].info["majority_train_rows"]
  ratio_arms = [(p.info["imbalance_ratio"], p.augmentation) for p in pts if "minority_count" not in p.info]
  assert ratio_arms == [(r, a) for r in (0.002, 0.02, 0.1, 0.2, 0.5) for a in ("none", "oversample", "class_weight",
                                                                             "affine")] + [(1.0, "none")]
  counts = sorted({p.info["minority_count"] for p in pts if "minority_count" in p.info})
  assert counts == [100, 1000]  # 5,000 and more are capped to the majority's rows: the 100% point
  assert any("minority count 5,000" in line for line in logs)
  for p in pts:
    assert p.info["augmentation"] == p.augmentation and p.swept[1] == "augmentation"
    minor = p.sizes[p.info["minority"]]
    assert minor.train == p.info["minority_train_rows"] <= n_major
    assert minor.train_repeated == (n_major if p.augmentation == "oversample" else 0)
  with pytest.raises(QdError, match="augmentations"):
    _points("h4", files, augmentations="none,mixup")
