"""Many models at once: a cohort's runs equal their solo runs, and resume like them."""

import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from qd_jax.data import splits
from qd_jax.training import cohort, loop, programs, step

from conftest import checkpoint_steps, open_files, records, start_and_kill, train_settings

CATS = ("airplane", "cat", "smiley face", "rainbow")
SETTINGS = train_settings(epochs=3)


def _train(model, members):
  return loop.train_cohort(model, members, SETTINGS, log=lambda _: None)


@pytest.fixture
def four(make_category_files):
  return open_files(make_category_files("four", {c: 300 for c in CATS}))


def _member(files, k, rows, seed):
  names = list(files)[:k]
  sizes = splits.sizes_for(rows, 0.1, 0.2)
  split = splits.make_split({c: files[c] for c in names}, {c: sizes for c in names}, seed)
  return cohort.Member(split, seed, f"k{k}-rows{rows}-seed{seed}")


def _close(a: loop.RunResult, b: loop.RunResult, tol=2e-4):
  """Same run to float rounding: every epoch's metrics, the test metrics and the predictions."""
  assert len(a.history) == len(b.history)
  for ea, eb in zip(a.history, b.history):
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
      assert ea[key] == pytest.approx(eb[key], abs=tol), (key, ea, eb)
  assert a.test["loss"] == pytest.approx(b.test["loss"], abs=tol)
  assert a.test["accuracy"] == pytest.approx(b.test["accuracy"], abs=0.01)
  assert a.param_count == b.param_count
  assert np.mean(a.test["pred"] == b.test["pred"]) >= 0.99


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_each_run_of_a_cohort_equals_its_solo_run(four, model):
  # Different class counts (padded, masked), row counts (masked steps) and seeds in one program.
  members = [_member(four, 4, 300, 0), _member(four, 3, 300, 1), _member(four, 4, 200, 2),
             _member(four, 2, 250, 0)]
  together = _train(model, members)
  assert [r.models_at_once for r in together] == [4] * 4
  for m, r in zip(members, together):
    solo, = _train(model, [m])
    assert solo.models_at_once == 1
    _close(r, solo)
  assert together[0].test["accuracy"] > 0.6  # it learned, so equality is not of two untrained nets


def test_runs_of_fewer_classes_than_the_floor_share_one_epoch_program(four, monkeypatch):
  """H5's k = 3..9 and H4's two classes train padded to CLASS_FLOOR classes, alone too: one epoch
  program for them all (a compile each cost 3.2-4.2 s for CNN2), and the numbers of unpadded runs."""
  get = lambda k: programs.get("fc", k, SETTINGS.learning_rate, SETTINGS.layers, SETTINGS.microbatch,  # noqa: E731
                               SETTINGS.eval_rows, SETTINGS.unroll)
  padded = {k: _train("fc", [_member(four, k, 300, 0)])[0] for k in (2, 3, 4)}
  solo_scans = [key for key in get(cohort.CLASS_FLOOR)._executables if key[0] == "scan" and key[1][1] == 1
                and key[2] is not None]  # solo and masked (other tests may train ten classes alone)
  assert [key[2] for key in solo_scans] == [(1, cohort.CLASS_FLOOR)]  # one program for the three
  assert not any(key[0] == "scan" for k in (2, 3, 4) for key in get(k)._executables)
  monkeypatch.setattr(cohort, "CLASS_FLOOR", 0)  # each class count its own program, as before
  for k, run in padded.items():
    alone, = _train("fc", [_member(four, k, 300, 0)])
    _close(run, alone)
    assert run.param_count == alone.param_count == 784 * 25 + 25 + 25 * 12 + 12 + 12 * k + k
  assert any(key[0] == "scan" for key in get(3)._executables)


def test_runs_of_a_cohort_stay_apart(four):
  a, b = _train("fc", [_member(four, 4, 300, 0), _member(four, 4, 300, 1)])
  # different seeds stay different: no member reads another's state or data
  assert a.history[0]["train_loss"] != pytest.approx(b.history[0]["train_loss"], rel=1e-3)


