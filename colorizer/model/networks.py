"""The pix2pix U-Net generator and PatchGAN discriminator (Isola et al. 2017).

Both are functional Keras models built from small named block factories.
In grayscale mode (the default) the generator maps L* to a*b*; in sketch mode
(config.data.input_mode == "sketch") it maps a line drawing to L*a*b*, and the
discriminator judges (drawing, L*a*b*) pairs.
Shape comments use the reference configuration: S = 256 px input, base
filters F = 64. Both models take any spatial size divisible by 2**depth, so an
exported generator can run at a render size other than the training size.
"""

import math

import keras
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.model import ab_classes
from colorizer.model import blocks
from colorizer.model import encoder_unet

# The original U-Net has dropout in the first three decoder blocks.
_DROPOUT_BLOCKS = 3
# {input_mode: (input name, output name, output channels)}.
_MODE_OUTPUTS = {"grayscale": ("l_channel", "ab", 2),
                 "sketch": ("sketch", "lab", 3)}


def output_channels(input_mode: str) -> int:
  """Channels the generator predicts: 2 (a*b*) or 3 (L*a*b* for sketches).

  Raises:
    ValueError: for an unknown input mode.
  """
  return _mode_names(input_mode)[2]


def _mode_names(input_mode: str):
  if input_mode not in _MODE_OUTPUTS:
    raise ValueError(f"--input_mode={input_mode!r}: expected one of "
                     f"{sorted(_MODE_OUTPUTS)}.")
  return _MODE_OUTPUTS[input_mode]


def check_output_head(config: config_lib.Config) -> None:
  """Raises ValueError for a class head outside grayscale mode."""
  if config.model.ab_head == "classes" and config.data.input_mode != "grayscale":
    raise ValueError("--ab_head=classes predicts a*b* only; it needs "
                     "--input_mode=grayscale.")


def build_generator(config: config_lib.Config, seed=None,
                    synchronized: bool = False) -> keras.Model:
  """The U-Net generator: normalized L* (or drawing) in, a*b* (or L*a*b*) out.

  Args:
    config: the run's config (data.image_size, model.*).
    seed: optional int for reproducible initialization.
    synchronized: BatchNorm statistics over all replicas.

  Returns:
    A keras.Model mapping l_channel [B, H, W, 1] in [-1, 1] to
    ab_normalized [B, H, W, 2] in [-1, 1] (float32 under any dtype policy).
    In sketch mode it maps sketch [B, H, W, 1] (2 * drawing - 1) to
    lab_normalized [B, H, W, 3] (L*/50 - 1, a*b*/110).
    model.generator other than "unet" gives colorizer.model.encoder_unet's U-Net
    on a pretrained encoder, with the same interface (grayscale mode only).

  Raises:
    ValueError: for an unknown input mode, a size the U-Net cannot take, or
      an encoder generator in sketch mode.
  """
  input_name, output_name, num_outputs = _mode_names(config.data.input_mode)
  check_output_head(config)
  if config.model.generator != "unet":
    return encoder_unet.build_encoder_unet(config, seed=seed,
                                           synchronized=synchronized)
  model_config = config.model
  depth = blocks.unet_depth(config.data.image_size, model_config.unet_depth)
  filters = blocks.level_filters(model_config.base_filters,
                                 model_config.max_filters, depth)
  model_input = keras.Input(shape=(None, None, 1),
                            name=input_name)  # [B, S, S, 1]

  skips = []
  x = model_input
  for level, level_width in enumerate(filters):
    # Level 0 has no BatchNorm (pix2pix); neither has the innermost level,
    # whose 1x1 features would be normalized over the batch alone. As in the
    # reference implementation no encoder conv has a bias.
    x = blocks.downsample(x, level_width, name=f"down{level}",
                   apply_batchnorm=0 < level < depth - 1,
                   seed=seed, synchronized=synchronized)  # [B, S/2**(level+1), S/2**(level+1), width]
    skips.append(x)

  # Decoder: mirror the encoder, concatenating the encoder feature map of the
  # same resolution after each upsampling.
  for up_index, level in enumerate(reversed(range(depth - 1))):
    dropout_rate = model_config.dropout if up_index < _DROPOUT_BLOCKS else 0.0
    x = blocks.upsample(x, filters[level], name=f"up{up_index}",
                 dropout_rate=dropout_rate,
                 seed=seed, synchronized=synchronized)  # [B, S/2**(level+1), S/2**(level+1), width]
    x = keras.layers.Concatenate(name=f"up{up_index}_skip")(
        [x, skips[level]])  # [B, S/2**(level+1), S/2**(level+1), 2 * width]

  if model_config.ab_head == "classes":
    _, ab_normalized = ab_classes.classification_head(
        x, model_config, seed=seed,
        upsample=2)  # [B, S/2, S/2, Q] logits -> [B, S, S, 2]
    return keras.Model(model_input, ab_normalized, name="unet_generator")
  x = keras.layers.Conv2DTranspose(
      num_outputs, 4, strides=2, padding="same",
      kernel_initializer=blocks.initializer(seed),
      name=f"{output_name}_deconv")(x)  # [B, S, S, 2 or 3]
  # float32 output so losses and exports are float32 under mixed precision.
  prediction = keras.layers.Activation(
      "tanh", dtype="float32",
      name=f"{output_name}_normalized")(x)  # [B, S, S, 2 or 3]
  return keras.Model(model_input, prediction, name="unet_generator")


