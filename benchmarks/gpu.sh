#!/usr/bin/env bash
# The GPU check: one script for one lent GPU; its stages' time limits add up to 470 s, under 8
# minutes. It prints and writes to OUT_DIR:
#   1. bench.json: benchmarks/throughput.py, qd_jax alone (no peers), single, 3 and 16 stacked runs,
#      and bench_pipeline.json, the tf.data check on this host's cores;
#   2. h2/ and h2_det/: the paper-scale H2 sweep (3 models x 3 seeds, 10 epochs, 10 x 10,000
#      rows), timed end to end, then again with --xla_gpu_deterministic_ops (what it costs);
#   3. estimate.txt (and .json, for cost.py): every hypothesis' expected training time (and cost) at paper scale;
#   4. bench_fast.json: the CNNs again with qd_jax.nn.cpu_networks' "fast" formulation (one GEMM per conv,
#      made for XLA:CPU), alone and 16 stacked. On the H200, 16 stacked runs with XLA's layers
#      (grouped convolutions) reached 1.2x-2.0x one run; batched GEMMs may stack better.
#
# Prerequisites: an NVIDIA GPU; qd_jax importable with jax[cuda] (pip install -e ".[cuda]");
# nvidia-smi on the PATH. Data: QD_GPU_DATA names a folder of paper-sized <category>.npy files;
# without it, benchmarks/paper_scale_data.py makes timing-only noise files (accuracy on them
# means nothing). GPU_USD_PER_HOUR, when set, adds a cost column to the estimate.
# QD_GPU_LAUNCH_ARGS adds launcher flags to both H2 runs (--quick makes a smoke run on a CPU).
#
# Usage: bash benchmarks/gpu.sh OUT_DIR        (each stage has its own time limit)
set -uo pipefail
out=${1:?usage: benchmarks/gpu.sh OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python3}
mkdir -p "$out"
began=$(date +%s)
log="$out/gpu.log"
: >"$log"

stage() {  # stage NAME SECONDS CMD...: runs CMD under a time limit, logs it, never stops the script
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  echo "== $name (limit ${limit}s): $*" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $(($(date +%s) - start)) s" | tee -a "$log"
}

stage devices 30 bash -c "nvidia-smi -L; $py -c 'import jax, flax, optax; print(\"jax\", jax.__version__, \"flax\", flax.__version__, \"optax\", optax.__version__, jax.devices())'"
stage bench 150 "$py" "$here/throughput.py" --json "$out/bench.json" --impls qd_jax,qd_jax_models \
  --models-at-once 3,16 --rounds 2 --min-time 0.3 --pause 0
data=${QD_GPU_DATA:-$out/paper_data}
if [ -z "${QD_GPU_DATA:-}" ]; then
  stage data 30 "$py" "$here/paper_scale_data.py" "$data"
fi
read -r -a extra <<<"${QD_GPU_LAUNCH_ARGS:-}"
h2=(--hypothesis=h2 "--data_dir=$data" --config.download=false --config.compilation_cache_dir= "${extra[@]}")
stage h2 75 "$py" -m qd_jax.launch "${h2[@]}" "--workdir=$out/h2"
stage h2_det 75 env XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=true" \
  "$py" -m qd_jax.launch "${h2[@]}" "--workdir=$out/h2_det"
stage compare 20 "$py" "$here/compare_runs.py" "$out/h2" "$out/h2_det"
stage estimate 30 bash -c "$py '$here/estimate.py' --bench '$out/bench.json' --data_dir '$data' \
  --usd_per_hour '${GPU_USD_PER_HOUR:-0}' --json '$out/estimate.json' | tee '$out/estimate.txt'"
stage bench_fast 60 "$py" "$here/throughput.py" --json "$out/bench_fast.json" --layers fast \
  --models cnn1,cnn2 --impls qd_jax,qd_jax_models --models-at-once 16 --rounds 2 --min-time 0.3 --pause 0 \
  --no-pipeline
echo "== gpu.sh: $(($(date +%s) - began)) s in all" | tee -a "$log"
