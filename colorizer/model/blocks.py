"""Named block factories the U-Nets are built from, and their geometry.

The pix2pix blocks (Isola et al. 2017): a stride-2 4x4 convolution with
BatchNorm and LeakyReLU down, a stride-2 4x4 transposed convolution with
BatchNorm, optional dropout and ReLU up; every kernel drawn from N(0, 0.02).
`networks` (the pix2pix U-Net and PatchGAN) and `encoder_unet` (U-Nets on
pretrained encoders) both build from them.
"""

import keras

# pix2pix initializes every convolution from N(0, 0.02).
_INIT_STDDEV = 0.02
_MAX_AUTO_DEPTH = 8
_MIN_DEPTH = 3


def initializer(seed=None):
  return keras.initializers.RandomNormal(mean=0.0, stddev=_INIT_STDDEV,
                                         seed=seed)


def unet_depth(image_size: int, requested_depth: int = 0) -> int:
  """Number of stride-2 levels of the U-Net for an image size.

  Args:
    image_size: the square training size in pixels.
    requested_depth: an explicit depth, or 0 to derive it: as many halvings as
      image_size allows, at most 8 (256 px -> 1x1 bottleneck, as pix2pix).

  Returns:
    The depth.

  Raises:
    ValueError: if image_size is not divisible by 2**depth, or too small.
  """
  if requested_depth:
    if requested_depth < 1 or image_size % (2 ** requested_depth):
      raise ValueError(
          f"--unet_depth={requested_depth} needs --image_size divisible by "
          f"{2 ** requested_depth}, got {image_size}; pick a multiple of "
          f"{2 ** requested_depth} or a smaller depth.")
    return requested_depth
  depth = 0
  while depth < _MAX_AUTO_DEPTH and image_size % (2 ** (depth + 1)) == 0:
    depth += 1
  if depth < _MIN_DEPTH:
    nearest = max(2 ** _MIN_DEPTH, round(image_size / 32) * 32)
    raise ValueError(
        f"--image_size={image_size} allows only {depth} U-Net halvings (at "
        f"least {_MIN_DEPTH} needed); use a multiple of 32 such as {nearest}.")
  return depth


def level_filters(base_filters: int, max_filters: int, depth: int):
  """Widths of the encoder levels: F, 2F, 4F, 8F, 8F, ... (pix2pix)."""
  cap = max_filters or 8 * base_filters
  return [min(base_filters * 2 ** level, cap) for level in range(depth)]


def batch_norm(name: str,
               synchronized: bool = False) -> keras.layers.BatchNormalization:
  # Momentum 0.9 is PyTorch's 0.1, the pix2pix reference implementation's:
  # Keras' default 0.99 leaves the inference statistics thousands of steps
  # behind a GAN's moving activations. synchronized: statistics over the
  # global batch under a multi-replica strategy, so N replicas of B/N images
  # normalize exactly as one device with B images.
  return keras.layers.BatchNormalization(momentum=0.9, name=name,
                                         synchronized=synchronized)


def downsample(inputs, filters: int, name: str, apply_batchnorm: bool = True,
               use_bias: bool = False, seed=None, synchronized: bool = False):
  """Conv 4x4 stride 2 -> [BatchNorm] -> LeakyReLU(0.2): halves H and W."""
  x = keras.layers.Conv2D(filters, 4, strides=2, padding="same",
                          kernel_initializer=initializer(seed),
                          use_bias=use_bias and not apply_batchnorm,
                          name=f"{name}_conv")(inputs)
  if apply_batchnorm:
    x = batch_norm(f"{name}_bn", synchronized)(x)
  return keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)


def upsample(inputs, filters: int, name: str, dropout_rate: float = 0.0,
             seed=None, synchronized: bool = False):
  """ConvTranspose 4x4 stride 2 -> BatchNorm -> [Dropout] -> ReLU: doubles H, W."""
  x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                                   kernel_initializer=initializer(seed),
                                   use_bias=False, name=f"{name}_deconv")(
                                       inputs)
  x = batch_norm(f"{name}_bn", synchronized)(x)
  if dropout_rate:
    x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
  return keras.layers.ReLU(name=f"{name}_relu")(x)
