"""a*b* classification: bins, soft encoding, rebalancing, decode, loss.

The pure functions of colorizer.model.ab_classes; the class head in
training, export and evaluate is tested in test_class_head.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from colorizer import color
from colorizer.model import ab_classes


def test_bins_cover_every_srgb_color_on_a_10_unit_grid():
  centers = ab_classes.bin_centers()
  assert centers.shape == (ab_classes.num_classes(), 2)
  assert 250 <= len(centers) <= 320  # Zhang et al. count 313.
  np.testing.assert_array_equal(centers % 10, 0)
  assert [0.0, 0.0] in centers.tolist()
  # Random sRGB colors, not the sampling cube: each lies within half a grid
  # square (in both a* and b*) of some class center.
  rgb = np.random.RandomState(0).uniform(0, 1, (20000, 3)).astype(np.float32)
  ab = color.rgb_to_lab(tf.constant(rgb)).numpy()[:, 1:]
  gap = np.abs(ab[:, None, :] - centers[None]).max(-1).min(-1)
  assert gap.max() <= 5.0 + 1e-3


def test_soft_encoding_puts_gaussian_mass_on_the_five_nearest_centers():
  centers = ab_classes.bin_centers()
  ab = tf.constant([[[3.0, -2.0]], [[40.0, 41.0]], [[0.0, 0.0]]])  # [3,1,2]
  targets, nearest = ab_classes.soft_encode(ab)
  targets = targets.numpy()
  np.testing.assert_allclose(targets.sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_array_equal((targets > 0).sum(-1), 5)
  for row, pixel in enumerate(ab.numpy().reshape(-1, 2)):
    squared = ((centers - pixel) ** 2).sum(-1)
    order = np.argsort(squared)[:5]
    expected = np.exp(-squared[order] / (2 * 5.0 ** 2))
    np.testing.assert_allclose(targets[row, order],
                               expected / expected.sum(), rtol=1e-4)
    assert nearest.numpy()[row] == order[0]


def test_rebalancing_favours_rare_colors_and_keeps_the_mean_weight_one():
  counts = np.zeros(ab_classes.num_classes())
  centers = ab_classes.bin_centers()
  gray = int(np.argmin((centers ** 2).sum(-1)))
  blue = int(np.argmin(((centers - [20, -60]) ** 2).sum(-1)))
  counts[gray], counts[blue] = 1000, 10
  weights = ab_classes.rebalancing_weights(counts, mix=0.5)
  assert weights[blue] > 5 * weights[gray]
  # The weights' expectation under the smoothed prior is 1: recompute it.
  squared = ((centers[:, None] - centers[None]) ** 2).sum(-1)
  prior = np.exp(-squared / 50.0) @ (counts / counts.sum())
  prior /= prior.sum()
  assert np.isclose((prior * weights).sum(), 1.0, rtol=1e-4)
  np.testing.assert_allclose(
      ab_classes.rebalancing_weights(counts, mix=1.0), 1.0, rtol=1e-5)
  with pytest.raises(ValueError, match="mix"):
    ab_classes.rebalancing_weights(counts, mix=1.5)
  with pytest.raises(ValueError, match="No pixels"):
    ab_classes.rebalancing_weights(np.zeros_like(counts))


def test_annealed_mean_runs_from_the_mean_to_the_mode():
  centers = ab_classes.bin_centers()
  rng = np.random.RandomState(1)
  logits = rng.normal(0, 2, (1, 2, 3, len(centers))).astype(np.float32)
  probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  mean = ab_classes.AnnealedMeanDecode(temperature=1.0)(logits).numpy()
  np.testing.assert_allclose(mean * color.AB_SCALE, probabilities @ centers,
                             atol=1e-3)
  mode = ab_classes.AnnealedMeanDecode(temperature=0.01)(logits).numpy()
  np.testing.assert_allclose(mode * color.AB_SCALE,
                             centers[logits.argmax(-1)], atol=1e-2)
  # Lower temperatures give more saturated a*b* on average.
  chroma = [np.linalg.norm(ab_classes.AnnealedMeanDecode(t)(logits), axis=-1)
            .mean() for t in (1.0, 0.38, 0.1)]
  assert chroma[0] < chroma[1] < chroma[2]
  with pytest.raises(ValueError, match="positive"):
    ab_classes.AnnealedMeanDecode(temperature=0.0)


def test_saturation_spreads_colors_about_the_image_mean():
  centers = ab_classes.bin_centers()
  rng = np.random.RandomState(2)
  logits = rng.normal(0, 1, (2, 4, 5, len(centers))).astype(np.float32)
  decoded = ab_classes.AnnealedMeanDecode(temperature=1.0)(logits).numpy()
  spread = ab_classes.AnnealedMeanDecode(
      temperature=1.0, saturation=1.5)(logits).numpy()
  # Each image keeps its own mean a*b*; each pixel's offset grows 1.5x.
  mean = decoded.mean(axis=(1, 2), keepdims=True)  # [2, 1, 1, 2]
  assert not np.allclose(mean[0], mean[1], atol=1e-3)
  np.testing.assert_allclose(spread.mean(axis=(1, 2), keepdims=True), mean,
                             atol=1e-6)
  np.testing.assert_allclose(spread - mean, 1.5 * (decoded - mean),
                             atol=1e-6)
  # Far from the mean the result stays in the normalized a*b* range.
  wide = ab_classes.AnnealedMeanDecode(
      temperature=0.01, saturation=50.0)(logits).numpy()
  assert np.abs(wide).max() == pytest.approx(1.0)
  layer = ab_classes.AnnealedMeanDecode(saturation=1.5)
  assert ab_classes.AnnealedMeanDecode.from_config(
      layer.get_config()).saturation == 1.5
  with pytest.raises(ValueError, match="--decode_saturation=0.0"):
    ab_classes.AnnealedMeanDecode(saturation=0.0)


def test_cross_entropy_is_weighted_and_least_at_the_targets():
  ab_real = tf.constant([[[[0.2, -0.3], [0.0, 0.5]]]])  # [1, 1, 2, 2]
  targets, nearest = ab_classes.soft_encode(color.denormalize_ab(ab_real))
  ones = tf.ones([ab_classes.num_classes()])
  exact = tf.reshape(tf.math.log(targets + 1e-12), [1, 1, 2, -1])
  best = ab_classes.cross_entropy_per_example(exact, ab_real, ones)
  entropy = -np.sum(targets.numpy() * np.log(targets.numpy() + 1e-12), -1)
  np.testing.assert_allclose(best.numpy(), [entropy.mean()], rtol=1e-4)
  uniform = ab_classes.cross_entropy_per_example(tf.zeros_like(exact),
                                                 ab_real, ones)
  assert float(uniform[0]) == pytest.approx(np.log(ab_classes.num_classes()),
                                            rel=1e-4)
  doubled = ab_classes.cross_entropy_per_example(
      tf.zeros_like(exact), ab_real,
      tf.tensor_scatter_nd_update(ones, nearest[:1, None], [3.0]))
  assert float(doubled[0]) == pytest.approx(np.log(len(ones)) * 2, rel=1e-4)
