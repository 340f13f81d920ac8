"""Training: learning, determinism, both input paths, divergence, and 4-device data parallelism."""

import os
import shutil
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

from qd_jax.errors import QdError
from qd_jax.nn import models
from qd_jax.records import workdir as wd
from qd_jax.training import loop, programs

from conftest import TINY, tiny_split, train_settings


def _run(split, model="cnn2", seed=0, **kw):
  return loop.train_run(model, split, train_settings(**kw), seed=seed, log=lambda _: None)


def _metrics(r):
  timing = {"seconds", "samples_per_s"}
  return ([{k: v for k, v in e.items() if k not in timing} for e in r.history],
          r.test["accuracy"], r.test["loss"], r.test["per_class_accuracy"])


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_each_model_learns_the_classes(tiny_data_dir, model):
  r = _run(tiny_split(tiny_data_dir), model=model, epochs=4)
  assert r.test["accuracy"] > 0.8, r.history
  assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
  assert r.param_count == {"fc": 20067 - 7 * 12 - 7, "cnn1": 320890 - 7 * 64 - 7,
                           "cnn2": 19322 - 7 * 64 - 7}[model]  # 3 classes, not 10
  assert len(r.test["per_class_accuracy"]) == len(TINY)
  assert sum(map(sum, r.test["confusion"])) == len(r.test["pred"]) == 3 * 40


def test_same_seed_same_numbers_and_other_seed_differs(tiny_data_dir):
  a = _run(tiny_split(tiny_data_dir))
  b = _run(tiny_split(tiny_data_dir))
  c = _run(tiny_split(tiny_data_dir, seed=1), seed=1)
  assert _metrics(a) == _metrics(b)
  assert _metrics(a) != _metrics(c)


def test_tfdata_path_trains_like_the_device_path(tiny_data_dir):
  split = tiny_split(tiny_data_dir)
  dev = _run(split, epochs=4)
  tfd = _run(split, epochs=4, input_pipeline="tfdata")
  # The same batches in the same order (splits.epoch_order): only the compiled programs differ.
  for a, b in zip(tfd.history, dev.history):
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
      assert a[key] == pytest.approx(b[key], abs=1e-4), key
  assert tfd.test["accuracy"] == pytest.approx(dev.test["accuracy"], abs=0.01)
  assert _metrics(tfd) == _metrics(_run(split, epochs=4, input_pipeline="tfdata"))


def test_divergence_stops_with_one_line(tiny_data_dir):
  with pytest.raises(QdError, match=r"diverged.*learning_rate") as e:
    _run(tiny_split(tiny_data_dir), learning_rate=1e6)
  assert "\n" not in str(e.value)


def test_batch_must_divide_over_devices(tiny_data_dir, monkeypatch):
  monkeypatch.setattr(programs, "mesh", lambda: types.SimpleNamespace(size=3))
  with pytest.raises(QdError, match="multiples of 3"):
    _run(tiny_split(tiny_data_dir))


def _launch_cnn2(data_dir, workdir, devices):
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
  cmd = [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h2", f"--data_dir={data_dir}",
         f"--categories={','.join(TINY)}", f"--workdir={workdir}", "--config.models=cnn2,fc",
         "--config.num_seeds=2", "--config.epochs=3", "--config.rows_per_category=200",
         "--config.batch_size=32", "--config.eval_batch_size=64",
         # h2 times its models alike (one run at a time) and gives FC 30 epochs: the defaults here
         "--config.models_at_once=0", "--config.model_epochs=fc=3"]
  subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
  return wd.read_runs(workdir)


def test_four_devices_equal_one(tiny_data_dir, tmp_path):
  one = _launch_cnn2(tiny_data_dir, tmp_path / "one", 1)
  four = _launch_cnn2(tiny_data_dir, tmp_path / "four", 4)
  assert [r["devices"] for r in one] == [1] * 4 and [r["devices"] for r in four] == [4] * 4
  # FC's two seeds train stacked (a cohort), so stacking is exercised across devices too
  assert sorted(r["models_at_once"] for r in four) == [1, 1, 2, 2]
  for a, b in zip(one, four):
    assert a["model"] == b["model"]
    for ea, eb in zip(a["epochs"], b["epochs"]):
      assert ea["train_loss"] == pytest.approx(eb["train_loss"], rel=1e-4, abs=1e-5)
      assert ea["val_loss"] == pytest.approx(eb["val_loss"], rel=1e-4, abs=1e-5)
    assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4, abs=1e-5)
    assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1 / a["test_examples"] + 1e-9)


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_fast_layers_train_like_xla_layers(tiny_data_dir, model):
  """Same parameters, same data order: the CPU formulations track XLA's own to float rounding."""
  split = tiny_split(tiny_data_dir)
  xla = _run(split, model=model, epochs=3, layers="xla")
  fast = _run(split, model=model, epochs=3, layers="fast")
  assert fast.layers == "fast" and xla.layers == "xla"
  for a, b in zip(xla.history, fast.history):
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
    assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)
  assert abs(xla.test["accuracy"] - fast.test["accuracy"]) <= 2 / len(xla.test["pred"])


