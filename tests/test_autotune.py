"""training/autotune.py: measured once per machine and (model, batch), then read back; config
fields kept; stacking only where it pays; what a run used is in its record."""

import json
import os
import subprocess
import sys

import pytest

from qd_jax.training import autotune, step

from conftest import TINY


@pytest.fixture
def timed(monkeypatch, tmp_path):
  """autotune.measure replaced by a table of samples/s; returns the training timings it got
  (model, batch, layers, microbatch, models[, unroll where it is not step.UNROLL]), with the
  evaluation timings as `.evals` and each call's keys as `.groups`."""
  class Calls(list):
    evals: list
    groups: list

  calls = Calls()
  calls.evals, calls.groups = [], []

  def install(table):
    def fake(model, batch, keys, built=None):
      calls.groups.append(list(keys))
      got = {}
      for k in keys:
        if k[0] == "train":
          calls.append((model, batch, *k[1:4]) if k[4] == step.UNROLL else (model, batch, *k[1:]))
          got[k] = table(k) if callable(table) else table.get(k[1:4] if k[4] == step.UNROLL else k[1:], 1.0)
        else:
          calls.evals.append((model, *k[1:]))
          got[k] = table(k) if callable(table) else table.get(("eval", k[2]), 1.0)
      return got
    monkeypatch.setattr(autotune, "measure", fake)
    return calls

  monkeypatch.setenv("QD_JAX_AUTOTUNE", "1")
  return install


def test_measured_once_then_read_from_the_cache(timed, tmp_path, monkeypatch):
  calls = timed({("fast", 64, 1): 3.0, ("xla", 0, 1): 2.0, ("fast", 64, 2): 3.1})
  cache = str(tmp_path / "autotune.json")
  first = autotune.choose("cnn2", 128, cache=cache)
  assert first == autotune.Setting("fast", 64, 1, "measured")  # two stacked: 3.1 < 1.05 x 3.0
  n = len(calls)
  assert n > 0 and ("cnn2", 128, "fast", 64, 2) in calls
  again = autotune.choose("cnn2", 128, cache=cache)
  assert again == autotune.Setting("fast", 64, 1, "cached") and len(calls) == n  # no new timing
  other_batch = autotune.choose("cnn2", 1024, cache=cache)
  assert other_batch.source == "measured" and len(calls) > n
  table = json.loads((tmp_path / "autotune.json").read_text())
  assert list(table) == [autotune.machine()] and len(table[autotune.machine()]["choices"]) == 2
  monkeypatch.setattr(autotune, "machine", lambda: "another CPU | 2 cores | jax 0 | cpu")
  assert autotune.choose("cnn2", 128, cache=cache).source == "measured"  # a new machine times again


def test_a_setting_that_fixes_the_cohort_size_reuses_the_solo_timings(timed, tmp_path):
  """H2 fixes models_at_once=1; its runs must train as the free choice's solo winner, untimed."""
  calls = timed({("fast", 64, 1): 3.0, ("fast", 0, 1): 2.9, ("xla", 0, 1): 2.0, ("fast", 64, 2): 3.5})
  cache = str(tmp_path / "autotune.json")
  free = autotune.choose("cnn2", 128, cache=cache)
  n = len(calls)
  solo = autotune.choose("cnn2", 128, models_at_once=1, cache=cache)
  assert (free.models_at_once, solo.models_at_once) == (2, 1) and len(calls) == n
  assert (solo.layers, solo.microbatch, solo.source) == (free.layers, free.microbatch, "measured")


def test_a_cohort_is_chosen_only_when_it_beats_solo_runs_by_the_margin(timed, tmp_path):
  # aggregate samples/s: two stacked runs 1.2x one run, four 1.1x two runs (under the margin)
  timed({("fast", 0, 1): 10.0, ("fast", 0, 2): 12.0, ("fast", 0, 4): 12.5, ("xla", 0, 1): 5.0})
  got = autotune.choose("fc", 128, cache=str(tmp_path / "a.json"))
  assert (got.layers, got.models_at_once) == ("fast", 2)
  timed({("fast", 0, 1): 10.0, ("fast", 0, 2): 10.4, ("xla", 0, 1): 5.0})
  assert autotune.choose("fc", 128, cache=str(tmp_path / "b.json")).models_at_once == 1