def test_stack_pads_with_zeros_and_unstack_inverts(four):
  small = programs.get("fc", 3, 1e-3, "auto").init_state(0)
  big = programs.get("fc", 5, 1e-3, "auto").init_state(1)
  stacked = cohort.stack([small, big])
  assert stacked.params["Dense_2"]["kernel"].shape == (2, 12, 5)
  assert np.all(np.asarray(stacked.params["Dense_2"]["kernel"][0, :, 3:]) == 0)
  back = cohort.unstack(stacked, [small, big])
  for got, want in zip(back, [small, big]):
    for x, y in zip(*(jax.tree_util.tree_leaves((s.params, s.opt_state)) for s in (got, want))):
      np.testing.assert_array_equal(x, y)


def test_a_cohort_of_one_is_its_runs_state_and_steps_like_it():
  # No stacking program for solo runs (most of a CPU sweep): the state goes in and out as it is.
  compiled = programs.get("fc", 3, 1e-3, "auto")
  state = compiled.init_state(0)
  assert cohort.stack([state]) is state
  assert cohort.unstack(state, [state])[0] is state
  rng = np.random.default_rng(0)
  x = rng.random((1, 16, 784), np.float32)
  y = rng.integers(0, 3, (1, 16)).astype(np.int32)
  got, metrics = jax.jit(cohort.stacked_step(compiled._step))(state, x, y, None, None)
  want, want_metrics = jax.jit(compiled._step)(state, x[0], y[0])
  assert metrics["loss"].shape == (1,)
  assert float(metrics["loss"][0]) == float(want_metrics["loss"])
  for a, b in zip(jax.tree_util.tree_leaves(got.params), jax.tree_util.tree_leaves(want.params)):
    np.testing.assert_array_equal(a, b)


def test_the_step_metrics_are_what_the_epoch_buffers_expect():
  # programs._scan allocates its buffers from STEP_METRICS instead of tracing the step twice.
  compiled = programs.get("cnn2", 4, 1e-3, "auto")
  state = compiled.init_state(0)
  x, y = np.zeros((8, 784), np.uint8), np.zeros(8, np.int32)
  _, metrics = jax.eval_shape(compiled._step, state, x, y)
  assert {k: (v.shape, v.dtype) for k, v in metrics.items()} == {
      k: ((), np.dtype(d)) for k, d in step.STEP_METRICS.items()}


def test_group_by_steps_and_size():
  # steps 100, 90, 40, 100, 60; at most 2 per cohort
  assert cohort.group([100, 90, 40, 100, 60], 2) == [[0, 3], [1, 4], [2]]
  assert cohort.group([10, 10, 10], 8) == [[0, 1, 2]]
  assert cohort.group([100, 49], 8) == [[0], [1]]  # padding would waste over half


def test_plan_takes_the_registry_default_and_the_device_budget(four):
  members = [_member(four, 4, 300, s) for s in range(10)]
  plan = lambda **kw: cohort.plan(members, "fc", input_pipeline="device", batch_size=32, **kw)  # noqa: E731
  assert [len(g) for g in plan(models_at_once=0, device_data_max_mb=2048)] == [8, 2]  # fc's CPU default
  assert [len(g) for g in plan(models_at_once=3, device_data_max_mb=2048)] == [3, 3, 3, 1]
  assert members[0].split.count("train") * 784 > 2**20 / 2  # 1 MB holds one run's rows, not two
  assert [len(g) for g in plan(models_at_once=0, device_data_max_mb=1)] == [1] * 10


def test_a_cohort_left_one_save_apart_resumes_together_from_the_older_save():
  class Held:  # the part of checkpoint.RunCheckpoints that the resume rules read
    def __init__(self, tags, *epochs):
      self._tags, self._epochs = tags, list(epochs)

    def epochs(self):
      return self._epochs

    def cohort(self):
      return self._tags

  ab, cd = ["a", "b"], ["c", "d"]
  ahead, behind = cohort.Member(None, 0, "a", Held(ab, 3, 5)), cohort.Member(None, 0, "b", Held(ab, 1, 3))
  assert cohort.resume_epoch([ahead, behind]) == 3
  # c saved its first epoch and d did not: they rerun as one cohort, afresh.
  first, none = cohort.Member(None, 0, "c", Held(cd, 1)), cohort.Member(None, 0, "d", Held(cd))
  fresh, unnamed = cohort.Member(None, 0, "e", Held(None)), cohort.Member(None, 0, "f")
  members = [fresh, ahead, first, unnamed, behind, none]
  assert cohort.interrupted(members) == [[1, 4], [2, 5]]
  assert cohort.resume_epoch([first, none]) == 0
  # Named but never saved (a kill while naming it): nothing to resume, so planned afresh.
  assert cohort.interrupted([cohort.Member(None, 0, "c", Held(cd)), none]) == []


