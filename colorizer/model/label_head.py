"""An auxiliary image-label loss on the generator's bottleneck (Iizuka 2016).

Iizuka, Simo-Serra & Ishikawa ("Let there be Color!", SIGGRAPH 2016) train
their colorizer's global features to predict the image's class as well: what
the picture shows (a frog, a truck, the sea) narrows its plausible colors, and
a label is information the a*b* target alone does not give. With
--label_weight > 0 a small head reads the generator's innermost features
(global average pool, one hidden layer) and predicts the source's class
label; its cross-entropy joins the generator loss. The innermost features
are the U-Net's deepest encoder block, or a pretrained encoder's stride-32
map (--generator=resnet_unet or mobilenet_unet: while the encoder is
frozen, the head alone learns from them):

  L_G = ... + label_weight * CE(label_head(bottleneck(L*)), label)

The head is a training aid only: it is a model of its own beside the
generator (checkpointed, never exported), so exports and evaluation see the
same generator as without it. Labels come from the data source: an npz
with a `labels` array, a folder's class subfolders or a TFDS dataset's
ClassLabel feature (such as tfds:cifar10's).
"""

import keras
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.model import blocks
from colorizer.model import encoder_unet

_HIDDEN_UNITS = 256


def bottleneck_layer_name(config: config_lib.Config) -> str:
  """The generator layer whose output the head reads.

  The U-Net's innermost encoder activation, or an encoder generator's
  encoder_unet.BOTTLENECK_NAME.
  """
  if config.model.generator != "unet":
    return encoder_unet.BOTTLENECK_NAME
  depth = blocks.unet_depth(config.data.image_size, config.model.unet_depth)
  return f"down{depth - 1}_lrelu"


def build_label_head(num_labels: int, channels: int,
                     seed=None) -> keras.Model:
  """features [B, h, w, C] -> float32 label logits [B, num_labels].

  Args:
    num_labels: the classes to predict.
    channels: C of the features (the generator's bottleneck_layer_name).
    seed: optional int for reproducible initialization.

  Raises:
    ValueError: for fewer than two labels.
  """
  if num_labels < 2:
    raise ValueError(f"--label_weight needs at least 2 labels in the data, "
                     f"found {num_labels}.")
  features = keras.Input(shape=(None, None, channels),
                         name="bottleneck")  # [B, S/2**depth, S/2**depth, C]
  x = keras.layers.GlobalAveragePooling2D(name="label_pool")(features)  # [B, C]
  x = keras.layers.Dense(
      _HIDDEN_UNITS, activation="relu",
      kernel_initializer=keras.initializers.GlorotUniform(seed),
      name="label_hidden")(x)  # [B, 256]
  x = keras.layers.Dense(
      num_labels, kernel_initializer=keras.initializers.GlorotUniform(seed),
      name="label_dense")(x)  # [B, num_labels]
  logits = keras.layers.Activation("linear", dtype="float32",
                                   name="label_logits")(x)  # [B, num_labels]
  return keras.Model(features, logits, name="label_head")


def cross_entropy_per_example(label_logits: tf.Tensor,
                              labels: tf.Tensor) -> tf.Tensor:
  """[B, K] logits, int [B] labels -> float32 [B] cross-entropy."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32),
      logits=tf.cast(label_logits, tf.float32))


def correct_per_example(label_logits: tf.Tensor,
                        labels: tf.Tensor) -> tf.Tensor:
  """float32 [B]: 1 where the most likely label is the true one."""
  predicted = tf.argmax(label_logits, axis=-1, output_type=tf.int32)
  return tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32)
