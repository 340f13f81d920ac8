#!/usr/bin/env bash
# Starts one qd_jax.launch process per host for a run over several hosts (jax.distributed).
#
# Prerequisites:
#   - every host has this checkout at the same path (or --remote-dir) with qd_jax installed
#     (`pip install -e '.[cuda]'`), and the same data folder path;
#   - passwordless ssh from here to every host (ssh -o BatchMode=yes HOST true works);
#   - the coordinator's port is reachable from every host (firewall), and process 0 runs there:
#     put the coordinator's host first in --hosts;
#   - one workdir on a file system all hosts share (NFS, a mounted bucket): the processes write
#     one set of checkpoints together, and process 0 writes the results.
# With --local, all N processes run here on 127.0.0.1, no ssh (on CPU, for testing the wiring).
#
# Usage:
#   launch/multihost.sh --hosts=h1,h2 --coordinator=h1:8476 -- --hypothesis=h2 --workdir=/shared/runs/h2
#   launch/multihost.sh --local --num-processes=2 --coordinator=127.0.0.1:8476 -- --hypothesis=h1 \
#       --workdir=runs/h1-2proc --quick
# Each process gets --coordinator_address=HOST:PORT --num_processes=N --process_id=I appended, I
# being its host's position in --hosts. Output lines are prefixed with [I]. SIGTERM or Ctrl-C
# here is passed to every process (qd_jax saves and exits 143); if one process fails, the others
# are stopped the same way, as they would otherwise wait for it forever. Rerunning resumes.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly REPO=${HERE%/*}

