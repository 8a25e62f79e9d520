"""The guided filter (He et al. 2010) in core TensorFlow ops, for comparison.

Not in the serving graph: it measured worse than bilinear, and the graph
uses joint bilateral upsampling instead (colorizer.serving.joint_bilateral
says why; tools/guided_filter_check.py compares the three).

The network sees a render_size x render_size L*, so its a*b* is coarse. A
bilinear resize to the photo's size lets color bleed across edges and leaves
halos around them. The guided filter (He, Sun and Tang 2010, "Guided Image
Filtering") instead fits, in each window, the output as a linear function
of the guide (here L*):

  q = A * I + B,   A = cov(I, p) / (var(I) + epsilon),   B = mean(p) - A mean(I)

with window statistics from box means, and A and B averaged over the windows
that cover each pixel. Where L* has an edge, the a*b* follow it; where L* is
flat (var(I) << epsilon) the output is the smoothed a*b*.

Joint upsampling uses the fast variant (He and Sun 2015, "Fast Guided
Filter"): A and B are computed at the low resolution, against the
downsampled guide the network saw, resized bilinearly to full size and
applied to the full-resolution L*. The full-size work is two resizes and a
multiply-add; the window statistics run at render size, in float64 (cumsum
box sums lose too many digits in float32 at a 2048 px render).

Every op is a core op with dynamic shapes, so it traces into the SavedModel
(tf.function, unknown sizes) and TF Serving runs it. Windows are clipped to
the image, so any size works, including sizes below the window.
"""

from typing import Union

import tensorflow as tf

# The best of tools/guided_filter_check.py's sweep (radii 1 to 6 render
# pixels, epsilons 1e-4 to 1e-2), still worse than bilinear: the window
# radius in render pixels, and epsilon for a guide of L* / 100 (a local L*
# standard deviation above sqrt(epsilon) * 100, about 3, counts as an edge).
RADIUS = 1
EPSILON = 1e-3

IntLike = Union[int, tf.Tensor]


def _box_sum_along(values: tf.Tensor, radius: IntLike, axis: int):
  """Sums over [i - radius, i + radius] along axis, clipped to the image.

  Returns:
    (sums, counts): sums shaped like values; counts int32 [size], the
    number of terms in each window.
  """
  size = tf.shape(values)[axis]
  cumulative = tf.cumsum(values, axis=axis)
  # A zero row in front: padded[i] is the sum of values[:i].
  zero_row = tf.zeros_like(tf.gather(values, [0], axis=axis))
  padded = tf.concat([zero_row, cumulative], axis=axis)  # size + 1 along axis
  positions = tf.range(size)
  upper = tf.minimum(positions + radius + 1, size)
  lower = tf.maximum(positions - radius, 0)
  sums = (tf.gather(padded, upper, axis=axis) -
          tf.gather(padded, lower, axis=axis))
  return sums, upper - lower


def box_mean(image: tf.Tensor, radius: IntLike) -> tf.Tensor:
  """The mean over each pixel's (2 radius + 1)^2 window, clipped to the image.

  Near the border the window holds fewer pixels and the mean is over those
  (the normalization of He et al.'s reference code). Box sums come from
  cumulative sums, so the cost does not depend on the radius.

  Args:
    image: float [B, H, W, C], any H, W >= 1.
    radius: int >= 0 (a Python int or an int32 scalar tensor).

  Returns:
    The same shape and dtype as image.

  Raises:
    ValueError: for a Python radius below 0 or an image that is not 4-D.
  """
  if isinstance(radius, int) and radius < 0:
    raise ValueError(f"box_mean: radius must be >= 0, got {radius}.")
  image = tf.convert_to_tensor(image)
  if image.shape.rank is not None and image.shape.rank != 4:
    raise ValueError(f"box_mean expects [B, H, W, C], got shape {image.shape}.")
  rows, row_counts = _box_sum_along(image, radius, axis=1)
  sums, col_counts = _box_sum_along(rows, radius, axis=2)
  counts = tf.cast(row_counts[:, None] * col_counts[None, :], image.dtype)
  return sums / counts[None, :, :, None]  # [B, H, W, C]


