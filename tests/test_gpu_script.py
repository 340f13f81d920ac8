"""benchmarks/gpu.sh and its helpers: the stage sequence (with fakes), the paper-scale stand-in
data, the time estimate and the side-by-side comparison. Nothing here needs a GPU."""

import json
import pathlib
import re

import numpy as np
import pytest

from qd_jax.experiments import configs, designs
from qd_jax.data import categories as cats

from conftest import fake_exe, load_benchmark, run_script

BENCH = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


def test_gpu_sh_stage_limits_fit_in_8_minutes_as_its_header_says():
  text = (BENCH / "gpu.sh").read_text()
  limits = [int(n) for n in re.findall(r"^\s*stage [a-z_0-9]+ (\d+) ", text, re.M)]
  assert len(limits) == 8 and sum(limits) <= 480
  assert f"time limits add up to {sum(limits)} s" in text


def test_gpu_sh_runs_every_stage_in_order_even_after_a_failure(tmp_path):
  calls = tmp_path / "calls"
  # The benchmark "fails"; every later stage must still run, and only h2_det sets the XLA flag.
  fake = fake_exe(tmp_path / "python", f'echo "[$XLA_FLAGS] $*" >> "{calls}"\n'
                  'case "$*" in *throughput.py*) exit 3;; esac\n')
  env = {"PYTHON": str(fake), "QD_GPU_LAUNCH_ARGS": "--quick", "GPU_USD_PER_HOUR": "6.5",
         "XLA_FLAGS": "", "QD_GPU_DATA": ""}  # empty reads as unset in gpu.sh
  out = run_script(["bash", BENCH / "gpu.sh", tmp_path / "out"], env=env)
  assert out.returncode == 0, out.stderr
  lines = calls.read_text().splitlines()
  order = ["-c import jax", "throughput.py", "paper_scale_data.py", "--workdir=" + str(tmp_path / "out/h2"),
           "--workdir=" + str(tmp_path / "out/h2_det"), "compare_runs.py", "estimate.py", "--layers fast"]
  assert len(lines) == len(order), lines
  for line, want in zip(lines, order):
    assert want in line, (want, line)
  assert "--quick" in lines[3] and "--quick" in lines[4]
  assert "--xla_gpu_deterministic_ops=true" in lines[4] and "deterministic" not in lines[3]
  assert "--usd_per_hour 6.5" in lines[6]
  log = (tmp_path / "out/gpu.log").read_text()
  assert "== bench: exit 3" in log and "== estimate: exit 0" in log and "== bench_fast: exit 3" in log


def test_paper_scale_data_sizes_come_from_the_designs(tmp_path, monkeypatch):
  mod = load_benchmark("paper_scale_data")
  need = mod.rows_per_category()
  h4 = configs.get_config("h4")
  assert need["fork"] == need["hammer"] == designs.get(h4.design).rows_needed(h4)
  assert set(cats.PAPER_CATEGORIES) <= set(need)
  h6 = configs.get_config("h6")
  assert need["fish"] == designs.get(h6.design).rows_needed(h6) == 14_000
  monkeypatch.setattr(mod, "rows_per_category", lambda: {"fork": 7, "hammer": 3})
  src = tmp_path / "src"
  src.mkdir()
  np.save(src / "cat.npy", np.full((5, 784), 9, np.uint8))
  mod.main([str(tmp_path / "out"), "--from", str(src)])
  fork = np.load(tmp_path / "out/fork.npy")
  assert fork.shape == (7, 784) and fork.dtype == np.uint8 and np.all(fork == 9)
  assert np.load(tmp_path / "out/hammer.npy").shape == (3, 784)
  assert "never report accuracy" in (tmp_path / "out/SOURCES.md").read_text()


def test_estimate_counts_every_run_of_the_design(tmp_path, make_category_files, capsys):
  names = list(cats.PAPER_CATEGORIES) + ["hammer"]
  data = make_category_files(tmp_path / "d", {n: 1500 for n in names})
  rows = [{"model": m, "batch_size": 128, "impl": impl, "samples_per_s": rate}
          for m in ("fc", "cnn1", "cnn2") for impl, rate in (("qd_jax", 1000.0), ("qd_jax_models16", 4000.0))]
  (tmp_path / "b.json").write_text(json.dumps(rows))
  out = load_benchmark("estimate").main(["--bench", str(tmp_path / "b.json"), "--data_dir", str(tmp_path / "d"),
                                  "--usd_per_hour", "3.6", "--json", str(tmp_path / "e.json")])
  assert json.loads((tmp_path / "e.json").read_text()) == out
  grid = [c.hypothesis for c in configs.get_configs("all") if designs.get(c.design).shared_runs]
  assert {o["hypothesis"] for o in out} == {c.hypothesis for c in configs.get_configs("all")} - set(grid[1:])
  h2 = [o for o in out if o["hypothesis"] == "h2"]
  assert [o["model"] for o in h2] == ["fc", "cnn1", "cnn2"]
  # 1,500 rows: 1,050 train per category, 10,500 in all, 82 batches of 128, 10 epochs (FC: its
  # budget of 30), 3 seeds, one run at a time (h2 times its models alike)
  epochs = {"fc": 30, "cnn1": 10, "cnn2": 10}
  assert all(o["train_samples"] == 82 * 128 * epochs[o["model"]] * 3 for o in h2)
  assert all(o["cohorts"] == [1, 1, 1] for o in h2)
  assert all(o["seconds"] == pytest.approx(o["train_samples"] / 1000) for o in h2)  # the solo rate
  h3 = [o for o in out if o["hypothesis"] == "h3"]
  # where the hypothesis leaves it to the machine, the sweep stacks its runs (--models_at_once 16)
  assert h3[0]["cohorts"] and max(h3[0]["cohorts"]) > 1
  printed = capsys.readouterr().out
  total = sum(o["seconds"] for o in out)
  assert f"{total / 3600 * 3.6:.2f} USD" in printed
  assert len(data) == 11


