"""Tests for colorizer.serving.joint_bilateral, and the edge it is for."""

import numpy as np
import pytest
import tensorflow as tf

from tools import guided_filter
from colorizer.serving import joint_bilateral


def _numpy_taps(full: int, low: int, index: int):
  """tf.image.resize's bilinear neighbours of one output index."""
  centre = (index + 0.5) * low / full - 0.5
  lower = int(np.floor(centre))
  fraction = centre - lower
  return [(min(max(lower, 0), low - 1), 1.0 - fraction),
          (min(max(lower + 1, 0), low - 1), fraction)]


def _numpy_joint_bilateral(guide_full, guide_low, source_low, sigma):
  """[H, W, C] from [H, W, 1], [h, w, 1], [h, w, C], one pixel at a time."""
  height, width = guide_full.shape[:2]
  low_height, low_width = guide_low.shape[:2]
  out = np.zeros((height, width, source_low.shape[-1]))
  for row in range(height):
    for col in range(width):
      total, weights = 0.0, 0.0
      for low_row, row_weight in _numpy_taps(height, low_height, row):
        for low_col, col_weight in _numpy_taps(width, low_width, col):
          difference = guide_full[row, col, 0] - guide_low[low_row, low_col, 0]
          weight = row_weight * col_weight * np.exp(
              -difference ** 2 / (2 * sigma ** 2))
          total = total + weight * source_low[low_row, low_col]
          weights += weight
      out[row, col] = total / weights
  return out


@pytest.mark.parametrize("full, low, sigma", [
    ((13, 21), (4, 5), 12.0), ((8, 8), (8, 8), 5.0), ((5, 3), (2, 7), 20.0),
    ((1, 1), (3, 3), 12.0), ((6, 9), (1, 1), 12.0)])
def test_matches_numpy_reference(full, low, sigma):
  rng = np.random.RandomState(full[0] * low[1])
  guide_full = rng.uniform(0, 100, (*full, 1))
  guide_low = rng.uniform(0, 100, (*low, 1))
  source_low = rng.uniform(-60, 60, (*low, 2))
  upsampled = joint_bilateral.joint_bilateral_upsample(
      guide_full[None].astype(np.float32), guide_low[None].astype(np.float32),
      source_low[None].astype(np.float32), sigma)
  np.testing.assert_allclose(
      upsampled.numpy()[0],
      _numpy_joint_bilateral(guide_full, guide_low, source_low, sigma),
      atol=1e-3)


@pytest.mark.parametrize("full, low", [((37, 101), (8, 8)), ((4, 4), (9, 5)),
                                       ((1, 1), (1, 1)), ((64, 48), (16, 16))])
def test_a_flat_guide_gives_bilinear(full, low):
  source_low = tf.random.stateless_uniform([2, *low, 2], seed=[1, 2],
                                           minval=-50.0, maxval=50.0)
  upsampled = joint_bilateral.joint_bilateral_upsample(
      tf.fill([2, *full, 1], 40.0), tf.fill([2, *low, 1], 40.0), source_low,
      joint_bilateral.SIGMA)
  np.testing.assert_allclose(upsampled.numpy(),
                             tf.image.resize(source_low, full).numpy(),
                             atol=1e-4)


def test_constant_colors_stay_constant_and_nothing_divides_by_zero():
  guide_full = tf.random.stateless_uniform([1, 20, 30, 1], seed=[3, 4],
                                           maxval=100.0)
  guide_low = tf.image.resize(guide_full, [5, 5], antialias=True)
  # A sigma so small that every range weight underflows to 0.
  for sigma in (joint_bilateral.SIGMA, 0.01):
    upsampled = joint_bilateral.joint_bilateral_upsample(
        guide_full, guide_low, tf.fill([1, 5, 5, 2], -12.5), sigma)
    np.testing.assert_allclose(upsampled.numpy(), -12.5, atol=1e-4)


def test_runs_in_a_function_with_unknown_shapes():
  upsample = tf.function(joint_bilateral.upsample_ab, input_signature=[
      tf.TensorSpec([None, None, None, 1], tf.float32)] * 2 + [
          tf.TensorSpec([None, None, None, 2], tf.float32)])
  for full, low in (((33, 17), (8, 8)), ((2, 3), (8, 8))):
    l_star = tf.random.stateless_uniform([1, *full, 1], seed=[5, 6],
                                         maxval=100.0)
    ab_low = tf.random.stateless_uniform([1, *low, 2], seed=[7, 8],
                                         minval=-40.0, maxval=40.0)
    ab = upsample(l_star, tf.image.resize(l_star, low, antialias=True),
                  ab_low)
    np.testing.assert_allclose(
        ab.numpy(),
        joint_bilateral.upsample_ab(
            l_star, tf.image.resize(l_star, low, antialias=True),
            ab_low).numpy(), atol=1e-5)


def test_sigma_must_be_positive():
  with pytest.raises(ValueError, match="sigma must be > 0"):
    joint_bilateral.joint_bilateral_upsample(
        tf.zeros([1, 2, 2, 1]), tf.zeros([1, 1, 1, 1]),
        tf.zeros([1, 1, 1, 2]), 0.0)


def test_a_step_edge_bleeds_less_than_bilinear():
  # Dark red on the left, light blue on the right, the edge at column 29 of
  # 64: between the low-resolution pixels (8 columns each), so the
  # low-resolution pixel that straddles it holds a mix of both colors.
  size, edge, low = 64, 29, 8
  left = np.arange(size) < edge
  l_star = np.where(left, 30.0, 80.0)[None, :].repeat(size, 0)[None, ..., None]
  ab_true = np.where(left[:, None], [[40.0, 20.0]], [[-30.0, -40.0]])
  ab_true = np.broadcast_to(ab_true[None, None], (1, size, size, 2))
  l_star = tf.constant(l_star, tf.float32)
  l_low = tf.image.resize(l_star, [low, low], antialias=True)
  ab_low = tf.image.resize(tf.constant(ab_true, tf.float32), [low, low],
                           antialias=True)
  bleed = lambda ab: float(np.abs(ab.numpy() - ab_true)[
      :, :, edge - low:edge + low].mean())  # Within a render pixel of it.
  bilinear = bleed(tf.image.resize(ab_low, [size, size]))
  joint = bleed(joint_bilateral.upsample_ab(l_star, l_low, ab_low))
  guided = bleed(guided_filter.upsample_ab(l_star, l_low, ab_low))
  assert joint < 0.5 * bilinear, (joint, bilinear)
  assert guided < bilinear, (guided, bilinear)
  # Far from the edge all three give the flat color back.
  far = np.abs(joint_bilateral.upsample_ab(l_star, l_low, ab_low).numpy() -
               ab_true)[:, :, :edge - 2 * low]
  assert far.max() < 1e-3
