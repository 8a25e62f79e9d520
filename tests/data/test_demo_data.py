"""Tests for the procedural demo dataset in colorizer.data.demo_data."""

import numpy as np
import pytest
import tensorflow as tf

from colorizer.data import demo_data

IMAGE_SIZE = 32
# Building a dataset traces the renderer (about a second of CPU), so the tests
# share one sample dataset instead of each building their own.
SAMPLE_SEED = 3
SAMPLE_START_INDEX = 5
SAMPLE_COUNT = 16


def srgb_to_lab(rgb_uint8):
  """Converts sRGB uint8 pixels to CIE L*a*b* (D65 white), in float64.

  Written out here rather than imported so the colourfulness checks do not
  depend on the project's own colour conversion code.
  """
  srgb = np.asarray(rgb_uint8, dtype=np.float64) / 255.0
  linear = np.where(srgb <= 0.04045, srgb / 12.92,
                    ((srgb + 0.055) / 1.055)**2.4)
  rgb_to_xyz = np.array([
      [0.4124564, 0.3575761, 0.1804375],
      [0.2126729, 0.7151522, 0.0721750],
      [0.0193339, 0.1191920, 0.9503041],
  ])
  d65_white = np.array([0.95047, 1.0, 1.08883])
  xyz = linear @ rgb_to_xyz.T / d65_white
  delta = 6.0 / 29.0
  f = np.where(xyz > delta**3, np.cbrt(xyz),
               xyz / (3.0 * delta**2) + 4.0 / 29.0)
  lightness = 116.0 * f[..., 1] - 16.0
  a_star = 500.0 * (f[..., 0] - f[..., 1])
  b_star = 200.0 * (f[..., 1] - f[..., 2])
  return np.stack([lightness, a_star, b_star], axis=-1)


@pytest.fixture(scope="module")
def sample_scenes():
  """SAMPLE_COUNT scenes from `make_dataset`, as a uint8 numpy array."""
  dataset = demo_data.make_dataset(SAMPLE_COUNT, IMAGE_SIZE, seed=SAMPLE_SEED,
                                   start_index=SAMPLE_START_INDEX)
  return np.stack(list(dataset.as_numpy_iterator()))


def test_lab_conversion_reference_values():
  lab = srgb_to_lab([[255, 255, 255], [0, 0, 0], [255, 0, 0]])
  np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=0.01)
  np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=0.01)
  np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)


def test_render_scene_shape_and_dtype():
  image = demo_data.render_scene(0, IMAGE_SIZE)
  assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
  assert image.dtype == tf.uint8


def test_render_scene_is_deterministic():
  first = demo_data.render_scene(7, IMAGE_SIZE).numpy()
  again = demo_data.render_scene(tf.constant(7, tf.int64), IMAGE_SIZE).numpy()
  other_index = demo_data.render_scene(8, IMAGE_SIZE).numpy()
  other_seed = demo_data.render_scene(7, IMAGE_SIZE, seed=1).numpy()
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other_index)
  assert not np.array_equal(first, other_seed)


def test_dataset_matches_eager_and_tf_function_rendering(sample_scenes):
  assert sample_scenes.shape == (SAMPLE_COUNT, IMAGE_SIZE, IMAGE_SIZE, 3)
  assert sample_scenes.dtype == np.uint8
  render_in_graph = tf.function(
      lambda index: demo_data.render_scene(index, IMAGE_SIZE, SAMPLE_SEED))
  for offset in (0, 1, SAMPLE_COUNT - 1):
    index = SAMPLE_START_INDEX + offset
    eager = demo_data.render_scene(index, IMAGE_SIZE, SAMPLE_SEED).numpy()
    graph = render_in_graph(tf.constant(index, tf.int64)).numpy()
    np.testing.assert_array_equal(sample_scenes[offset], eager)
    np.testing.assert_array_equal(sample_scenes[offset], graph)


def test_scenes_are_distinct(sample_scenes):
  flat = sample_scenes.reshape(len(sample_scenes), -1)
  assert len({row.tobytes() for row in flat}) == len(sample_scenes)


def test_scenes_are_colourful(sample_scenes):
  lab = srgb_to_lab(sample_scenes)
  chroma = np.hypot(lab[..., 1], lab[..., 2])
  # Measured: ~43 on average over 200 scenes, no scene below ~23.
  assert chroma.mean() > 25.0
  assert chroma.mean(axis=(1, 2)).min() > 10.0


def test_colour_follows_layout(sample_scenes):
  """Sky on top is blue/purple (b* < 0); the meadow at the bottom is green."""
  lab = srgb_to_lab(sample_scenes)
  band = IMAGE_SIZE // 10
  assert lab[:, :band, :, 2].mean() < -10.0
  assert lab[:, -band:, :, 1].mean() < -10.0


def test_scenes_are_not_flat(sample_scenes):
  pixels = sample_scenes.reshape(len(sample_scenes), -1, 3)
  assert pixels.std(axis=1).mean(axis=1).min() > 10.0


def test_train_and_val_are_disjoint():
  train_ds, val_ds = demo_data.train_and_val(IMAGE_SIZE)
  assert int(train_ds.cardinality()) == demo_data.DEMO_TRAIN_SIZE == 20000
  assert int(val_ds.cardinality()) == demo_data.DEMO_VAL_SIZE == 500
  # Train uses [0, 20000), val [VAL_START, VAL_START + 500): no overlap.
  assert demo_data.DEMO_VAL_START_INDEX >= demo_data.DEMO_TRAIN_SIZE
  first_train = next(iter(train_ds)).numpy()
  first_val = next(iter(val_ds)).numpy()
  np.testing.assert_array_equal(
      first_train, demo_data.render_scene(0, IMAGE_SIZE).numpy())
  np.testing.assert_array_equal(
      first_val,
      demo_data.render_scene(demo_data.DEMO_VAL_START_INDEX,
                             IMAGE_SIZE).numpy())


@pytest.mark.parametrize("image_size", [16, 128])
def test_other_image_sizes(image_size):
  image = demo_data.render_scene(2, image_size).numpy()
  assert image.shape == (image_size, image_size, 3)
  assert image.dtype == np.uint8
  assert image.std() > 10.0
