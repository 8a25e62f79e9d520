"""Fuzzing the image readers with hypothesis: malformed bytes crash nothing.

Three entry points, each fed random bytes, bytes behind a real magic number,
and small valid images (tests/bad_inputs.small_seed_images) with bits flipped,
bytes overwritten or inserted, or the end cut off:

  (a) colorizer.data.image_io.read_rgb: an image or ImageReadError, nothing else;
  (b) the folder pipeline (image_sources._decode_paths under tf.data) and the
      encoded bytes path (image_sources.decode_encoded with ignore_errors):
      every file either becomes a batch-ready pair or is skipped;
  (c) the exported serving signature: a PNG or InvalidArgumentError.

Bounded in time and memory: inputs of at most a few KB, pixel limits of
MAX_PIXELS, a fixed number of examples per test (about 30 s in all on two
cores), and no example database written into the repository.
"""

import os
import tempfile
import warnings

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.data import image_header
from colorizer.data import image_io
from colorizer.data import image_sources
from colorizer.data import pipeline
from colorizer.model import networks
from colorizer.serving import export
from tests import bad_inputs

# Larger images are refused by every reader under test, so that a mutated
# header can never make one allocate more than a few MB.
MAX_PIXELS = 64 * 64
SEEDS = bad_inputs.small_seed_images()
MAGIC_PREFIXES = (
    image_header.PNG_MAGIC, image_header.JPEG_MAGIC, b"GIF89a", b"BM",
    b"RIFF\x00\x01\x00\x00WEBPVP8 ", b"RIFF\x00\x01\x00\x00WEBPVP8L",
    b"RIFF\x00\x01\x00\x00WEBPVP8X", b"II*\x00", b"\xff\x0a")
