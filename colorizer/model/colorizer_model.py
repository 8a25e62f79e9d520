"""One object for every network of a run, and what training must know of it.

`build(config)` returns a `ColorizerModel`: the generator and discriminator,
the optional heads (the a*b* class head inside the generator, the label head
beside it), which generator variables train while a pretrained encoder is
frozen, the variable groups the optimizers are built for, the
data-dependent initialization (the a*b* prior of --ab_head=classes), and
what a checkpoint must hold. colorizer.training talks to this object only:
adding a generator variant touches colorizer/model/ and the config, not the
step or the loop.
"""

import contextlib
import dataclasses
from typing import Dict, Iterable, List, Optional

import keras
import numpy as np
import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer.model import ab_classes
from colorizer.model import blocks
from colorizer.model import encoder_unet
from colorizer.model import label_head as label_head_lib
from colorizer.model import networks

# Names of the optimizer variable groups (see ColorizerModel.variable_groups).
GENERATOR_GROUP = "generator"
ENCODER_GROUP = "encoder"
DISCRIMINATOR_GROUP = "discriminator"
# The checkpoint key of the cross-entropy's class weights (--rebalance_mix).
CLASS_WEIGHTS_ITEM = "class_weights"
_PRECISION_POLICIES = {"none": "float32", "bfloat16": "mixed_bfloat16",
                       "float16": "mixed_float16"}


def set_precision_policy(mixed_precision: str) -> None:
  """Sets Keras' global dtype policy; call before building the models.

  Raises:
    ValueError: for a value other than none, bfloat16 or float16 (resolve
      --mixed_precision=auto first: colorizer.hardware).
  """
  if mixed_precision not in _PRECISION_POLICIES:
    raise ValueError(f"--mixed_precision={mixed_precision!r}: expected one of "
                     f"{sorted(_PRECISION_POLICIES)}.")
  keras.config.set_dtype_policy(_PRECISION_POLICIES[mixed_precision])


def check_config(config: config_lib.Config) -> None:
  """Checks the model settings of a config, naming the flag and the fix.

  Raises:
    ValueError: with a one-line message that names the flag.
  """
  model_config, train_config = config.model, config.train
  if model_config.base_filters <= 0:
    raise ValueError(f"--base_filters={model_config.base_filters}: must be "
                     "positive.")
  if not 0.0 <= model_config.dropout < 1.0:
    raise ValueError(f"--dropout={model_config.dropout}: must be in [0, 1).")
  if model_config.disc_layers < 1:
    raise ValueError(f"--disc_layers={model_config.disc_layers}: must be "
                     ">= 1.")
  ab_classes.check_decode(model_config.decode_temperature,
                          model_config.decode_rebalance,
                          model_config.decode_saturation)
  networks.check_output_head(config)
  if model_config.generator == "unet":
    blocks.unet_depth(config.data.image_size, model_config.unet_depth)
    if train_config.freeze_encoder_steps:
      raise ValueError("--freeze_encoder_steps needs --generator=resnet_unet "
                       "or mobilenet_unet (the pix2pix U-Net has no "
                       "pretrained encoder).")
  else:
    encoder_unet.check_config(config)  # --image_size, --encoder_weights.


def size_multiple(config: config_lib.Config) -> int:
  """The generator takes images whose sides are multiples of this."""
  if config.model.generator == "unet":
    return 2 ** blocks.unet_depth(config.data.image_size,
                                  config.model.unet_depth)
  return encoder_unet.SIZE_MULTIPLE


def render_size(config: config_lib.Config, requested: int = 0) -> int:
  """The square size the generator runs at in an export (or its scoring).

  Args:
    config: the run's config.
    requested: a --render_size; 0 for config.export.render_size, or else
      the training image_size.

  Raises:
    ValueError: naming --render_size, unless the size is a positive
      multiple of size_multiple(config).
  """
  size = requested or config.export.render_size or config.data.image_size
  multiple = size_multiple(config)
  if size <= 0 or size % multiple:
    raise ValueError(f"--render_size={size}: the network takes multiples of "
                     f"{multiple} (2**U-Net depth); {size} is not a positive "
                     f"multiple of {multiple}.")
  return size


