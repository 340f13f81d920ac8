"""Many models at once: a cohort's runs equal their solo runs, and resume like them."""

import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from qd_jax import cohort, steps, train
from qd_jax.data import splits

from conftest import checkpoint_steps, records, start_and_kill

CATS = ("airplane", "cat", "smiley face", "rainbow")
ARGS = dict(epochs=3, batch_size=32, learning_rate=3e-3, eval_batch_size=64, input_pipeline="device",
            log=lambda _: None)


@pytest.fixture
def four(make_category_files):
  return make_category_files("four", {c: 300 for c in CATS})


def _member(files, k, rows, seed):
  names = list(files)[:k]
  sizes = splits.sizes_for(rows, 0.1, 0.2)
  split = splits.make_split({c: files[c] for c in names}, {c: sizes for c in names}, seed)
  return cohort.Member(split, seed, f"k{k}-rows{rows}-seed{seed}")


def _close(a: dict, b: dict, tol=2e-4):
  """Same run to float rounding: every epoch's metrics, the test metrics and the predictions."""
  assert len(a["epochs"]) == len(b["epochs"])
  for ea, eb in zip(a["epochs"], b["epochs"]):
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
      assert ea[key] == pytest.approx(eb[key], abs=tol), (key, ea, eb)
  assert a["test_loss"] == pytest.approx(b["test_loss"], abs=tol)
  assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=0.01)
  assert a["param_count"] == b["param_count"]
  pa, pb = a["test_predictions"]["pred"], b["test_predictions"]["pred"]
  agree = np.mean([x == y for c in pa for x, y in zip(pa[c], pb[c])])
  assert agree >= 0.99


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_each_run_of_a_cohort_equals_its_solo_run(four, model):
  # Different class counts (padded, masked), row counts (masked steps) and seeds in one program.
  members = [_member(four, 4, 300, 0), _member(four, 3, 300, 1), _member(four, 4, 200, 2),
             _member(four, 2, 250, 0)]
  together = train.train_cohort(model, members, **ARGS)
  assert [r["models_at_once"] for r in together] == [4] * 4
  for m, r in zip(members, together):
    solo = train.train_run(model, m.split, seed=m.seed, **ARGS)
    assert solo["models_at_once"] == 1
    _close(r, solo)
  assert together[0]["test_accuracy"] > 0.6  # it learned, so equality is not of two untrained nets


def test_runs_of_a_cohort_stay_apart(four):
  a, b = train.train_cohort("fc", [_member(four, 4, 300, 0), _member(four, 4, 300, 1)], **ARGS)
  # different seeds stay different: no member reads another's state or data
  assert a["epochs"][0]["train_loss"] != pytest.approx(b["epochs"][0]["train_loss"], rel=1e-3)


def test_stack_pads_with_zeros_and_unstack_inverts(four):
  net3, apply3, tx = steps.model_and_optimizer("fc", 3, 1e-3)
  net5, apply5, _ = steps.model_and_optimizer("fc", 5, 1e-3)
  small, big = steps.create_state(net3, apply3, tx, 0), steps.create_state(net5, apply5, tx, 1)
  stacked = cohort.stack([small, big])
  assert stacked.params["Dense_2"]["kernel"].shape == (2, 12, 5)
  assert np.all(np.asarray(stacked.params["Dense_2"]["kernel"][0, :, 3:]) == 0)
  back = cohort.unstack(stacked, [small, big])
  for got, want in zip(back, [small, big]):
    for x, y in zip(*(jax.tree_util.tree_leaves((s.params, s.opt_state)) for s in (got, want))):
      np.testing.assert_array_equal(x, y)


def test_plan_groups_by_resume_epoch_and_size():
  # steps 100, 90, 40, 100 (resumed at 2), 60; at most 2 per cohort
  assert cohort.plan([100, 90, 40, 100, 60], [0, 0, 0, 2, 0], 2) == [[0, 1], [2, 4], [3]]
  assert cohort.plan([10, 10, 10], [0, 0, 0], 8) == [[0, 1, 2]]
  assert cohort.plan([100, 49], [0, 0], 8) == [[0], [1]]  # padding would waste over half


def test_a_cohort_left_one_save_apart_resumes_together_from_the_older_save():
  class Held:  # the part of checkpoint.RunCheckpoints that the resume rule reads
    def __init__(self, *epochs):
      self._epochs = list(epochs)

    def epochs(self):
      return self._epochs

  def member(*epochs):
    return cohort.Member(None, 0, "", Held(*epochs) if epochs else None)

  ahead, behind, fresh, finished = member(3, 5), member(1, 3), member(), cohort.Member(None, 0, "", Held())
  assert cohort.resume_epoch([ahead, behind]) == 3
  assert cohort.resume_groups([ahead, fresh, behind, finished]) == [3, 0, 3, 0]
  assert cohort.resume_epoch([ahead, fresh]) == 0  # nothing in common: the cohort starts afresh


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


def test_cohort_resumes_bitwise_even_when_its_runs_saved_different_epochs(bigger_data_dir, tmp_path):
  whole = tmp_path / "whole"
  out = subprocess.run(_cmd(bigger_data_dir, whole), check=True, capture_output=True, text=True).stdout
  assert "(4 models at once)" in out
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
  assert records(workdir) == records(whole)
