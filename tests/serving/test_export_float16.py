"""--weights_dtype=float16: half the SavedModel, the float32 model's output."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import float16_weights
from tests import conftest
from tests import binaries


def _variables_bytes(version_dir):
  folder = os.path.join(version_dir, "variables")
  return sum(os.path.getsize(os.path.join(folder, name))
             for name in os.listdir(folder))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """The same generator exported with float32 and with float16 weights."""
  config = presets.tiny().replace(model={"base_filters": 16})
  generator = networks.build_generator(config, seed=5)
  base_dir = str(tmp_path_factory.mktemp("savedmodels"))
  return {dtype: export.export(generator, config, base_dir, dtype,
                               weights_dtype=dtype)
          for dtype in float16_weights.WEIGHTS_DTYPES}


def test_float16_export_is_about_half_the_size(exports):
  float32_bytes = _variables_bytes(exports["float32"])
  float16_bytes = _variables_bytes(exports["float16"])
  # Only weights of 4,096 values or more are halved: the rest is small.
  assert float16_bytes < 0.6 * float32_bytes, (float16_bytes, float32_bytes)
  assert export.read_metadata(exports["float16"])["weights_dtype"] == "float16"
  assert export.read_metadata(exports["float32"])["weights_dtype"] == "float32"


def test_float16_export_serves_what_float32_does(exports):
  loaded = {dtype: tf.saved_model.load(path) for dtype, path in exports.items()}
  l_star = tf.random.uniform([2, 64, 96, 1], 0, 100, seed=7)
  ab = {dtype: model.signatures[export.LAB_SIGNATURE](l_star=l_star)[
      export.OUTPUT_AB].numpy() for dtype, model in loaded.items()}
  # Not the same numbers (the weights were rounded), but within float16's
  # rounding: a*b* spans about -110..110.
  assert not np.array_equal(ab["float16"], ab["float32"])
  np.testing.assert_allclose(ab["float16"], ab["float32"], atol=0.5)
  photo = conftest.encoded(conftest.random_photo(40, 56), "PNG")
  served = {dtype: model.signatures[export.SERVING_SIGNATURE](
      image_bytes=tf.constant([photo]))[export.OUTPUT_BYTES][0].numpy()
            for dtype, model in loaded.items()}
  rgb = {dtype: tf.io.decode_png(data).numpy().astype(int)
         for dtype, data in served.items()}
  assert rgb["float16"].shape == (40, 56, 3)
  assert np.abs(rgb["float16"] - rgb["float32"]).max() <= 2


def test_bad_weights_dtype_is_a_one_line_error(tmp_path):
  result = binaries.run_main("pipelines.export", f"--model_dir={tmp_path}",
                             "--weights_dtype=float8")
  assert result.returncode != 0
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert any("--weights_dtype" in line and "float16" in line
             for line in lines), result.stderr


def test_compare_exports_reports_how_far_apart_they_are(exports, tmp_path):
  for index in range(3):
    with open(tmp_path / f"photo_{index}.png", "wb") as f:
      f.write(conftest.encoded(conftest.random_photo(30, 40, seed=index),
                               "PNG"))
  result = binaries.run_main(
      "tools.compare_exports",
      f"--models={exports['float32']},{exports['float16']}",
      f"--images={tmp_path}/*.png", "--num_images=0")
  assert result.returncode == 0, result.stderr
  match = re.search(r"3 photos: largest difference (\d+) of 255; PSNR "
                    r"between the exports ([\d.]+|inf) dB", result.stdout)
  assert match, result.stdout
  # This tiny model's rounded weights may move no served value at all.
  assert int(match.group(1)) <= 2 and float(match.group(2)) > 40
  # Another model is told apart: its colors differ by far more.
  config = presets.tiny().replace(model={"base_filters": 16})
  generator = networks.build_generator(config, seed=6)
  layer = generator.get_layer("ab_deconv")
  kernel, bias = layer.get_weights()
  layer.set_weights([kernel * 100.0, bias])
  other = export.export(generator, config, str(tmp_path / "models"), "other")
  different = binaries.run_main(
      "tools.compare_exports", f"--models={exports['float32']},{other}",
      f"--images={tmp_path}/*.png")
  match = re.search(r"largest difference (\d+) of 255; PSNR between the "
                    r"exports ([\d.]+) dB", different.stdout)
  assert match and int(match.group(1)) > 10, different.stdout
  assert float(match.group(2)) < 40, different.stdout
