"""benchmarks/step_profile.py names a compiled program's GEMMs with their float counts and
prints a step's operations; benchmarks/gemm_peers.py prints XLA's and PyTorch's rates for given
GEMM shapes; benchmarks/cores.py times a step on one core and on all. Nothing here depends on how
fast anything is."""

import os
import re
import threading

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


def test_profile_beside_a_peer_sets_the_target_to_twice_its_rate(capsys):
  # tf.keras: installed with qd_jax itself, so this runs wherever the suite does (torch is an extra).
  load_benchmark("step_profile").main(["--model", "fc", "--batch", "64", "--peer", "keras", "--rounds", "2"])
  out = capsys.readouterr().out
  line = re.search(r"^keras_(?:xla|noxla) ([\d,]+) samples/s, qd_jax ([\d,]+) untraced \(best of 2 windows each, alternating\): "
                   r"([\d.]+)x, paired by round ([\d.]+)x \(([\d.]+)-([\d.]+)\); its GEMMs alone at each "
                   r"round's rates, paired: ([\d.]+)x \(([\d.]+)-([\d.]+)\)$", out, re.M)
  assert line, out
  peer, ours = (int(line[i].replace(",", "")) for i in (1, 2))
  assert float(line[3]) == pytest.approx(ours / peer, abs=0.006)
  for median, low, high in ((4, 5, 6), (7, 8, 9)):
    assert float(line[low]) <= float(line[median]) <= float(line[high])
  # Two rounds of one traced call each: the op table sums both, and the target is twice the peer.
  target = re.search(r"^target ([\d,]+) samples/s", out, re.M)
  assert target and int(target[1].replace(",", "")) == pytest.approx(2 * peer, abs=2), out


def test_profile_refuses_a_peer_it_does_not_know(capsys):
  with pytest.raises(SystemExit):
    load_benchmark("step_profile").main(["--model", "fc", "--batch", "64", "--peer", "mxnet"])
  assert "--peer: invalid choice: 'mxnet'" in capsys.readouterr().err


def test_gemm_peers_refuses_a_bad_shape_in_one_line():
  peers = load_benchmark("gemm_peers")
  assert peers.parse("64x5000x64, 5x6x7") == [(64, 5000, 64), (5, 6, 7)]
  for bad in ("64x5000", "64x0x64", "axbxc"):
    with pytest.raises(SystemExit, match=r"is not MxKxN; give three positive sizes"):
      peers.parse(bad)


def test_gemm_peers_prints_both_libraries_rates(capsys):
  pytest.importorskip("torch", reason="PyTorch is the bench extra: pip install -e '.[bench]'")
  load_benchmark("gemm_peers").main(["--shapes", "256x512x256,128x256x128", "--rounds", "1"])
  rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith(("256x512x256", "128x256x128"))]
  assert len(rows) == 2
  for row in rows:
    xla, ref, ratio = (float(v.strip().rstrip("x")) for v in row.split("|")[1:])
    # The rates print rounded to whole GFLOP/s; the ratio is of the unrounded ones.
    assert ratio > 0 and ratio == pytest.approx(xla / ref, rel=0.5 / min(xla, ref) + 0.02, abs=0.01)


def _affinities() -> set:
  return {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin to one")
def test_cores_pins_every_thread_to_one_core_and_gives_them_back():
  cores = load_benchmark("cores")
  everything = os.sched_getaffinity(0)
  # A second thread, so a pin of the calling thread alone would show (XLA's pool is such a thread).
  release = threading.Event()
  other = threading.Thread(target=release.wait)
  other.start()
  seen = []

  def call():
    seen.append(_affinities())
    if len(seen) == 2:
      raise RuntimeError("a failing call")
    return 1
  try:
    with pytest.raises(RuntimeError, match="a failing call"):
      cores.one_vs_all(call, rounds=1, window=0.0, pause=0.0)
  finally:
    release.set()
    other.join()
  assert seen[0] == {frozenset({min(everything)})}  # every thread, not just the calling one
  assert seen[1] == {frozenset(everything)}
  assert _affinities() == {frozenset(everything)}  # restored though the call failed


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin to one")
def test_cores_prints_each_row_with_its_paired_ratio(capsys):
  load_benchmark("cores").main(["--models", "fc", "--batches", "64", "--rounds", "2", "--min-time", "0.05",
                                "--pause", "0"])
  out = capsys.readouterr().out
  rows = [ln for ln in out.splitlines() if ln.startswith(("matmul", "qd_jax fc@64"))]
  assert len(rows) == 2, out
  for row in rows:
    one, all_ = (float(v.replace(",", "")) for v in re.findall(r"core[s]? +([\d,]+) ", row))
    ratio, low, high = (float(v) for v in re.search(r"by round ([\d.]+)x \(([\d.]+)-([\d.]+)\)", row).groups())
    assert one > 0 and all_ > 0 and low <= ratio <= high, row


def test_cores_refuses_an_unknown_model_in_one_line(capsys):
  with pytest.raises(SystemExit):
    load_benchmark("cores").main(["--models", "fc,vgg"])
  assert "unknown model: vgg (models fc, cnn1, cnn2)" in capsys.readouterr().err
