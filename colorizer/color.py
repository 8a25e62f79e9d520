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


# The same D65 white and XYZ -> linear sRGB matrix as tensorflow-io uses, so
# lab_to_linear_rgb(lab) clipped and gamma-encoded equals lab_to_rgb(lab).
_D65_WHITE = (0.95047, 1.0, 1.08883)
_XYZ_TO_LINEAR_RGB = (
    (3.24048134, -1.53715152, -0.49853633),
    (-0.96925495, 1.87599, 0.04155593),
    (0.05564664, -0.20404134, 1.05731107),
)
# Linear sRGB within this much of [0, 1] counts as in gamut: float32 noise.
_GAMUT_TOLERANCE = 1e-4


def lab_to_linear_rgb(lab: tf.Tensor) -> tf.Tensor:
  """CIE L*a*b* (D65) -> linear sRGB, NOT clipped (out of gamut shows).

  Args:
    lab: float32 [..., 3].

  Returns:
    float32 [..., 3]; every channel in [0, 1] iff the color is in the sRGB
    gamut.
  """
  lab = tf.convert_to_tensor(lab, tf.float32)
  l_star, a_star, b_star = lab[..., 0], lab[..., 1], lab[..., 2]
  fy = (l_star + 16.0) / 116.0
  f = tf.stack([fy + a_star / 500.0, fy, fy - b_star / 200.0], axis=-1)
  xyz = tf.where(f > 0.2068966, tf.pow(f, 3.0), (f - 16.0 / 116.0) / 7.787)
  xyz = xyz * tf.constant(_D65_WHITE, tf.float32)
  return tf.tensordot(xyz, tf.transpose(tf.constant(_XYZ_TO_LINEAR_RGB,
                                                    tf.float32)), axes=1)


def in_srgb_gamut(lab: tf.Tensor) -> tf.Tensor:
  """bool [...]: whether each L*a*b* color has an exact sRGB value."""
  linear = lab_to_linear_rgb(lab)
  return tf.reduce_all((linear >= -_GAMUT_TOLERANCE) &
                       (linear <= 1.0 + _GAMUT_TOLERANCE), axis=-1)


def clamp_ab_to_gamut(l_star: tf.Tensor, ab: tf.Tensor,
                      iterations: int = 12) -> tf.Tensor:
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
  l_star = tf.clip_by_value(tf.cast(l_star, tf.float32), 0.0, 100.0)
  ab = tf.cast(ab, tf.float32)
  ab_shape = tf.shape(ab)
  l_flat = tf.reshape(l_star, [-1, 1])  # [N, 1]
  ab_flat = tf.reshape(ab, [-1, 2])  # [N, 2]
  outside = tf.where(~in_srgb_gamut(tf.concat([l_flat, ab_flat], -1)))  # [M,1]
  l_outside = tf.gather_nd(l_flat, outside)  # [M, 1]
  ab_outside = tf.gather_nd(ab_flat, outside)  # [M, 2]
  fits = lambda factor: in_srgb_gamut(
      tf.concat([l_outside, ab_outside * factor], -1))[..., None]
  low = tf.zeros_like(l_outside)  # In gamut: a gray.
  high = tf.ones_like(l_outside)  # Out of gamut: the prediction.
  for _ in range(iterations):
    middle = 0.5 * (low + high)
    ok = fits(middle)
    low = tf.where(ok, middle, low)
    high = tf.where(ok, high, middle)
  ab_fixed = tf.tensor_scatter_nd_update(ab_flat, outside, ab_outside * low)
  return tf.reshape(ab_fixed, ab_shape)
