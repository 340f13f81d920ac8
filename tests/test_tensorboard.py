"""TensorBoard event files and the sweep's console: curves per run, HParams, resumes, ETA."""

import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from qd_jax.experiments import configs, progress, sweep
from qd_jax.records import tensorboard, workdir as wd

from conftest import LOCAL_TEN, TINY, checkpoint_steps, free_port

CURVES = {"train/loss": "train_loss", "train/accuracy": "train_accuracy", "val/loss": "val_loss",
          "val/accuracy": "val_accuracy", "perf/samples_per_s": "samples_per_s"}


def read_events(run_dir: pathlib.Path) -> tuple[dict, dict]:
  """({tag: [(step, value)] in file order, over every event file}, the run's hparams) as
  TensorBoard's own loader reads them. Repeated steps stay repeated."""
  points, hparams = collections.defaultdict(list), {}
  for path in sorted(run_dir.glob("events.out.tfevents.*")):
    for event in event_file_loader.EventFileLoader(str(path)).Load():
      for v in event.summary.value:
        if v.tag == hparams_metadata.SESSION_START_INFO_TAG:
          info = hparams_metadata.parse_session_start_info_plugin_data(v.metadata.plugin_data.content)
          hparams = {k: getattr(x, x.WhichOneof("kind")) for k, x in info.hparams.items()}
        elif not v.tag.startswith("_hparams_"):
          points[v.tag].append((event.step, float(tensor_util.make_ndarray(v.tensor))))
  return dict(points), hparams


def assert_whole_curves(workdir: pathlib.Path) -> None:
  """Every run in runs.jsonl: each curve has one point per epoch, 1 ... E, equal to the record's
  (as float32), and the test scores at epoch E."""
  runs = wd.read_runs(workdir)
  assert runs
  for r in runs:
    points, _ = read_events(tensorboard.folder(workdir / "tensorboard", r["run_id"]))
    epochs = [e["epoch"] for e in r["epochs"]]
    assert epochs == list(range(1, len(epochs) + 1))
    for tag, key in CURVES.items():
      assert points[tag] == [(e["epoch"], float(np.float32(e[key]))) for e in r["epochs"]], (r["run_id"], tag)
    assert points["test/accuracy"] == [(epochs[-1], float(np.float32(r["test_accuracy"])))]
    assert points["test/loss"] == [(epochs[-1], float(np.float32(r["test_loss"])))]


@pytest.fixture(scope="module")
def h3_quick(tmp_path_factory):
  """`--hypothesis=h3 --quick` on the real drawings, as the README runs it."""
  folder = os.environ.get("QD_DATA_DIR")
  if not folder:
    pytest.skip("QD_DATA_DIR is not set; point it at the real Quick Draw folder")
  workdir = tmp_path_factory.mktemp("h3")
  out = subprocess.run([sys.executable, "-m", "qd_jax.launch", "--hypothesis=h3", "--quick", f"--data_dir={folder}",
                        f"--categories={','.join(LOCAL_TEN)}", f"--workdir={workdir}"],
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr
  return workdir, out


def test_h3_quick_has_every_runs_curves_and_hparams(h3_quick):
  workdir, out = h3_quick
  assert_whole_curves(workdir)
  runs = wd.read_runs(workdir)
  assert len(runs) == 6 and len(list((workdir / "tensorboard").iterdir())) == 6
  for r in runs:
    _, hparams = read_events(tensorboard.folder(workdir / "tensorboard", r["run_id"]))
    assert hparams["rows_per_category"] == r["point"]["rows_per_category"]  # the swept field
    assert hparams["model"] == r["model"] and hparams["seed"] == r["seed"] and hparams["layers"] == r["layers"]
    assert hparams["batch_size"] == r["batch_size"] and hparams["learning_rate"] == pytest.approx(r["learning_rate"])


def test_h3_quick_console_counts_runs_and_gives_an_eta(h3_quick):
  _, out = h3_quick
  lines = out.stdout.splitlines()
  done = [line for line in lines if line.startswith("run ")]
  assert [line.split()[1] for line in done] == [f"{i}/6" for i in range(1, 7)]
  assert all("(h3)" in line and "elapsed " in line and "ETA " in line for line in done)
  assert done[-1].endswith("ETA 00:00")
  assert out.stderr == ""


def test_the_tensorboard_command_groups_the_sweep_by_its_field(h3_quick):
  """The installed `tensorboard` serves the runs, and its HParams dashboard sees the swept field vary."""
  workdir, _ = h3_quick
  exe = shutil.which("tensorboard") or pytest.fail("the tensorboard command is not installed")
  port = free_port()
  proc = subprocess.Popen([exe, f"--logdir={workdir / 'tensorboard'}", "--host=127.0.0.1", f"--port={port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    body = json.dumps({"experimentName": ""}).encode()
    deadline, infos = time.time() + 120, []
    while time.time() < deadline and not infos:
      try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/data/plugin/hparams/experiment", body,
                                     {"Content-Type": "application/json"})
        infos = json.loads(urllib.request.urlopen(req, timeout=5).read())["hparamInfos"]
      except (OSError, ValueError, KeyError):
        time.sleep(0.5)
    tags = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5).read())
  finally:
    proc.terminate()
    proc.wait(timeout=30)
  differs = {i["name"] for i in infos if i.get("differs")}
  assert differs == {"rows_per_category", "seed"}
  assert len(tags) == 6 and all(set(CURVES) | {"test/accuracy", "test/loss"} <= set(t) for t in tags.values())


