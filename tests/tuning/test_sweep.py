"""Tests for colorizer.tuning.search_space, colorizer.tuning.sweep and the sweep binary.

The search space and the bookkeeping (ranking, resuming, failures) run with a
stand-in trial runner; one end-to-end run trains 2 tiny trials of 2 steps in
subprocesses and reads the result back through TensorBoard's HParams backend,
then reruns in this process to find both trials done.
"""

import json
import os
import subprocess
import sys

import pytest

from colorizer.tuning import search_space
from colorizer.tuning import sweep
from tests import binaries
from tests import conftest

_TINY_TRAIN_FLAGS = ["--preset=tiny", "--train_steps=2", "--log_every=1",
                     "--save_every=2", "--eval_every=2"]


def test_parse_params_types_values_by_their_flag():
  params = search_space.parse_params(
      ["recon_weight=10,100;gan_loss=vanilla,lsgan", "--base_filters=8,16",
       "flip=false,true",
       "gen_learning_rate=loguniform:1e-4:1e-2"])
  assert [param.name for param in params] == [
      "recon_weight", "gan_loss", "base_filters", "flip", "gen_learning_rate"]
  assert params[0].values == (10.0, 100.0)
  assert isinstance(params[0].values[0], float)
  assert params[1].values == ("vanilla", "lsgan")
  assert params[2].values == (8, 16)
  assert params[3].values == (False, True)
  assert (params[4].distribution, params[4].low, params[4].high) == (
      "loguniform", 1e-4, 1e-2)


@pytest.mark.parametrize("spec,message", [
    ("recon_weigth=1,2", "not a colorizer-train config flag"),
    ("model_dir=a,b", "set by the sweep"),
    ("gan_loss=vanilla,wgan", "expected one of vanilla, lsgan"),
    ("base_filters=8,x", "expected an integer"),
    ("flip=yes", "expected true or false"),
    ("recon_weight=1,1", "repeated value"),
    ("recon_weight=", "expected NAME=V1,V2"),
    ("gan_loss=uniform:0:1", "needs a float flag"),
    ("dropout=uniform:0.5:0.1", "LOW < HIGH"),
    ("gen_learning_rate=loguniform:0:1", "LOW > 0"),
    ("recon_weight=1;recon_weight=2", "more than once"),
    (";", "nothing to search"),
])
def test_parse_params_errors_name_the_problem(spec, message):
  with pytest.raises(ValueError, match=message):
    search_space.parse_params([spec])


def test_grid_and_random_trials():
  params = search_space.parse_params(["recon_weight=10,100",
                                      "gan_loss=vanilla,lsgan"])
  grid = search_space.make_trials(params, "grid")
  assert grid == [
      {"recon_weight": 10.0, "gan_loss": "vanilla"},
      {"recon_weight": 10.0, "gan_loss": "lsgan"},
      {"recon_weight": 100.0, "gan_loss": "vanilla"},
      {"recon_weight": 100.0, "gan_loss": "lsgan"}]
  assert search_space.make_trials(params, "grid", num_trials=2) == grid[:2]
  drawn = search_space.make_trials(params, "random", num_trials=3, seed=5)
  assert drawn == search_space.make_trials(params, "random", num_trials=3,
                                           seed=5)
  assert len({tuple(trial.items()) for trial in drawn}) == 3  # No repeats.
  # More trials later: the ones already drawn stay first.
  assert search_space.make_trials(params, "random", num_trials=4,
                                  seed=5)[:3] == drawn
  with pytest.raises(ValueError, match="only 4 distinct"):
    search_space.make_trials(params, "random", num_trials=5)
  with pytest.raises(ValueError, match="--num_trials"):
    search_space.make_trials(params, "random")
  ranged = search_space.parse_params(
      ["gen_learning_rate=loguniform:1e-4:1e-2", "gan_loss=vanilla,lsgan"])
  with pytest.raises(ValueError, match="--mode=random"):
    search_space.make_trials(ranged, "grid")
  for trial in search_space.make_trials(ranged, "random", num_trials=20):
    assert 1e-4 <= trial["gen_learning_rate"] <= 1e-2
    assert trial["gan_loss"] in ("vanilla", "lsgan")


