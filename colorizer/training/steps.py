"""Training state and the train step closures.

The step is written for one replica and run with `strategy.run`: losses are
averaged over the global batch (see colorizer.model.losses) so that the optimizers,
which sum gradients across replicas, apply the mean over the global batch.
The step is a closure over the models and optimizers it is given: no globals.
"""

import contextlib
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence

from absl import logging
import keras
import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer import hardware
from colorizer.model import colorizer_model
from colorizer.model import losses


@dataclasses.dataclass
class TrainState:
  """Everything a checkpoint holds, built under the strategy's scope."""
  model: colorizer_model.ColorizerModel
  gen_optimizer: keras.optimizers.Optimizer
  disc_optimizer: keras.optimizers.Optimizer
  step: tf.Variable  # int64 scalar: completed train steps.
  # A pretrained encoder's own Adam (None without one): see
  # ColorizerModel.variable_groups.
  encoder_optimizer: Optional[keras.optimizers.Optimizer] = None

  @property
  def generator(self) -> keras.Model:
    return self.model.generator

  @property
  def discriminator(self) -> keras.Model:
    return self.model.discriminator

  @property
  def label_head(self) -> Optional[keras.Model]:
    return self.model.label_head

  @property
  def class_weights(self) -> Optional[tf.Variable]:
    return self.model.class_weights

  def checkpoint(self, leave_out: Sequence[str] = ()) -> tf.train.Checkpoint:
    """The run's checkpoint; leave_out names items not to restore."""
    optimizers = {"gen_optimizer": self.gen_optimizer,
                  "disc_optimizer": self.disc_optimizer,
                  "encoder_optimizer": self.encoder_optimizer}
    items = {"step": self.step, **self.model.checkpoint_items(),
             **{name: value for name, value in optimizers.items()
                if value is not None}}
    return tf.train.Checkpoint(**{name: value for name, value in items.items()
                                  if name not in leave_out})


def learning_rate_at(step: tf.Tensor, base_rate: float,
                     optim_config: config_lib.OptimConfig,
                     train_steps: int) -> tf.Tensor:
  """The learning rate after `step` steps.

  constant: base_rate. linear_decay: base_rate until the last decay_fraction
  of train_steps, then linearly to 0 at train_steps (pix2pix's schedule).
  """
  base_rate = tf.constant(base_rate, tf.float32)
  if optim_config.lr_schedule == "constant":
    return base_rate
  decay_steps = max(1.0, optim_config.decay_fraction * train_steps)
  decay_start = train_steps - decay_steps
  progress = (tf.cast(step, tf.float32) - decay_start) / decay_steps
  return base_rate * (1.0 - tf.clip_by_value(progress, 0.0, 1.0))


def resolve_precision(config: config_lib.Config) -> config_lib.Config:
  """The config with --mixed_precision=auto resolved for this machine.

  Logs what was chosen and why, beside the CPU, TensorFlow and oneDNN.
  Encoder generators do not support float16 and get float32 instead.
  """
  choice = hardware.resolve_mixed_precision(config.train.mixed_precision)
  precision, reason = choice.mixed_precision, choice.reason
  if (config.train.mixed_precision == hardware.AUTO and
      precision == "float16" and config.model.generator != "unet"):
    precision, reason = "none", reason + f"; --generator=" \
        f"{config.model.generator} does not support float16, so float32"
  logging.info("--mixed_precision=%s -> %s: %s. %s",
               config.train.mixed_precision, precision, reason,
               hardware.describe())
  return config.replace(train={"mixed_precision": precision})


# Variable-name fragments that weight decay leaves alone: shifts and scales.
_NOT_DECAYED = ["bias", "gamma", "beta"]


def _make_optimizer(base_rate: float, step: tf.Variable,
                    config: config_lib.Config) -> keras.optimizers.Optimizer:
  # A callable learning rate reads the shared step, so both optimizers follow
  # one schedule even though the discriminator skips the pretraining steps.
  optimizer = keras.optimizers.Adam(
      learning_rate=lambda: learning_rate_at(step, base_rate, config.optim,
                                             config.train.train_steps),
      beta_1=config.optim.beta_1, beta_2=config.optim.beta_2,
      weight_decay=config.optim.weight_decay or None)
  if config.optim.weight_decay:
    optimizer.exclude_from_weight_decay(var_names=_NOT_DECAYED)
  if config.train.mixed_precision == "float16":
    # float16 gradients underflow without loss scaling; bfloat16 has float32's
    # exponent range and needs none.
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer


