"""Fixtures shared by the evaluation tests: generated photos and a tiny model.

One tiny model dir is trained for 2 steps and exported once per test process;
the photos are generated at sizes that differ, two of them alike so that
batching by size is exercised.
"""

import os

from PIL import Image
import pytest

from colorizer import presets
from colorizer.serving import export
from colorizer.training import train
from tests import conftest

# Two images share a size so that batching by size is exercised.
IMAGE_SIZES = ((40, 56), (40, 56), (33, 47), (64, 32), (24, 24), (48, 40))


def generated_photos():
  """One random photo (uint8 RGB) per IMAGE_SIZES entry, seeded by index."""
  return [conftest.random_photo(height, width, seed=index)
          for index, (height, width) in enumerate(IMAGE_SIZES)]


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
  root = tmp_path_factory.mktemp("eval_images")
  for index, rgb_uint8 in enumerate(generated_photos()):
    Image.fromarray(rgb_uint8).save(root / f"image_{index}.png")
  return str(root)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("run"))
  train.train_and_evaluate(
      presets.tiny().replace(train={"train_steps": 2}), model_dir)
  return model_dir


@pytest.fixture(scope="session")
def saved_model(trained_model_dir, tmp_path_factory):
  """The trained checkpoint, exported: savedmodels/tiny/1 at step 2."""
  base_dir = str(tmp_path_factory.mktemp("savedmodels"))
  export.export_from_model_dir(trained_model_dir, name="tiny",
                               base_dir=base_dir)
  return os.path.join(base_dir, "tiny")
