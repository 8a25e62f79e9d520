"""Line drawings for sketch mode: making them (XDoG) and coloring them.

In sketch mode (--input_mode=sketch) the generator sees a line drawing and
predicts full color, lightness included, since a drawing does not say how
light anything is. Training derives the drawing from each color image on the
fly with XDoG, the extended difference of Gaussians of Winnemoeller et al.,
"XDoG: An eXtended difference-of-Gaussians compendium including advanced
image stylization", Computers & Graphics 36(6), 2012:

  D(x) = (1 + p) * G_sigma(I)(x) - p * G_{k sigma}(I)(x)
  T(x) = 1                              if D(x) >= epsilon
         1 + tanh(phi * (D(x) - epsilon)) otherwise

on I = L* / 100 in [0, 1]. In flat areas D = I, so anything lighter than
epsilon is paper (T = 1); next to an edge the sharpened D dips below epsilon
on the dark side, which draws one dark line per edge. T is in [0, 1]: 1 is
paper, 0 is ink.

Why XDoG and not a Sobel edge map: Sobel gives a gray gradient magnitude,
two-sided and as faint or strong as the edge's contrast, so it looks like an
edge detector's output; XDoG's soft threshold gives one crisp dark stroke on
white paper, like a pen drawing, and is the usual way sketch-colorization work
makes training drawings from photos. XDoG works on L* alone, so an edge
between two colors of the same lightness gets no line.

The parameters are fixed (not flags), in pixels of the training image, so
every drawing of a given image is the same (see the constants below).
"""

import numpy as np
import tensorflow as tf

from colorizer import color

# sigma: the inner Gaussian, in pixels. Tried on the demo scenes at 64 px:
# 0.7 outlines hills, trees and the horizon with thin strokes; 1.0 and more
# (or a wider k) fill dark areas such as grass and tree crowns with ink.
XDOG_SIGMA = 0.7
# k: the outer Gaussian is k * sigma wide. 1.6 is the paper's value, for
# which the difference of Gaussians approximates the Laplacian of Gaussian.
XDOG_K = 1.6
# p: edge sharpening. The paper uses about 20; 40 also draws the soft,
# low-contrast edges (hills against a hazy sky) that 20 misses.
XDOG_SHARPEN = 40.0
# epsilon: the threshold on D, in units of L* / 100. Low, so that flat areas
# of any but the darkest colors become paper and only edges are drawn.
XDOG_EPSILON = 0.02
# phi: how steep the soft threshold is. A D of 0.01 below epsilon is already
# 76 % ink; a soft ramp (not a hard step) keeps lines antialiased.
XDOG_PHI = 100.0
# Both Gaussians are cut at 3 outer sigmas.
_RADIUS = int(np.ceil(3.0 * XDOG_SIGMA * XDOG_K))


def _gaussian_taps(sigma: float) -> np.ndarray:
  """A normalized 1-D Gaussian kernel of 2 * _RADIUS + 1 taps."""
  offsets = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
  taps = np.exp(-0.5 * np.square(offsets / sigma))
  return (taps / taps.sum()).astype(np.float32)


def _blur_valid(padded: tf.Tensor, sigma: float) -> tf.Tensor:
  """Separable Gaussian blur of [B, H + 2R, W + 2R, 1] -> [B, H, W, 1]."""
  taps = tf.constant(_gaussian_taps(sigma))
  rows = tf.nn.conv2d(padded, tf.reshape(taps, [-1, 1, 1, 1]), strides=1,
                      padding="VALID")  # [B, H, W + 2R, 1]
  return tf.nn.conv2d(rows, tf.reshape(taps, [1, -1, 1, 1]), strides=1,
                      padding="VALID")  # [B, H, W, 1]


def xdog(lightness: tf.Tensor) -> tf.Tensor:
  """The XDoG line drawing of a lightness image (see the module docstring).

  Args:
    lightness: float [H, W, 1] or [B, H, W, 1], L* / 100 in [0, 1]; H and W
      at least _RADIUS (4) pixels.

  Returns:
    float32 of the same shape in [0, 1]: 1 is paper, 0 is ink.

  Raises:
    ValueError: for a tensor that is not of rank 3 or 4 with one channel.
  """
  lightness = tf.convert_to_tensor(lightness, tf.float32)
  rank = lightness.shape.rank
  if rank not in (3, 4) or lightness.shape[-1] != 1:
    raise ValueError(f"xdog expects [H, W, 1] or [B, H, W, 1] lightness, got "
                     f"shape {lightness.shape}.")
  batch = lightness if rank == 4 else lightness[None]  # [B, H, W, 1]
  # Mirrored borders: zero padding would draw a frame around every image.
  padded = tf.pad(batch, [[0, 0], [_RADIUS, _RADIUS], [_RADIUS, _RADIUS],
                          [0, 0]], mode="SYMMETRIC")
  narrow = _blur_valid(padded, XDOG_SIGMA)  # [B, H, W, 1]
  wide = _blur_valid(padded, XDOG_SIGMA * XDOG_K)  # [B, H, W, 1]
  difference = (1.0 + XDOG_SHARPEN) * narrow - XDOG_SHARPEN * wide
  drawing = tf.where(difference >= XDOG_EPSILON, tf.ones_like(difference),
                     1.0 + tf.tanh(XDOG_PHI * (difference - XDOG_EPSILON)))
  drawing = tf.clip_by_value(drawing, 0.0, 1.0)
  return drawing if rank == 4 else drawing[0]


