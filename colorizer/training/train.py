"""train_and_evaluate: the only place a training loop lives.

Resumes from the latest checkpoint in model_dir, trains until
config.train.train_steps, logs progress and TensorBoard summaries, evaluates on
a fixed validation set, and checkpoints every save_every steps and at the end.
"""

import io
import json
import os
import signal
import threading
import time
from typing import Dict, Optional

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from colorizer import config as config_lib
from colorizer.data import pipeline
from colorizer import progress as progress_lib
from colorizer.training import distribute
from colorizer.training import restore
from colorizer.training import steps
from colorizer.training import validation

SAMPLES_DIR = "samples"
TRAIN_LOG_DIR = "train"
EVAL_LOG_DIR = "eval"
# Validation scalars (eval/<name>) that the HParams dashboard shows per run.
HPARAMS_METRICS = ("psnr", "ssim", "colorfulness", "ab_l1")


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
  """SIGTERM or SIGINT arrived; a checkpoint of `step` was written first."""

  def __init__(self, step: int, signal_number: int, checkpoint_path: str):
    self.step = step
    self.signal_number = signal_number
    self.checkpoint_path = checkpoint_path
    super().__init__(f"{signal.Signals(signal_number).name} at step {step}; "
                     f"checkpoint saved: {checkpoint_path}")