def test_trial_names_and_flags_read_back_exactly():
  values = {"recon_weight": 10.0, "gen_learning_rate": 0.000123,
            "gan_loss": "lsgan", "flip": False}
  assert search_space.trial_name(3, values) == (
      "trial_003_recon_weight=10_gen_learning_rate=0.000123_gan_loss=lsgan_"
      "flip=false")
  config = sweep.trial_config(["--preset=tiny"], values)
  assert config.loss.recon_weight == 10.0
  assert config.optim.gen_learning_rate == 0.000123
  assert config.loss.gan_loss == "lsgan" and config.data.flip is False
  assert config.model.base_filters == 8  # From the preset.


def _fake_runner(calls, fail=()):
  """Writes eval_metrics.json as training would; psnr grows with lambda."""

  def run(command, log_path):
    calls.append(command)
    flags = dict(arg[2:].split("=", 1) for arg in command[3:])
    with open(log_path, "a") as log:
      log.write(f"training {flags['model_dir']}\n")
    if float(flags["recon_weight"]) in fail:
      with open(log_path, "a") as log:
        log.write("NonFiniteLossError: Non-finite gen_total at step 1\n")
      return 1
    psnr = 20.0 + float(flags["recon_weight"]) / 100.0
    with open(os.path.join(flags["model_dir"], "eval_metrics.json"),
              "w") as f:
      json.dump({"psnr": psnr, "ssim": 0.9, "colorfulness": 10.0,
                 "ab_l1": 30.0 - psnr, "step": 2}, f)
    return 0

  return run


