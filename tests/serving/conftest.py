"""Fixtures shared by the export tests: one vivid tiny generator, exported.

One untrained tiny generator is exported once per test process. Its last
layer is scaled up so that it predicts vivid a*b*, many of them outside the
sRGB gamut: that makes the gamut clamp and the L*-preservation checks bite,
which a freshly initialized (nearly gray) generator would not.
"""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export

MODEL_NAME = "demo"
# The tiny config trains at 32 px with a 5-level U-Net: render sizes are
# multiples of 32.
RENDER_SIZE = 32
# Served a*b* vs in-process: graph and eager float32 can flip the gamut
# clamp's last bisection step (2**-12 of a chroma up to about 110, 0.03).
AB_ATOL = 0.05


def vivid_generator(config):
  generator = networks.build_generator(config, seed=3)
  layer = generator.get_layer("ab_deconv")
  kernel, bias = layer.get_weights()
  layer.set_weights([kernel * 100.0, bias])
  return generator


def encode(image: Image.Image, image_format: str, **options) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=image_format, **options)
  return buffer.getvalue()


def pattern_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
  """Smooth gradients plus noise: every lightness, some saturated colors."""
  rows, cols = np.mgrid[0:height, 0:width]
  noise = np.random.RandomState(seed).randint(0, 40, (height, width, 3))
  rgb = np.stack([cols * 255 // max(width - 1, 1),
                  rows * 255 // max(height - 1, 1),
                  (rows + cols) * 127 // max(height + width - 2, 1)], -1)
  return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def decode_png(png_bytes: bytes) -> np.ndarray:
  image = Image.open(io.BytesIO(png_bytes))
  assert image.format == "PNG" and image.mode == "RGB"
  return np.asarray(image)


@pytest.fixture(scope="session")
def config():
  return presets.tiny()


@pytest.fixture(scope="session")
def generator(config):
  return vivid_generator(config)


@pytest.fixture(scope="session")
def generator_fn(generator):
  return lambda l_normalized: generator(l_normalized, training=False)


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("savedmodels"))


@pytest.fixture(scope="session")
def version_dir(generator, config, base_dir):
  return export.export(generator, config, base_dir, MODEL_NAME, step=2)


@pytest.fixture(scope="session")
def loaded(version_dir):
  return tf.saved_model.load(version_dir)


def serve(loaded, images, **inputs):
  signature = loaded.signatures[export.RENDER_SIZE_SIGNATURE if inputs
                                else export.SERVING_SIGNATURE]
  outputs = signature(image_bytes=tf.constant(images), **inputs)
  return [value.numpy() for value in outputs[export.OUTPUT_BYTES]]
