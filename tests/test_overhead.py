"""benchmarks/overhead.py, launch_stages.py and init_compile.py: a launch's time beyond training, per run, its stages and its compilations."""

import json

from conftest import load_benchmark

LOG = """W1202 pxla.py:712] Compiling jit(take) with global shapes
W1202 pxla.py:800] Finished XLA compilation of jit(take) in 0.25 sec
W1202 pxla.py:800] Finished XLA compilation of jit(run) in 2.5 sec
W1202 pxla.py:800] Finished XLA compilation of jit(take) in 0.5 sec
W1202 compiler.py:100] Persistent compilation cache hit for 'jit_run'
"""


def test_overhead_counts_the_wall_beyond_training_and_the_compilations(tmp_path, capsys):
  overhead = load_benchmark("overhead")
  split = [{"train": 70, "val": 10, "test": 20}] * 2
  runs = [{"run_id": f"a/{i}", "train_seconds": 2.0, "compile_seconds": 3.0, "models_at_once": 2, "model": "fc",
           "split": split, "epochs": [{}] * 3, "test_examples": 40} for i in range(2)]
  runs.append({"run_id": "b", "train_seconds": 4.0, "compile_seconds": 1.0, "models_at_once": 1, "model": "cnn2",
               "split": split[:1], "epochs": [{}], "test_examples": 20})
  (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
  (tmp_path / "compiles.log").write_text(LOG)
  out = overhead.main([str(tmp_path), "--wall", "14", "--compile_log", str(tmp_path / "compiles.log")])
  assert out["runs"] == 3 and out["cohorts"] == 2
  assert out["train"] == 8.0 and out["compile"] == 4.0  # a cohort's compile time counted once
  assert out["overhead_per_run"] == 2.0 and out["rest"] == 2.0
  assert out["compilations"] == 3 and out["cache_hits"] == 1
  # fc: 2 runs x 3 epochs x 140 training rows; 2 x (3 x 20 validation rows + 40 test rows)
  assert out["rows"] == {"fc": (840, 200), "cnn2": (70, 30)}
  assert "jit(take) 2 (0.8 s)" in capsys.readouterr().out


PROFILE = """main (qd_jax/launch.py:1);choose (qd_jax/training/autotune.py:9);rate (qd_jax/training/autotune.py:20) 30
main (qd_jax/launch.py:1);train_cohort (qd_jax/training/loop.py:1);DeviceEpochs.run (qd_jax/training/epochs.py:59) 50
main (qd_jax/launch.py:1);DeviceEpochs.run (qd_jax/training/epochs.py:59);Programs._compiled (qd_jax/training/programs.py:1) 7
main (qd_jax/launch.py:1);train_cohort (qd_jax/training/loop.py:1);Programs.evaluate (qd_jax/training/programs.py:1) 10
main (qd_jax/launch.py:1);write_summary (qd_jax/launch.py:80);read_runs (qd_jax/records/jsonl.py:3) 2
main (qd_jax/launch.py:1) 1
"""


def test_stages_split_a_profile_and_compilation_inside_an_epoch_is_compilation(tmp_path, capsys):
  stages = load_benchmark("launch_stages")
  (tmp_path / "p.txt").write_text(PROFILE)
  got = stages.main([str(tmp_path / "p.txt")])
  by = {name.split(" (")[0].split("'")[0]: s for name, s in got.items()}
  assert by["autotune"] == 3.0 and by["training"] == 5.0 and by["compilation"] == 0.7
  assert by["evaluation"] == 1.0 and by["summary.md"] == 0.2 and by["start-up and layout"] == 0.1
  assert by["records"] == 0.0 and "10.0 s sampled" in capsys.readouterr().out


def test_init_compile_compares_each_level_on_the_same_draws(capsys):
  load_benchmark("init_compile").main(["--models", "fc", "--seeds", "1"])
  rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| fc |")]
  assert [row.split("|")[2].strip() for row in rows] == ["flax", "keras"]
  cells = [[c.strip() for c in row.strip(" |").split("|")] for row in rows]
  assert [c[4] for c in cells] == ["yes", "yes"]  # level 1, which qd_jax compiles at: the same bits
  assert cells[1][6] == "yes"  # Keras' glorot draws: bitwise the same at level 0 too


def test_eval_calls_formulations_times_both_forms_and_puts_the_real_one_back(capsys, monkeypatch):
  from qd_jax.nn import cpu_networks
  bench = load_benchmark("eval_calls")
  monkeypatch.setattr(bench, "WINDOW_S", 0.05)
  real = cpu_networks._pooled_direct, cpu_networks._conv_cm_fwd
  bench.main(["--formulations", "--models", "cnn2,cnn1", "--batches", "250", "--rows", "500"])
  rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| cnn")]
  assert [(r[0].strip(), r[-1].strip()) for r in rows] == [("cnn2", "multiply-adds"), ("cnn1", "GEMM")]
  assert all(float(r[2].replace(",", "")) > 0 and float(r[3].replace(",", "")) > 0 for r in rows)
  assert (cpu_networks._pooled_direct, cpu_networks._conv_cm_fwd) == real
