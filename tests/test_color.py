"""Lab conversion against the CIE formulas, eagerly and inside tf.data."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from colorizer import color

# Independent NumPy implementation of IEC 61966-2-1 sRGB and CIE 1976 L*a*b*
# (D65, 2 degree observer), written from the standards, not from tfio.
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def cie_rgb_to_lab(rgb):
  rgb = np.asarray(rgb, np.float64)
  linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
  xyz = linear @ _SRGB_TO_XYZ.T / _D65
  epsilon, kappa = 216 / 24389, 24389 / 27
  f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
  return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                   200 * (f[..., 1] - f[..., 2])], axis=-1)


def _in_tf_data(fn, values):
  dataset = tf.data.Dataset.from_tensor_slices(values).map(
      fn, num_parallel_calls=tf.data.AUTOTUNE).batch(len(values))
  return next(iter(dataset)).numpy()


@pytest.mark.parametrize("mode", ["eager", "tf_data"])
def test_white_black_and_primaries_match_cie(mode):
  rgb = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                  [0.5, 0.5, 0.5]], np.float32)
  lab = (color.rgb_to_lab(rgb).numpy() if mode == "eager"
         else _in_tf_data(color.rgb_to_lab, rgb))
  # White: L* = 100, a* = b* = 0; black: 0, 0, 0.
  np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.02)
  np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.02)
  # Published sRGB primaries (D65): red, green, blue.
  np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)
  np.testing.assert_allclose(lab[3], [87.73, -86.18, 83.18], atol=0.05)
  np.testing.assert_allclose(lab[4], [32.30, 79.19, -107.86], atol=0.05)
  # Every gray is neutral.
  np.testing.assert_allclose(lab[5, 1:], [0, 0], atol=0.02)
  np.testing.assert_allclose(lab, cie_rgb_to_lab(rgb), atol=0.05)


@pytest.mark.parametrize("mode", ["eager", "tf_data"])
def test_random_colors_match_cie_and_round_trip(mode):
  rgb = np.random.RandomState(0).rand(500, 3).astype(np.float32)
  to_lab = color.rgb_to_lab
  round_trip = lambda x: color.lab_to_rgb(color.rgb_to_lab(x))
  if mode == "eager":
    lab, back = to_lab(rgb).numpy(), round_trip(rgb).numpy()
  else:
    lab, back = _in_tf_data(to_lab, rgb), _in_tf_data(round_trip, rgb)
  np.testing.assert_allclose(lab, cie_rgb_to_lab(rgb), atol=0.05)
  np.testing.assert_allclose(back, rgb, atol=2e-4)


def test_eager_and_tf_data_agree_on_images():
  rgb = np.random.RandomState(1).rand(2, 8, 8, 3).astype(np.float32)
  eager = color.rgb_to_model_inputs(rgb)
  in_data = _in_tf_data(lambda x: tf.concat(color.rgb_to_model_inputs(x), -1),
                        rgb)
  np.testing.assert_allclose(tf.concat(eager, -1).numpy(), in_data, atol=1e-5)


def test_normalization_is_exactly_inverted_and_in_range():
  rgb = np.random.RandomState(2).rand(1000, 3).astype(np.float32)
  l_norm, ab_norm = color.rgb_to_model_inputs(rgb)
  assert -1.0 <= l_norm.numpy().min() and l_norm.numpy().max() <= 1.0
  assert np.abs(ab_norm.numpy()).max() <= 1.0
  lab = color.rgb_to_lab(rgb).numpy()
  np.testing.assert_allclose(color.denormalize_l(l_norm).numpy(), lab[:, :1],
                             atol=1e-4)
  np.testing.assert_allclose(color.denormalize_ab(ab_norm).numpy(),
                             lab[:, 1:], atol=1e-4)
  np.testing.assert_allclose(
      color.model_outputs_to_rgb(l_norm, ab_norm).numpy(), rgb, atol=2e-4)
  # The sRGB gamut's extreme a*b* fit inside AB_SCALE.
  extremes = cie_rgb_to_lab(np.array([[0, 1, 0], [0, 0, 1], [1, 0, 1.0]]))
  assert np.abs(extremes[:, 1:]).max() < color.AB_SCALE


def test_gray_baseline_is_neutral():
  l_norm = tf.linspace(-1.0, 1.0, 11)[:, None]
  lab = color.rgb_to_lab(color.gray_rgb(l_norm)).numpy()
  np.testing.assert_allclose(lab[:, 1:], 0.0, atol=0.05)


def test_uint8_conversions_round_and_saturate():
  values = tf.constant([[-0.2, 0.5, 1.3]])
  np.testing.assert_array_equal(color.rgb_float_to_uint8(values).numpy(),
                                [[0, 128, 255]])
  np.testing.assert_allclose(color.rgb_uint8_to_float(
      tf.constant([[0, 255, 51]], tf.uint8)).numpy(), [[0, 1, 0.2]])
  with pytest.raises(ValueError, match="float RGB"):
    color.rgb_to_lab(tf.constant([[0, 255, 51]], tf.uint8))


def test_linear_rgb_matches_tfio_and_marks_gamut():
  rgb = np.random.RandomState(3).rand(200, 3).astype(np.float32)
  lab = color.rgb_to_lab(rgb)
  linear = color.lab_to_linear_rgb(lab).numpy()
  expected_linear = np.where(rgb <= 0.04045, rgb / 12.92,
                             ((rgb + 0.055) / 1.055) ** 2.4)
  np.testing.assert_allclose(linear, expected_linear, atol=2e-4)
  assert color.in_srgb_gamut(lab).numpy().all()
  # Saturated green at low lightness does not exist in sRGB.
  assert not color.in_srgb_gamut([[20.0, -100.0, 80.0]]).numpy().any()


def test_clamp_ab_keeps_in_gamut_colors_and_fixes_the_rest():
  rng = np.random.RandomState(4)
  l_star = rng.uniform(0, 100, (2000, 1)).astype(np.float32)
  ab = rng.uniform(-110, 110, (2000, 2)).astype(np.float32)
  clamped = color.clamp_ab_to_gamut(l_star, ab).numpy()
  lab = np.concatenate([l_star, clamped], -1)
  assert color.in_srgb_gamut(lab).numpy().all()
  # Hue is kept: the clamped a*b* is a non-negative multiple of the input.
  factor = np.sum(clamped * ab, -1) / np.sum(ab * ab, -1)
  assert (factor >= 0).all() and (factor <= 1 + 1e-6).all()
  np.testing.assert_allclose(clamped, ab * factor[:, None], atol=1e-3)
  was_inside = color.in_srgb_gamut(np.concatenate([l_star, ab], -1)).numpy()
  assert was_inside.any() and not was_inside.all()
  np.testing.assert_allclose(clamped[was_inside], ab[was_inside])
  # After clamping, sRGB keeps the input's L* (no channel clipping) to well
  # under one 8-bit step (about 0.4 L*); the float32 gamut tolerance remains.
  rgb = color.lab_to_rgb(lab)
  np.testing.assert_allclose(color.rgb_to_lab(rgb).numpy()[:, 0], l_star[:, 0],
                             atol=0.1)


def test_importing_tfio_prints_no_undefined_symbol_warning():
  code = ("from colorizer import color; import tensorflow as tf; "
          "print(color.rgb_to_lab(tf.ones([1, 3])).numpy())")
  result = subprocess.run(
      [sys.executable, "-c", code], capture_output=True, text=True,
      timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)),
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr
  assert "1.0000000e+02" in result.stdout
  assert "undefined symbol" not in result.stderr
  assert "libtensorflow_io" not in result.stderr


def test_the_warning_filter_is_narrow():
  import re  # pylint: disable=g-import-not-at-top
  pattern = re.compile(color._TFIO_PLUGIN_WARNING)  # pylint: disable=protected-access
  assert pattern.match("unable to load libtensorflow_io_plugins.so: ...\n"
                       "caused by: ['...so: undefined symbol: _ZN3tsl5mutex']")
  assert not pattern.match("rgb_to_lab is deprecated")


@pytest.mark.parametrize("mode", ["eager", "tf_data"])
def test_l_star_from_uint8_matches_the_full_conversion(mode):
  gray_levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, -1)
  colors = np.random.RandomState(5).randint(0, 256, (2000, 3)).astype(
      np.uint8)
  rgb_uint8 = np.concatenate([gray_levels, colors])
  l_star = (color.l_star_from_rgb_uint8(rgb_uint8).numpy() if mode == "eager"
            else _in_tf_data(color.l_star_from_rgb_uint8, rgb_uint8))
  expected = color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[:, :1]
  np.testing.assert_allclose(l_star, expected.numpy(), atol=1e-3)
  np.testing.assert_allclose(l_star[:, 0], cie_rgb_to_lab(rgb_uint8 / 255.0)[
      :, 0], atol=0.05)


def test_linear_rgb_to_uint8_rounds_as_the_srgb_formula():
  linear = np.concatenate([np.linspace(-0.1, 1.1, 20001),
                           np.random.RandomState(6).rand(5000)])
  encoded = np.where(linear > 0.0031308,
                     1.055 * np.maximum(linear, 0) ** (1 / 2.4) - 0.055,
                     12.92 * linear)
  expected = np.round(np.clip(encoded, 0, 1) * 255)
  got = color.linear_rgb_to_uint8(
      np.repeat(linear[:, None], 3, -1).astype(np.float32)).numpy()[:, 0]
  # float32 against float64 may round a value within 1e-4 of a half step
  # the other way.
  assert np.abs(got.astype(int) - expected).max() <= 1
  assert np.mean(got == expected) > 0.999


def _former_clamp(l_star, ab, iterations=12):
  """The gamut clamp as it was: a 12-step bisection, in float64 NumPy."""
  def in_gamut(l_values, ab_values):
    fy = (l_values + 16.0) / 116.0
    f = np.concatenate([fy + ab_values[:, :1] / 500.0, fy,
                        fy - ab_values[:, 1:] / 200.0], -1)
    xyz = np.where(f > 0.2068966, f ** 3, (f - 16.0 / 116.0) / 7.787) * _D65
    linear = xyz @ np.array(color._XYZ_TO_LINEAR_RGB).T  # pylint: disable=protected-access
    return np.all((linear >= -1e-4) & (linear <= 1 + 1e-4), -1)
  l_star, ab = np.asarray(l_star, np.float64), np.asarray(ab, np.float64)
  low, high = np.zeros(len(ab)), np.ones(len(ab))
  outside = ~in_gamut(l_star, ab)
  for _ in range(iterations):
    middle = (low + high) / 2
    fits = in_gamut(l_star, ab * middle[:, None])
    low, high = np.where(fits, middle, low), np.where(fits, high, middle)
  return np.where(outside[:, None], ab * low[:, None], ab)


def test_faster_clamp_matches_the_former_one():
  rng = np.random.RandomState(7)
  l_star = rng.uniform(0, 100, (5000, 1)).astype(np.float32)
  ab = rng.uniform(-110, 110, (5000, 2)).astype(np.float32)
  clamped = color.clamp_ab_to_gamut(l_star, ab).numpy()
  former = _former_clamp(l_star, ab)
  # Ten bisection steps instead of twelve: the chroma factor to 2**-10
  # instead of 2**-12, below the former result (both are in gamut).
  chroma = np.linalg.norm(ab, axis=-1)
  difference = np.linalg.norm(clamped - former, axis=-1)
  assert (difference <= chroma * (2.0 ** -10 + 2.0 ** -12) + 1e-3).all()
  assert difference.mean() < 0.05


def test_fused_lab_to_rgb_uint8_matches_clamp_then_convert():
  rng = np.random.RandomState(8)
  l_star = rng.uniform(0, 100, (3, 40, 50, 1)).astype(np.float32)
  ab = rng.uniform(-110, 110, (3, 40, 50, 2)).astype(np.float32)
  three_steps = color.rgb_float_to_uint8(color.lab_to_rgb(
      tf.concat([l_star, color.clamp_ab_to_gamut(l_star, ab)], -1))).numpy()
  fused = tf.function(color.lab_to_rgb_uint8_in_gamut)(l_star, ab).numpy()
  assert fused.shape == (3, 40, 50, 3) and fused.dtype == np.uint8
  difference = np.abs(fused.astype(int) - three_steps.astype(int))
  assert difference.max() <= 1 and np.mean(difference == 0) > 0.99


def test_differentiable_rgb_matches_lab_to_rgb_with_finite_gradients():
  rng = np.random.RandomState(0)
  l_normalized = tf.constant(rng.uniform(-1, 1, [2, 6, 6, 1]), tf.float32)
  # Within the gamut both conversions agree (they clip differently outside).
  l_inside = tf.constant(rng.uniform(-0.5, 0.5, [2, 6, 6, 1]), tf.float32)
  ab_inside = tf.constant(rng.uniform(-0.15, 0.15, [2, 6, 6, 2]), tf.float32)
  np.testing.assert_allclose(
      color.model_outputs_to_rgb_differentiable(l_inside, ab_inside).numpy(),
      color.model_outputs_to_rgb(l_inside, ab_inside).numpy(), atol=2e-3)
  # Up to the normalized range's edge: many colors out of the sRGB gamut.
  ab_normalized = tf.Variable(rng.uniform(-1, 1, [2, 6, 6, 2]), dtype=tf.float32)
  with tf.GradientTape() as tape:
    rgb = color.model_outputs_to_rgb_differentiable(l_normalized,
                                                    ab_normalized)
    total = tf.reduce_sum(rgb)
  assert 0.0 <= float(tf.reduce_min(rgb)) <= float(tf.reduce_max(rgb)) <= 1.0
  gradient = tape.gradient(total, ab_normalized).numpy()
  assert np.all(np.isfinite(gradient)) and np.abs(gradient).max() > 0