def _workdir(path, seconds, loss):
  path.mkdir()
  with open(path / "runs.jsonl", "w") as f:
    for i, (s, l) in enumerate(zip(seconds, loss)):
      f.write(json.dumps({"run_id": f"r{i}", "model": "fc", "train_seconds": s, "compile_seconds": 1.0,
                          "test_loss": l, "epochs": [{"train_loss": l}]}) + "\n")
  return path


def test_compare_runs_prints_the_time_ratio_and_agreement(tmp_path, capsys):
  a = _workdir(tmp_path / "a", [1.0, 1.0], [0.5, 0.25])
  b = _workdir(tmp_path / "b", [1.5, 1.5], [0.5, 0.75])
  load_benchmark("compare_runs").main([str(a), str(b)])
  out = capsys.readouterr().out
  assert "1.50" in out.splitlines()[1]
  assert "bitwise equal in 1 of 2 runs" in out and "5.00e-01" in out
  assert "test accuracy equal in 2 of 2 runs, test loss bitwise equal in 1" in out
  assert "validation accuracy equal in 2 of 2 epochs" in out


def test_paper_times_runs_each_hypothesis_and_cost_reads_its_lines(tmp_path, capsys):
  calls = tmp_path / "calls"
  fake = fake_exe(tmp_path / "python", f'echo "$*" >> "{calls}"\necho "results: done"\n'
                  'case "$*" in *hypothesis=h3*) exit 2;; esac\n')
  data = tmp_path / "data"
  data.mkdir()
  out = run_script(["bash", BENCH / "paper_times.sh", tmp_path / "o", "h2", "h3"],
                   env={"PYTHON": str(fake), "QD_GPU_DATA": str(data)})
  assert out.returncode == 0, out.stderr
  lines = calls.read_text().splitlines()
  assert len(lines) == 2 and "--hypothesis=h2" in lines[0] and "--hypothesis=h3" in lines[1]
  assert all(f"--data_dir={data}" in line and "--config.download=false" in line for line in lines)
  times = (tmp_path / "o/paper_all_times.txt").read_text().splitlines()
  assert times[0].startswith("h2 exit 0 wall ") and times[1].startswith("h3 exit 2 wall ")
  (tmp_path / "t.txt").write_text("h1 exit 0 wall 360.0 s\nh2 exit 0 wall 1800.0 s\nh6 exit 124 wall 9.0 s\n")
  rows = load_benchmark("cost").main([str(tmp_path / "t.txt"), "--usd_per_hour", "10"])
  assert rows == [("h1", 360.0, 1.0, False), ("h2", 1800.0, 5.0, False)]
  printed = capsys.readouterr().out
  assert "h6: exit 124, not counted" in printed and "36.00 min, 6.00 USD" in printed


ESTIMATE = [  # benchmarks/estimate.py --json rows, the fields cost.py reads
    {"hypothesis": "h1", "model": "fc", "runs": 3, "seconds": 60.0},
    {"hypothesis": "h2", "model": "fc", "runs": 3, "seconds": 30.0},
    {"hypothesis": "h2", "model": "cnn1", "runs": 3, "seconds": 30.0},
    {"hypothesis": "h6", "model": "cnn2", "runs": 42, "seconds": 120.0}]


def test_cost_predicts_the_unmeasured_from_the_per_run_overhead(tmp_path, capsys):
  (tmp_path / "t.txt").write_text("h1 exit 0 wall 90.0 s\nh2 exit 0 wall 120.0 s\n")
  (tmp_path / "e.json").write_text(json.dumps(ESTIMATE))
  rows = load_benchmark("cost").main([str(tmp_path / "t.txt"), "--usd_per_hour", "3600",
                               "--estimate", str(tmp_path / "e.json")])
  # overhead per run: h1 (90 - 60) / 3 = 10 s, h2 (120 - 60) / 6 = 10 s; h6: 120 s + 42 runs x 10 s
  assert rows[-1] == ("h6", 540.0, 540.0, True)
  printed = capsys.readouterr().out
  assert "h6:  9.00 min  540.000 USD  (predicted, not measured)" in printed
  assert "runs x 10.00 s" in printed and "h1 +0%, h2 +0%" in printed
  assert "total of the measured: 3.50 min" in printed
  for bad in ("not json\n", '[{"hypothesis": "h1"}]', "[]"):
    (tmp_path / "bad.json").write_text(bad)
    with pytest.raises(SystemExit, match="estimate.py --json|--json output"):
      load_benchmark("cost").main([str(tmp_path / "t.txt"), "--usd_per_hour", "1", "--estimate", str(tmp_path / "bad.json")])


def test_stacked_layers_times_every_conv(capsys):
  got = load_benchmark("stacked_layers").main(["--models", "2", "--batch", "8"])
  assert set(got) == {"conv1 + pool", "conv1", "conv2 + pool", "conv2"}
  assert all(v > 0 for v in got.values())
  assert capsys.readouterr().out.count("x per run") == 4