def guided_coefficients(guide: tf.Tensor, source: tf.Tensor, radius: IntLike,
                        epsilon: float):
  """The guided filter's A and B, averaged over the windows covering a pixel.

  Args:
    guide: float [B, H, W, 1].
    source: float [B, H, W, C], the image to filter (same H, W).
    radius: window radius in pixels.
    epsilon: the regularizer, in the guide's units squared.

  Returns:
    (mean_a, mean_b), each [B, H, W, C]: the filtered source is
    mean_a * guide + mean_b.
  """
  mean_guide = box_mean(guide, radius)
  mean_source = box_mean(source, radius)
  covariance = box_mean(guide * source, radius) - mean_guide * mean_source
  variance = box_mean(tf.square(guide), radius) - tf.square(mean_guide)
  # variance is >= 0 in exact arithmetic; rounding must not flip its sign.
  a = covariance / (tf.maximum(variance, 0.0) + epsilon)
  b = mean_source - a * mean_guide
  return box_mean(a, radius), box_mean(b, radius)


def guided_filter(guide: tf.Tensor, source: tf.Tensor, radius: IntLike,
                  epsilon: float) -> tf.Tensor:
  """He et al.'s guided filter at one resolution (float64 inside).

  Args:
    guide: float [B, H, W, 1].
    source: float [B, H, W, C].
    radius: window radius in pixels.
    epsilon: the regularizer, in the guide's units squared.

  Returns:
    float32 [B, H, W, C].
  """
  guide = tf.cast(guide, tf.float64)
  mean_a, mean_b = guided_coefficients(guide, tf.cast(source, tf.float64),
                                       radius, epsilon)
  return tf.cast(mean_a * guide + mean_b, tf.float32)


def guided_upsample(guide_full: tf.Tensor, guide_low: tf.Tensor,
                    source_low: tf.Tensor, radius: IntLike,
                    epsilon: float) -> tf.Tensor:
  """Upsamples source_low to guide_full's size, following guide_full's edges.

  The fast guided filter: coefficients at the low resolution (against
  guide_low, which should be guide_full downsampled), resized bilinearly,
  applied to guide_full. With guide_low the size of guide_full this is
  guided_filter.

  Args:
    guide_full: float32 [B, H, W, 1].
    guide_low: float [B, h, w, 1], in the same units.
    source_low: float [B, h, w, C].
    radius: window radius in low-resolution pixels.
    epsilon: the regularizer, in the guide's units squared.

  Returns:
    float32 [B, H, W, C].
  """
  mean_a, mean_b = guided_coefficients(
      tf.cast(guide_low, tf.float64), tf.cast(source_low, tf.float64), radius,
      epsilon)  # [B, h, w, C] each
  full_size = tf.shape(guide_full)[1:3]
  # Two resizes rather than one of the pair: slicing a full-size tensor
  # apart would cost a pass over it.
  a_full = tf.image.resize(tf.cast(mean_a, tf.float32), full_size)
  b_full = tf.image.resize(tf.cast(mean_b, tf.float32), full_size)
  return a_full * tf.cast(guide_full, tf.float32) + b_full  # [B, H, W, C]


def upsample_ab(l_star: tf.Tensor, l_render: tf.Tensor, ab_render: tf.Tensor,
                radius: IntLike = RADIUS, epsilon: float = EPSILON
                ) -> tf.Tensor:
  """The network's a*b* at the photo's size, guided by its full-size L*.

  Args:
    l_star: float32 [B, H, W, 1], L* in [0, 100] at full size.
    l_render: float32 [B, S, S, 1], the L* the network saw (l_star resized).
    ab_render: float32 [B, S, S, 2], its a*b*.
    radius: the window radius in render pixels.
    epsilon: the regularizer for a guide of L* / 100.

  Returns:
    float32 [B, H, W, 2], a*b* not yet gamut-clamped.
  """
  # L* as the guide with epsilon * 100^2 is exactly the filter for a guide
  # of L* / 100 (A comes out divided by 100), without a pass over the
  # full-size L* to scale it.
  return guided_upsample(l_star, l_render, ab_render, radius,
                         epsilon * 100.0 ** 2)