def test_a_cohort_that_ties_does_not_end_the_search_and_a_slower_one_does(timed, tmp_path):
  # On a Xeon FC at 128 read 1.01x stacked 2 and 1.13x stacked 8 (benchmarks/results/cpu/bench_intel_xeon_2026-12-04_*)
  calls = timed({("fast", 0, 1): 10.0, ("fast", 0, 2): 10.1, ("fast", 0, 4): 10.2, ("fast", 0, 8): 11.3})
  assert autotune.choose("fc", 128, cache=str(tmp_path / "t.json")).models_at_once == 8
  assert [("train", "fast", 0, 8, 2), ("train", "fast", 0, 1, 2)] in calls.groups  # beside the best so far
  calls = timed({("fast", 0, 1): 10.0, ("fast", 0, 2): 9.9, ("fast", 0, 4): 20.0})
  calls.clear()
  assert autotune.choose("fc", 128, cache=str(tmp_path / "s.json")).models_at_once == 1
  assert ("fc", 128, "fast", 0, 4) not in calls  # 2 was slower than solo: 4 is never timed


def test_fields_the_config_sets_are_kept_and_only_the_rest_is_timed(timed, tmp_path):
  calls = timed({})
  got = autotune.choose("cnn1", 1024, layers="xla", models_at_once=3, cache=str(tmp_path / "c.json"))
  assert (got.layers, got.microbatch, got.models_at_once) == ("xla", 0, 3)
  assert {c[2] for c in calls} == {"xla"} and {c[4] for c in calls} == {1}
  calls.clear()
  got = autotune.choose("cnn1", 1024, microbatch=0, cache=str(tmp_path / "d.json"))
  assert got.microbatch == 0 and {c[3] for c in calls} == {0}


def test_the_chosen_chunk_is_timed_at_each_unroll_beside_the_default(timed, tmp_path):
  calls = timed({("fast", 64, 1): 3.0, ("fast", 128, 1): 3.2, ("fast", 128, 1, 4): 3.5, ("fast", 128, 1, 8): 3.4})
  got = autotune.choose("cnn2", 1024, cache=str(tmp_path / "u.json"))
  assert (got.microbatch, got.unroll, got.models_at_once) == (128, 4, 1)
  assert calls.groups[1] == [("train", "fast", 128, 1, 4), ("train", "fast", 128, 1, 8), ("train", "fast", 128, 1, 2)]
  assert calls.groups[2] == [("train", "fast", 128, 2, 4), ("train", "fast", 128, 1, 4)]  # cohorts at the chosen unroll
  timed({("fast", 64, 1): 3.0, ("fast", 64, 1, 4): 3.0, ("fast", 64, 1, 8): 2.0})
  assert autotune.choose("cnn2", 1024, cache=str(tmp_path / "v.json")).unroll == step.UNROLL  # a tie keeps 2
  calls.clear()
  timed({("fast", 64, 1): 3.0})
  assert autotune.choose("cnn2", 128, cache=str(tmp_path / "w.json")).unroll == step.UNROLL
  assert {len(c) for c in calls} == {5}  # 128 rows in chunks of 64: no other unroll to time
  calls.clear()
  timed({})
  assert autotune.choose("cnn2", 1024, unroll=8, cache=str(tmp_path / "x.json")).unroll == 8
  assert {c[-1] for c in calls} == {8}  # as the config says, for every candidate


def test_evaluation_batches_are_timed_once_and_a_tie_keeps_the_whole_batch(timed, tmp_path):
  calls = timed({("eval", 250): 3.0, ("eval", 500): 2.0, ("eval", 1000): 1.0})
  cache = str(tmp_path / "ev.json")
  assert autotune.choose("cnn2", 128, cache=cache).eval_rows == 250
  assert sorted(c[2] for c in calls.evals) == [250, 500, 1000] and {c[1] for c in calls.evals} == {"fast"}
  n = len(calls.evals)
  assert autotune.choose("cnn2", 128, models_at_once=1, cache=cache).eval_rows == 250
  assert autotune.choose("cnn2", 128, eval_batch_size=500, cache=cache).eval_rows == 250
  assert len(calls.evals) == n  # each rows count timed once, whatever the eval batch
  calls.evals.clear()
  timed({})  # all alike: the whole eval_batch_size
  assert autotune.choose("cnn2", 128, eval_batch_size=750, cache=str(tmp_path / "ev2.json")).eval_rows == 0
  assert sorted(c[2] for c in calls.evals) == [250, 750]


def test_eval_timing_scores_the_real_programs():
  assert autotune.side_by_side({"e": autotune._evaluator("fc", "fast", 50, set_rows=200)})["e"] > 0