def sketch_from_rgb(rgb: tf.Tensor) -> tf.Tensor:
  """The training line drawing of a color image: XDoG on its L*.

  Deterministic: the same image always gives the same drawing, eagerly or
  inside tf.data.

  Args:
    rgb: float [H, W, 3] or [B, H, W, 3] sRGB in [0, 1].

  Returns:
    float32 [H, W, 1] or [B, H, W, 1] in [0, 1], paper 1 and ink 0.
  """
  l_star = color.rgb_to_lab(tf.convert_to_tensor(rgb, tf.float32))[..., :1]
  return xdog(l_star / 100.0)


def normalize_sketch(sketch: tf.Tensor) -> tf.Tensor:
  """A drawing in [0, 1] -> the generator's input in [-1, 1] (paper 1)."""
  return tf.cast(sketch, tf.float32) * 2.0 - 1.0


def drawing_from_rgb(rgb_uint8: tf.Tensor) -> tf.Tensor:
  """A user's drawing, as given, as a sketch: its L* / 100, no XDoG.

  A drawing someone made is used as it is (dark ink on light paper), not
  re-derived: XDoG of a drawing would outline each stroke twice.

  Args:
    rgb_uint8: uint8 [..., H, W, 3].

  Returns:
    float32 [..., H, W, 1] in [0, 1].
  """
  rgb = color.rgb_uint8_to_float(rgb_uint8)
  return tf.clip_by_value(color.rgb_to_lab(rgb)[..., :1] / 100.0, 0.0, 1.0)


def predict_lab(generator_fn, sketch: tf.Tensor, render_size) -> tf.Tensor:
  """Full color for a drawing of any size: the network runs at render_size.

  Args:
    generator_fn: normalized sketch [B, S, S, 1] -> normalized L*a*b*
      [B, S, S, 3] (L* / 50 - 1, a*b* / 110).
    sketch: float32 [B, H, W, 1] in [0, 1], ink dark and paper light.
    render_size: the square size the network sees (int or int32 scalar).

  Returns:
    float32 [B, H, W, 3]: L* in [0, 100] and a*b* resized back to H x W,
    a*b* clamped into the sRGB gamut for the predicted L*.
  """
  sketch = tf.clip_by_value(tf.cast(sketch, tf.float32), 0.0, 1.0)
  full_size = tf.shape(sketch)[1:3]
  sketch_render = tf.image.resize(sketch, [render_size, render_size],
                                  antialias=True)  # [B, S, S, 1]
  lab_normalized = tf.cast(generator_fn(normalize_sketch(sketch_render)),
                           tf.float32)  # [B, S, S, 3]
  lab_render = tf.concat([color.denormalize_l(lab_normalized[..., :1]),
                          color.denormalize_ab(lab_normalized[..., 1:])],
                         axis=-1)  # [B, S, S, 3]
  lab_full = tf.image.resize(lab_render, full_size)  # [B, H, W, 3]
  l_star = tf.clip_by_value(lab_full[..., :1], 0.0, 100.0)
  ab = color.clamp_ab_to_gamut(l_star, lab_full[..., 1:])
  return tf.concat([l_star, ab], axis=-1)


def colorize_drawing(generator_fn, rgb_uint8: tf.Tensor,
                     render_size) -> tf.Tensor:
  """Colors one decoded drawing at its full resolution.

  Unlike grayscale mode, the output's lightness is the model's: a drawing
  has none to keep.

  Args:
    generator_fn: as for predict_lab.
    rgb_uint8: uint8 [H, W, 3], the drawing (color is dropped: L* only).
    render_size: the square size the network sees.

  Returns:
    uint8 [H, W, 3].
  """
  drawing = drawing_from_rgb(rgb_uint8)[None]  # [1, H, W, 1]
  lab = predict_lab(generator_fn, drawing, render_size)  # [1, H, W, 3]
  return color.rgb_float_to_uint8(color.lab_to_rgb(lab)[0])