def test_run_sweep_ranks_resumes_and_retries_failures(tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  params = search_space.parse_params(["recon_weight=10,300,100"])
  calls = []
  results = sweep.run_sweep(sweep_dir, params,
                            train_args=_TINY_TRAIN_FLAGS, metric="psnr",
                            runner=_fake_runner(calls, fail=(300.0,)),
                            stream=None)
  assert len(calls) == 3
  assert calls[0][1:3] == ["-m", "pipelines.train"]
  assert "--export_name=" in calls[0] and "--recon_weight=10.0" in calls[0]
  assert [(trial["name"], trial["status"]) for trial in results] == [
      ("trial_002_recon_weight=100", "done"),
      ("trial_000_recon_weight=10", "done"),
      ("trial_001_recon_weight=300", "failed")]
  assert "NonFiniteLossError" in results[2]["log_tail"]
  with open(os.path.join(sweep_dir, "results.json")) as f:
    saved = json.load(f)
  assert saved["metric"] == "psnr" and saved["higher_is_better"]
  assert [trial["name"] for trial in saved["trials"]] == [
      trial["name"] for trial in results]
  table = sweep.format_table(results, "psnr").splitlines()
  assert table[1].split()[:3] == ["rank", "trial", "recon_weight"]
  assert table[2].split()[:4] == ["1", "trial_002_recon_weight=100", "100.0",
                                  "21"]
  assert table[-1].split()[-1] == "failed"
  # Rerunning the same sweep runs only the failed trial again.
  calls.clear()
  again = sweep.run_sweep(sweep_dir, params, train_args=_TINY_TRAIN_FLAGS,
                          runner=_fake_runner(calls), stream=None)
  assert [command[3] for command in calls] == [
      f"--model_dir={sweep_dir}/trial_001_recon_weight=300"]
  assert [trial["status"] for trial in again] == ["done"] * 3
  assert again[0]["name"] == "trial_001_recon_weight=300"
  # Lower is better for ab_l1.
  by_l1 = sweep.sort_trials(again, "ab_l1")
  assert by_l1[0]["name"] == "trial_001_recon_weight=300"


@pytest.mark.parametrize("train_args,message", [
    (["--model_dir=x"], "--model_dir is set by the sweep"),
    (["--export_name=x"], "--export_name is set by the sweep"),
    (["--recon_weight=3"], "both searched"),
    (["--train_steps=0"], "--train_steps=0: must be positive"),
    (["--no_such_flag=1"], "no_such_flag"),
])
def test_bad_train_flags_stop_the_sweep_before_any_trial(tmp_path, train_args,
                                                         message):
  calls = []
  with pytest.raises(ValueError, match=message):
    sweep.run_sweep(str(tmp_path / "sweep"),
                    search_space.parse_params(["recon_weight=1,2"]),
                    train_args=train_args, runner=_fake_runner(calls),
                    stream=None)
  assert not calls


def _hparams_session_groups(logdir):
  """What TensorBoard's HParams dashboard lists for a logdir."""
  # pylint: disable=g-import-not-at-top
  from tensorboard import context as tb_context
  from tensorboard.backend.event_processing import data_provider
  from tensorboard.backend.event_processing import plugin_event_multiplexer
  from tensorboard.plugins import base_plugin
  from tensorboard.plugins.hparams import api_pb2
  from tensorboard.plugins.hparams import backend_context
  from tensorboard.plugins.hparams import get_experiment
  from tensorboard.plugins.hparams import list_session_groups
  # pylint: enable=g-import-not-at-top
  multiplexer = plugin_event_multiplexer.EventMultiplexer()
  multiplexer.AddRunsFromDirectory(logdir)
  multiplexer.Reload()
  context = backend_context.Context(base_plugin.TBContext(
      logdir=logdir, multiplexer=multiplexer,
      data_provider=data_provider.MultiplexerDataProvider(multiplexer,
                                                          logdir)))
  request_context = tb_context.RequestContext()
  experiment = get_experiment.Handler(
      request_context, context, "",
      api_pb2.GetExperimentRequest(include_metrics=True)).run()
  groups = list_session_groups.Handler(
      request_context, context, "", api_pb2.ListSessionGroupsRequest(
          start_index=0, slice_size=100, include_metrics=True,
          allowed_statuses=[api_pb2.STATUS_UNKNOWN,
                            api_pb2.STATUS_SUCCESS])).run()
  return experiment, groups.session_groups


def test_binary_trains_two_trials_and_tensorboard_compares_them(tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  command = [sys.executable, "-m", "pipelines.sweep",
             f"--sweep_dir={sweep_dir}", "--grid=recon_weight=10,100", "--",
             *_TINY_TRAIN_FLAGS]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(command, capture_output=True, text=True,
                          timeout=600, cwd=conftest.REPO_ROOT, env=env)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert "Trials by psnr (higher is better):" in result.stdout
  with open(os.path.join(sweep_dir, "results.json")) as f:
    trials = json.load(f)["trials"]
  assert sorted(trial["name"] for trial in trials) == [
      "trial_000_recon_weight=10", "trial_001_recon_weight=100"]
  for trial in trials:
    assert trial["status"] == "done" and trial["metrics"]["step"] == 2
    assert os.path.exists(os.path.join(trial["model_dir"], "checkpoints"))
  # The HParams dashboard at the sweep dir: the swept flag with its domain,
  # one session group per trial, each with its validation metrics.
  experiment, groups = _hparams_session_groups(sweep_dir)
  assert [info.name for info in experiment.hparam_infos] == ["recon_weight"]
  assert sorted(group.name for group in groups) == sorted(
      trial["name"] for trial in trials)
  for group in groups:
    metrics = {value.name.tag: value.value for value in group.metric_values}
    trial = next(t for t in trials if t["name"] == group.name)
    assert metrics["eval/psnr"] == pytest.approx(trial["metrics"]["psnr"])
    assert group.hparams["recon_weight"].number_value == (
        trial["params"]["recon_weight"])
  # The same command again trains nothing: it appends to no trial's log
  # and reports the same trials, here in this process.
  logs = {}
  for trial in trials:
    with open(os.path.join(trial["model_dir"], sweep.TRIAL_LOG)) as f:
      logs[trial["name"]] = f.read()
  again = binaries.run_main("pipelines.sweep", *command[3:])
  assert again.returncode == 0, again.stderr[-3000:]
  assert "Trials by psnr (higher is better):" in again.stdout
  for trial in trials:
    with open(os.path.join(trial["model_dir"], sweep.TRIAL_LOG)) as f:
      assert f.read() == logs[trial["name"]]
  with open(os.path.join(sweep_dir, "results.json")) as f:
    assert json.load(f)["trials"] == trials