def test_chunks_are_tried_only_where_they_divide_the_batch():
  assert autotune._candidates("cnn2", 128, "auto", -1) == [("fast", 0), ("fast", 64), ("xla", 0)]
  assert ("fast", 256) in autotune._candidates("cnn2", 1024, "auto", -1)
  assert autotune._candidates("cnn2", 100, "auto", -1) == [("fast", 0), ("xla", 0)]


def test_off_means_the_registry_defaults(tmp_path, monkeypatch):
  monkeypatch.setenv("QD_JAX_AUTOTUNE", "0")
  got = autotune.choose("cnn2", 1024, cache=str(tmp_path / "e.json"))
  assert got == autotune.Setting("fast", 128, 1, "defaults", 500) and not (tmp_path / "e.json").exists()


def test_measure_trains_the_real_programs():
  key = ("train", "fast", 0, 2, 2)
  assert autotune.measure("fc", 8, [key])[key] > 0


def test_candidates_are_timed_side_by_side_and_a_cohort_beside_its_incumbent(timed, tmp_path):
  """The solo candidates in one interleaved group; a cohort against the incumbent, timed again
  beside it: a busy spell during the pair (2.0 where the group read 3.0) hides no 10% gain."""
  pair = []

  def table(key):
    if key[1:] == ("fast", 0, 1, 2):
      return 2.0 if pair else 3.0
    if key[1:] == ("fast", 0, 2, 2):
      pair.append(key)
      return 2.2
    return 1.0
  calls = timed(table)
  got = autotune.choose("cnn2", 128, cache=str(tmp_path / "g.json"))
  assert calls.groups[0] == [("train", "fast", 0, 1, 2), ("train", "fast", 64, 1, 2), ("train", "xla", 0, 1, 2)]
  assert calls.groups[1] == [("train", "fast", 0, 2, 2), ("train", "fast", 0, 1, 2)]
  assert got.models_at_once == 2
  rates = json.loads((tmp_path / "g.json").read_text())[autotune.machine()]["rates"]
  assert rates["cnn2/batch 128/fast/microbatch 0/unroll 2/x2"] == pytest.approx(3.0 * 2.2 / 2.0)  # the pair's ratio
  assert rates["cnn2/batch 128/fast/microbatch 0/unroll 2/x1"] == 3.0


def test_side_by_side_spares_a_hopeless_candidate_its_windows():
  import time
  made = {"fast": [], "slow": []}

  def caller(name, seconds_per_unit):
    def call(n):
      made[name].append(n)
      time.sleep(seconds_per_unit * n)
      return 100 * n
    return call, 32
  got = autotune.side_by_side({"fast": caller("fast", 0.0005), "slow": caller("slow", 0.04)})
  # The compiling call, then n doubling until a call lasts CALL_S (8 steps: 320 ms), and no windows
  slow = made["slow"]
  assert slow[:2] == [2, 2] and slow[1:] == [2 ** i for i in range(1, len(slow))] and slow[-1] <= 8
  fast = made["fast"]  # its ramp, then windows of calls of the size it reached
  assert fast[:3] == [2, 2, 4] and len(fast) > len(set(fast)) + 3 and set(fast[len(set(fast)) + 1:]) == {fast[-1]}
  assert got["slow"] < autotune.ABORT_BELOW * got["fast"]


def test_a_sweep_records_what_it_chose_and_reuses_it(tiny_data_dir, tmp_path):
  env = {**os.environ, "QD_JAX_AUTOTUNE": "1", "HOME": str(tmp_path / "home")}
  cmd = [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h1", f"--data_dir={tiny_data_dir}",
         f"--categories={','.join(TINY)}", "--config.rows_per_category=200", "--config.epochs=1",
         "--config.num_seeds=1", "--config.batch_size=32", "--config.eval_batch_size=64",
         "--config.compilation_cache_dir="]
  for workdir, source in (("a", "measured"), ("b", "cached")):
    out = subprocess.run([*cmd, f"--workdir={tmp_path / workdir}"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (run,) = [json.loads(line) for line in (tmp_path / workdir / "runs.jsonl").read_text().splitlines()]
    assert run["autotune"] == source and run["layers"] in ("fast", "xla") and run["microbatch"] == 0
    assert run["eval_rows"] == 64  # the eval batch: no EVAL_ROWS candidate divides 64
    assert ("autotune: timing fc" in out.stdout) == (source == "measured")
  assert (tmp_path / "home/.cache/qd_jax/autotune.json").is_file()
