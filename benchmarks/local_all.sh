#!/usr/bin/env bash
# The local reproduction, timed: --hypothesis=all on a data folder into a fresh WORKDIR, with an
# empty compilation cache (HOME is a fresh folder unless WARM=1), the machine and its load before
# and after, the launch's output, its wall time, and benchmarks/overhead.py's account of it.
# XLA's compilations are logged (JAX_LOG_COMPILES=1) to WORKDIR.compiles.log and counted there.
# PROFILE=1 also samples the launch with py-spy (pip install py-spy) into WORKDIR.profile.txt and
# prints benchmarks/launch_stages.py's seconds per stage.
#
# Usage: bash benchmarks/local_all.sh DATA_DIR "CATEGORIES" WORKDIR [more qd_jax.launch flags...]
set -euo pipefail
data=${1:?usage: benchmarks/local_all.sh DATA_DIR CATEGORIES WORKDIR [flags...]}
categories=${2:?usage: benchmarks/local_all.sh DATA_DIR CATEGORIES WORKDIR [flags...]}
workdir=${3:?usage: benchmarks/local_all.sh DATA_DIR CATEGORIES WORKDIR [flags...]}
shift 3
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
test ! -e "$workdir" || { echo "local_all.sh: $workdir exists; give a new workdir" >&2; exit 2; }
if [ "${WARM:-0}" = 1 ]; then
  cache="warm (~/.cache/qd_jax as it is)"
else
  HOME=$(mktemp -d)  # autotune's timings and XLA's cache start empty too
  export HOME
  cache="empty (HOME=$HOME)"
fi
echo "# $(date -u +%FT%TZ) $(lscpu | grep -m1 'Model name' | tr -s ' '); $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# compilation cache: $cache"
mkdir -p "$(dirname "$workdir")"
spy=()
if [ "${PROFILE:-0}" = 1 ]; then
  spy=(py-spy record --idle -r 10 -f raw -o "$workdir.profile.txt" --)
fi
start=$(date +%s%N)
JAX_LOG_COMPILES=1 "${spy[@]}" "$py" -m qd_jax.launch --hypothesis=all "--data_dir=$data" "--categories=$categories" \
  "--workdir=$workdir" "$@" 2>"$workdir.compiles.log" || { grep -m3 "qd_jax: error" "$workdir.compiles.log" >&2; exit 1; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf -v wall '%d.%03d' $((ms / 1000)) $((ms % 1000))
echo "# wall time of the command above: $wall s; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" "$here/overhead.py" "$workdir" --wall "$wall" --compile_log "$workdir.compiles.log"
if [ "${PROFILE:-0}" = 1 ]; then
  "$py" "$here/launch_stages.py" "$workdir.profile.txt"
fi
