"""Edge-aware upsampling of a*b*: joint bilateral upsampling on L*.

The network sees a render_size x render_size L*, so its a*b* is coarse, and
a bilinear resize to the photo's size lets color cross edges: sky takes the
tint of the tree beside it, a yellow skirt spills onto the grass. Joint
bilateral upsampling (Kopf, Cohen, Lischinski and Uyttendaele 2007, "Joint
Bilateral Upsampling") keeps bilinear's four neighbours and weights but
multiplies each by how alike its L* (the downsampled L* the network saw)
is to the full-size pixel's:

  ab(x) = sum_n w_n(x) g(L(x) - L_n) ab_n / sum_n w_n(x) g(L(x) - L_n),
  g(d) = exp(-d^2 / (2 sigma^2)),

so a pixel takes its color from the neighbours on its own side of an L*
edge. Where L* is flat every g is about 1 and the result is bilinear, so
color detail the network did predict is kept.

He et al.'s guided filter (tools.guided_filter), tried first,
smooths a*b* over its windows and fits one line of a*b* against L* in each,
which mixes the colors of regions of different hue at similar L*: on BSDS300
with the photos' own a*b* downsampled it was worse than bilinear at every
radius and epsilon tried, and drew halos of its own (tools/
guided_filter_check.py has the numbers and the crops).

Every op is a core op with dynamic shapes (gathers at the four neighbours),
so it traces into the SavedModel for any image size.
"""

from typing import Tuple

import tensorflow as tf

# Chosen with tools/guided_filter_check.py (sigmas 4 to 24, BSDS300): the
# L* difference (of 100) at which a neighbour's weight falls to exp(-1/2).
SIGMA = 12.0
# Added to each range weight so that the weights never all underflow to 0
# (a small sigma and an L* difference near 100): then the result is
# bilinear, not 0 / 0.
_RANGE_FLOOR = 1e-30


def _taps(full_size: tf.Tensor, low_size: tf.Tensor
          ) -> Tuple[Tuple[tf.Tensor, tf.Tensor], Tuple[tf.Tensor, tf.Tensor]]:
  """Bilinear's two neighbours along one axis, as tf.image.resize has them.

  Half-pixel centres: output pixel i sits at (i + 0.5) * low / full - 0.5 in
  low-resolution pixels; beyond the border both neighbours are the edge
  pixel.

  Returns:
    ((lower index, its weight), (upper index, its weight)), each [full].
  """
  centres = ((tf.range(full_size, dtype=tf.float32) + 0.5) *
             tf.cast(low_size, tf.float32) / tf.cast(full_size, tf.float32) -
             0.5)
  lower = tf.floor(centres)
  fraction = centres - lower
  lower_index = tf.cast(lower, tf.int32)
  return ((tf.clip_by_value(lower_index, 0, low_size - 1), 1.0 - fraction),
          (tf.clip_by_value(lower_index + 1, 0, low_size - 1), fraction))


def joint_bilateral_upsample(guide_full: tf.Tensor, guide_low: tf.Tensor,
                             source_low: tf.Tensor,
                             sigma: float) -> tf.Tensor:
  """Upsamples source_low to guide_full's size, following guide_full's edges.

  Args:
    guide_full: float32 [B, H, W, 1].
    guide_low: float32 [B, h, w, 1], guide_full downsampled, same units.
    source_low: float32 [B, h, w, C].
    sigma: the guide difference at which a neighbour's weight falls to
      exp(-1/2); a very large sigma gives tf.image.resize's bilinear.

  Returns:
    float32 [B, H, W, C].

  Raises:
    ValueError: for a sigma that is not positive.
  """
  if sigma <= 0:
    raise ValueError(f"joint_bilateral_upsample: sigma must be > 0, got "
                     f"{sigma}.")
  guide_full = tf.cast(guide_full, tf.float32)
  guide_low = tf.cast(guide_low, tf.float32)
  source_low = tf.cast(source_low, tf.float32)
  row_taps = _taps(tf.shape(guide_full)[1], tf.shape(guide_low)[1])
  col_taps = _taps(tf.shape(guide_full)[2], tf.shape(guide_low)[2])
  numerator, denominator = 0.0, 0.0
  for rows, row_weights in row_taps:
    guide_rows = tf.gather(guide_low, rows, axis=1)  # [B, H, w, 1]
    source_rows = tf.gather(source_low, rows, axis=1)  # [B, H, w, C]
    for cols, col_weights in col_taps:
      difference = guide_full - tf.gather(guide_rows, cols, axis=2)
      range_weight = tf.exp(tf.square(difference) * (-0.5 / sigma ** 2))
      weight = (row_weights[:, None, None] * col_weights[None, :, None] *
                (range_weight + _RANGE_FLOOR))  # [B, H, W, 1]
      numerator += weight * tf.gather(source_rows, cols, axis=2)
      denominator += weight
  return numerator / denominator  # [B, H, W, C]


def upsample_ab(l_star: tf.Tensor, l_render: tf.Tensor, ab_render: tf.Tensor,
                sigma: float = SIGMA) -> tf.Tensor:
  """The network's a*b* at the photo's size, following its full-size L*.

  Args:
    l_star: float32 [B, H, W, 1], L* in [0, 100] at full size.
    l_render: float32 [B, S, S, 1], the L* the network saw (l_star resized).
    ab_render: float32 [B, S, S, 2], its a*b*.
    sigma: in L* units.

  Returns:
    float32 [B, H, W, 2], a*b* not yet gamut-clamped.
  """
  return joint_bilateral_upsample(l_star, l_render, ab_render, sigma)
