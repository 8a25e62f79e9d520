"""Generator and discriminator: shapes, parameter counts, init, depth rules."""

import numpy as np
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.model import blocks
from colorizer.model import networks


def test_reference_configuration_sizes():
  config = presets.pix2pix()  # 256 px, base 64.
  generator = networks.build_generator(config)
  discriminator = networks.build_discriminator(config)
  # The pix2pix U-Net with 1 input and 2 output channels: about 54 M.
  assert networks.count_params(generator) == 54_409_858
  assert networks.count_params(discriminator) == 2_765_633
  assert networks.receptive_field(config.model.disc_layers) == 70
  ab = generator(np.zeros([1, 256, 256, 1], np.float32), training=False)
  assert ab.shape == (1, 256, 256, 2)
  logits = discriminator([np.zeros([1, 256, 256, 1], np.float32), ab.numpy()],
                         training=False)
  assert logits.shape == (1, 30, 30, 1)


def test_unet_structure_follows_pix2pix():
  generator = networks.build_generator(presets.pix2pix())
  names = [layer.name for layer in generator.layers]
  assert sum(name.endswith("_conv") and name.startswith("down")
             for name in names) == 8
  assert [n for n in names if n.endswith("_dropout")] == [
      "up0_dropout", "up1_dropout", "up2_dropout"]
  assert "down0_bn" not in names and "down1_bn" in names
  assert generator.get_layer("down1_lrelu").negative_slope == pytest.approx(
      0.2)
  assert generator.get_layer("ab_normalized").activation.__name__ == "tanh"
  kernel = generator.get_layer("down3_conv").kernel.numpy()
  assert abs(kernel.mean()) < 1e-3
  assert kernel.std() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("image_size,base,expected_output", [
    (32, 8, (2, 32, 32, 2)), (64, 4, (2, 64, 64, 2)), (96, 4, (2, 96, 96, 2))])
def test_small_generators_are_fully_convolutional(tiny_config, image_size, base,
                                                 expected_output):
  config = tiny_config.replace(data={"image_size": image_size},
                                     model={"base_filters": base})
  generator = networks.build_generator(config)
  l_channel = np.random.RandomState(0).uniform(-1, 1, [2, image_size,
                                                       image_size, 1])
  ab = generator(l_channel.astype(np.float32), training=False).numpy()
  assert ab.shape == expected_output
  assert np.abs(ab).max() <= 1.0
  # The same weights run at twice the size (the export's render size).
  bigger = generator(np.zeros([1, 2 * image_size, 2 * image_size, 1],
                              np.float32), training=False)
  assert bigger.shape == (1, 2 * image_size, 2 * image_size, 2)


def test_tiny_discriminator_shapes_and_param_count(tiny_config):
  config = tiny_config
  discriminator = networks.build_discriminator(config)
  logits = discriminator([np.zeros([3, 32, 32, 1], np.float32),
                          np.zeros([3, 32, 32, 2], np.float32)],
                         training=False)
  assert logits.shape == (3, 2, 2, 1)
  # 8-16-32 filters, then 32 (the tiny config caps at 32), then 1; 4x4
  # kernels; biases only without BatchNorm, BatchNorm has gamma and beta.
  expected = (4 * 4 * 3 * 8 + 8) + (4 * 4 * 8 * 16 + 2 * 16) + (
      4 * 4 * 16 * 32 + 2 * 32) + (4 * 4 * 32 * 32 + 2 * 32) + (
          4 * 4 * 32 * 1 + 1)
  assert networks.count_params(discriminator) == expected


def test_unet_depth_is_derived_and_validated():
  assert blocks.unet_depth(256) == 8
  assert blocks.unet_depth(32) == 5
  assert blocks.unet_depth(96) == 5
  assert blocks.unet_depth(512) == 8
  assert blocks.unet_depth(256, 6) == 6
  with pytest.raises(ValueError, match="--unet_depth=6.*divisible by 64"):
    blocks.unet_depth(96, 6)
  with pytest.raises(ValueError, match="--image_size=100"):
    blocks.unet_depth(100)
  assert blocks.level_filters(64, 0, 8) == [64, 128, 256, 512, 512, 512, 512,
                                            512]
  assert blocks.level_filters(16, 64, 4) == [16, 32, 64, 64]


def test_test_time_flip_averages_the_image_and_its_mirror(tiny_config):
  generator = networks.build_generator(tiny_config, seed=1)
  l_channel = tf.random.stateless_uniform([2, 32, 32, 1], seed=[1, 2],
                                          minval=-1.0, maxval=1.0)
  mirror = lambda images: tf.reverse(images, axis=[2])
  plain = networks.inference_fn(generator)
  flipped = networks.inference_fn(generator, test_time_flip=True)
  expected = (generator(l_channel, training=False) +
              mirror(generator(mirror(l_channel), training=False))) / 2
  np.testing.assert_allclose(flipped(l_channel), expected, atol=1e-6)
  np.testing.assert_allclose(plain(l_channel),
                             generator(l_channel, training=False))
  # Averaging both views makes the prediction mirror-symmetric, which a
  # (random) network alone is not.
  np.testing.assert_allclose(flipped(mirror(l_channel)),
                             mirror(flipped(l_channel)), atol=1e-6)
  asymmetry = np.abs(plain(mirror(l_channel)) - mirror(plain(l_channel)))
  assert asymmetry.max() > 1e-3