def build_discriminator(config: config_lib.Config, seed=None,
                        synchronized: bool = False) -> keras.Model:
  """The PatchGAN discriminator on concat(L*, a*b*) (or drawing, L*a*b*).

  With disc_layers=3 each logit sees a 70x70 patch and a 256 px input gives
  30x30 logits, as in pix2pix.

  Args:
    config: the run's config (model.disc_layers, model.*base_filters).
    seed: optional int for reproducible initialization.
    synchronized: BatchNorm statistics over all replicas.

  Returns:
    A keras.Model taking [l_channel [B, H, W, 1], ab [B, H, W, 2]] (both
    normalized) and returning float32 logits [B, h, w, 1]; in sketch mode
    [sketch [B, H, W, 1], lab [B, H, W, 3]].

  Raises:
    ValueError: for an unknown input mode.
  """
  input_name, output_name, num_outputs = _mode_names(config.data.input_mode)
  model_config = config.model
  base = model_config.disc_base_filters or model_config.base_filters
  cap = model_config.max_filters or 8 * model_config.base_filters
  condition = keras.Input(shape=(None, None, 1),
                          name=input_name)  # [B, S, S, 1]
  judged = keras.Input(shape=(None, None, num_outputs),
                       name=output_name)  # [B, S, S, 2 or 3]
  # Grayscale mode keeps its layer name "lab"; sketch mode's target has it.
  pair_name = "lab" if output_name == "ab" else "sketch_lab"
  x = keras.layers.Concatenate(name=pair_name)(
      [condition, judged])  # [B, S, S, 3 or 4]

  for layer in range(model_config.disc_layers):
    x = blocks.downsample(x, min(base * 2 ** layer, cap), name=f"patch{layer}",
                   apply_batchnorm=layer > 0, use_bias=True,
                   seed=seed, synchronized=synchronized)  # [B, S/2**(layer+1), S/2**(layer+1), F*2**layer]

  penultimate_filters = min(base * 2 ** model_config.disc_layers, cap)
  x = keras.layers.ZeroPadding2D(name="pad0")(x)  # [B, 34, 34, 256]
  x = keras.layers.Conv2D(penultimate_filters, 4, strides=1, use_bias=False,
                          kernel_initializer=blocks.initializer(seed),
                          name="patch_final_conv")(x)  # [B, 31, 31, 512]
  x = blocks.batch_norm("patch_final_bn", synchronized)(x)
  x = keras.layers.LeakyReLU(negative_slope=0.2, name="patch_final_lrelu")(x)
  x = keras.layers.ZeroPadding2D(name="pad1")(x)  # [B, 33, 33, 512]
  x = keras.layers.Conv2D(1, 4, strides=1,
                          kernel_initializer=blocks.initializer(seed),
                          name="logits_conv")(x)  # [B, 30, 30, 1]
  logits = keras.layers.Activation("linear", dtype="float32",
                                   name="logits")(x)  # [B, 30, 30, 1]
  return keras.Model([condition, judged], logits,
                     name="patchgan_discriminator")


def receptive_field(disc_layers: int) -> int:
  """Receptive field in pixels of one PatchGAN logit (70 for 3 layers)."""
  field = 1
  # Walk back from the logit: two stride-1 4x4 convs, then the stride-2 ones.
  for stride in [1, 1] + [2] * disc_layers:
    field = (field - 1) * stride + 4
  return field


def inference_fn(generator: keras.Model, test_time_flip: bool = False):
  """The generator at inference: model input [B, H, W, C] -> output.

  With test_time_flip the image and its mirror image go through in one batch
  and the two predictions (the second mirrored back) are averaged: an
  ensemble of two views for the price of twice the compute, which lowers the
  variance of the prediction (model.test_time_flip).
  """

  def predict(model_input):
    if not test_time_flip:
      return generator(model_input, training=False)
    batch = tf.shape(model_input)[0]
    both = tf.concat([model_input, tf.reverse(model_input, axis=[2])], 0)
    output = generator(both, training=False)  # [2B, H, W, C_out]
    mirrored_back = tf.reverse(output[batch:], axis=[2])
    return (output[:batch] + mirrored_back) / 2

  return predict


def with_layer_outputs(generator: keras.Model, layer_names) -> keras.Model:
  """A view of `generator` returning [its output, *the named layers' outputs].

  It shares every weight with the generator; the training step uses it for
  what its losses read besides the prediction (a class head's logits, the
  bottleneck features of the label head).
  """
  return keras.Model(
      generator.inputs,
      [generator.output] + [generator.get_layer(name).output
                            for name in layer_names],
      name=f"{generator.name}_view")


def count_params(model: keras.Model) -> int:
  """Number of trainable parameters."""
  return int(sum(math.prod(w.shape) for w in model.trainable_weights))