class _Killed(Exception):
  """Stands for a kill -9: the launch stops where it is (the event files are flushed per epoch)."""


def _die_after(epoch_line: str):
  def log(line):
    if epoch_line in line:
      raise _Killed(line)
  return log


@pytest.mark.parametrize("checkpoints, resumed", [
    ({"checkpoint_every": 2, "checkpoint_min_seconds": 0}, "resumed after epoch 2"),  # epoch 3 is trained again
    ({"checkpoint_min_seconds": 3600}, None),  # no checkpoint yet: the run starts afresh
])
def test_a_resumed_run_keeps_one_continuous_curve(tiny_data_dir, tmp_path, checkpoints, resumed):
  """Stopped after epoch 3's events were written but before a checkpoint held epoch 3, the rerun
  trains epoch 3 again: the curve must hold each epoch once, with the numbers runs.jsonl keeps."""
  config = lambda: _tiny(tiny_data_dir, num_seeds=1, epochs=6, **checkpoints)  # noqa: E731
  run_dir = tensorboard.folder(tmp_path / "tensorboard", "h1/fc/seed0")
  with pytest.raises(_Killed):
    sweep.run_hypotheses([config()], tmp_path, _die_after("epoch 3/6"), verbose=True)
  assert _logged_epochs(run_dir) == [1, 2, 3]
  assert [p.name for p in checkpoint_steps(tmp_path)] == (["2"] if resumed else [])
  logs = []
  sweep.run_hypotheses([config()], tmp_path, logs.append)
  assert (resumed in "\n".join(logs)) if resumed else not any("resumed after" in line for line in logs), logs
  assert _logged_epochs(run_dir) == [1, 2, 3, 4, 5, 6]
  assert_whole_curves(tmp_path)


def _logged_epochs(run_dir: pathlib.Path) -> list[int]:
  return [step for step, _ in read_events(run_dir)[0].get("val/accuracy", [])]


def _tiny(data_dir, **overrides):
  return configs.get_config("h1", overrides={
      "data_dir": str(data_dir), "categories": ",".join(TINY), "models": "fc", "num_seeds": 2, "epochs": 2, "model_epochs": "",
      "rows_per_category": 200, "batch_size": 32, "eval_batch_size": 64, **overrides})