def test_evaluation_in_calls_of_several_batches_equals_one_batch_per_call(tiny_data_dir, monkeypatch):
  split = tiny_split(tiny_data_dir)
  compiled = programs.get("cnn2", len(split.categories), 1e-3, "fast")
  state = compiled.init_state(0)
  x, y = split.gather("test")
  grouped = compiled.eval_set(x, y, 8)  # calls of 8 batches, the last one running the rest
  nb = -(-len(y) // 8)
  assert nb % programs.EVAL_CALL_BATCHES  # so the last call is a partial one
  assert {b[0].shape[0] for b in grouped.batches} == {programs.EVAL_CALL_BATCHES}
  assert sum(grouped.counts) == nb and grouped.counts[-1] == nb % programs.EVAL_CALL_BATCHES
  monkeypatch.setattr(programs, "EVAL_CALL_BATCHES", 1)
  single = compiled.eval_set(x, y, 8)
  assert {b[0].shape[0] for b in single.batches} == {1} and len(single.batches) == nb
  a, b = compiled.evaluate(state, grouped), compiled.evaluate(state, single)
  assert (a["loss"], a["accuracy"], a["confusion"]) == (b["loss"], b["accuracy"], b["confusion"])
  assert (a["pred"] == b["pred"]).all()


def test_programs_of_one_model_share_the_initialisation_and_keep_their_own_apply():
  # Autotune's candidates and a sweep's settings differ in formulation, not in initial weights:
  # one compiled initialisation serves them all, and each state applies its own formulation.
  lr = 0.0123  # a setting no other test compiles
  fast = programs.Programs("cnn2", 3, lr, "fast", programs.mesh())
  xla = programs.Programs("cnn2", 3, lr, "xla", programs.mesh(), microbatch=64)
  a, b = fast.init_state(5), xla.init_state(5)
  assert fast.compile_seconds > 0 and xla.compile_seconds == 0
  assert a.apply_fn is fast.apply and b.apply_fn is xla.apply and a.tx is fast.tx and b.tx is xla.tx
  leaves = [jax.tree_util.tree_leaves((s.params, s.opt_state)) for s in (a, b)]
  for x, y in zip(*leaves):
    np.testing.assert_array_equal(x, y)
  other = programs.Programs("cnn2", 4, lr, "fast", programs.mesh())
  other.init_state(5)
  assert other.compile_seconds > 0  # another class count is another program


@pytest.mark.parametrize("model,init", [("cnn2", "flax"), ("fc", "flax"), ("cnn1", "keras")])
def test_initialisation_at_its_cheaper_level_draws_the_default_levels_bits(model, init):
  # The initialisation compiles at programs.CPU_INIT_OPTIONS to save a first launch's compile time;
  # that is only allowed while it draws, on the CPU at hand, what the default level draws.
  compiled = programs.Programs(model, 7, 0.0125, "fast", programs.mesh())
  state = compiled.init_state(0, init)
  assert programs.init_options() == (programs.CPU_INIT_OPTIONS if jax.default_backend() == "cpu" else None)
  for seed in (0, 1, 11):
    ours = compiled.init_state(seed, init).params
    key = jax.random.key(seed)
    default = jax.jit(lambda k: models.init_params(compiled.model, k, compiled.input_kind.example_shape, init))(key)
    for x, y in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(default)):
      np.testing.assert_array_equal(x, y)
  assert state.step == 0


_COMPILE_ONE = """
import sys, jax, jax.numpy as jnp
from qd_jax.training import programs
programs.persistent_cache(sys.argv[1])
jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()
"""


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the XLA:CPU rule: GPUs keep JAX's default")
def test_a_copied_compilation_cache_serves_the_launch_that_finds_it_elsewhere(tmp_path):
  """Batch VMs and fresh HOMEs get the cache copied in: its keys must not hold its own path."""
  first, moved = tmp_path / "a" / "xla", tmp_path / "b" / "elsewhere"
  subprocess.run([sys.executable, "-c", _COMPILE_ONE, str(first)], check=True, capture_output=True)
  shutil.copytree(first, moved)
  out = subprocess.run([sys.executable, "-c", _COMPILE_ONE, str(moved)], check=True, capture_output=True,
                       text=True, env={**os.environ, "JAX_LOG_COMPILES": "1"})
  assert "Persistent compilation cache hit for 'jit__lambda'" in out.stderr
  assert sorted(p.name for p in moved.iterdir()) == sorted(p.name for p in first.iterdir())  # nothing new


@pytest.mark.parametrize("model", ["cnn1", "cnn2"])
def test_every_unroll_of_the_microbatch_loop_trains_the_same_model(model):
  # Autotune picks the unroll by speed: each must train what the others do, to float rounding
  # (XLA:CPU fuses the unrolled chunks' sums differently, so not to the bit).
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (128, 784), dtype=np.uint8)
  y = rng.integers(0, 3, 128).astype(np.int32)
  leaves = []
  for unroll in (1, 2, 4, 8):
    compiled = programs.Programs(model, 3, 1e-3, "fast", programs.mesh(), microbatch=16, unroll=unroll)
    state = compiled.init_state(0)
    for _ in range(3):
      state, _ = compiled.step(state, x, y)
    leaves.append(jax.tree_util.tree_leaves(state.params))
  for other in leaves[1:]:
    for a, b in zip(leaves[0], other):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
