#!/usr/bin/env bash
# Wall time of each hypothesis at paper scale, one launcher process each, as a user would run them.
#
# Prerequisites: qd_jax importable (pip install -e ".[cuda]" on a GPU VM); a folder of paper-sized
# files in QD_GPU_DATA (the official ones, or benchmarks/paper_scale_data.py's timing-only stand-ins,
# which this script makes when QD_GPU_DATA is unset). On one H200, h1-h5 took 5.34 minutes
# (benchmarks/results/h200/paper_all_times.txt, summed by cost.py); give h6 several more.
# The launcher's persistent compilation cache is on, as it is for a user, so a hypothesis loads
# the programs an earlier one compiled (h2's FC runs, h1's). A VM that runs one hypothesis alone
# compiles them itself: its first time is the one to quote for a cold start.
#
# Usage: bash benchmarks/paper_times.sh OUT_DIR [h1 h2 ...]
#   then: python benchmarks/cost.py OUT_DIR/paper_all_times.txt --usd_per_hour PRICE [--estimate estimate.json]
set -euo pipefail
out=${1:?usage: benchmarks/paper_times.sh OUT_DIR [hypotheses]}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python3}
hyps=("$@")
[ ${#hyps[@]} -gt 0 ] || hyps=(h1 h2 h3 h4 h5 h6)
mkdir -p "$out"
data=${QD_GPU_DATA:-$out/paper_data}
# SOURCES.md is the last file paper_scale_data.py writes: its presence means the set is whole
[ -n "${QD_GPU_DATA:-}" ] || [ -f "$data/SOURCES.md" ] || "$py" "$here/paper_scale_data.py" "$data"
for h in "${hyps[@]}"; do
  start=$(date +%s.%N)
  rc=0
  "$py" -m qd_jax.launch "--hypothesis=$h" "--data_dir=$data" --config.download=false \
    "--workdir=$out/$h" >"$out/$h.log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  echo "$h exit $rc wall $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s" | tee -a "$out/paper_all_times.txt"
  tail -n 1 "$out/$h.log"
done
