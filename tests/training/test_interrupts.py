"""Interrupted training loses nothing: SIGTERM/SIGINT save, SIGKILL resumes."""

import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.training import steps
from colorizer.training import train
from tests import conftest

_LONG_TINY_RUN = ["--preset=tiny", "--train_steps=100000", "--log_every=1",
                  "--eval_every=0", "--save_every=1000"]


def start_training(model_dir, *flags):
  return subprocess.Popen(
      [sys.executable, "-m", "pipelines.train", f"--model_dir={model_dir}",
       *_LONG_TINY_RUN, *flags], stderr=subprocess.PIPE, text=True,
      cwd=conftest.REPO_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def wait_for_step(process, step, timeout=180):
  """Reads stderr until the progress line of `step`; returns lines read."""
  lines = []
  deadline = time.time() + timeout
  while time.time() < deadline:
    line = process.stderr.readline()
    if not line:
      break
    lines.append(line)
    if f"step {step}/" in line:
      return lines
  process.kill()
  raise AssertionError("no progress line for step %d:\n%s" % (
      step, "".join(lines[-30:])))


def latest_step(model_dir):
  path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  return int(path.rsplit("-", 1)[1]) if path else None


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_a_checkpoint_then_exits_cleanly(signal_number,
                                                      tmp_path):
  model_dir = str(tmp_path)
  process = start_training(model_dir)
  wait_for_step(process, 3)
  process.send_signal(signal_number)
  stderr = process.communicate(timeout=120)[1]
  assert process.returncode == 128 + signal_number, stderr[-2000:]
  assert "Traceback" not in stderr
  assert "Rerun the same command to resume" in stderr
  saved = latest_step(model_dir)
  assert saved is not None and saved >= 3  # save_every=1000: only the signal.
  # The same command resumes from there.
  config = config_lib.load(model_dir).replace(train={"train_steps": saved + 1})
  assert train.train_and_evaluate(config, model_dir)["step"] == saved + 1


def test_sigkill_at_any_moment_resumes_from_a_complete_checkpoint(tmp_path):
  model_dir = str(tmp_path)
  kills = 0
  for delay in (0.0, 0.05, 0.3):
    # Saving every step puts a checkpoint write in flight most of the time.
    process = start_training(model_dir, "--save_every=1")
    wait_for_step(process, (latest_step(model_dir) or 0) + 3)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    kills += 1
    saved = latest_step(model_dir)
    assert saved is not None
    # Whatever the checkpoint file names, it restores completely.
    config = config_lib.load(model_dir)
    state = steps.build_state(config, tf.distribute.get_strategy())
    state.checkpoint().restore(tf.train.latest_checkpoint(os.path.join(
        model_dir, "checkpoints"))).assert_existing_objects_matched()
    assert int(state.step.numpy()) == saved
  assert kills == 3
  config = config_lib.load(model_dir).replace(
      train={"train_steps": latest_step(model_dir) + 2})
  assert train.train_and_evaluate(config, model_dir)["step"] == (
      config.train.train_steps)


def test_unwritable_model_dir_fails_before_training(tiny_config, tmp_path):
  if os.geteuid() == 0:
    # root ignores permission bits; a path under a regular file cannot be
    # created by anyone.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    model_dir = str(blocker / "run")
  else:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    model_dir = str(locked / "run")
  with pytest.raises(ValueError, match="--model_dir=.*not writable"):
    train.train_and_evaluate(tiny_config, model_dir)
