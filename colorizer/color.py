"""sRGB <-> CIE L*a*b* conversion and the model's normalization.

The conversions are tensorflow-io's pure-Python ops
(`tfio.experimental.color.rgb_to_lab` / `lab_to_rgb`, D65, 2 degree observer).
They are plain TensorFlow ops, so they run eagerly, inside `tf.data`, under
XLA, and trace into a SavedModel that needs no tensorflow-io to load.

Normalization (one documented constant each):
  l_normalized  = L* / 50 - 1          L* in [0, 100]      -> [-1, 1]
  ab_normalized = a*b* / AB_SCALE      a*b* in [-110, 110] -> [-1, 1]
AB_SCALE = 110 covers the sRGB gamut (a* in [-86, 98], b* in [-108, 95]) so
the generator's tanh never has to saturate to reach a real color.
"""

import functools
import warnings

import numpy as np
import tensorflow as tf

L_SCALE = 50.0
L_OFFSET = 1.0
AB_SCALE = 110.0

# tensorflow-io 0.37.1 ships compiled plugins built against an older TF; under
# TF 2.21 they fail to load with an "undefined symbol" error that it reports as
# a UserWarning. We use none of those plugins, only the pure-Python color ops,
# so that one warning (and nothing else) is silenced.
_TFIO_PLUGIN_WARNING = r"(?s).*undefined symbol"


@functools.lru_cache(maxsize=None)
def _tfio_color():
  """Imports tensorflow-io's color module once, without its plugin warning."""
  with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=_TFIO_PLUGIN_WARNING, category=UserWarning,
        module=r"tensorflow_io\.")
    import tensorflow_io as tfio  # pylint: disable=g-import-not-at-top
  return tfio.experimental.color


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
  """Converts sRGB to CIE L*a*b* (D65).

  Args:
    rgb: float [..., 3] sRGB (gamma-encoded) in [0, 1].

  Returns:
    float [..., 3]: L* in [0, 100], a* and b* roughly in [-110, 110].
  """
  rgb = tf.convert_to_tensor(rgb)
  if rgb.dtype not in (tf.float16, tf.float32, tf.float64):
    raise ValueError(f"rgb_to_lab expects float RGB in [0, 1], got "
                     f"{rgb.dtype.name}; use rgb_uint8_to_float first.")
  return _tfio_color().rgb_to_lab(rgb)


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
  """Converts CIE L*a*b* (D65) to sRGB, clipped to [0, 1].

  Args:
    lab: float [..., 3], L* in [0, 100].

  Returns:
    float [..., 3] sRGB in [0, 1].
  """
  return _tfio_color().lab_to_rgb(tf.convert_to_tensor(lab))


def rgb_uint8_to_float(rgb_uint8: tf.Tensor) -> tf.Tensor:
  """uint8 [..., 3] in [0, 255] -> float32 in [0, 1]."""
  return tf.cast(rgb_uint8, tf.float32) / 255.0


def rgb_float_to_uint8(rgb: tf.Tensor) -> tf.Tensor:
  """float [..., 3] in [0, 1] -> uint8, rounded and saturated."""
  return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)


def normalize_l(l_channel: tf.Tensor) -> tf.Tensor:
  """L* in [0, 100] -> [-1, 1]."""
  return l_channel / L_SCALE - L_OFFSET


def denormalize_l(l_normalized: tf.Tensor) -> tf.Tensor:
  """[-1, 1] -> L* in [0, 100]; the exact inverse of normalize_l."""
  return (l_normalized + L_OFFSET) * L_SCALE


def normalize_ab(ab: tf.Tensor) -> tf.Tensor:
  """a*b* -> a*b* / AB_SCALE, in [-1, 1] for every sRGB color."""
  return ab / AB_SCALE


def denormalize_ab(ab_normalized: tf.Tensor) -> tf.Tensor:
  """The exact inverse of normalize_ab."""
  return ab_normalized * AB_SCALE


# Mean a*b* chroma below which an image counts as having no color (a JND is
# about 2.3): black-and-white photos in color datasets (about 1.5% of
# CIFAR-10), whose JPEG chroma is exactly 0.
GRAYSCALE_CHROMA = 1.0


def has_color(ab: tf.Tensor) -> tf.Tensor:
  """Whether an image's a*b* ([..., H, W, 2], a*b* units) has any color.

  Returns a bool scalar: mean chroma sqrt(a*^2 + b*^2) >= GRAYSCALE_CHROMA.
  """
  chroma = tf.norm(tf.cast(ab, tf.float32), axis=-1)
  return tf.reduce_mean(chroma) >= GRAYSCALE_CHROMA


