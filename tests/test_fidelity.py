"""The authors' settings and H4's arms: row order, oversampling, class weights, affine drawings,
Keras' initialisers, per-model epoch budgets, and the grid's runs shared by H5 and H6."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.experiments import configs, sweep
from qd_jax.experiments.configs import base
from qd_jax.nn import augment, losses, models, registry
from qd_jax.training import balance, cohort, loop, programs, step

from conftest import TINY, open_files, row_keys, train_settings


@pytest.fixture
def files(tiny_data_dir):
  return open_files({c: tiny_data_dir / f"{c}.npy" for c in TINY})


def test_first_row_order_draws_the_first_rows_of_each_file(files):
  sizes = {c: splits.Sizes(70, 10, 20) for c in files}
  first = splits.make_split(files, sizes, seed=0, row_order="first")
  for c in first.categories:
    drawn = np.concatenate([c.train, c.val, c.test])
    assert sorted(drawn) == list(range(100))  # the first 100 of 200, every one once
    assert not np.array_equal(c.test, np.arange(20))  # shuffled among themselves, then cut
  rand = splits.make_split(files, sizes, seed=0)
  assert max(max(c.train.max(), c.test.max()) for c in rand.categories) >= 100
  with pytest.raises(QdError, match="row_order"):
    splits.make_split(files, sizes, seed=0, row_order="last")


def test_oversampling_repeats_only_the_minority_rows(files):
  major, minor = list(files)[:2]
  sizes = {major: splits.Sizes(120, 10, 20), minor: splits.Sizes(15, 2, 20, train_repeated=120)}
  split = splits.make_split({c: files[c] for c in (major, minor)}, sizes, seed=3)
  plain = splits.make_split({c: files[c] for c in (major, minor)}, {**sizes, minor: splits.Sizes(15, 2, 20)}, seed=3)
  big, small = split.categories
  assert np.array_equal(big.train, plain.categories[0].train)
  assert len(small.train) == 120 and set(small.train) == set(plain.categories[1].train)
  assert sorted(np.bincount(small.train)[small.train].tolist()) == [8] * 120  # each row 8 times
  assert np.array_equal(small.val, plain.categories[1].val) and np.array_equal(small.test, plain.categories[1].test)
  x, y = split.gather("train")
  assert len(x) == 240 and {k for k in row_keys(x[y == 1])} == {k for k in row_keys(plain.gather("train")[0][120:])}
  assert split.describe()[1]["train"] == 120 and split.describe()[1]["train_unique"] == 15
  assert balance.minority(split).tolist() == [False, False]  # balanced as trained: nothing for the others to do


def test_class_weights_weight_each_rows_loss_by_inverse_frequency(files):
  major, minor = list(files)[:2]
  split = splits.make_split({c: files[c] for c in (major, minor)},
                            {major: splits.Sizes(90, 5, 5), minor: splits.Sizes(10, 5, 5)}, seed=0)
  w = balance.class_weights(split)
  assert w.tolist() == pytest.approx([100 / (2 * 90), 100 / (2 * 10)])
  p = programs.get(registry.names()[0], 2, 1e-3, "auto")
  state = p.init_state(0)
  x, y = split.gather("train")
  x, y = jnp.asarray(x[:32]), jnp.asarray(np.r_[y[-8:], y[:24]])
  prepare = registry.get(registry.names()[0]).input_kind.prepare
  ce = losses.cross_entropy(state.apply_fn({"params": state.params}, prepare(x)), y)
  _, weighted = step.train_step(state, x, y, None, {"class_weights": jnp.asarray(w)}, prepare=prepare)
  _, plain = step.train_step(state, x, y, prepare=prepare)
  assert float(weighted["loss"]) == pytest.approx(float(jnp.mean(jnp.asarray(w)[y] * ce)), rel=1e-5)
  assert float(plain["loss"]) == pytest.approx(float(jnp.mean(ce)), rel=1e-5)
  _, ones = step.train_step(state, x, y, None, {"class_weights": jnp.ones(2)}, prepare=prepare)
  assert float(ones["loss"]) == pytest.approx(float(plain["loss"]), rel=1e-6)


def test_affine_keeps_shapes_is_seeded_and_leaves_unmarked_rows():
  rng = np.random.default_rng(0)
  wide = jnp.asarray(rng.random((200, 784), np.float32))
  mask = jnp.asarray(np.arange(200) % 2 == 0)
  key = jax.random.key(7)
  a, b = augment.affine(wide, key, mask), augment.affine(wide, key, mask)
  assert a.shape == wide.shape and a.dtype == wide.dtype and np.array_equal(a, b)
  changed = np.any(np.asarray(a) != np.asarray(wide), axis=1)
  assert not changed[~np.asarray(mask)].any()  # unmarked rows pass through
  assert 0.35 < changed[np.asarray(mask)].mean() < 0.65  # half the marked ones are drawn anew
  assert not np.array_equal(a, augment.affine(wide, jax.random.key(8), mask))
  x = wide[:6]
  still = augment.transform(x, jnp.zeros(6), jnp.zeros((6, 2)), jnp.ones(6))
  assert np.allclose(still, x, atol=1e-6)  # no rotation, shift or scaling: the drawings themselves
  shifted = np.asarray(augment.transform(x, jnp.zeros(6), jnp.tile(jnp.asarray([0.0, 1.0]), (6, 1)), jnp.ones(6)))
  image = np.asarray(x).reshape(6, 28, 28)
  assert np.allclose(shifted.reshape(6, 28, 28)[:, :, 1:], image[:, :, :-1], atol=1e-6)
  assert not np.any(shifted.reshape(6, 28, 28)[:, :, 0])  # what enters from outside is background
  # nearest-pixel sampling: a rotated, scaled drawing keeps its own pixel values (no blur to learn)
  turned = np.asarray(augment.transform(x, jnp.full(6, 0.2), jnp.full((6, 2), 0.4), jnp.full(6, 1.07)))
  for row, src in zip(turned, np.asarray(x)):
    assert set(np.unique(row)) <= set(np.unique(src)) | {0.0}
  assert not np.allclose(turned, x)


def test_keras_init_draws_glorot_kernels_and_zero_biases():
  for name in (n for n in registry.names() if registry.get(n).input_kind is registry.BITMAP):  # the paper's Keras nets
    module = registry.get(name).create(10)
    keras = models.init_params(module, jax.random.key(0), init="keras")
    flax = models.init_params(module, jax.random.key(0))
    assert models.param_count(keras) == models.param_count(flax)
    again = models.init_params(module, jax.random.key(0), init="keras")
    for (path, leaf), (_, ref), (_, rep) in zip(*(jax.tree_util.tree_leaves_with_path(t) for t in (keras, flax, again))):
      assert np.array_equal(leaf, rep) and leaf.shape == ref.shape
      if path[-1].key == "bias":
        assert not np.any(leaf)
        continue
      fan_in, fan_out = np.prod(leaf.shape[:-1]), np.prod(leaf.shape[:-2]) * leaf.shape[-1]
      limit = np.sqrt(6 / (fan_in + fan_out))
      assert np.abs(leaf).max() <= limit and np.abs(leaf).max() > 0.9 * limit and not np.array_equal(leaf, ref)


def test_model_epochs_give_a_model_its_own_budget():
  config = configs.get_config("h2")
  assert base.epochs_for(config, "fc") == 30 and base.epochs_for(config, "cnn2") == config.epochs == 10
  assert base.epochs_for(configs.get_config("h2", quick=True), "fc") == 4
  config.model_epochs = "fc=2,cnn2=x"
  with pytest.raises(QdError, match="model_epochs"):
    base.validate(config)


def test_an_epoch_runs_in_chunks_that_cover_its_steps():
  for steps in (1, 3, 4, 31, 32, 33, 70, 246):
    chunks = programs.chunks(steps)
    covered = [s for start, size in chunks for s in range(start, start + size)]
    assert covered == list(range(steps)) and max(size for _, size in chunks) <= programs.CHUNK_STEPS


def test_arms_stacked_in_one_cohort_equal_their_solo_runs(files):
  major, minor = list(files)[:2]
  pair = {c: files[c] for c in (major, minor)}
  split = splits.make_split(pair, {major: splits.Sizes(120, 10, 40), minor: splits.Sizes(24, 10, 40)}, seed=1)
  members = [cohort.Member(split, 1, arm, augmentation=arm) for arm in ("none", "class_weight", "affine")]
  settings = train_settings(epochs=2)
  model = registry.names()[0]
  together = loop.train_cohort(model, members, settings, log=lambda _: None)
  for m, r in zip(members, together):
    solo, = loop.train_cohort(model, [m], settings, log=lambda _: None)
    for a, b in zip(r.history, solo.history):
      assert a["train_loss"] == pytest.approx(b["train_loss"], abs=2e-4)
  losses_ = [r.history[-1]["train_loss"] for r in together]
  assert len(set(losses_)) == 3  # the arms train differently


def test_h5_and_h6_share_the_grids_runs(tiny_data_dir, tmp_path):
  overrides = {"data_dir": str(tiny_data_dir), "categories": ",".join(TINY), "num_seeds": 1, "epochs": 1,
               "batch_size": 32, "eval_batch_size": 64, "k_values": "2,3", "n_values": "100,200"}
  todo = [c for c in configs.get_configs("all", overrides=overrides) if c.design == "grid"]
  assert len(todo) == 2
  logs = []
  runs = sweep.run_hypotheses(todo, tmp_path, log=logs.append)
  ids = [r["run_id"] for r in runs]
  assert len(ids) == len(set(ids)) == 4 and all(i.startswith("grid/") for i in ids)
  assert {r["hypothesis"] for r in runs} == {todo[0].hypothesis}
  assert sum("already in" in line for line in logs) == 4  # the second hypothesis reads them
  assert all(r["design"] == "grid" and r["epoch_budget"] == 1 and r["stopping"] == "epoch_budget" for r in runs)
  todo[1].epochs = 2
  with pytest.raises(QdError, match="share the grid design's runs but their configs differ in epochs"):
    sweep.run_hypotheses(todo, tmp_path / "other", log=lambda _: None)