def test_epoch_tables_give_each_run_its_solo_order(four):
  a, b = _member(four, 4, 300, 0), _member(four, 4, 200, 5)
  idx, active = cohort.epoch_tables([a, b], epoch=3, batch_size=32)
  n_a, n_b = a.split.count("train"), b.split.count("train")
  assert idx.shape == (n_a // 32, 2, 32) and active.sum(0).tolist() == [n_a // 32, n_b // 32]
  solo, none = cohort.epoch_tables([b], epoch=3, batch_size=32)
  assert none is None
  np.testing.assert_array_equal(idx[:n_b // 32, 1], solo[:, 0])


# --- a cohort killed mid-run and rerun, through the launcher -------------------------------------

def _cmd(data_dir, workdir, *extra):
  return [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h3", f"--data_dir={data_dir}",
          f"--categories={','.join(CATS[:3])}", f"--workdir={workdir}", "--config.models=fc",
          "--config.rows_sweep=1000,1500", "--seeds=2", "--config.models_at_once=4",
          "--config.epochs=40", "--config.batch_size=32", "--config.eval_batch_size=64", "--config.checkpoint_min_seconds=0", *extra]


@pytest.fixture(scope="module")
def whole(bigger_data_dir, tmp_path_factory):
  """The records of _cmd's sweep never stopped: one cohort of four runs."""
  workdir = tmp_path_factory.mktemp("whole") / "w"
  subprocess.run(_cmd(bigger_data_dir, workdir), check=True, capture_output=True)
  # From the records, not the console: its cohort line is a heartbeat, absent when a run is quick.
  assert [r["models_at_once"] for r in records(workdir)] == [4] * 4
  return records(workdir)


def test_cohort_resumes_bitwise_even_when_its_runs_saved_different_epochs(bigger_data_dir, tmp_path, whole):
  workdir = tmp_path / "w"
  code, _ = start_and_kill(_cmd(bigger_data_dir, workdir), lambda: len(checkpoint_steps(workdir)) >= 8,
                            sig=signal.SIGTERM)
  assert code == 143
  # As if a kill came between two runs' saves: one run loses its newest checkpoint.
  runs = sorted((workdir / "checkpoints").iterdir())
  newest = max(int(p.name) for p in runs[0].iterdir() if p.name.isdigit())
  shutil.rmtree(runs[0] / str(newest))
  out = subprocess.run(_cmd(bigger_data_dir, workdir), check=True, capture_output=True, text=True).stdout
  assert f"resumed after epoch {newest - 1}" in out
  assert records(workdir) == whole


def test_a_kill_between_a_cohorts_first_saves_reruns_the_same_cohort_afresh(bigger_data_dir, tmp_path, whole):
  workdir = tmp_path / "w"
  code, _ = start_and_kill(_cmd(bigger_data_dir, workdir), lambda: len(checkpoint_steps(workdir)) >= 1,
                            sig=signal.SIGTERM)
  assert code == 143
  # As if the kill came right after the first run's first save: the other three hold no epoch.
  first, *others = sorted((workdir / "checkpoints").iterdir())
  for run in others:
    for saved in (p for p in run.iterdir() if p.name.isdigit()):
      shutil.rmtree(saved)
  assert any(p.name.isdigit() for p in first.iterdir())
  # Resumed alone, the first run would train on outside its cohort: other numbers in the last digits.
  out = subprocess.run(_cmd(bigger_data_dir, workdir), check=True, capture_output=True, text=True).stdout
  assert "resumed after epoch" not in out
  assert records(workdir) == whole


def test_device_rows_take_few_shapes_and_always_hold_the_run():
  sizes = [cohort.padded_rows(n) for n in range(1, 40_001)]
  assert all(s >= n for n, s in zip(range(1, 40_001), sizes))
  assert all(s <= 1.5 * n for n, s in zip(range(1, 40_001), sizes) if n > 2)
  assert len(set(sizes)) <= 2 * 16 and cohort.padded_rows(2100) == cohort.padded_rows(3000) == 3072


def test_runs_of_nearby_sizes_and_any_class_count_share_one_gather_program(four, monkeypatch):
  """H5's grid has a training-set size per point: each must not compile a gather of its own."""
  monkeypatch.setattr(programs, "_SHARED", {})
  # 700 and 630 training rows, padded to 768 rows; 784 and 840, padded to 1024
  for k, rows in ((4, 250), (3, 300), (4, 280), (4, 300)):
    _train("fc", [_member(four, k, rows, 0)])
  assert [key[1] for key in programs._SHARED if key[0] == "gather"] == [(1, 768, 784), (1, 1024, 784)]


def test_each_gather_writes_over_the_chunk_before_last(monkeypatch):
  """The epoch's gather donates a spent chunk for its output (on XLA:CPU a fresh one was paged
  in anew by every call), keeps the last two for the scans still reading them, and few shapes."""
  monkeypatch.setattr(programs, "_SPENT", {})
  compiled = programs.get("fc", 10, 1e-3, "auto")
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (1, 40, 784), dtype=np.uint8)
  y = rng.integers(0, 10, (1, 40)).astype(np.int32)
  xa, ya = programs.place((x, y), compiled.repl)
  outs = []
  for i in range(4):
    idx = rng.integers(0, 40, (3, 1, 4)).astype(np.int32)
    outs.append(compiled._gather(xa, ya, programs.place(idx, compiled.steps_split)))
    assert (np.asarray(outs[-1][0]) == x[0][idx]).all() and (np.asarray(outs[-1][1]) == y[0][idx]).all()
  assert [outs[i][0].is_deleted() for i in range(4)] == [True, True, False, False]
  (take,) = [f for key, f in programs._SHARED.items() if key[0] == "gather" and key[3] == (3, 1, 4)]
  assert "input_output_alias" in take.as_text()
  for b in range(1, 2 * programs.SPENT_SHAPES):  # other chunk shapes: only the latest few are kept
    compiled._gather(xa, ya, programs.place(np.zeros((3, 1, b), np.int32), compiled.steps_split))
  assert len(programs._SPENT) == programs.SPENT_SHAPES


def test_rows_of_one_shape_and_two_dtypes_get_a_gather_each(monkeypatch):
  """The shared gather is keyed by its rows' dtype too: one compiled for uint8 rows refused
  float32 rows of the same shape."""
  monkeypatch.setattr(programs, "_SHARED", {})
  compiled = programs.get("fc", 10, 1e-3, "auto")
  idx = programs.place(np.array([[[2, 0]]], np.int32), compiled.steps_split)
  y = np.arange(3, dtype=np.int32)[None]
  for dtype in (np.uint8, np.float32):
    x = np.arange(3 * 784).reshape(1, 3, 784).astype(dtype)
    got, _ = compiled._gather(*programs.place((x, y), compiled.repl), idx)
    assert got.dtype == dtype and (np.asarray(got)[0, 0] == x[0][[2, 0]]).all()


def test_stacked_rows_are_padded_aligned_and_placed_on_the_cpu_without_a_copy():
  runs = [np.arange(1, 13, dtype=np.uint8).reshape(3, 4), np.full((5, 4), 7, np.uint8)]
  rows = cohort.stack_rows(runs)
  assert rows.shape == (2, cohort.padded_rows(5), 4) and rows.ctypes.data % cohort.ALIGN == 0
  assert (rows[0, :3] == runs[0]).all() and (rows[1, :5] == 7).all()
  assert not rows[0, 3:].any() and not rows[1, 5:].any()
  placed = programs.place(rows, programs.get("fc", 10, 1e-3, "auto").repl)
  rows[0, 0, 0] = 99  # only a test writes after placing: it shows the device array is the buffer
  assert int(np.asarray(placed)[0, 0, 0]) == (99 if jax.default_backend() == "cpu" else 1)