class _StopOnSignal:
  """Turns SIGTERM/SIGINT into a flag the loop checks after each step.

  Preemptible machines send SIGTERM shortly before they go away: the loop
  finishes the step in flight, saves a checkpoint and stops. A second signal
  falls through to the previous handler (e.g. KeyboardInterrupt).
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signal_number = None
    self._previous = {}

  def __enter__(self):
    # Signal handlers can only be installed from the main thread.
    if threading.current_thread() is threading.main_thread():
      for number in self.SIGNALS:
        self._previous[number] = signal.signal(number, self._handle)
    return self

  def __exit__(self, *unused):
    for number, previous in self._previous.items():
      signal.signal(number, previous)

  def _handle(self, number, frame):
    if self.signal_number is not None:
      previous = self._previous.get(number)
      signal.signal(number, previous)
      if callable(previous):
        previous(number, frame)
      return
    self.signal_number = number
    logging.warning("%s received: saving a checkpoint after this step, then "
                    "stopping.", signal.Signals(number).name)


def _skipped_files(*sources) -> Dict[str, str]:
  """{path: reason} of the files the train and val streams skipped."""
  skipped = {}
  for source in sources:
    if source is not None:
      skipped.update(source.skipped.items())
  return skipped


def check_writable(model_dir: str) -> None:
  """Fails early, before any work, if model_dir cannot be written.

  Raises:
    ValueError: naming --model_dir.
  """
  probe = os.path.join(model_dir, f".write_probe_{os.getpid()}")
  try:
    tf.io.gfile.makedirs(model_dir)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (OSError, tf.errors.OpError) as error:
    raise ValueError(f"--model_dir={model_dir}: not writable "
                     f"({getattr(error, 'message', None) or error}).") from None


def _check_batch(config: config_lib.Config, strategy) -> int:
  replicas = strategy.num_replicas_in_sync
  if config.train.batch_size % replicas:
    raise ValueError(
        f"--batch_size={config.train.batch_size} is not divisible by the "
        f"{replicas} replicas of the strategy; use a multiple of {replicas}.")
  return config.train.batch_size // replicas


def _write_hparams(eval_writer, config: config_lib.Config,
                   model_dir: str) -> None:
  """Records the run's config as an HParams session.

  The session goes into the eval run itself, beside the metrics it is judged
  by: TensorBoard looks a session's metrics up in the run named
  "<session run>/<metric group>", without normalising the path, so a session
  in train/ can never reach eval/. With the session in eval/ and an empty
  group, the lookup works for a logdir at the model dir and for one above many
  runs (a sweep).
  """
  flat = {name: value for name, value in config.flat().items()
          if isinstance(value, (bool, int, float, str))}
  with eval_writer.as_default():
    hparams_api.hparams_config(
        hparams=[hparams_api.HParam(name) for name in flat],
        metrics=[hparams_api.Metric(f"eval/{name}")
                 for name in HPARAMS_METRICS])
    hparams_api.hparams(flat, trial_id=os.path.basename(
        os.path.normpath(model_dir)))


def _save_png(image_uint8: np.ndarray, path: str) -> None:
  buffer = io.BytesIO()
  Image.fromarray(image_uint8).save(buffer, format="PNG")
  with tf.io.gfile.GFile(path, "wb") as f:
    f.write(buffer.getvalue())


class _Progress:
  """Throughput and ETA over the steps since the last report."""

  def __init__(self, start_step: int, total_steps: int, batch_size: int):
    self.total_steps = total_steps
    self.batch_size = batch_size
    self._last_step = start_step
    self._last_time = time.perf_counter()
    self._paused = 0.0

  def pause(self, seconds: float) -> None:
    """Excludes time spent on eval and checkpoints from the rate."""
    self._paused += seconds

  def report(self, step: int) -> Dict[str, float]:
    now = time.perf_counter()
    elapsed = max(1e-9, now - self._last_time - self._paused)
    steps_per_sec = (step - self._last_step) / elapsed
    self._last_step, self._last_time, self._paused = step, now, 0.0
    remaining = (self.total_steps - step) / max(steps_per_sec, 1e-9)
    return {"steps_per_sec": steps_per_sec,
            "images_per_sec": steps_per_sec * self.batch_size,
            "eta_seconds": remaining}


def _phase(step: int, train_config: config_lib.TrainConfig):
  """What the step after `step` completed steps runs, and until when.

  Returns:
    (adversarial, encoder_frozen, end): end is the first step that needs
    another step function (or train_steps).
  """
  adversarial = step >= train_config.pretrain_steps
  frozen = step < train_config.freeze_encoder_steps
  end = min([train_config.train_steps] + [
      boundary for boundary in (train_config.pretrain_steps,
                                train_config.freeze_encoder_steps)
      if boundary > step])
  return adversarial, frozen, end


def train_and_evaluate(config: config_lib.Config, model_dir: str,
                       strategy: Optional[tf.distribute.Strategy] = None,
                       preset: str = "") -> Dict[str, float]:
  """Trains (or resumes training) and evaluates a colorizer.

  Args:
    config: the full run config.
    model_dir: checkpoints, TensorBoard logs, config.json and sample grids.
    strategy: a tf.distribute strategy; by default the one config names.
    preset: the --preset config came from, recorded in config.json for the
      run's exports to report.

  Returns:
    The last validation metrics (empty if no evaluation ran), plus "step".

  Raises:
    ValueError: for configs that cannot run (batch vs replicas, data source,
      an unwritable model_dir).
    NonFiniteLossError: if a loss is NaN or infinite, naming the step.
    TrainingInterrupted: after SIGTERM/SIGINT, once a checkpoint is saved.
  """
  strategy = strategy or distribute.get_strategy(config.train.strategy,
                                                 config.train.tpu)
  config = steps.resolve_precision(config)
  per_replica_batch = _check_batch(config, strategy)
  train_config = config.train
  chief = distribute.is_chief(strategy)
  write_dir = distribute.worker_dir(model_dir, strategy)
  check_writable(write_dir)
  if chief:
    config_lib.save(config, model_dir, preset)

  sources_holder = {}
  with_labels = config.loss.label_weight > 0

  def dataset_fn(input_context):
    train_ds, _, sources = pipeline.make_datasets(
        config.data, input_context.get_per_replica_batch_size(
            train_config.batch_size), train_config.seed,
        input_context=input_context, with_labels=with_labels)
    sources_holder["sources"] = sources
    return train_ds

  dist_train = strategy.distribute_datasets_from_function(dataset_fn)
  # Each source is validated on its own split (and on all together).
  _, _, val_sources = pipeline.make_datasets(
      config.data, per_replica_batch, train_config.seed)
  val_batches = {
      name: list(val_ds.take(train_config.eval_batches))
      for name, val_ds in pipeline.validation_batches_by_source(
          val_sources, config.data, train_config.batch_size,
          val_images=train_config.eval_batches * train_config.batch_size
      ).items()} if chief else {}

  # The strategy built the training datasets already, on this worker too.
  state = steps.build_state(config, strategy,
                            num_labels=sources_holder["sources"].num_labels)
  checkpoint = state.checkpoint()
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(write_dir, "checkpoints"),
      max_to_keep=train_config.keep_checkpoints)
  # Every worker resumes from the chief's checkpoint: a non-chief's own copy
  # may be missing or older (a new worker), and a worker at another step
  # would wait on collectives the others never run.
  latest_checkpoint = tf.train.latest_checkpoint(
      os.path.join(model_dir, "checkpoints"))
  derive_class_weights = (restore.restore(state, latest_checkpoint)
                          if latest_checkpoint else False)
  start_step = int(state.step.numpy())
  if state.model.needs_data_init and start_step == 0:
    restore.initialize_from_data(config, state)
  elif derive_class_weights:
    restore.initialize_from_data(config, state, class_weights_only=True)

  # {(adversarial, encoder_frozen): step function}. A tf.function traces on
  # its first call, so only the phases this run reaches are traced: at most
  # three, as pretrain_steps and freeze_encoder_steps cut the run in three.
  step_fns = {
      (adversarial, frozen): steps.make_distributed_step(
          strategy, steps.make_train_step(
              state, config, train_config.batch_size, adversarial=adversarial,
              freeze_encoder=frozen),
          state.step, train_config.jit_compile,
          train_config.steps_per_execution)
      for adversarial in (False, True)
      for frozen in {False, train_config.freeze_encoder_steps > 0}}
  predict_fn = validation.make_predict_fn(state.generator,
                                          config.model.test_time_flip)

  train_writer = tf.summary.create_file_writer(
      os.path.join(write_dir, TRAIN_LOG_DIR))
  eval_writer = tf.summary.create_file_writer(
      os.path.join(write_dir, EVAL_LOG_DIR))
  if chief and start_step == 0:
    _write_hparams(eval_writer, config, model_dir)

  def run_eval(step: int) -> Dict[str, float]:
    metrics, grid = validation.evaluate_sources(predict_fn, val_batches,
                                                config.data.input_mode)
    with eval_writer.as_default(step=step):
      for name, value in metrics.items():
        tf.summary.scalar(f"eval/{name}", value)
      tf.summary.image("eval/gray_prediction_truth", grid[None], max_outputs=1)
    samples_dir = os.path.join(model_dir, SAMPLES_DIR)
    tf.io.gfile.makedirs(samples_dir)
    _save_png(grid, os.path.join(samples_dir, f"step_{step:07d}.png"))
    _save_png(grid, os.path.join(samples_dir, "latest.png"))
    # In sketch mode the baseline is the drawing itself (see evaluation).
    baseline = "sketch" if config.data.input_mode == "sketch" else "gray"
    logging.info(
        "eval step %d: PSNR %.2f dB (%s %.2f) | SSIM %.3f (%s %.3f) | "
        "colorfulness %.1f (truth %.1f) | a*b* L1 %.2f (gray %.2f)", step,
        metrics["psnr"], baseline, metrics["psnr_gray"], metrics["ssim"],
        baseline, metrics["ssim_gray"], metrics["colorfulness"],
        metrics["colorfulness_true"], metrics["ab_l1"], metrics["ab_l1_gray"])
    for source in (val_batches if len(val_batches) > 1 else ()):
      logging.info(
          "eval step %d, %s: PSNR %.2f dB (%s %.2f) | colorfulness %.1f "
          "(truth %.1f)", step, source, metrics[f"{source}/psnr"], baseline,
          metrics[f"{source}/psnr_gray"], metrics[f"{source}/colorfulness"],
          metrics[f"{source}/colorfulness_true"])
    return metrics

  iterator = iter(dist_train)
  progress = _Progress(start_step, train_config.train_steps,
                       train_config.batch_size)
  step = start_step
  last_metrics: Dict[str, float] = {}
  logging.info("Training steps %d..%d, global batch %d on %d replica(s); "
               "logs and checkpoints in %s", start_step,
               train_config.train_steps, train_config.batch_size,
               strategy.num_replicas_in_sync, model_dir)

  with _StopOnSignal() as stop:
    while step < train_config.train_steps:
      adversarial, frozen, boundary = _phase(step, train_config)
      # Never run past a log, save or eval boundary inside one call.
      num_steps = min(train_config.steps_per_execution, boundary - step)
      for interval in (train_config.log_every, train_config.save_every,
                       train_config.eval_every):
        if interval > 0:
          num_steps = min(num_steps, interval - step % interval)
      step_fn = step_fns[adversarial, frozen]
      scalars = step_fn(iterator, tf.constant(num_steps, tf.int32))
      step += num_steps
      scalars = {name: float(value) for name, value in scalars.items()}
      bad = [name for name, value in scalars.items() if not np.isfinite(value)]
      if bad:
        raise NonFiniteLossError(
            f"Non-finite {', '.join(bad)} at step {step} "
            f"({', '.join(f'{n}={scalars[n]}' for n in bad)}); the last good "
            f"checkpoint is kept: {manager.latest_checkpoint}.")

      if step % train_config.log_every == 0 or step == train_config.train_steps:
        rates = progress.report(step)
        learning_rate = float(steps.learning_rate_at(
            step, config.optim.gen_learning_rate, config.optim,
            train_config.train_steps))
        skipped = len(_skipped_files(sources_holder["sources"], val_sources))
        logging.info(
            "step %d/%d (%.1f%%) %s| %s | %.1f img/s | ETA %s%s", step,
            train_config.train_steps, 100.0 * step / train_config.train_steps,
            ("" if adversarial else "[pretrain] ") +
            ("[encoder frozen] " if frozen else ""),
            " ".join(f"{name} {value:.4g}" for name, value in scalars.items()),
            rates["images_per_sec"], progress_lib.format_duration(
                rates["eta_seconds"]),
            f" | {skipped} unreadable file(s) skipped" if skipped else "")
        if chief:
          with train_writer.as_default(step=step):
            for name, value in scalars.items():
              tf.summary.scalar(f"train/{name}", value)
            tf.summary.scalar("train/gen_learning_rate", learning_rate)
            tf.summary.scalar("train/images_per_sec", rates["images_per_sec"])
            tf.summary.scalar("train/skipped_files", skipped)

      pause_start = time.perf_counter()
      if chief and train_config.eval_every and (
          step % train_config.eval_every == 0 or
          step == train_config.train_steps):
        last_metrics = run_eval(step)
      if step % train_config.save_every == 0 or step == train_config.train_steps:
        manager.save(checkpoint_number=step)
      progress.pause(time.perf_counter() - pause_start)
      if stop.signal_number is not None:
        manager.save(checkpoint_number=step)
        train_writer.flush()
        eval_writer.flush()
        raise TrainingInterrupted(step, stop.signal_number,
                                  manager.latest_checkpoint)

  if start_step >= train_config.train_steps:
    logging.info("Already trained to step %d (train_steps=%d); nothing to do.",
                 start_step, train_config.train_steps)
  train_writer.flush()
  eval_writer.flush()
  skipped = _skipped_files(sources_holder.get("sources"), val_sources)
  if skipped:
    # Each reason starts with the file's path (image_io.ImageReadError).
    logging.warning("%d unreadable file(s) were skipped:\n%s", len(skipped),
                    "\n".join(f"  {why}" for _, why in sorted(skipped.items())))
  if chief and last_metrics:
    with tf.io.gfile.GFile(os.path.join(model_dir, "eval_metrics.json"),
                           "w") as f:
      f.write(json.dumps(dict(last_metrics, step=step), indent=2) + "\n")
  return dict(last_metrics, step=step, skipped_files=len(skipped))
