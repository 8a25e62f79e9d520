"""U-Net generators on a pretrained Keras application encoder.

`--generator=resnet_unet` and `--generator=mobilenet_unet` replace the
pix2pix encoder with an ImageNet classifier's convolutional body and keep a
learned pix2pix-style decoder, as fastai's DynamicUnet (DeOldify, "Colorizing
B&W photos with GANs in fastai") does. fastai uses ResNet18/34, which
keras.applications does not ship; its smallest ResNets are the 50-layer ones,
so resnet_unet uses ResNet50V2 (about 23.6 M encoder parameters) and
mobilenet_unet uses MobileNetV2 (about 2.3 M) for small machines.

The model keeps networks.build_generator's interface: normalized L* in
([B, H, W, 1] in [-1, 1]), normalized a*b* out (float32 [B, H, W, 2] through
tanh). Inside, L* becomes a gray RGB image in [0, 255] and goes through the
application's own preprocess_input, as layers, so the SavedModel holds it.
The encoder is a sub-model named "encoder" (ENCODER_NAME); its outputs are the
feature maps at strides 2, 4, 8, 16 and 32, so H and W must be multiples of
32. Shape comments use S = 256 px, base filters F = 64, and ResNet50V2's
widths (MobileNetV2's in parentheses).
"""

import collections
import contextlib
import dataclasses
import threading
import warnings
from typing import Callable, Optional, Tuple

import keras
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.model import ab_classes
from colorizer.model import blocks

ENCODER_NAME = "encoder"
# With --label_weight > 0, the encoder's stride-32 features pass through an
# identity layer of this name, which the label head reads.
BOTTLENECK_NAME = "encoder_bottleneck"
# Every encoder below halves the resolution five times.
SIZE_MULTIPLE = 32
# The pix2pix U-Net has dropout in its first three decoder blocks; so has this.
_DROPOUT_BLOCKS = 3
# pix2pix initializes every convolution from N(0, 0.02) (as models.py).
_INIT_STDDEV = 0.02
# Momentum of the encoder's BatchNorm statistics (the applications use 0.99,
# MobileNetV2 0.999): blocks.batch_norm explains why this project uses 0.9.
_ENCODER_BN_MOMENTUM = 0.9
WEIGHTS_CHOICES = ("imagenet", "none")


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
  """One keras.applications encoder and where its skip connections leave."""
  application: Callable[..., keras.Model]
  preprocess_input: Callable
  # Layer names whose outputs are at strides 2, 4, 8, 16 and 32. The last is
  # the application's final layer, so the encoder holds all its weights.
  skip_layers: Tuple[str, str, str, str, str]


ENCODERS = {
    # Pre-activation ResNet: the residual stream is normalized only in the
    # next block's "preact" BatchNorm + ReLU, so the skips are taken there.
    # conv1_conv: [B, S/2, S/2, 64]; then 256, 512, 1024; post_relu 2048.
    "resnet_unet": EncoderSpec(
        keras.applications.ResNet50V2,
        keras.applications.resnet_v2.preprocess_input,
        ("conv1_conv", "conv2_block3_preact_relu", "conv3_block4_preact_relu",
         "conv4_block6_preact_relu", "post_relu")),
    # The expansion ReLUs that open each stride-2 block (as the TensorFlow
    # segmentation tutorial): 96, 144, 192, 576 channels; out_relu 1280.
    "mobilenet_unet": EncoderSpec(
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
        ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
         "block_13_expand_relu", "out_relu")),
}


def _spec(generator: str) -> EncoderSpec:
  if generator not in ENCODERS:
    raise ValueError(f"--generator={generator!r}: expected unet or one of "
                     f"{sorted(ENCODERS)}.")
  return ENCODERS[generator]