def build_state(config: config_lib.Config,
                strategy: tf.distribute.Strategy,
                num_labels: int = 0) -> TrainState:
  """Builds models, optimizers (with their slots) and the step counter.

  Optimizer variables are built eagerly so that a checkpoint restores into
  them immediately instead of waiting for the first step.

  Args:
    config: the run's config.
    strategy: the models and optimizers are built under its scope.
    num_labels: class labels in the data, for the label head that
      --label_weight > 0 adds.
  """
  if config.train.mixed_precision == hardware.AUTO:
    config = resolve_precision(config)
  colorizer_model.set_precision_policy(config.train.mixed_precision)
  seed = config.train.seed
  synchronized = (config.model.sync_batch_norm and
                  strategy.num_replicas_in_sync > 1)
  with strategy.scope():
    keras.utils.set_random_seed(seed)
    model = colorizer_model.build(config, num_labels=num_labels, seed=seed,
                                  synchronized=synchronized)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    groups = model.variable_groups()
    gen_optimizer = _make_optimizer(config.optim.gen_learning_rate, step,
                                    config)
    gen_optimizer.build(groups[colorizer_model.GENERATOR_GROUP])
    disc_optimizer = _make_optimizer(config.optim.disc_learning_rate, step,
                                     config)
    disc_optimizer.build(groups[colorizer_model.DISCRIMINATOR_GROUP])
    encoder_optimizer = None
    if colorizer_model.ENCODER_GROUP in groups:
      encoder_optimizer = _make_optimizer(
          config.optim.encoder_learning_rate or config.optim.gen_learning_rate,
          step, config)
      encoder_optimizer.build(groups[colorizer_model.ENCODER_GROUP])
  return TrainState(model, gen_optimizer, disc_optimizer, step,
                    encoder_optimizer)


@contextlib.contextmanager
def _watching(variables: List[keras.Variable]):
  """A gradient tape that records only what depends on `variables`.

  A default tape watches every trainable tf.Variable read under it. A frozen
  encoder's are among them: Keras' `trainable=False` does not reach the
  tf.Variables it created, so the tape recorded the encoder and the
  gradient call traced its whole backward pass (1,100 ops for MobileNetV2),
  left for grappler to prune. Watching the variables that get gradients
  keeps the frozen encoder off the tape, and the discriminator off the
  generator's; the gradients are the same.
  """
  with tf.GradientTape(watch_accessed_variables=False) as tape:
    # Outside a layer call Keras does not autocast: .value is the variable.
    tape.watch([variable.value for variable in variables])
    yield tape