@dataclasses.dataclass
class GeneratorOutputs:
  """What one generator pass gives the losses."""
  ab_fake: tf.Tensor  # [B, H, W, 2] normalized a*b* (or [B, H, W, 3] L*a*b*)
  ab_logits: Optional[tf.Tensor] = None  # [B, H/2, W/2, Q] with a class head
  bottleneck: Optional[tf.Tensor] = None  # [B, h, w, C] with a label head


@dataclasses.dataclass
class ColorizerModel:
  """The networks of one run. Build it with `build`."""
  config: config_lib.Config
  generator: keras.Model
  discriminator: keras.Model
  # --label_weight > 0: the auxiliary label classifier on the bottleneck.
  label_head: Optional[keras.Model] = None
  # --ab_head=classes with --rebalance_mix < 1: the cross-entropy's
  # per-class weights [Q], set by initialize_from_data and checkpointed so
  # a resumed run keeps them. None when every weight would be 1.
  class_weights: Optional[tf.Variable] = None
  # A forward pass that also returns the layers the losses read; None when
  # the generator's output is all they read.
  _view: Optional[keras.Model] = None

  @property
  def encoder(self) -> Optional[keras.Model]:
    """The generator's pretrained encoder, or None (--generator=unet)."""
    return encoder_unet.find_encoder(self.generator)

  @property
  def has_class_head(self) -> bool:
    return ab_classes.has_class_head(self.generator)

  @property
  def needs_data_init(self) -> bool:
    """Whether initialize_from_data must run before the first step."""
    return self.has_class_head

  def frozen_encoder(self, frozen: bool = True):
    """A context in which the encoder is frozen (a no-op for frozen=False).

    Inside, the generator's trainable variables leave the encoder's out and
    its BatchNorm layers use their moving statistics; see
    colorizer.model.encoder_unet.frozen_encoder.

    Raises:
      ValueError: for frozen=True on a generator without an encoder.
    """
    if not frozen:
      return contextlib.nullcontext()
    return encoder_unet.frozen_encoder(self.generator)

  def check_can_freeze(self) -> None:
    """Raises ValueError now if the encoder cannot be frozen."""
    encoder_unet.require_encoder(self.generator)

  def generator_variables(self) -> List[tf.Variable]:
    """What the generator's loss trains: the generator and the label head.

    Read inside `frozen_encoder()`, it leaves the frozen encoder out.
    """
    variables = list(self.generator.trainable_variables)
    if self.label_head is not None:
      variables += self.label_head.trainable_variables
    return variables

  def variable_groups(self) -> Dict[str, List[tf.Variable]]:
    """{optimizer group: the variables it updates}.

    A pretrained encoder gets a group (and an Adam) of its own: Adam's bias
    correction counts the optimizer's steps, so an encoder thawed after
    --freeze_encoder_steps under the generator's optimizer would start with
    zero moments but no correction, and its first updates would be many
    times the learning rate (about 12x after 1,000 frozen steps).
    """
    encoder = self.encoder
    encoder_variables = (list(encoder.trainable_variables)
                         if encoder is not None else [])
    encoder_ids = {id(v) for v in encoder_variables}
    groups = {GENERATOR_GROUP: [v for v in self.generator_variables()
                                if id(v) not in encoder_ids],
              DISCRIMINATOR_GROUP: list(
                  self.discriminator.trainable_variables)}
    if encoder_variables:
      groups[ENCODER_GROUP] = encoder_variables
    return groups

  def encoder_variable_ids(self) -> frozenset:
    encoder = self.encoder
    return frozenset(id(v) for v in encoder.trainable_variables) \
        if encoder is not None else frozenset()

  def forward(self, l_channel: tf.Tensor, training: bool) -> GeneratorOutputs:
    """One generator pass: l_channel [B, H, W, 1] -> GeneratorOutputs."""
    if self._view is None:
      return GeneratorOutputs(self.generator(l_channel, training=training))
    ab_fake, *extra = self._view(l_channel, training=training)
    ab_logits = extra.pop(0) if self.has_class_head else None
    bottleneck = extra.pop(0) if self.label_head is not None else None
    return GeneratorOutputs(ab_fake, ab_logits, bottleneck)

  def reconstruction_per_example(self, outputs: GeneratorOutputs,
                                 ab_real: tf.Tensor) -> Optional[tf.Tensor]:
    """The class head's cross-entropy per example [B]; None without one.

    None means the reconstruction loss is --recon_loss on ab_fake.
    """
    if outputs.ab_logits is None:
      return None
    return ab_classes.cross_entropy_per_example(outputs.ab_logits, ab_real,
                                                self.class_weights)

  def label_per_example(self, outputs: GeneratorOutputs, label: tf.Tensor,
                        training: bool = True):
    """(cross-entropy [B], correct [B] in {0, 1}) of the label head."""
    if self.label_head is None:
      raise ValueError("This model has no label head (--label_weight=0).")
    label_logits = self.label_head(outputs.bottleneck,
                                   training=training)  # [B, K]
    return (label_head_lib.cross_entropy_per_example(label_logits, label),
            label_head_lib.correct_per_example(label_logits, label))

  def initialize_from_data(self, ab_normalized_batches: Iterable[tf.Tensor],
                           class_weights_only: bool = False) -> str:
    """--ab_head=classes: weights from the training data's a*b* prior.

    The cross-entropy's (--rebalance_mix, when below 1) go to
    class_weights; the decode's (mix 0.5, used with --decode_rebalance) into
    the generator.

    Args:
      ab_normalized_batches: training batches of normalized a*b*.
      class_weights_only: leave the decode's weights as they are (restored
        from a checkpoint).

    Returns:
      A line for the log.
    """
    counts = ab_classes.class_histogram(
        color.denormalize_ab(ab_normalized)
        for ab_normalized in ab_normalized_batches)
    loss_weights = ab_classes.rebalancing_weights(
        counts, self.config.loss.rebalance_mix)
    if self.class_weights is not None:
      self.class_weights.assign(loss_weights)
    if not class_weights_only:
      ab_classes.set_prior_weights(self.generator,
                                   ab_classes.rebalancing_weights(counts))
    return (f"a*b* prior from {int(counts.sum())} pixels: "
            f"{int((counts > 0).sum())} of {counts.size} classes seen; loss "
            f"weights {np.min(loss_weights):.2f}..{np.max(loss_weights):.2f}.")

  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """What a checkpoint holds of the model, by checkpoint key."""
    items = {"generator": self.generator,
             "discriminator": self.discriminator,
             CLASS_WEIGHTS_ITEM: self.class_weights,
             "label_head": self.label_head}
    return {name: value for name, value in items.items() if value is not None}