def rgb_to_model_inputs(rgb: tf.Tensor):
  """Splits sRGB into the model's normalized input and target.

  Args:
    rgb: float [..., H, W, 3] sRGB in [0, 1].

  Returns:
    (l_normalized [..., H, W, 1], ab_normalized [..., H, W, 2]).
  """
  lab = rgb_to_lab(rgb)
  return normalize_l(lab[..., :1]), normalize_ab(lab[..., 1:])


def model_outputs_to_rgb(l_normalized: tf.Tensor,
                         ab_normalized: tf.Tensor) -> tf.Tensor:
  """Joins normalized L* and a*b* back into sRGB in [0, 1].

  Args:
    l_normalized: float [..., H, W, 1] in [-1, 1].
    ab_normalized: float [..., H, W, 2] in [-1, 1].

  Returns:
    float [..., H, W, 3] sRGB in [0, 1].
  """
  lab = tf.concat([denormalize_l(tf.cast(l_normalized, tf.float32)),
                   denormalize_ab(tf.cast(ab_normalized, tf.float32))], axis=-1)
  return lab_to_rgb(lab)


def gray_rgb(l_normalized: tf.Tensor) -> tf.Tensor:
  """The grayscale baseline (a* = b* = 0) as sRGB in [0, 1]."""
  return model_outputs_to_rgb(l_normalized, tf.zeros_like(
      tf.concat([l_normalized, l_normalized], axis=-1)))


# The same D65 white and matrices as tensorflow-io uses, so the 8-bit paths
# below (l_star_from_rgb_uint8, lab_to_rgb_uint8_in_gamut) agree with
# rgb_to_lab and lab_to_rgb.
_D65_WHITE = (0.95047, 1.0, 1.08883)
_XYZ_TO_LINEAR_RGB = (
    (3.24048134, -1.53715152, -0.49853633),
    (-0.96925495, 1.87599, 0.04155593),
    (0.05564664, -0.20404134, 1.05731107),
)
_LINEAR_RGB_TO_Y = (0.212671, 0.715160, 0.072169)
# Rows X, Y, Z -> linear R, G, B with the white point folded in.
_XYZ_TO_RGB_ROWS = (np.array(_XYZ_TO_LINEAR_RGB).T *
                    np.array(_D65_WHITE)[:, None]).astype(np.float32)
# CIE f: a cube above this (6/29), a line below; and Y's threshold (6/29)^3.
_F_KNEE = 0.2068966
_Y_KNEE = 0.008856
# Linear sRGB within this much of [0, 1] counts as in gamut: float32 noise.
_GAMUT_TOLERANCE = 1e-4
# Bisection steps of the gamut clamp: the chroma factor to 2**-10, at most
# 0.11 of the largest chroma (110), well under one 8-bit sRGB step. Against
# the former twelve steps, outputs move by at most one level for a sixth
# less work on photos with many out-of-gamut pixels; with eight (0.43) the
# channel nearest 0, where sRGB is steepest, moved by up to 6 levels.
CLAMP_ITERATIONS = 10


def _srgb_decode(values: np.ndarray) -> np.ndarray:
  """IEC 61966-2-1 gamma-encoded sRGB in [0, 1] -> linear, float64."""
  return np.where(values > 0.04045, ((values + 0.055) / 1.055) ** 2.4,
                  values / 12.92)


@functools.lru_cache(maxsize=None)
def _decode_table() -> np.ndarray:
  """float32 [256]: the linear value of each 8-bit sRGB level."""
  return _srgb_decode(np.arange(256) / 255.0).astype(np.float32)


def l_star_from_rgb_uint8(rgb_uint8: tf.Tensor) -> tf.Tensor:
  """L* of 8-bit sRGB: rgb_to_lab(rgb_uint8_to_float(rgb_uint8))[..., :1].

  Only L* is computed, from a 256-entry table of linear values: about a
  fifth of the passes over the image of the full conversion.

  Args:
    rgb_uint8: uint8 [..., 3].

  Returns:
    float32 [..., 1], L* in [0, 100].
  """
  linear = tf.gather(tf.constant(_decode_table()),
                     tf.cast(rgb_uint8, tf.int32))  # [..., 3]
  y = tf.tensordot(linear, tf.constant(_LINEAR_RGB_TO_Y)[:, None],
                   axes=1)  # [..., 1]
  # exp(log(y) / 3) is the cube root (TF's pow with a fractional exponent
  # is several times slower); the line below the knee is CIE's.
  return tf.where(y > _Y_KNEE, 116.0 * tf.exp(tf.math.log(y) / 3.0) - 16.0,
                  (116.0 * 7.787) * y)


