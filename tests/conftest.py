"""Shared fixtures: generated images (good and broken), no shared data."""

import glob
import io
import os

import numpy as np
from PIL import Image
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

# Two logical CPU devices, so MirroredStrategy tests run on this machine. This
# must happen before TensorFlow initializes its devices, i.e. before any test
# runs an op; the default strategy still uses /CPU:0 alone.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def summary_events(log_dir):
  """{tag: [(step, value)]} over the event files in log_dir.

  value is the float of a float32 scalar summary, None for anything else
  (images, HParams).
  """
  found = {}
  for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        scalar = (float(tf.make_ndarray(value.tensor))
                  if value.tensor.dtype == tf.float32.as_datatype_enum and
                  not value.tensor.tensor_shape.dim else None)
        found.setdefault(value.tag, []).append((event.step, scalar))
  return found


def random_photo(height, width, seed=0):
  """A smooth, colorful uint8 RGB image (gradients plus noise)."""
  rng = np.random.RandomState(seed)
  rows = np.linspace(0, 1, height)[:, None]
  cols = np.linspace(0, 1, width)[None, :]
  phases = rng.uniform(0, 2 * np.pi, 3)
  channels = [0.5 + 0.4 * np.sin(3 * rows + 2 * cols * (k + 1) + phases[k])
              for k in range(3)]
  rgb = np.stack(channels, -1) + rng.normal(0, 0.03, (height, width, 3))
  return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def encoded(rgb_uint8, image_format, mode=None, **save_args):
  image = Image.fromarray(rgb_uint8)
  if mode:
    image = image.convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, format=image_format, **save_args)
  return buffer.getvalue()


GOOD_FILES = {
    "a.jpg": lambda: encoded(random_photo(40, 50, 1), "JPEG"),
    "b.png": lambda: encoded(random_photo(33, 47, 2), "PNG"),
    "gray.png": lambda: encoded(random_photo(36, 36, 3), "PNG", mode="L"),
    "rgba.png": lambda: encoded(random_photo(40, 40, 4), "PNG", mode="RGBA"),
    "palette.gif": lambda: encoded(random_photo(48, 40, 5), "GIF", mode="P"),
    "c.bmp": lambda: encoded(random_photo(35, 60, 6), "BMP"),
    "d.webp": lambda: encoded(random_photo(40, 44, 7), "WEBP"),
    "sub/dir/e.JPEG": lambda: encoded(random_photo(64, 32, 8), "JPEG"),
}
BROKEN_FILES = {
    "zero.jpg": lambda: b"",
    "truncated.jpg": lambda: encoded(random_photo(64, 64, 9), "JPEG")[:300],
    "text.png": lambda: b"this is not an image\n" * 10,
    "sub/random.jpg": lambda: np.random.RandomState(0).bytes(2000),
}


def write_files(root, files):
  for name, make in files.items():
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(make())


@pytest.fixture
def mixed_image_folder(tmp_path):
  """A folder of 8 good images in many formats and 4 broken files."""
  root = str(tmp_path / "images")
  write_files(root, GOOD_FILES)
  write_files(root, BROKEN_FILES)
  with open(os.path.join(root, "notes.txt"), "w") as f:
    f.write("not listed: wrong extension")
  return root


@pytest.fixture
def tiny_config():
  """The tests' model: presets.tiny() (32 px, 8 filters, 4 steps, float32).

  Tests derive what they need with `tiny_config.replace(...)`.
  """
  from colorizer import presets  # pylint: disable=g-import-not-at-top
  return presets.tiny()
