"""Tests for tools.guided_filter against brute-force NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from tools import guided_filter


def _numpy_box_mean(image: np.ndarray, radius: int) -> np.ndarray:
  """[H, W, C]: the mean over each clipped window, one pixel at a time."""
  height, width = image.shape[:2]
  out = np.empty(image.shape, np.float64)
  for row in range(height):
    for col in range(width):
      window = image[max(0, row - radius):row + radius + 1,
                     max(0, col - radius):col + radius + 1]
      out[row, col] = window.mean(axis=(0, 1))
  return out


def _numpy_guided_filter(guide, source, radius, epsilon):
  """He et al. 2010, Algorithm 1, as written there."""
  box = lambda image: _numpy_box_mean(image, radius)
  mean_guide, mean_source = box(guide), box(source)
  variance = box(guide * guide) - mean_guide ** 2
  covariance = box(guide * source) - mean_guide * mean_source
  a = covariance / (variance + epsilon)
  b = mean_source - a * mean_guide
  return box(a) * guide + box(b)


@pytest.mark.parametrize("height, width, radius", [
    (7, 9, 1), (8, 5, 2), (1, 1, 3), (3, 2, 5), (16, 16, 0), (2, 11, 4)])
def test_box_mean_matches_brute_force(height, width, radius):
  image = np.random.RandomState(height * width).rand(2, height, width, 3)
  expected = np.stack([_numpy_box_mean(one, radius) for one in image])
  np.testing.assert_allclose(
      guided_filter.box_mean(tf.constant(image), radius).numpy(), expected,
      atol=1e-12)


def test_box_mean_in_a_function_with_unknown_shapes_and_tensor_radius():
  box_mean = tf.function(guided_filter.box_mean, input_signature=[
      tf.TensorSpec([None, None, None, None], tf.float64),
      tf.TensorSpec([], tf.int32)])
  for height, width, radius in ((5, 13, 2), (1, 4, 6)):
    image = np.random.RandomState(width).rand(1, height, width, 2)
    np.testing.assert_allclose(
        box_mean(tf.constant(image), tf.constant(radius)).numpy()[0],
        _numpy_box_mean(image[0], radius), atol=1e-12)


def test_box_mean_refuses_bad_arguments():
  with pytest.raises(ValueError, match="radius must be >= 0"):
    guided_filter.box_mean(tf.zeros([1, 2, 2, 1]), -1)
  with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
    guided_filter.box_mean(tf.zeros([2, 2, 1]), 1)


@pytest.mark.parametrize("height, width, radius, epsilon", [
    (12, 17, 2, 1e-3), (9, 6, 1, 1e-2), (3, 4, 5, 1e-4), (1, 1, 1, 1e-3)])
def test_guided_filter_matches_numpy_reference(height, width, radius,
                                               epsilon):
  rng = np.random.RandomState(height + width)
  guide = rng.rand(height, width, 1)
  source = rng.rand(height, width, 2) + guide  # Correlated with the guide.
  expected = _numpy_guided_filter(guide, source, radius, epsilon)
  filtered = guided_filter.guided_filter(guide[None], source[None], radius,
                                         epsilon)
  np.testing.assert_allclose(filtered.numpy()[0], expected, atol=1e-5)


def test_constant_images():
  # A constant source stays constant whatever the guide.
  guide = tf.random.stateless_uniform([1, 10, 14, 1], seed=[1, 2])
  constant = tf.fill([1, 10, 14, 2], 7.0)
  np.testing.assert_allclose(
      guided_filter.guided_filter(guide, constant, 2, 1e-3).numpy(), 7.0,
      atol=1e-5)
  # A constant guide has no edges: the output is the box-smoothed source.
  source = tf.random.stateless_uniform([1, 10, 14, 2], seed=[3, 4],
                                       dtype=tf.float64)
  expected = guided_filter.box_mean(guided_filter.box_mean(source, 2), 2)
  np.testing.assert_allclose(
      guided_filter.guided_filter(tf.fill([1, 10, 14, 1], 0.5), source, 2,
                                  1e-3).numpy(), expected.numpy(), atol=1e-5)


def test_guided_upsample_at_the_same_size_is_the_guided_filter():
  guide = tf.random.stateless_uniform([2, 9, 11, 1], seed=[5, 6])
  source = tf.random.stateless_uniform([2, 9, 11, 2], seed=[7, 8])
  np.testing.assert_allclose(
      guided_filter.guided_upsample(guide, guide, source, 2, 1e-3).numpy(),
      guided_filter.guided_filter(guide, source, 2, 1e-3).numpy(), atol=1e-5)


@pytest.mark.parametrize("full, low", [((1, 1), (4, 4)), ((3, 5), (1, 1)),
                                       ((37, 101), (8, 8)), ((6, 6), (2, 3))])
def test_upsample_ab_any_size_in_a_function(full, low):
  upsample = tf.function(guided_filter.upsample_ab, input_signature=[
      tf.TensorSpec([None, None, None, 1], tf.float32)] * 2 + [
          tf.TensorSpec([None, None, None, 2], tf.float32)])
  l_star = tf.random.stateless_uniform([1, *full, 1], seed=[1, 1],
                                       maxval=100.0)
  l_low = tf.image.resize(l_star, low, antialias=True)
  ab_low = tf.random.stateless_uniform([1, *low, 2], seed=[2, 2],
                                       minval=-50.0, maxval=50.0)
  ab = upsample(l_star, l_low, ab_low).numpy()
  assert ab.shape == (1, *full, 2) and np.isfinite(ab).all()