FUZZ_SETTINGS = dict(deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_images(draw):
  """A seed image with bits flipped, bytes replaced or inserted, or cut."""
  image_bytes = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
  kind = draw(st.sampled_from(["flip", "overwrite", "insert", "truncate"]))
  position = st.integers(0, len(image_bytes) - 1)
  if kind == "flip":
    for index in draw(st.lists(position, min_size=1, max_size=8)):
      image_bytes[index] ^= 1 << draw(st.integers(0, 7))
  elif kind == "overwrite":
    index = draw(position)
    replacement = draw(st.binary(min_size=1, max_size=8))
    image_bytes[index:index + len(replacement)] = replacement
  elif kind == "insert":
    index = draw(position)
    image_bytes[index:index] = draw(st.binary(min_size=1, max_size=16))
  else:
    del image_bytes[draw(position):]
  return bytes(image_bytes)


FUZZED_BYTES = st.one_of(
    mutated_images(),
    st.binary(max_size=2048),
    st.builds(lambda magic, rest: magic + rest,
              st.sampled_from(MAGIC_PREFIXES), st.binary(max_size=512)))


# (a) colorizer.data.image_io.read_rgb.


@settings(max_examples=1500, **FUZZ_SETTINGS)
@given(FUZZED_BYTES)
def test_read_rgb_returns_an_image_or_raises_image_read_error(image_bytes):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Pillow warns about odd TIFF tags.
    try:
      rgb_uint8 = image_io.read_rgb(image_bytes, max_pixels=MAX_PIXELS)
    except image_io.ImageReadError as error:
      assert str(error).startswith("<bytes>: ")
      return
  assert rgb_uint8.dtype == np.uint8 and rgb_uint8.ndim == 3
  assert rgb_uint8.shape[-1] == 3
  assert 0 < rgb_uint8.shape[0] * rgb_uint8.shape[1] <= MAX_PIXELS


# (b) The tf.data paths.


def _data_config(**overrides):
  values = dict(image_size=32, train_crop="resize", val_fraction=0.0,
                shuffle_buffer=4, max_image_pixels=MAX_PIXELS)
  values.update(overrides)
  return presets.tiny().data.__class__(**values)


# Pillow warns about odd TIFF tags from tf.data's threads, out of reach of a
# catch_warnings block in the test.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=10, **FUZZ_SETTINGS)
@given(st.lists(FUZZED_BYTES, min_size=2, max_size=10))
def test_folder_pipeline_uses_or_skips_every_fuzzed_file(files):
  with tempfile.TemporaryDirectory() as root:
    for index, image_bytes in enumerate(files):
      extension = image_io.IMAGE_EXTENSIONS[
          index % len(image_io.IMAGE_EXTENSIONS)]
      with open(os.path.join(root, f"fuzz {index}{extension}"), "wb") as f:
        f.write(image_bytes)
    config = _data_config(dataset=f"folder:{root}")
    sources = image_sources.make_sources(config, seed=0)
    pairs = list(sources.train.map(
        lambda rgb_uint8: pipeline.preprocess(rgb_uint8, config, training=False)))
    # Skipped: exactly the files read_rgb refuses, each with its reason.
    refused = {}
    for name in os.listdir(root):
      path = os.path.join(root, name)
      try:
        image_io.read_rgb(path, max_pixels=MAX_PIXELS)
      except image_io.ImageReadError as error:
        refused[path] = str(error)
  assert dict(sources.skipped.items()) == refused
  assert len(pairs) + len(refused) == len(files)
  for l_channel, ab in pairs:
    assert l_channel.shape == (32, 32, 1) and ab.shape == (32, 32, 2)
    assert np.isfinite(l_channel.numpy()).all()
    assert np.isfinite(ab.numpy()).all()


def _declares_at_most(image_bytes: bytes, max_pixels: int) -> bool:
  try:
    height, width = image_header.declared_size(tf.constant(image_bytes))
  except tf.errors.InvalidArgumentError:
    return True  # Broken JPEG markers: decode_image fails on them as well.
  return int(height) * int(width) <= max_pixels


@settings(max_examples=15, **FUZZ_SETTINGS)
@given(st.lists(FUZZED_BYTES, min_size=1, max_size=16))
def test_encoded_bytes_path_drops_what_it_cannot_decode(encoded_images):
  # decode_encoded (the TFRecord and TFDS sources) has no pixel limit of its
  # own: those records were validated when written. Inputs declaring more
  # than MAX_PIXELS are left out here so that a mutated header cannot make
  # the decoder allocate gigabytes; what remains is fuzzed as is.
  encoded_images = [image_bytes for image_bytes in encoded_images
                    if _declares_at_most(image_bytes, MAX_PIXELS)]
  if not encoded_images:
    return
  # Each input decoded on its own, eagerly: an image, or refused.
  decodable = []
  for image_bytes in encoded_images:
    try:
      decodable.append(image_sources.decode_encoded(
          tf.constant(image_bytes)).numpy())
    except tf.errors.InvalidArgumentError:
      pass
  config = _data_config()
  dataset = (tf.data.Dataset.from_tensor_slices(encoded_images)
             .map(image_sources.decode_encoded).ignore_errors()
             .map(lambda rgb_uint8: (rgb_uint8, pipeline.preprocess(
                 rgb_uint8, config, training=False))))
  outputs = list(dataset)
  # Under tf.data exactly the refused inputs are dropped; every other one
  # comes through whole, at its own size, and becomes a pair.
  assert len(outputs) == len(decodable)
  for expected, (rgb_uint8, (l_channel, ab)) in zip(decodable, outputs):
    np.testing.assert_array_equal(rgb_uint8.numpy(), expected)
    assert l_channel.shape == (32, 32, 1) and ab.shape == (32, 32, 2)
    assert np.isfinite(l_channel.numpy()).all()
    assert np.isfinite(ab.numpy()).all()


# (c) The exported serving signature.


@pytest.fixture(scope="module")
def serving_signature(tmp_path_factory):
  config = presets.tiny()
  version_dir = export.export(
      networks.build_generator(config), config,
      str(tmp_path_factory.mktemp("savedmodels")), "fuzz",
      max_pixels=MAX_PIXELS)
  return tf.saved_model.load(version_dir).signatures[export.SERVING_SIGNATURE]


def test_serving_signature_answers_fuzzed_bytes(serving_signature):
  # The signature is a module fixture: hypothesis runs inside this test.
  outcomes = {"colorized": 0, "refused": 0}

  @settings(max_examples=300, **FUZZ_SETTINGS)
  @given(FUZZED_BYTES)
  def serve_one(image_bytes):
    try:
      outputs = serving_signature(**{
          export.INPUT_BYTES: tf.constant([image_bytes])})
    except tf.errors.InvalidArgumentError:
      outcomes["refused"] += 1
      return
    png = outputs[export.OUTPUT_BYTES].numpy()[0]
    height, width = image_header.declared_size(tf.constant(png)).numpy()
    assert 0 < height * width <= MAX_PIXELS
    outcomes["colorized"] += 1

  serve_one()
  # About 1 in 10 mutated images still decodes: both outcomes are exercised.
  assert outcomes["refused"] > 0 and outcomes["colorized"] > 0, outcomes
