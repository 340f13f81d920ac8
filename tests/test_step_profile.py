"""benchmarks/step_profile.py: it names a compiled program's GEMMs with their float counts, and
prints a step's operations. Nothing here depends on how fast anything is."""

import re

import jax
import jax.numpy as jnp
import pytest

from conftest import load_benchmark


def test_ops_of_names_each_dot_with_its_flops():
  prof = load_benchmark("step_profile")
  f = jax.jit(lambda a, b, c: jnp.maximum(a @ b, 0.0) @ c)
  a, b, c = jnp.ones((64, 500)), jnp.ones((500, 32)), jnp.ones((32, 8))
  ops = prof.ops_of(f.lower(a, b, c).compile().as_text())
  # A fused dot is named twice, as the fusion and as the dot inside it; both carry its flops.
  assert {fl for _, fl in ops.values() if fl} == {2.0 * 64 * 32 * 8, 2.0 * 64 * 500 * 32}
  assert any(what.startswith("dot f32[64,500] x f32[500,32]") for what, _ in ops.values())


def test_profile_prints_the_step_operations(capsys):
  load_benchmark("step_profile").main(["--model", "fc", "--batch", "64", "--calls", "1", "--target", "100000"])
  out = capsys.readouterr().out
  assert "fc at batch 64: layers fast" in out and "samples/s" in out
  gemms = re.search(r"GEMMs: ([\d,]+) us of op time a step \((\d+)%\), ([\d.]+) GFLOP", out)
  assert gemms and 0 < int(gemms[2]) <= 100 and float(gemms[3]) > 0, out
  # 64 rows at 100,000 samples/s is a 640 us step; both cores for all of it, less the GEMMs' time.
  room = re.search(r"target 100,000 samples/s: a 640 us step, .* must fit in (-?[\d,]+) us", out)
  assert room and int(room[1].replace(",", "")) == pytest.approx(1280 - int(gemms[1].replace(",", "")), abs=1), out
  lines = [ln for ln in out.splitlines() if ": dot " in ln]
  assert lines, out
  assert all(ln.split()[3].replace(",", "").isdigit() for ln in lines), out  # each dot gets its GFLOP/s
  # Operations are named per program: the gather program's apart from the epoch's.
  assert any("jit_take/" in ln and ": gather " in ln for ln in out.splitlines()), out
  assert not any("jit_take/" in ln and ": dot " in ln for ln in lines), out