def _f_inverse(f: tf.Tensor) -> tf.Tensor:
  """CIE f^-1: the cube above _F_KNEE, a line below (tensorflow-io's)."""
  return tf.where(f > _F_KNEE, f * f * f, (f - 16.0 / 116.0) / 7.787)


def _linear_rgb(l_star: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
  """L* [..., 1] and a*b* [..., 2] -> linear sRGB [..., 3], not clipped.

  L* and a*b* stay apart (joining and slicing them would each cost a pass):
  X and Z come from a*b* through one [2, 3] matrix, Y from L*, with the
  white point folded into the matrices.
  """
  fy = (l_star + 16.0) / 116.0  # [..., 1]
  fx_fz = fy + ab * tf.constant([1.0 / 500.0, -1.0 / 200.0])  # [..., 2]
  return (tf.tensordot(_f_inverse(fx_fz), _XYZ_TO_RGB_ROWS[[0, 2]], axes=1) +
          _f_inverse(fy) * _XYZ_TO_RGB_ROWS[1])


def lab_to_linear_rgb(lab: tf.Tensor) -> tf.Tensor:
  """CIE L*a*b* (D65) -> linear sRGB, NOT clipped (out of gamut shows).

  Args:
    lab: float32 [..., 3].

  Returns:
    float32 [..., 3]; every channel in [0, 1] iff the color is in the sRGB
    gamut.
  """
  lab = tf.convert_to_tensor(lab, tf.float32)
  return _linear_rgb(lab[..., :1], lab[..., 1:])


def _linear_in_gamut(linear: tf.Tensor) -> tf.Tensor:
  """bool [...] from linear sRGB [..., 3]: every channel in [0, 1]."""
  return ((tf.reduce_min(linear, axis=-1) >= -_GAMUT_TOLERANCE) &
          (tf.reduce_max(linear, axis=-1) <= 1.0 + _GAMUT_TOLERANCE))


def in_srgb_gamut(lab: tf.Tensor) -> tf.Tensor:
  """bool [...]: whether each L*a*b* color has an exact sRGB value."""
  return _linear_in_gamut(lab_to_linear_rgb(lab))


def _chroma_factor(l_star: tf.Tensor, ab: tf.Tensor,
                   iterations: int) -> tf.Tensor:
  """The largest k in [0, 1] (to 2**-iterations) with (L*, k a*b*) in gamut.

  Args:
    l_star: float32 [M, 1], L* in [0, 100].
    ab: float32 [M, 2], colors outside the gamut.
    iterations: bisection steps.

  Returns:
    float32 [M, 1]; (L*, k a*b*) is in gamut.
  """
  # Y does not depend on k: its share of linear RGB is found once.
  xz_to_rgb = tf.constant(_XYZ_TO_RGB_ROWS[[0, 2]])  # [2, 3]
  fy = (l_star + 16.0) / 116.0  # [M, 1]
  y_share = _f_inverse(fy) * _XYZ_TO_RGB_ROWS[1]  # [M, 3]
  ab_step = ab * tf.constant([1.0 / 500.0, -1.0 / 200.0])  # [M, 2]
  # The bracket [low, low + width] starts at [0, 1] (a gray is in gamut, the
  # prediction is not) and halves each step, so only low needs keeping.
  low = tf.zeros_like(l_star)
  width = 1.0
  for _ in range(iterations):
    width /= 2.0
    middle = low + width
    linear = tf.matmul(_f_inverse(fy + middle * ab_step), xz_to_rgb) + y_share
    low = tf.where(_linear_in_gamut(linear)[:, None], middle, low)  # [M, 1]
  return low


def _flat_lab(l_star: tf.Tensor, ab: tf.Tensor):
  """(L* [N, 1] clipped to [0, 100], a*b* [N, 2]): float32, flattened."""
  l_star = tf.clip_by_value(tf.cast(l_star, tf.float32), 0.0, 100.0)
  return tf.reshape(l_star, [-1, 1]), tf.reshape(tf.cast(ab, tf.float32),
                                                 [-1, 2])


def _clamp_flat(l_flat: tf.Tensor, ab_flat: tf.Tensor, linear_flat: tf.Tensor,
                iterations: int):
  """The out-of-gamut pixels of flat [N, ...] tensors and their fixed a*b*.

  Returns:
    (outside, ab_fixed): int64 [M, 1] indices of the pixels whose
    linear_flat is out of gamut, and their clamped a*b* [M, 2].
  """
  outside = tf.where(~_linear_in_gamut(linear_flat))  # [M, 1]
  ab_outside = tf.gather_nd(ab_flat, outside)  # [M, 2]
  factor = _chroma_factor(tf.gather_nd(l_flat, outside), ab_outside,
                          iterations)
  return outside, ab_outside * factor


def clamp_ab_to_gamut(l_star: tf.Tensor, ab: tf.Tensor,
                      iterations: int = CLAMP_ITERATIONS) -> tf.Tensor:
  """Scales each pixel's chroma down, hue and L* kept, until it is in gamut.

  A bisection on the chroma factor k in [0, 1]: (L*, k a*, k b*) is in the
  sRGB gamut at k = 0 (a gray) for any L* in [0, 100], so the largest k that
  is in gamut is found to 2**-iterations. Colors already in gamut are kept,
  and only the pixels outside it are bisected (usually a small share of a
  photo: this keeps a 6-megapixel image to a fraction of a second).
  Without this, lab_to_rgb clips channels independently, which shifts hue and
  lightness (the output's L* would no longer be the input's).

  Args:
    l_star: float32 [..., 1], L* in [0, 100].
    ab: float32 [..., 2], a*b* (not normalized).
    iterations: bisection steps.

  Returns:
    float32 [..., 2].
  """
  l_flat, ab_flat = _flat_lab(l_star, ab)
  outside, ab_fixed = _clamp_flat(l_flat, ab_flat, _linear_rgb(l_flat, ab_flat),
                                  iterations)
  return tf.reshape(tf.tensor_scatter_nd_update(ab_flat, outside, ab_fixed),
                    tf.shape(ab))


def encode_srgb(linear: tf.Tensor) -> tf.Tensor:
  """Linear sRGB [..., 3] -> gamma-encoded sRGB in [0, 1], clipped first.

  The power is exp(log(.)), several times faster than TF's pow with a
  fractional exponent, and its gradient is finite everywhere (tfio's
  lab_to_rgb gives NaN gradients for out-of-gamut colors).
  """
  linear = tf.clip_by_value(linear, 0.0, 1.0)
  # The floor keeps log away from 0 in the branch tf.where discards.
  power = tf.exp(tf.math.log(tf.maximum(linear, 0.0031308)) / 2.4)
  return tf.where(linear > 0.0031308, 1.055 * power - 0.055, 12.92 * linear)


def linear_rgb_to_uint8(linear: tf.Tensor) -> tf.Tensor:
  """Linear sRGB [..., 3] -> gamma-encoded uint8, clipped to [0, 1] first."""
  return tf.cast(tf.round(encode_srgb(linear) * 255.0), tf.uint8)


def model_outputs_to_rgb_differentiable(l_normalized: tf.Tensor,
                                        ab_normalized: tf.Tensor
                                        ) -> tf.Tensor:
  """model_outputs_to_rgb with finite gradients, for losses on RGB.

  Args:
    l_normalized: float [..., H, W, 1] in [-1, 1].
    ab_normalized: float [..., H, W, 2] in [-1, 1].

  Returns:
    float32 [..., H, W, 3] sRGB in [0, 1] (out-of-gamut colors clipped per
    channel, as lab_to_rgb does).
  """
  l_star = tf.clip_by_value(denormalize_l(tf.cast(l_normalized, tf.float32)),
                            0.0, 100.0)
  return encode_srgb(_linear_rgb(
      l_star, denormalize_ab(tf.cast(ab_normalized, tf.float32))))


def lab_to_rgb_uint8_in_gamut(l_star: tf.Tensor, ab: tf.Tensor,
                              iterations: int = CLAMP_ITERATIONS) -> tf.Tensor:
  """rgb_float_to_uint8(lab_to_rgb(L*, clamp_ab_to_gamut(L*, a*b*))), fused.

  Linear sRGB is computed once for the gamut test and the output, and only
  the out-of-gamut pixels are computed again: the serving graph's path from
  L*a*b* to 8-bit sRGB.

  Args:
    l_star: float32 [..., 1], L* in [0, 100].
    ab: float32 [..., 2], a*b* (not normalized, not yet clamped).
    iterations: bisection steps of the clamp.

  Returns:
    uint8 [..., 3].
  """
  l_flat, ab_flat = _flat_lab(l_star, ab)
  linear_flat = _linear_rgb(l_flat, ab_flat)  # [N, 3]
  outside, ab_fixed = _clamp_flat(l_flat, ab_flat, linear_flat, iterations)
  linear_flat = tf.tensor_scatter_nd_update(
      linear_flat, outside,
      _linear_rgb(tf.gather_nd(l_flat, outside), ab_fixed))
  rgb_shape = tf.concat([tf.shape(ab)[:-1], [3]], axis=0)
  return tf.reshape(linear_rgb_to_uint8(linear_flat), rgb_shape)
