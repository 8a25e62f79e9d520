"""Losses against hand-computed values, and reduction over the global batch."""

import math

import numpy as np
import pytest
import tensorflow as tf

from colorizer.model import losses


def bce(logit, label):
  probability = 1 / (1 + math.exp(-logit))
  return -(label * math.log(probability) + (1 - label) * math.log(
      1 - probability))


def test_vanilla_discriminator_loss_by_hand():
  real = tf.constant([2.0, -1.0]).numpy().reshape([2, 1, 1, 1])
  fake = tf.constant([0.5, -3.0]).numpy().reshape([2, 1, 1, 1])
  result = losses.discriminator_loss(real, fake, global_batch_size=2)
  expected_real = (bce(2.0, 1) + bce(-1.0, 1)) / 2
  expected_fake = (bce(0.5, 0) + bce(-3.0, 0)) / 2
  assert float(result["disc_real"]) == pytest.approx(expected_real, rel=1e-5)
  assert float(result["disc_fake"]) == pytest.approx(expected_fake, rel=1e-5)
  assert float(result["disc_total"]) == pytest.approx(
      0.5 * (expected_real + expected_fake), rel=1e-5)


def test_label_smoothing_softens_only_real_targets():
  real = np.full([1, 1, 1, 1], 1.5, np.float32)
  fake = np.full([1, 1, 1, 1], -0.5, np.float32)
  result = losses.discriminator_loss(real, fake, 1, label_smoothing=0.1)
  assert float(result["disc_real"]) == pytest.approx(bce(1.5, 0.9), rel=1e-5)
  assert float(result["disc_fake"]) == pytest.approx(bce(-0.5, 0.0), rel=1e-5)
  with pytest.raises(ValueError, match="label_smoothing"):
    losses.discriminator_loss(real, fake, 1, label_smoothing=1.0)


def test_lsgan_losses_by_hand():
  real = np.array([0.5, 2.0], np.float32).reshape([2, 1, 1, 1])
  fake = np.array([0.25, -1.0], np.float32).reshape([2, 1, 1, 1])
  disc = losses.discriminator_loss(real, fake, 2, gan_loss="lsgan")
  assert float(disc["disc_real"]) == pytest.approx((0.25 + 1.0) / 2)
  assert float(disc["disc_fake"]) == pytest.approx((0.0625 + 1.0) / 2)
  ab = np.zeros([2, 2, 2, 2], np.float32)
  gen = losses.generator_loss(fake, ab, ab, 2, gan_loss="lsgan")
  assert float(gen["gen_gan"]) == pytest.approx((0.5625 + 4.0) / 2)


def test_generator_loss_combines_gan_and_weighted_reconstruction():
  logits = np.zeros([2, 3, 3, 1], np.float32)  # BCE(0, 1) = log 2 per patch.
  ab_real = np.zeros([2, 4, 4, 2], np.float32)
  ab_fake = np.zeros([2, 4, 4, 2], np.float32)
  ab_fake[0, 0, 0, 0] = 0.8  # Example 0: mean |diff| = 0.8 / 32.
  ab_fake[1] = -0.5  # Example 1: mean |diff| = 0.5.
  result = losses.generator_loss(logits, ab_fake, ab_real, 2,
                                 recon_weight=100.0, gan_weight=2.0)
  recon = (0.8 / 32 + 0.5) / 2
  assert float(result["gen_recon"]) == pytest.approx(recon, rel=1e-5)
  assert float(result["gen_gan"]) == pytest.approx(math.log(2), rel=1e-5)
  assert float(result["gen_total"]) == pytest.approx(
      2.0 * math.log(2) + 100.0 * recon, rel=1e-5)
  l2 = losses.generator_loss(None, ab_fake, ab_real, 2, recon_loss="l2")
  assert float(l2["gen_recon"]) == pytest.approx(
      (0.64 / 32 + 0.25) / 2, rel=1e-5)
  assert float(l2["gen_gan"]) == 0.0


def test_patch_logits_reduce_like_per_example_means():
  """The same logits as one 4x4 patch grid or 16 separate patches (TF-GAN)."""
  logits = np.random.RandomState(0).normal(size=[1, 4, 4, 1]).astype(
      np.float32)
  as_grid = losses.adversarial_per_example(logits, 1.0, "vanilla")
  by_hand = np.mean([bce(float(x), 1.0) for x in logits.ravel()])
  assert float(as_grid[0]) == pytest.approx(by_hand, rel=1e-5)


def test_losses_divide_by_the_global_batch_not_the_local_one():
  """Two replicas with half the batch each sum to the single-replica loss."""
  rng = np.random.RandomState(1)
  real, fake = rng.normal(size=[2, 4, 4, 8, 1]).astype(np.float32)
  ab_fake, ab_real = rng.uniform(-1, 1, [2, 8, 8, 8, 2]).astype(np.float32)
  whole = losses.generator_loss(fake, ab_fake, ab_real, global_batch_size=8)
  halves = [losses.generator_loss(fake[i:i + 4], ab_fake[i:i + 4],
                                  ab_real[i:i + 4], global_batch_size=8)
            for i in (0, 4)]
  for name in whole:
    assert float(halves[0][name] + halves[1][name]) == pytest.approx(
        float(whole[name]), rel=1e-5)
  disc_whole = losses.discriminator_loss(real, fake, 8)
  disc_halves = [losses.discriminator_loss(real[i:i + 4], fake[i:i + 4], 8)
                 for i in (0, 4)]
  assert float(disc_halves[0]["disc_total"] + disc_halves[1]["disc_total"]
               ) == pytest.approx(float(disc_whole["disc_total"]), rel=1e-5)


def test_mean_discriminator_output_and_unknown_names():
  logits = np.zeros([2, 2, 2, 1], np.float32)
  assert float(losses.mean_discriminator_output(logits, 2)) == pytest.approx(
      0.5)
  with pytest.raises(ValueError, match="gan_loss"):
    losses.adversarial_per_example(logits, 1.0, "wgan")
  with pytest.raises(ValueError, match="recon_loss"):
    losses.reconstruction_per_example(logits, logits, "l3")


def test_colorfulness_matches_the_numpy_metric_and_has_gradients():
  # pylint: disable=g-import-not-at-top
  from colorizer.evaluation import metrics as metrics_lib
  rng = np.random.RandomState(0)
  rgb = rng.uniform(0, 1, [3, 8, 8, 3]).astype(np.float32)
  rgb[1] = rgb[1].mean(axis=-1, keepdims=True)  # A gray image.
  got = losses.colorfulness_per_example(tf.constant(rgb)).numpy()
  np.testing.assert_allclose(got, metrics_lib.colorfulness(rgb), atol=2e-3)
  assert got[1] < 0.01 < got[0]
  # By hand: a flat pure red image has rg = 255, yb = 127.5, no variance.
  red = np.zeros([1, 4, 4, 3], np.float32)
  red[..., 0] = 1.0
  np.testing.assert_allclose(
      losses.colorfulness_per_example(tf.constant(red)).numpy(),
      [0.3 * np.hypot(255.0, 127.5)], atol=2e-3)
  variable = tf.Variable(rgb)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(losses.colorfulness_loss_per_example(variable))
  gradient = tape.gradient(loss, variable).numpy()
  assert np.all(np.isfinite(gradient)) and np.abs(gradient).max() > 0
  np.testing.assert_allclose(
      losses.colorfulness_loss_per_example(tf.constant(rgb)).numpy(),
      1.0 - got / 100.0, rtol=1e-6)