def check_config(config: config_lib.Config) -> None:
  """Checks image size and encoder weights for an encoder generator.

  Raises:
    ValueError: naming --image_size and --generator, or --encoder_weights,
      or --input_mode=sketch (not supported by encoder generators yet).
  """
  generator = config.model.generator
  _spec(generator)
  if config.data.input_mode != "grayscale":
    raise ValueError(
        f"--generator={generator} supports --input_mode=grayscale only; use "
        f"--generator=unet for --input_mode={config.data.input_mode}.")
  image_size = config.data.image_size
  if image_size % SIZE_MULTIPLE:
    nearest = max(SIZE_MULTIPLE, round(image_size / SIZE_MULTIPLE) *
                  SIZE_MULTIPLE)
    raise ValueError(
        f"--image_size={image_size} with --generator={generator}: the encoder "
        f"halves the size 5 times, so use a multiple of {SIZE_MULTIPLE} such "
        f"as {nearest}.")
  if config.train.mixed_precision == "float16":
    # The encoder has its own optimizer (steps.build_state); two dynamic loss
    # scales over one loss would not agree. bfloat16 needs no loss scaling.
    raise ValueError(
        f"--generator={generator} does not support --mixed_precision=float16;"
        " use --mixed_precision=bfloat16.")
  weights = config.model.encoder_weights
  if weights not in WEIGHTS_CHOICES and not tf.io.gfile.exists(weights):
    raise ValueError(
        f"--encoder_weights={weights!r}: expected imagenet, none, or the path "
        "of a weights file (.h5 or .weights.h5); no such file.")


class ApplicationPreprocess(keras.layers.Layer):
  """An application's preprocess_input as a layer: RGB [0, 255] in."""

  def __init__(self, generator: str, **kwargs):
    super().__init__(**kwargs)
    self.generator = generator
    self._preprocess_input = _spec(generator).preprocess_input

  def call(self, rgb):
    # Both encoders use mode "tf" (x / 127.5 - 1), so with gray_rgb this is
    # the identity; it is kept so that another application (caffe or torch
    # mode) gets exactly the input its weights were trained on.
    return self._preprocess_input(rgb)

  def get_config(self):
    return dict(super().get_config(), generator=self.generator)


def _application(spec: EncoderSpec, weights: str) -> keras.Model:
  if weights != "imagenet":
    return spec.application(include_top=False, weights=None,
                            input_shape=(None, None, 3))
  try:
    return spec.application(include_top=False, weights="imagenet",
                            input_shape=(None, None, 3))
  except Exception as error:  # pylint: disable=broad-except
    # keras.utils.get_file raises a bare Exception when offline.
    raise ValueError(
        f"--encoder_weights=imagenet: could not get the "
        f"{spec.application.__name__} ImageNet weights ({error}). Offline, "
        "pass a local file with --encoder_weights=PATH (see "
        "docs/encoder_unet.md), or --encoder_weights=none.") from error


def build_encoder(generator: str, weights: str = "imagenet",
                  synchronized: bool = False) -> keras.Model:
  """The application body as a sub-model with one output per stride.

  Args:
    generator: resnet_unet or mobilenet_unet.
    weights: imagenet, none, or a weights file saved from an encoder or from
      the keras.applications model (Keras' own download is such a file).
    synchronized: BatchNorm statistics over all replicas.

  Returns:
    A keras.Model named ENCODER_NAME mapping preprocessed RGB [B, H, W, 3] to
    five feature maps at strides 2, 4, 8, 16 and 32.

  Raises:
    ValueError: if the weights cannot be downloaded, the file is missing or
      does not fit the encoder.
  """
  spec = _spec(generator)
  application = _application(spec, weights)
  encoder = keras.Model(
      application.input,
      [application.get_layer(name).output for name in spec.skip_layers],
      name=ENCODER_NAME)
  for layer in encoder.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      # Read at call time, so setting them after construction is enough.
      layer.momentum = _ENCODER_BN_MOMENTUM
      layer.synchronized = synchronized
  if weights not in WEIGHTS_CHOICES:
    if not tf.io.gfile.exists(weights):
      raise ValueError(f"--encoder_weights={weights}: no such file.")
    # A file for another network fails after one warning per layer: keep
    # them for a load that succeeds, drop them for the one-line error.
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      try:
        encoder.load_weights(weights)
      except (ValueError, OSError) as error:
        raise ValueError(
            f"--encoder_weights={weights}: not a "
            f"{spec.application.__name__} include_top=False weights file "
            f"({str(error).splitlines()[0]}).") from error
    for warning in caught:
      warnings.warn_explicit(warning.message, warning.category,
                             warning.filename, warning.lineno)
  if weights != "none":
    _batch_norm_inference(encoder)
  return encoder