def test_verbose_keeps_every_epoch_line_and_the_default_prints_one_line_a_run(tiny_data_dir, tmp_path, monkeypatch):
  monkeypatch.setattr(progress, "HEARTBEAT_S", float("inf"))  # however slow the machine, no heartbeat here
  loud, quiet = [], []
  sweep.run_hypotheses([_tiny(tiny_data_dir)], tmp_path / "loud", loud.append, verbose=True)
  sweep.run_hypotheses([_tiny(tiny_data_dir)], tmp_path / "quiet", quiet.append, tensorboard_events=False)
  assert sum(" epoch " in line for line in loud) == 4 and sum("test accuracy" in line for line in loud) == 4
  assert not any(" epoch " in line for line in quiet)
  assert [line.split(":")[0] for line in quiet if line.startswith("run ")] == ["run 1/2 (h1)", "run 2/2 (h1)"]
  assert (tmp_path / "loud" / "tensorboard").is_dir() and not (tmp_path / "quiet" / "tensorboard").exists()


def test_a_workdir_without_event_files_gets_them_from_its_records(tiny_data_dir, tmp_path):
  sweep.run_hypotheses([_tiny(tiny_data_dir)], tmp_path, lambda _: None, tensorboard_events=False)
  logs = []
  sweep.run_hypotheses([_tiny(tiny_data_dir)], tmp_path, logs.append)  # every run is skipped
  assert "sweep: 0 run(s) to train, 2 already in" in "\n".join(logs)
  assert_whole_curves(tmp_path)


class _Member:
  def __init__(self, tag):
    self.tag = tag


def test_without_verbose_a_cohort_epoch_gets_one_line_after_a_quiet_spell(monkeypatch):
  now = [0.0]
  monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
  lines = []
  console = progress.Console([], lines.append)
  members = [_Member("hx/m/seed0"), _Member("hx/m/seed1")]
  h = {"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.0, "samples_per_s": 1000.0}
  records = [{**h, "val_accuracy": 0.6}, {**h, "val_accuracy": 0.7}]
  now[0] = progress.HEARTBEAT_S - 1
  console.epoch(members, records, 5)
  assert lines == []
  now[0] = progress.HEARTBEAT_S
  console.epoch(members, records, 5)
  now[0] = progress.HEARTBEAT_S + 1
  console.epoch(members, records, 5)
  assert lines == ["[hx/m/seed0 and 1 more] epoch 1/5  val acc 0.6000 to 0.7000 | 2,000 samples/s (2 models at once)"]


def test_a_run_finished_without_event_files_gets_them_whole_later(tiny_data_dir, tmp_path):
  config = lambda: _tiny(tiny_data_dir, num_seeds=1, epochs=6, checkpoint_min_seconds=0)  # noqa: E731
  with pytest.raises(_Killed):
    sweep.run_hypotheses([config()], tmp_path, _die_after("epoch 3/6"), verbose=True)
  sweep.run_hypotheses([config()], tmp_path, lambda _: None, tensorboard_events=False)  # --notensorboard
  sweep.run_hypotheses([config()], tmp_path, lambda _: None)
  assert_whole_curves(tmp_path)


def test_eta_prices_the_runs_left_at_their_models_rates(monkeypatch):
  now = [100.0]
  monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
  planned = [progress.Planned("a/0", "hx", "fast", 1000), progress.Planned("a/1", "hx", "fast", 3000),
             progress.Planned("b/0", "hx", "slow", 1000), progress.Planned("b/1", "hx", "slow", 2000)]
  lines = []
  console = progress.Console(planned, lines.append, started_at=90.0)
  record = lambda run_id: {"run_id": run_id, "hypothesis": "hx", "test_accuracy": 0.5}  # noqa: E731
  now[0] = 110.0
  console.finished([record("a/0")])  # 10 s for 1000 samples: 0.01 s each, for every model so far
  assert console.eta() == pytest.approx(0.01 * (3000 + 1000 + 2000))
  now[0] = 140.0
  console.finished([record("a/1"), record("b/0")])  # 30 s shared by work: 22.5 s fast, 7.5 s slow
  assert console.eta() == pytest.approx(2000 * 7.5 / 1000)
  assert lines[0] == "run 1/4 (hx): [a/0] test accuracy 0.5000 | elapsed 00:20, ETA 01:00"
  assert lines[2] == "run 3/4 (hx): [b/0] test accuracy 0.5000 | elapsed 00:50, ETA 00:15"
