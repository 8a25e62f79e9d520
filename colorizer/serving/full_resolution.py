"""Colorizing an image of any size in the graph: decode, render, upsample.

The pieces of the SavedModel's full-resolution path
(colorizer.serving.export), in core TensorFlow ops: the encoded bytes are
decoded to opaque RGB under a pixel limit, the network sees L* at a square
render size, and its a*b* are upsampled back to the photo's size guided by
the full-size L* (colorizer.serving.joint_bilateral) and clamped into the
sRGB gamut.
"""

import tensorflow as tf

from colorizer import color
from colorizer.data import image_header
from colorizer.serving import joint_bilateral

# Images above this many pixels are refused with INVALID_ARGUMENT instead of
# exhausting memory (about 80 MP: a 10000 x 8000 scan): from the dimensions in
# the header, before decoding, and again after decoding.
DEFAULT_MAX_PIXELS = 80_000_000


def _upsampled_ab(generator_fn, l_star: tf.Tensor, render_size,
                  guided_upsample: bool) -> tf.Tensor:
  """The network's a*b* at L*'s size, before the gamut clamp."""
  full_size = tf.shape(l_star)[1:3]
  l_render = tf.image.resize(l_star, [render_size, render_size],
                             antialias=True)  # [B, S, S, 1]
  ab_normalized = generator_fn(color.normalize_l(l_render))  # [B, S, S, 2]
  ab_render = color.denormalize_ab(tf.cast(ab_normalized, tf.float32))
  if guided_upsample:
    return joint_bilateral.upsample_ab(l_star, l_render,
                                       ab_render)  # [B, H, W, 2]
  return tf.image.resize(ab_render, full_size)  # [B, H, W, 2]


def predict_ab(generator_fn, l_star: tf.Tensor, render_size: int,
               guided_upsample: bool = True) -> tf.Tensor:
  """a*b* for L* at any size: the network runs at render_size.

  Args:
    generator_fn: normalized l [B, S, S, 1] -> normalized ab [B, S, S, 2].
    l_star: float32 [B, H, W, 1], L* in [0, 100].
    render_size: the square size the network sees: an int, or an int32
      scalar tensor (the serving_render_size signature).
    guided_upsample: resize a*b* back guided by l_star's edges
      (joint_bilateral.upsample_ab) rather than bilinearly.

  Returns:
    float32 [B, H, W, 2]: a*b* resized back to H x W and clamped into the
    sRGB gamut given each pixel's own L*.
  """
  l_star = tf.clip_by_value(tf.cast(l_star, tf.float32), 0.0, 100.0)
  ab_full = _upsampled_ab(generator_fn, l_star, render_size, guided_upsample)
  return color.clamp_ab_to_gamut(l_star, ab_full)


def colorize_rgb(generator_fn, rgb_uint8: tf.Tensor, render_size: int,
                 guided_upsample: bool = True) -> tf.Tensor:
  """Colorizes one image at its full resolution.

  A color input is decolorized first: only its L* is used, and that L* is
  the output's L* (to 8-bit rounding). The same colors as predict_ab, by
  the 8-bit paths of colorizer.color, which make fewer passes over a large
  photo.

  Args:
    generator_fn: as for predict_ab.
    rgb_uint8: uint8 [H, W, 3].
    render_size: the square size the network sees.
    guided_upsample: as for predict_ab.

  Returns:
    uint8 [H, W, 3].
  """
  l_star = color.l_star_from_rgb_uint8(rgb_uint8)[None]  # [1, H, W, 1]
  ab = _upsampled_ab(generator_fn, l_star, render_size,
                     guided_upsample)  # [1, H, W, 2]
  return color.lab_to_rgb_uint8_in_gamut(l_star, ab)[0]


def decode_rgb_uint8(image_bytes: tf.Tensor,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Tensor:
  """Decodes one encoded image to opaque RGB, in the graph.

  The dimensions in the header are checked against max_pixels before the
  decoder runs (colorizer.data.image_header): a small file declaring a huge image
  is refused without allocating it. The decoded size is checked again, in
  case a decoder disagrees with the header.

  Decoding with channels=3 would fail on WebP with alpha and would show the
  hidden colors under transparent pixels, so the native channels are decoded
  and alpha is composited on white, as colorizer.data.image_io does. A 16-bit PNG
  is scaled to 8 bits by the decoder. An all-zero alpha channel (32-bit BMPs
  whose fourth byte is padding) is taken as opaque.

  Args:
    image_bytes: tf.string scalar: PNG, JPEG, GIF, BMP or WebP.
    max_pixels: the largest height * width accepted.

  Returns:
    uint8 [H, W, 3].

  Raises:
    tf.errors.InvalidArgumentError: at run time, if the bytes are not an
      image of those formats that tf.io.decode_image reads, or if the image
      has more than max_pixels pixels (the message names the limit).
  """
  header_check = image_header.check_declared_pixels(image_bytes, max_pixels)
  with tf.control_dependencies([header_check]):
    image = tf.io.decode_image(image_bytes, channels=0,
                               expand_animations=False)  # [H, W, C], C 1..4
  shape = tf.shape(image, out_type=tf.int64)
  decoded_check = tf.debugging.assert_less_equal(
      shape[0] * shape[1], tf.constant(max_pixels, tf.int64),
      message=f"image is larger than the {max_pixels}-pixel limit")
  with tf.control_dependencies([decoded_check]):
    image = tf.identity(image)
  channels = tf.shape(image)[-1]
  # Gray and RGB stay uint8: compositing in float would cost several passes
  # over a large photo for nothing.
  rgb_uint8 = tf.cond((channels == 2) | (channels == 4),
                      lambda: _composite_on_white(image),
                      lambda: _color_channels(image))
  return tf.ensure_shape(rgb_uint8, [None, None, 3])


def _color_channels(image: tf.Tensor) -> tf.Tensor:
  """[H, W, C] gray (+ alpha) or RGB (+ alpha) -> its [H, W, 3] colors."""
  return tf.cond(tf.shape(image)[-1] < 3,
                 lambda: tf.tile(image[..., :1], [1, 1, 3]),
                 lambda: image[..., :3])


def _composite_on_white(image: tf.Tensor) -> tf.Tensor:
  """uint8 [H, W, 2 or 4] with alpha last -> uint8 [H, W, 3] on white."""
  rgb = tf.cast(_color_channels(image), tf.float32)  # [H, W, 3]
  alpha = tf.cast(image[..., -1:], tf.float32) / 255.0  # [H, W, 1]
  alpha = tf.cond(tf.reduce_any(alpha > 0), lambda: alpha,
                  lambda: tf.ones_like(alpha))
  rgb = rgb * alpha + 255.0 * (1.0 - alpha)
  return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 255.0)), tf.uint8)
