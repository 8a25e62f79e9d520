"""The shipped photo model, savedmodels/photos: it loads, says what it is,
and colorizes. How well is measured in docs/photos.md; here only that it
adds clear color where any photo model would: a blue sky."""

import io
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.serving import shipped
from tests import conftest

SHIPPED_DIR = os.path.join(conftest.REPO_ROOT, shipped.SHIPPED_MODEL)
needs_model = pytest.mark.skipif(
    not os.path.isdir(SHIPPED_DIR),
    reason=f"{shipped.SHIPPED_MODEL} is not in this checkout; it is committed "
    "on main, where this test runs")


@pytest.fixture(scope="module")
def shipped_colorizer():
  return colorize_lib.SavedModelColorizer(SHIPPED_DIR)


@needs_model
def test_shipped_model_is_found_from_anywhere(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # No savedmodels/ here: the checkout's is used.
  assert os.path.samefile(shipped.shipped_model_dir(), SHIPPED_DIR)
  assert shipped.shipped_model_dir(search=(str(tmp_path),)) is None


def test_a_folder_without_a_version_is_not_a_model(tmp_path):
  (tmp_path / shipped.SHIPPED_MODEL / "1").mkdir(parents=True)
  assert shipped.shipped_model_dir(search=(str(tmp_path),)) is None
  (tmp_path / shipped.SHIPPED_MODEL / "1" / "saved_model.pb").write_bytes(b"")
  assert shipped.shipped_model_dir(search=(str(tmp_path),)) == str(
      tmp_path / shipped.SHIPPED_MODEL)


@needs_model
def test_shipped_model_metadata_and_signatures(shipped_colorizer):
  metadata = shipped_colorizer.metadata
  config = config_lib.from_dict(metadata["config"])
  # The photos preset's model, exported at its training size.
  assert config.data.input_mode == "grayscale"
  assert config.model.ab_head == "classes"
  assert metadata["render_size"] == config.data.image_size
  assert metadata["step"] == config.train.train_steps
  assert metadata["guided_upsample"] is True
  signatures = shipped_colorizer._loaded.signatures  # pylint: disable=protected-access
  assert {export.SERVING_SIGNATURE, export.RENDER_SIZE_SIGNATURE,
          export.LAB_SIGNATURE} <= set(signatures)
  # The quality table and the command that made it ship beside the model.
  version_dir = shipped_colorizer.model_dir
  readme = os.path.join(os.path.dirname(version_dir), "README.md")
  with open(readme, encoding="utf-8") as f:
    text = f.read()
  assert "colorizer-train --preset=photos" in text and "PSNR" in text
  # The metadata agrees with what the README reports of the model.
  trained_steps = re.search(r"trained for ([\d,]+) steps", text).group(1)
  assert metadata["step"] == int(trained_steps.replace(",", ""))
  assert f"renders at {metadata['render_size']} px" in text


@needs_model
def test_shipped_model_renders_at_its_recorded_size(shipped_colorizer):
  # The graph itself, not the metadata: serving_default gives the same bytes
  # as serving_render_size at the recorded size, and others at another.
  signature = shipped_colorizer._loaded.signatures[  # pylint: disable=protected-access
      export.RENDER_SIZE_SIGNATURE]
  image_bytes = tf.constant([conftest.encoded(conftest.random_photo(50, 70),
                                              "PNG")])
  default_png = shipped_colorizer.colorize_png(image_bytes.numpy()[0])
  render_size = shipped_colorizer.metadata["render_size"]
  at_size = lambda size: signature(**{
      export.INPUT_BYTES: image_bytes,
      export.INPUT_RENDER_SIZE: tf.constant(size, tf.int32)})[
          export.OUTPUT_BYTES][0].numpy()
  assert at_size(render_size) == default_png
  assert at_size(render_size - shipped_colorizer.metadata[
      "render_multiple"]) != default_png


@needs_model
def test_shipped_model_size_stays_small():
  # One version in the checkout (older ones live in git history), at most
  # 30 MB as issue #23 asks.
  versions = [name for name in os.listdir(SHIPPED_DIR) if name.isdigit()]
  assert len(versions) == 1, versions
  total = sum(os.path.getsize(os.path.join(root, name))
              for root, _, names in os.walk(SHIPPED_DIR) for name in names)
  assert total <= 30e6, f"{SHIPPED_DIR} is {total / 1e6:.1f} MB"


def _sky_over_grass(height, width, horizon):
  """A blue sky fading toward the horizon, over noisy green grass."""
  rows = np.linspace(0, 1, horizon)[:, None, None]
  sky = (1 - rows) * [60, 120, 210] + rows * [170, 205, 240]  # [horizon, 1, 3]
  grass = np.array([70, 140, 45]) * np.random.RandomState(0).uniform(
      0.75, 1.0, (height - horizon, width, 1))
  rgb = np.concatenate([np.broadcast_to(sky, (horizon, width, 3)), grass])
  return np.round(rgb).astype(np.uint8)


@needs_model
def test_shipped_model_colorizes_a_generated_photo(shipped_colorizer):
  horizon = 80
  gray = colorize_lib.gray_with_same_lightness(
      _sky_over_grass(150, 220, horizon))
  png = shipped_colorizer.colorize_png(conftest.encoded(gray, "JPEG"))
  colorized = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
  assert colorized.shape == (150, 220, 3)
  lab = color.rgb_to_lab(color.rgb_uint8_to_float(colorized)).numpy()
  # Real color, not rounding noise: the gray input's chroma is below 0.01
  # and the model's was about 15 (the photo's own, 48).
  chroma = np.hypot(lab[..., 1], lab[..., 2])
  assert chroma.mean() > 8.0, chroma.mean()
  # The sky is blue (b* about -24 when measured).
  assert lab[:horizon, :, 2].mean() < -10.0, lab[:horizon, :, 2].mean()
