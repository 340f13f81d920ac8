"""benchmarks/overhead.py: a launch's time beyond training, per run, and its compilations."""

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
  runs = [{"run_id": f"a/{i}", "train_seconds": 2.0, "compile_seconds": 3.0, "models_at_once": 2} for i in range(2)]
  runs.append({"run_id": "b", "train_seconds": 4.0, "compile_seconds": 1.0, "models_at_once": 1})
  (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
  (tmp_path / "compiles.log").write_text(LOG)
  out = overhead.main([str(tmp_path), "--wall", "14", "--compile_log", str(tmp_path / "compiles.log")])
  assert out["runs"] == 3 and out["cohorts"] == 2
  assert out["train"] == 8.0 and out["compile"] == 4.0  # a cohort's compile time counted once
  assert out["overhead_per_run"] == 2.0 and out["rest"] == 2.0
  assert out["compilations"] == 3 and out["cache_hits"] == 1
  assert "jit(take) 2 (0.8 s)" in capsys.readouterr().out
