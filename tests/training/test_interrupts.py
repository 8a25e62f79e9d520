"""Interrupted training loses nothing: SIGTERM/SIGINT save, SIGKILL resumes.

A resumed run continues: it logs exactly the steps after the checkpoint it
restored (none twice, none missing) and leaves the earlier checkpoints'
files as they were.
"""

import glob
import os
import re
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


def progress_steps(lines):
  """The steps of the progress lines ("step 7/100000 ...") among lines."""
  return [int(match.group(1)) for match in
          (re.search(r"\bstep (\d+)/\d+ ", line) for line in lines) if match]


def checkpoint_files(model_dir, up_to_step):
  """{file name: (bytes, mtime)} of the files of checkpoints <= up_to_step.

  Later ones may be half-written by a killed run, and are rewritten.
  """
  directory = os.path.join(model_dir, "checkpoints")
  found = {}
  for name in os.listdir(directory):
    match = re.fullmatch(r"ckpt-(\d+)\.(index|data-\d+-of-\d+)", name)
    if match and int(match.group(1)) <= up_to_step:
      path = os.path.join(directory, name)
      with open(path, "rb") as f:
        found[name] = (f.read(), os.stat(path).st_mtime_ns)
  return found


def train_event_files(model_dir):
  return set(glob.glob(os.path.join(model_dir, train.TRAIN_LOG_DIR,
                                    "events.out.tfevents.*")))


def logged_steps(event_files):
  """Sorted steps of the train summaries written to event_files, repeats
  included (one per scalar written every logged step)."""
  return sorted(event.step for path in event_files
                for event in tf.compat.v1.train.summary_iterator(path)
                for value in event.summary.value
                if value.tag == "train/images_per_sec")


def resume_in_process(model_dir, extra_steps):
  """Trains extra_steps past the latest checkpoint; checks that it continued.

  The resumed run's event file logs exactly the steps after that checkpoint,
  and every checkpoint file already on disk keeps its bytes and mtime.

  Returns:
    The step the run resumed from.
  """
  saved = latest_step(model_dir)
  checkpoints_before = checkpoint_files(model_dir, saved)
  assert f"ckpt-{saved}.index" in checkpoints_before
  events_before = train_event_files(model_dir)
  # Keep every checkpoint, so that none of the earlier ones is deleted.
  config = config_lib.load(model_dir).replace(
      train={"train_steps": saved + extra_steps, "keep_checkpoints": 100})
  assert train.train_and_evaluate(config, model_dir)["step"] == (
      saved + extra_steps)
  new_events = train_event_files(model_dir) - events_before
  assert logged_steps(new_events) == list(
      range(saved + 1, saved + extra_steps + 1))
  checkpoints_after = checkpoint_files(model_dir, saved + extra_steps)
  for name, (content, mtime) in checkpoints_before.items():
    assert checkpoints_after[name] == (content, mtime), name
  assert f"ckpt-{saved + extra_steps}.index" in checkpoints_after
  return saved


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
  # The interrupted run logged every step up to its checkpoint, flushed.
  assert logged_steps(train_event_files(model_dir)) == list(
      range(1, saved + 1))
  # The same config resumes from there: no step is logged twice.
  assert resume_in_process(model_dir, extra_steps=2) == saved
  assert logged_steps(train_event_files(model_dir)) == list(
      range(1, saved + 3))


def test_sigkill_at_any_moment_resumes_from_a_complete_checkpoint(tmp_path):
  model_dir = str(tmp_path)
  saved = 0
  for delay in (0.0, 0.05, 0.3):
    # Saving every step puts a checkpoint write in flight most of the time.
    process = start_training(model_dir, "--save_every=1")
    lines = wait_for_step(process, saved + 3)
    # Each relaunch continues from the checkpoint the last kill left.
    assert progress_steps(lines) == list(range(saved + 1, saved + 4)), (
        "".join(lines[-30:]))
    assert (saved == 0) == (not any("Resumed from" in line for line in lines))
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    previous, saved = saved, latest_step(model_dir)
    # Step `previous + 3` was under way, so `previous + 2` had been saved.
    assert saved is not None and saved >= previous + 2
    # Whatever the checkpoint file names, it restores completely.
    config = config_lib.load(model_dir)
    state = steps.build_state(config, tf.distribute.get_strategy())
    state.checkpoint().restore(tf.train.latest_checkpoint(os.path.join(
        model_dir, "checkpoints"))).assert_existing_objects_matched()
    assert int(state.step.numpy()) == saved
  # A step logged just before a kill may be logged again after it; the
  # resumed run itself logs each step after its checkpoint once.
  assert resume_in_process(model_dir, extra_steps=2) == saved


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