def _batch_norm_inference(encoder: keras.Model) -> None:
  """Keeps a pretrained encoder's BatchNorm layers in inference mode.

  They normalize with the pretrained moving statistics and keep their gamma
  and beta while the convolutions fine-tune: the Keras transfer-learning
  recipe, and what the shipped MobileNetV2 weights ask for (their statistics
  were re-estimated from 100 photos after folding: ../shared/models/
  SOURCES.md). Batch statistics of gray 96 px crops would drift from them.
  A Keras 3 BatchNormalization that is not trainable runs in inference mode
  even when called with training=True. frozen_encoder's thaw restores each
  layer's own flag, so this outlasts the freeze.
  """
  for layer in encoder.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.trainable = False


def decoder_filters(base_filters: int, max_filters: int):
  """Decoder widths at strides 16, 8, 4, 2 and 1: 8F, 4F, 2F, F, F/2."""
  cap = max_filters or 8 * base_filters
  widths = [min(base_filters * 2 ** (3 - level), cap) for level in range(4)]
  return widths + [max(1, base_filters // 2)]


def build_encoder_unet(config: config_lib.Config, seed=None,
                       synchronized: bool = False) -> keras.Model:
  """A U-Net on a keras.applications encoder: normalized L* in, a*b* out.

  Args:
    config: the run's config (data.image_size, model.generator,
      model.encoder_weights, model.base_filters, max_filters, dropout;
      loss.label_weight, which names the bottleneck BOTTLENECK_NAME).
    seed: optional int for reproducible decoder initialization.
    synchronized: BatchNorm statistics over all replicas.

  Returns:
    A keras.Model mapping l_channel [B, H, W, 1] in [-1, 1] to ab_normalized
    [B, H, W, 2] in [-1, 1] (float32 under any dtype policy), with H and W
    multiples of 32. Its encoder is the layer named ENCODER_NAME.

  Raises:
    ValueError: for an image size that is not a multiple of 32 or encoder
      weights that cannot be had (see build_encoder).
  """
  check_config(config)
  model_config = config.model
  l_channel = keras.Input(shape=(None, None, 1), name="l_channel")  # [B,S,S,1]
  # l_normalized = L*/50 - 1, so (l + 1) * 127.5 = L* * 2.55: gray in [0, 255].
  gray = keras.layers.Rescaling(127.5, offset=127.5, name="gray_255")(
      l_channel)  # [B, S, S, 1]
  gray_rgb = keras.layers.Concatenate(name="gray_rgb")(
      [gray, gray, gray])  # [B, S, S, 3]
  encoder_input = ApplicationPreprocess(
      model_config.generator, name="encoder_preprocess")(gray_rgb)  # [B,S,S,3]
  encoder = build_encoder(model_config.generator, model_config.encoder_weights,
                          synchronized)
  skips = encoder(encoder_input)  # strides 2..32: 64, 256, 512, 1024, 2048
  x = skips[-1]  # [B, S/32, S/32, 2048 (1280)]
  if config.loss.label_weight:
    # Named for the label head (colorizer.model.label_head); only then, so
    # the generators of runs without it keep their checkpoints' layout.
    x = keras.layers.Identity(name=BOTTLENECK_NAME)(x)  # [B,S/32,S/32,2048]

  widths = decoder_filters(model_config.base_filters, model_config.max_filters)
  # Decoder: upsample, then concatenate the encoder map of that resolution,
  # from stride 16 (index 0) down to stride 2 (index 3) ...
  for index, (skip, width) in enumerate(zip(reversed(skips[:-1]), widths)):
    dropout_rate = model_config.dropout if index < _DROPOUT_BLOCKS else 0.0
    # [B, S/16, S/16, 8F], [B, S/8, S/8, 4F], ... [B, S/2, S/2, F]
    x = blocks.upsample(x, width, name=f"up{index}", dropout_rate=dropout_rate,
                        seed=seed, synchronized=synchronized)
    # [B, S/16, S/16, 8F + 1024 (576)], ... [B, S/2, S/2, F + 64 (96)]
    x = keras.layers.Concatenate(name=f"up{index}_skip")([x, skip])
  if model_config.ab_head == "classes":
    # As the U-Net's class head: logits at stride 2, decoded a*b* resized
    # bilinearly. At full resolution the Q-channel logits, their
    # cross-entropy and an up4 block made the train step half as fast
    # (benchmarks: docs/performance.md).
    _, ab_normalized = ab_classes.classification_head(
        x, model_config, seed=seed,
        upsample=2)  # [B, S/2, S/2, Q] logits -> [B, S, S, 2]
    return keras.Model(l_channel, ab_normalized,
                       name=f"{model_config.generator}_generator")
  # ... and at full resolution the L* input itself, as DynamicUnet's last
  # cross connection: edges the stride-2 features blur stay sharp.
  x = blocks.upsample(x, widths[-1], name="up4", seed=seed,
                      synchronized=synchronized)  # [B, S, S, F/2]
  x = keras.layers.Concatenate(name="up4_skip")([x, l_channel])  # [B,S,S,F/2+1]
  x = keras.layers.Conv2D(
      2, 3, padding="same", name="ab_conv",
      kernel_initializer=keras.initializers.RandomNormal(
          stddev=_INIT_STDDEV, seed=seed))(x)  # [B, S, S, 2]
  # float32 output so losses and exports are float32 under mixed precision.
  ab_normalized = keras.layers.Activation(
      "tanh", dtype="float32", name="ab_normalized")(x)  # [B, S, S, 2]
  return keras.Model(l_channel, ab_normalized,
                     name=f"{model_config.generator}_generator")


def find_encoder(generator: keras.Model) -> Optional[keras.Model]:
  """The generator's pretrained encoder, or None for the pix2pix U-Net."""
  for layer in generator.layers:
    if layer.name == ENCODER_NAME:
      return layer
  return None


def require_encoder(generator: keras.Model) -> keras.Model:
  """The generator's encoder.

  Raises:
    ValueError: if the generator has none (--generator=unet).
  """
  encoder = find_encoder(generator)
  if encoder is None:
    raise ValueError(f"--freeze_encoder_steps needs a generator with a "
                     f"pretrained encoder ({', '.join(sorted(ENCODERS))}); "
                     f"{generator.name} has none.")
  return encoder


_freeze_lock = threading.Lock()
_freeze_depth = collections.Counter()
# Per frozen encoder, each layer's trainable flag before the first freeze.
_trainable_before = {}


@contextlib.contextmanager
def frozen_encoder(generator: keras.Model):
  """Runs its block with the generator's encoder frozen.

  Inside, `generator.trainable_variables` leaves out the encoder's, and its
  BatchNorm layers run in inference mode even with training=True (Keras 3
  BatchNormalization normalizes with its moving statistics, and leaves them
  alone, when not trainable). Within a tf.function this holds for what is
  traced inside the block, i.e. for the whole traced step.

  Nested blocks are counted: MirroredStrategy traces each replica's step in
  its own thread, and the threads interleave at merge calls. The first
  block saves each layer's trainable flag and the last one to exit restores
  them, so layers that were not trainable before (a pretrained encoder's
  BatchNorm) stay so.

  Raises:
    ValueError: if the generator has no encoder (--generator=unet).
  """
  encoder = require_encoder(generator)
  key = id(encoder)
  with _freeze_lock:
    if not _freeze_depth[key]:
      _trainable_before[key] = [layer.trainable for layer in encoder.layers]
    _freeze_depth[key] += 1
    encoder.trainable = False
  try:
    yield encoder
  finally:
    with _freeze_lock:
      _freeze_depth[key] -= 1
      if not _freeze_depth[key]:
        del _freeze_depth[key]
        encoder.trainable = True
        for layer, trainable in zip(encoder.layers,
                                    _trainable_before.pop(key)):
          layer.trainable = trainable