def build(config: config_lib.Config, num_labels: int = 0, seed: int = 0,
          synchronized: bool = False) -> ColorizerModel:
  """Builds every network a config asks for (under the caller's scope).

  Args:
    config: the run's config.
    num_labels: class labels in the data, for the label head that
      --label_weight > 0 adds.
    seed: the generator is initialized from seed, the discriminator from
      seed + 1, the label head from seed + 2.
    synchronized: BatchNorm statistics over all replicas.
  """
  generator = networks.build_generator(config, seed=seed,
                                       synchronized=synchronized)
  discriminator = networks.build_discriminator(config, seed=seed + 1,
                                               synchronized=synchronized)
  label_head = None
  if config.loss.label_weight:
    bottleneck = generator.get_layer(
        label_head_lib.bottleneck_layer_name(config))
    label_head = label_head_lib.build_label_head(
        num_labels, bottleneck.output.shape[-1], seed=seed + 2)
  class_weights = None
  if config.model.ab_head == "classes" and config.loss.rebalance_mix < 1:
    class_weights = tf.Variable(tf.ones([ab_classes.num_classes()]),
                                trainable=False, name="class_weights")
  extra_layers = ([ab_classes.LOGITS_LAYER]
                  if ab_classes.has_class_head(generator) else []) + (
                      [label_head_lib.bottleneck_layer_name(config)]
                      if label_head is not None else [])
  view = (networks.with_layer_outputs(generator, extra_layers)
          if extra_layers else None)
  return ColorizerModel(config, generator, discriminator, label_head,
                        class_weights, view)
