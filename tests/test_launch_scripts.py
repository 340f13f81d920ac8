"""The launch/ scripts: syntax, shellcheck, dry runs, flag errors, and their control flow with fakes.

No test reaches Google Cloud, ssh or Slurm: `gcloud`, `ssh`, `srun`, `scontrol`, `systemctl` and
the job's `python` are small fake scripts first on PATH, which log their calls.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import fake_exe, run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "launch"
GCP = LAUNCH / "gcp_gpu_vm.sh"
STARTUP = LAUNCH / "startup_script.sh"
MULTIHOST = LAUNCH / "multihost.sh"
SBATCH = LAUNCH / "slurm.sbatch"
SCRIPTS = [GCP, STARTUP, MULTIHOST, SBATCH]
# Every shell file in the repo, for bash -n and shellcheck (the sourced helpers and gpu.sh, which
# keeps going after a failed stage, are not held to `set -euo pipefail`).
LINTED = SCRIPTS + [LAUNCH / "common.sh", LAUNCH / "local.sh", LAUNCH / "h3_ablation.sh", ROOT / "benchmarks" / "gpu.sh",
                    ROOT / "benchmarks" / "paper_times.sh", ROOT / "benchmarks" / "checkpoint_cost.sh",
                    ROOT / "benchmarks" / "tensorboard_cost.sh", ROOT / "benchmarks" / "local_all.sh",
                    ROOT / "benchmarks" / "cache_copy.sh"]


# --- syntax ----------------------------------------------------------------------------------------

def test_every_shell_file_is_linted():
  found = {p for p in ROOT.glob("*/*") if p.suffix in (".sh", ".sbatch") and ".git" not in p.parts}
  assert found == set(LINTED)


@pytest.mark.parametrize("script", LINTED, ids=lambda p: p.name)
def test_bash_n(script):
  out = run_script(["bash", "-n", script])
  assert out.returncode == 0, out.stderr


def test_shellcheck():
  if shutil.which("shellcheck") is None:
    if os.environ.get("CI"):
      pytest.fail("shellcheck is not installed (apt-get install -y shellcheck), and CI is set")
    pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
  out = run_script(["shellcheck", "--shell=bash", *LINTED])
  assert out.returncode == 0, out.stdout + out.stderr


def _shell_functions(path: pathlib.Path, names: tuple[str, ...]) -> dict[str, str]:
  """Each named function's text, from its `name() {` line to the first line that is `}`."""
  lines, out = path.read_text().splitlines(), {}
  for name in names:
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}() {{"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    out[name] = "\n".join(lines[start:end + 1])
  return out


def test_startup_script_copies_common_quoting_exactly():
  # The VM receives startup_script.sh alone, so it carries its own copy of these helpers.
  names = ("q", "show")
  assert _shell_functions(LAUNCH / "startup_script.sh", names) == _shell_functions(LAUNCH / "common.sh", names)


def test_scripts_are_executable_and_strict():
  for script in SCRIPTS:
    text = script.read_text()
    assert text.startswith("#!"), script
    assert "set -euo pipefail" in text, script
    assert "Prerequisites" in text, script
    if script.suffix == ".sh":
      assert os.access(script, os.X_OK), f"chmod +x {script}"


# --- multihost.sh --------------------------------------------------------------------------------

def test_multihost_dry_run_local_prints_one_command_per_process(no_gcloud):
  bin_dir, _ = no_gcloud
  out = run_script([MULTIHOST, "--dry-run", "--local", "--num-processes=2", "--coordinator=127.0.0.1:12355",
              "--", "--hypothesis=h1", "--workdir=runs/h1-two", "--categories=smiley face,cat"], bin_dir)
  assert out.returncode == 0, out.stderr
  lines = out.stdout.splitlines()
  assert len(lines) == 2
  for i, line in enumerate(lines):
    assert line.startswith("python -m qd_jax.launch --hypothesis=h1 --workdir=runs/h1-two "
                           "'--categories=smiley face,cat' ")
    assert line.endswith(f"--coordinator_address=127.0.0.1:12355 --num_processes=2 --process_id={i}")


def test_multihost_dry_run_hosts_uses_ssh():
  out = run_script([MULTIHOST, "--dry-run", "--hosts=gpu-a,gpu-b,gpu-c", "--coordinator=gpu-a:8476",
              "--remote-dir=/srv/qd", "--", "--hypothesis=h2", "--workdir=/shared/h2"])
  assert out.returncode == 0, out.stderr
  lines = out.stdout.splitlines()
  assert [line.split()[3] for line in lines] == ["gpu-a", "gpu-b", "gpu-c"]
  for i, line in enumerate(lines):
    assert line.startswith("ssh -o BatchMode=yes ") and "cd /srv/qd && " in line
    assert f"--num_processes=3 --process_id={i}" in line


@pytest.mark.parametrize("args, message", [
    (["--local", "--coordinator=127.0.0.1:1", "--", "--hypothesis=h1", "--workdir=w"], "--num-processes"),
    (["--local", "--num-processes=2", "--", "--hypothesis=h1", "--workdir=w"], "--coordinator"),
    (["--local", "--num-processes=2", "--coordinator=nope", "--", "--hypothesis=h1", "--workdir=w"], "HOST:PORT"),
    (["--local", "--num-processes=2", "--coordinator=h:1", "--", "--hypothesis=h1"], "--workdir"),
    (["--local", "--num-processes=2", "--coordinator=h:1", "--", "--hypothesis=h1", "--workdir=w",
      "--process_id=3"], "set by this script"),
    (["--local", "--num-processes=2", "--coordinator=h:1", "--hypothesis=h1"], "go after --"),
    (["--hosts=a,b", "--num-processes=3", "--coordinator=a:1", "--", "--hypothesis=h1", "--workdir=w"],
     "names 2 hosts"),
])
def test_multihost_bad_flags_one_line_exit_2(args, message):
  out = run_script([MULTIHOST, "--dry-run", *args])
  assert out.returncode == 2, out
  assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_multihost_stops_the_others_when_one_fails(tmp_path):
  fake = fake_exe(tmp_path / "python", """
      id=${@: -1}; id=${id#--process_id=}
      trap 'echo "process $id saved"; exit 143' TERM
      if [[ $id == 1 ]]; then sleep 0.5; echo "process 1 fails"; exit 3; fi
      for _ in $(seq 100); do sleep 0.1 & wait $!; done
      """)
  out = run_script([MULTIHOST, "--local", "--num-processes=3", "--coordinator=127.0.0.1:1", f"--python={fake}",
              "--", "--hypothesis=h1", "--workdir=w"], timeout=30)
  assert out.returncode == 3
  assert "[1] process 1 fails" in out.stdout
  assert "[0] process 0 saved" in out.stdout and "[2] process 2 saved" in out.stdout


# --- slurm.sbatch --------------------------------------------------------------------------------

def test_sbatch_header():
  lines = SBATCH.read_text().splitlines()
  directives = [line for line in lines if line.startswith("#SBATCH")]
  for d in ("#SBATCH --signal=B:TERM@120", "#SBATCH --requeue", "#SBATCH --gpus-per-node=1",
            "#SBATCH --time=", "#SBATCH --open-mode=append"):
    assert any(line.startswith(d) for line in directives), d
  first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
  assert all(lines.index(d) < first_command for d in directives), "#SBATCH lines after a command are ignored"
  assert any(line.startswith("srun ") and "python -m qd_jax.launch" in line for line in lines)


def test_sbatch_without_its_arguments_is_one_line_and_exit_2():
  out = run_script(["bash", SBATCH, "h2"])
  assert out.returncode == 2 and out.stderr.count("\n") == 1 and "give HYPOTHESIS and WORKDIR" in out.stderr


def test_sbatch_passes_sigterm_and_requeues(tmp_path):
  log = tmp_path / "calls"
  fake_exe(tmp_path / "srun", 'while [[ $1 == --* ]]; do shift; done\nexec "$@"\n')
  fake_exe(tmp_path / "scontrol", f'echo "scontrol $*" >>"{log}"\n')
  fake_exe(tmp_path / "python", f"""
      trap 'echo saved >>"{log}"; exit 143' TERM
      echo "python $*" >>"{log}"
      for _ in $(seq 100); do sleep 0.1 & wait $!; done
      """)
  full_env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "42",
              "SLURM_SUBMIT_DIR": str(tmp_path)}
  proc = subprocess.Popen(["bash", str(SBATCH), "h2", "runs/h2", "--quick"], env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 10
  while not log.exists():
    assert time.time() < deadline
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)  # what --signal=B:TERM@120 sends
  _, err = proc.communicate(timeout=10)
  assert proc.returncode == 0, err
  assert log.read_text().splitlines() == [
      "python -m qd_jax.launch --hypothesis=h2 --workdir=runs/h2 --quick", "saved", "scontrol requeue 42"]
  assert (tmp_path / "runs" / "h2").is_dir()