def make_train_step(state: TrainState, config: config_lib.Config,
                    global_batch_size: int,
                    adversarial: bool = True,
                    freeze_encoder: bool = False) -> Callable[..., Dict]:
  """Returns the per-replica step `(l_channel, ab_real[, label]) -> scalars`.

  Args:
    state: the models and optimizers the step updates.
    config: loss settings.
    global_batch_size: batch size summed over replicas, for loss averaging.
    adversarial: False gives the reconstruction-only pretraining step, which
      leaves the discriminator untouched.
    freeze_encoder: the step trains the generator's decoder only: its
      pretrained encoder gets no gradient and its BatchNorm runs in inference
      mode (statistics used, not updated; see encoder_unet.frozen_encoder).
      The encoder has its own optimizer (state.encoder_optimizer), which
      takes no step while it is frozen, so its first update after thawing
      is a fresh Adam's.

  Returns:
    A function for `strategy.run`. Its dict holds this replica's share of
    each loss; summing over replicas gives the global-batch mean.

  Raises:
    ValueError: for freeze_encoder with a generator without an encoder.
  """
  model, discriminator = state.model, state.discriminator
  gen_optimizer, disc_optimizer = state.gen_optimizer, state.disc_optimizer
  loss_config = config.loss
  if freeze_encoder:
    model.check_can_freeze()  # Fails now, not when traced.
  encoder_ids = model.encoder_variable_ids()
  with_label_head = model.label_head is not None

  def train_step(l_channel, ab_real, label=None):
    # Python state read while tracing: the whole traced step sees it.
    with model.frozen_encoder(freeze_encoder):
      return _train_step(l_channel, ab_real, label)

  def _train_step(l_channel, ab_real, label):
    if (label is None) == with_label_head:
      raise ValueError("--label_weight > 0 needs labelled batches, and only "
                       "it: make_datasets(with_labels=...) must match.")
    # Without the encoder's variables while it is frozen.
    gen_variables = model.generator_variables()
    disc_variables = discriminator.trainable_variables if adversarial else []
    with _watching(gen_variables) as gen_tape, \
        _watching(disc_variables) as disc_tape:
      outputs = model.forward(l_channel, training=True)
      ab_fake = outputs.ab_fake  # [B, H, W, 2]
      disc_fake_logits = None
      if adversarial:
        disc_real_logits = discriminator([l_channel, ab_real], training=True)
        disc_fake_logits = discriminator([l_channel, ab_fake], training=True)
      gen_losses = losses.generator_loss(
          disc_fake_logits, ab_fake, ab_real, global_batch_size,
          gan_loss=loss_config.gan_loss, recon_loss=loss_config.recon_loss,
          recon_weight=loss_config.recon_weight,
          gan_weight=loss_config.gan_weight if adversarial else 0.0,
          recon_per_example=model.reconstruction_per_example(outputs,
                                                             ab_real))
      if with_label_head:
        label_xent, label_correct = model.label_per_example(outputs, label)
        gen_losses["label_xent"] = losses.average(label_xent,
                                                  global_batch_size)
        gen_losses["label_accuracy"] = losses.average(label_correct,
                                                      global_batch_size)
        gen_losses["gen_total"] += (loss_config.label_weight *
                                    gen_losses["label_xent"])
      if loss_config.colorfulness_weight:
        # Sketch mode predicts L* too: ab_fake is then L*a*b* [B, H, W, 3].
        to_rgb = color.model_outputs_to_rgb_differentiable
        rgb_fake = (to_rgb(ab_fake[..., :1], ab_fake[..., 1:])
                    if ab_fake.shape[-1] == 3 else to_rgb(l_channel, ab_fake))
        gen_losses["colorfulness_loss"] = losses.average(
            losses.colorfulness_loss_per_example(rgb_fake), global_batch_size)
        gen_losses["gen_total"] += (loss_config.colorfulness_weight *
                                    gen_losses["colorfulness_loss"])
      scaled_gen_loss = gen_optimizer.scale_loss(gen_losses["gen_total"])
      if adversarial:
        disc_losses = losses.discriminator_loss(
            disc_real_logits, disc_fake_logits, global_batch_size,
            gan_loss=loss_config.gan_loss,
            label_smoothing=loss_config.label_smoothing)
        scaled_disc_loss = disc_optimizer.scale_loss(disc_losses["disc_total"])

    gen_gradients = gen_tape.gradient(scaled_gen_loss, gen_variables)
    pairs = list(zip(gen_gradients, gen_variables))
    gen_optimizer.apply_gradients(
        [(g, v) for g, v in pairs if id(v) not in encoder_ids])
    encoder_pairs = [(g, v) for g, v in pairs if id(v) in encoder_ids]
    if encoder_pairs:  # Empty while the encoder is frozen.
      state.encoder_optimizer.apply_gradients(encoder_pairs)
    scalars = dict(gen_losses)
    if adversarial:
      disc_gradients = disc_tape.gradient(scaled_disc_loss, disc_variables)
      disc_optimizer.apply_gradients(zip(disc_gradients, disc_variables))
      scalars.update(disc_losses)
      scalars["disc_real_mean"] = losses.mean_discriminator_output(
          disc_real_logits, global_batch_size, loss_config.gan_loss)
      scalars["disc_fake_mean"] = losses.mean_discriminator_output(
          disc_fake_logits, global_batch_size, loss_config.gan_loss)
    return scalars

  return train_step


def make_distributed_step(strategy: tf.distribute.Strategy,
                          replica_step: Callable[..., Dict],
                          step_counter: tf.Variable,
                          jit_compile: bool = False,
                          steps_per_execution: int = 1) -> Callable[..., Dict]:
  """Wraps a replica step into `fn(iterator, num_steps) -> global scalars`.

  Runs num_steps steps in one tf.function call (steps_per_execution, which
  TPUs need to stay busy) and returns the scalars of the last one, summed
  over replicas, i.e. means over the global batch.
  """
  if jit_compile:
    # XLA compiles the per-replica computation; the cross-replica reduction
    # stays outside, where every strategy supports it.
    replica_step = tf.function(replica_step, jit_compile=True)

  def one_step(iterator):
    # (l_channel, ab_real), or (l_channel, ab_real, label) with a label head.
    batch = next(iterator)
    per_replica = strategy.run(replica_step, args=tuple(batch))
    step_counter.assign_add(1)
    return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()}

  @tf.function
  def distributed_steps(iterator, num_steps):
    scalars = one_step(iterator)
    if steps_per_execution > 1:  # Python-level: no loop is traced for 1.
      for _ in tf.range(num_steps - 1):
        scalars = one_step(iterator)
    return scalars

  return distributed_steps
