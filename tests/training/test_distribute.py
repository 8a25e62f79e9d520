"""Strategies, precision and compilation give the same or finite steps."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from colorizer.model import colorizer_model
from colorizer.training import distribute
from colorizer.training import steps
from colorizer.training import train
from tests import conftest

GLOBAL_BATCH = 8


def _batch():
  rng = np.random.RandomState(0)
  l_channel = rng.uniform(-1, 1, [GLOBAL_BATCH, 32, 32, 1]).astype(np.float32)
  ab = rng.uniform(-0.5, 0.5, [GLOBAL_BATCH, 32, 32, 2]).astype(np.float32)
  return l_channel, ab


def _one_step(strategy, config):
  state = steps.build_state(config, strategy)
  replica_step = steps.make_train_step(state, config, GLOBAL_BATCH)
  distributed = steps.make_distributed_step(strategy, replica_step,
                                            state.step,
                                            config.train.jit_compile)
  dataset = tf.data.Dataset.from_tensors(_batch()).unbatch().batch(
      GLOBAL_BATCH).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  scalars = distributed(iterator, tf.constant(1))
  weights = [v.numpy() for v in state.generator.trainable_variables +
             state.discriminator.trainable_variables]
  return {k: float(v) for k, v in scalars.items()}, weights


def test_mirrored_over_two_devices_matches_the_default_strategy(tiny_config):
  # No dropout: its random masks differ between strategies by design.
  config = tiny_config.replace(model={"dropout": 0.0})
  single_scalars, single_weights = _one_step(tf.distribute.get_strategy(),
                                             config)
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  assert mirrored.num_replicas_in_sync == 2
  mirrored_scalars, mirrored_weights = _one_step(mirrored, config)
  for name, value in single_scalars.items():
    assert mirrored_scalars[name] == pytest.approx(value, rel=1e-4, abs=1e-5)
  for single, replicated in zip(single_weights, mirrored_weights):
    np.testing.assert_allclose(replicated, single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mixed_precision,jit_compile", [
    ("bfloat16", False), ("none", True), ("bfloat16", True), ("float16",
                                                               False)])
def test_precision_and_xla_steps_stay_finite(tiny_config, mixed_precision,
                                             jit_compile):
  config = tiny_config.replace(
      train={"mixed_precision": mixed_precision, "jit_compile": jit_compile})
  try:
    scalars, weights = _one_step(tf.distribute.get_strategy(), config)
  finally:
    colorizer_model.set_precision_policy("none")
  assert all(np.isfinite(v) for v in scalars.values()), scalars
  assert all(np.isfinite(w).all() for w in weights)
  assert all(w.dtype == np.float32 for w in weights)  # Variables stay fp32.


def test_steps_per_execution_runs_several_steps_per_call(tiny_config, tmp_path,
                                                         monkeypatch):
  calls = []  # The num_steps of each call of a step function.
  make_distributed_step = steps.make_distributed_step

  def counted_distributed_step(*args, **kwargs):
    step_fn = make_distributed_step(*args, **kwargs)

    def counted(iterator, num_steps):
      calls.append(int(num_steps))
      return step_fn(iterator, num_steps)

    return counted

  monkeypatch.setattr(steps, "make_distributed_step",
                      counted_distributed_step)
  model_dir = str(tmp_path)
  config = tiny_config.replace(
      train={"train_steps": 10, "steps_per_execution": 4, "log_every": 3,
             "save_every": 5, "eval_every": 0, "keep_checkpoints": 10})
  assert train.train_and_evaluate(config, model_dir)["step"] == 10
  # At most 4 steps a call, cut at every log (3, 6, 9) and save (5) step.
  assert calls == [3, 2, 1, 3, 1]
  checkpoint_dir = os.path.join(model_dir, "checkpoints")
  assert [os.path.basename(path) for path in tf.train.get_checkpoint_state(
      checkpoint_dir).all_model_checkpoint_paths] == ["ckpt-5", "ckpt-10"]
  # Each call ran all its steps: the saved step counter and both optimizers'
  # iterations count every one.
  for number in (5, 10):
    reader = tf.train.load_checkpoint(os.path.join(checkpoint_dir,
                                                   f"ckpt-{number}"))
    for counter in ("step", "gen_optimizer/_iterations",
                    "disc_optimizer/_iterations"):
      assert reader.get_tensor(
          f"{counter}/.ATTRIBUTES/VARIABLE_VALUE") == number, counter
  events = conftest.summary_events(os.path.join(model_dir,
                                                train.TRAIN_LOG_DIR))
  assert [step for step, _ in events["train/images_per_sec"]] == [3, 6, 9, 10]


def test_auto_strategy_and_chief_rules(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  monkeypatch.delenv("TPU_NAME", raising=False)
  assert distribute._auto_strategy_name("") == "default"  # pylint: disable=protected-access
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker",
                                                       "index": 0}}))
  assert distribute._auto_strategy_name("") == "multi_worker"  # pylint: disable=protected-access
  assert distribute.is_chief(tf.distribute.get_strategy())
  with pytest.raises(ValueError, match="--strategy='gpu'"):
    distribute.get_strategy("gpu")


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_two_worker_multi_worker_mirrored_resumes_and_trains(tiny_config,
                                                             tmp_path):
  model_dir = str(tmp_path / "run")
  # A run on one process leaves a checkpoint at step 2 in the chief's dir;
  # both workers resume from it, whatever their own scratch dirs hold.
  train.train_and_evaluate(tiny_config.replace(
      train={"train_steps": 2, "save_every": 2, "eval_every": 0,
             "log_every": 1}), model_dir)
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
  flags = [f"--model_dir={model_dir}", "--preset=tiny", "--train_steps=4",
           "--save_every=2", "--eval_every=0", "--log_every=1",
           "--strategy=multi_worker"]

  def launch(index):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.train", *flags],
        cwd=conftest.REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)

  workers = [launch(index) for index in range(2)]
  try:
    outputs = [worker.communicate(timeout=400)[0] for worker in workers]
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
        worker.wait()
  for worker, output in zip(workers, outputs):
    assert worker.returncode == 0, output[-3000:]
    assert "Resumed from" in output and "ckpt-2 at step 2." in output, (
        output[-3000:])
  checkpoint_dir = os.path.join(model_dir, "checkpoints")
  assert tf.train.latest_checkpoint(checkpoint_dir).endswith("ckpt-4")
  reader = tf.train.load_checkpoint(os.path.join(checkpoint_dir, "ckpt-4"))
  assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 4
  # The chief logged steps 3 and 4 once each, after the first run's 1 and 2.
  events = conftest.summary_events(os.path.join(model_dir,
                                                train.TRAIN_LOG_DIR))
  assert sorted(step for step, _ in events["train/images_per_sec"]) == [
      1, 2, 3, 4]
  # The non-chief wrote only into its own scratch directory.
  assert os.listdir(os.path.join(model_dir, "workers")) == ["worker_1"]