usage() {
  cat <<EOF
usage: $PROG (--hosts=H1,H2,... | --local --num-processes=N) --coordinator=HOST:PORT [options] -- QD_JAX_FLAGS...

Runs \`python -m qd_jax.launch QD_JAX_FLAGS --coordinator_address=HOST:PORT --num_processes=N
--process_id=I\` on each host (over ssh), or N times on this machine (--local).

  --hosts=H1,H2,...        one process per host, process I on the I-th host (the first is process 0)
  --local                  run the processes here, no ssh
  --num-processes=N        with --local: how many (with --hosts it is the number of hosts)
  --coordinator=HOST:PORT  process 0's address, reachable from every host
  --python=PY              interpreter on the hosts, default python (e.g. /opt/venv/bin/python)
  --remote-dir=DIR         where the checkout is on the hosts, default $REPO
  --ssh='CMD'              ssh command, default 'ssh -o BatchMode=yes'
  --env=NAME=VALUE         environment of every process (repeatable)
  --dry-run                print the commands, one per process, and run none
  -h, --help               this help
QD_JAX_FLAGS must include --hypothesis and --workdir (the same folder for every process).
EOF
}

# shellcheck source=launch/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

hosts_csv='' local_mode=0 num_processes='' coordinator='' python=python remote_dir=$REPO
ssh_cmd='ssh -o BatchMode=yes' dry_run=0
envs=() qd_args=()

while (($#)); do
  arg=$1
  shift
  case $arg in
    -h | --help) usage; exit 0 ;;
    --) qd_args=("$@"); break ;;
    --local) local_mode=1; continue ;;
    --dry-run) dry_run=1; continue ;;
    --*=*) name=${arg%%=*} value=${arg#*=} ;;
    --hosts | --num-processes | --coordinator | --python | --remote-dir | --ssh | --env)
      (($#)) || fail "$arg needs a value"
      name=$arg value=$1
      shift
      ;;
    --*) fail "unknown flag $arg (qd_jax.launch flags go after --)" ;;
    *) fail "unexpected argument '$arg' (qd_jax.launch flags go after --)" ;;
  esac
  case $name in
    --hosts) hosts_csv=$value ;;
    --num-processes) num_processes=$value ;;
    --coordinator) coordinator=$value ;;
    --python) python=$value ;;
    --remote-dir) remote_dir=$value ;;
    --ssh) ssh_cmd=$value ;;
    --env) envs+=("$value") ;;
    *) fail "unknown flag $name (qd_jax.launch flags go after --)" ;;
  esac
done

hosts=()
if ((local_mode)); then
  [[ -z $hosts_csv ]] || fail "--hosts and --local exclude each other"
  [[ -n $num_processes ]] || fail "--local needs --num-processes=N"
  [[ $num_processes =~ ^[1-9][0-9]*$ ]] || fail "--num-processes must be a positive integer"
  for ((i = 0; i < num_processes; i++)); do hosts+=(127.0.0.1); done
else
  [[ -n $hosts_csv ]] || fail "pass --hosts=H1,H2,... (or --local --num-processes=N)"
  IFS=, read -r -a hosts <<<"$hosts_csv"
  for h in "${hosts[@]}"; do
    [[ $h =~ ^([A-Za-z0-9_.-]+@)?[A-Za-z0-9.:_-]+$ ]] || fail "--hosts: '$h' is not a host name"
  done
  if [[ -n $num_processes && $num_processes != "${#hosts[@]}" ]]; then
    fail "--num-processes=$num_processes but --hosts names ${#hosts[@]} hosts"
  fi
fi
n=${#hosts[@]}
[[ -n $coordinator ]] || fail "--coordinator=HOST:PORT is required"
[[ $coordinator =~ ^[A-Za-z0-9_.-]+:[0-9]{1,5}$ ]] || fail "--coordinator=$coordinator is not HOST:PORT"
port=${coordinator##*:}
((port >= 1 && port <= 65535)) || fail "--coordinator port $port is not in 1..65535"
for e in "${envs[@]}"; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] || fail "--env=$e must look like NAME=VALUE"
done
((${#qd_args[@]})) || fail "no qd_jax.launch flags; put them after --, e.g. -- --hypothesis=h2 --workdir=DIR"
has_workdir=0 has_hypothesis=0
for a in "${qd_args[@]}"; do
  case ${a%%=*} in
    --coordinator_address | --num_processes | --process_id) fail "${a%%=*} is set by this script" ;;
    --workdir) has_workdir=1 ;;
    --hypothesis) has_hypothesis=1 ;;
  esac
done
((has_hypothesis)) || fail "the qd_jax.launch flags need --hypothesis=..."
((has_workdir)) || fail "the qd_jax.launch flags need --workdir=DIR, the same (shared) folder for every process"
read -r -a ssh_words <<<"$ssh_cmd"

command_for() {  # the argv that starts process $1
  local i=$1 launch
  launch=("$python" -m qd_jax.launch "${qd_args[@]}" --coordinator_address="$coordinator"
          --num_processes="$n" --process_id="$i")
  if ((${#envs[@]})); then launch=(env "${envs[@]}" "${launch[@]}"); fi
  if ((local_mode)); then
    printf '%s\0' "${launch[@]}"
  else
    # The remote shell records its pid, then becomes python: that pid is what a stop signals.
    printf '%s\0' "${ssh_words[@]}" "${hosts[i]}" \
      "cd $(q "$remote_dir") && echo \$\$ > $(q "$(pidfile "$i")") && exec $(show "${launch[@]}")"
  fi
}
pidfile() { printf '/tmp/qd_jax-multihost-%s-%s.pid' "$port" "$1"; }

if ((dry_run)); then
  for ((i = 0; i < n; i++)); do
    mapfile -d '' -t cmd < <(command_for "$i")
    show "${cmd[@]}"
  done
  exit 0
fi

prefix() {  # copy stdin to stdout, each line led by [I]
  local line
  while IFS= read -r line || [[ -n $line ]]; do printf '[%s] %s\n' "$1" "$line"; done
}

pids=() done_=() rc=0 stopping=0
stop_all() {
  ((stopping)) && return 0
  stopping=1
  log "stopping every process (SIGTERM: each saves and exits)"
  local i
  for ((i = 0; i < n; i++)); do
    ((done_[i])) && continue
    if ((local_mode)); then
      kill -TERM "${pids[i]}" 2>/dev/null || true
    else
      "${ssh_words[@]}" "${hosts[i]}" "kill -TERM \$(cat $(q "$(pidfile "$i")")) 2>/dev/null" || true
    fi
  done
}
trap 'stop_all' INT TERM

for ((i = 0; i < n; i++)); do
  mapfile -d '' -t cmd < <(command_for "$i")
  log "process $i on ${hosts[i]}: $(show "${cmd[@]}")"
  "${cmd[@]}" > >(prefix "$i") 2>&1 &
  pids[i]=$!
  done_[i]=0
done

left=$n
while ((left > 0)); do
  for ((i = 0; i < n; i++)); do
    ((done_[i])) && continue
    kill -0 "${pids[i]}" 2>/dev/null && continue
    if wait "${pids[i]}"; then r=0; else r=$?; fi
    done_[i]=1
    left=$((left - 1))
    if ((r != 0)); then
      log "process $i on ${hosts[i]} exited $r"
      if ((rc == 0)); then rc=$r; fi
      stop_all
    fi
  done
  if ((left > 0)); then sleep 1; fi
done
wait  # the output prefixers
exit "$rc"
