"""The shipped photo model, savedmodels/photos: it loads, says what it is,
and colorizes. Nothing here depends on how well it colorizes."""

import io
import json
import os

import numpy as np
from PIL import Image
import pytest

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
  with open(os.path.join(version_dir, "assets.extra", export.METADATA_FILE),
            encoding="utf-8") as f:
    assert json.load(f)["step"] == metadata["step"]


@needs_model
def test_shipped_model_size_stays_small():
  total = sum(os.path.getsize(os.path.join(root, name))
              for root, _, names in os.walk(SHIPPED_DIR) for name in names)
  assert total < 32 * 2**20, f"{SHIPPED_DIR} is {total / 2**20:.1f} MiB"


@needs_model
def test_shipped_model_colorizes_a_generated_photo(shipped_colorizer):
  gray = colorize_lib.gray_with_same_lightness(conftest.random_photo(75, 130))
  png = shipped_colorizer.colorize_png(conftest.encoded(gray, "JPEG"))
  colorized = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
  assert colorized.shape == (75, 130, 3)
  # Color was added: some pixel's channels differ. Quality is not judged.
  assert np.abs(colorized.astype(int) - colorized.mean(-1, keepdims=True)
                ).max() > 0
