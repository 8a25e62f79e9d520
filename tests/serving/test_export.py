"""Tests for colorizer.serving.export: the SavedModel, loaded back, against Keras.

The vivid tiny generator of tests/serving/conftest.py, exported once, is
served in process and compared with the Keras model it came from. Its
versions are tested in test_export_versions.py, and the export as other
programs see it in test_export_tools.py.
"""

import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from colorizer import color
from colorizer import config as config_lib
from colorizer.data import image_io
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import full_resolution
from tests.serving.conftest import AB_ATOL
from tests.serving.conftest import decode_png
from tests.serving.conftest import encode
from tests.serving.conftest import MODEL_NAME
from tests.serving.conftest import pattern_rgb
from tests.serving.conftest import RENDER_SIZE
from tests.serving.conftest import serve

# Output L* vs input L*: each output channel is rounded to 8 bits (at most
# 0.5/255 each), which moves L* by at most about 0.4 where L* is steepest in
# sRGB; 1.0 leaves room for float32 noise, the mean stays far below it.
MAX_L_ERROR = 1.0
MEAN_L_ERROR = 0.3


def _l_star(rgb_uint8: np.ndarray) -> np.ndarray:
  return color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[..., 0].numpy()


def _assert_lightness_kept(output_rgb: np.ndarray, input_rgb: np.ndarray):
  assert output_rgb.shape == input_rgb.shape
  l_error = np.abs(_l_star(output_rgb) - _l_star(input_rgb))
  assert l_error.max() < MAX_L_ERROR, l_error.max()
  assert l_error.mean() < MEAN_L_ERROR, l_error.mean()


def test_signatures_and_their_specs(loaded):
  assert set(loaded.signatures) == {export.SERVING_SIGNATURE,
                                    export.RENDER_SIZE_SIGNATURE,
                                    export.LAB_SIGNATURE}
  serving = loaded.signatures[export.SERVING_SIGNATURE]
  assert serving.structured_input_signature[1] == {
      "image_bytes": tf.TensorSpec([None], tf.string, name="image_bytes")}
  assert serving.structured_outputs["colorized_bytes"].dtype == tf.string
  sized = loaded.signatures[export.RENDER_SIZE_SIGNATURE]
  assert sized.structured_input_signature[1]["render_size"] == tf.TensorSpec(
      [], tf.int32, name="render_size")
  lab = loaded.signatures[export.LAB_SIGNATURE]
  assert lab.structured_input_signature[1]["l_star"].shape.as_list() == [
      None, None, None, 1]
  assert lab.structured_outputs["ab"].dtype == tf.float32


def test_colorize_lab_matches_keras_generator(loaded, generator_fn):
  l_star = tf.random.stateless_uniform([2, 45, 70, 1], seed=[1, 2],
                                       maxval=100.0)
  served = loaded.signatures[export.LAB_SIGNATURE](l_star=l_star)["ab"]
  expected = full_resolution.predict_ab(generator_fn, l_star, RENDER_SIZE)
  np.testing.assert_allclose(served.numpy(), expected.numpy(), atol=AB_ATOL)
  assert float(tf.reduce_max(tf.abs(served))) > 20.0, "generator too gray"
  # The gamut clamp is part of the served path: every color has an sRGB value
  # (re-checked eagerly, so with a margin for float32 noise at the boundary).
  linear_rgb = color.lab_to_linear_rgb(tf.concat([l_star, served], axis=-1))
  assert -1e-3 < float(tf.reduce_min(linear_rgb))
  assert float(tf.reduce_max(linear_rgb)) < 1.0 + 1e-3


def test_serving_default_matches_keras_generator(loaded, generator_fn):
  rgb_uint8 = pattern_rgb(50, 66)
  [served] = serve(loaded, [encode(Image.fromarray(rgb_uint8), "PNG")])
  expected = full_resolution.colorize_rgb(generator_fn, rgb_uint8, RENDER_SIZE)
  # Graph and eager float32 may round a channel to a neighbouring level.
  np.testing.assert_allclose(decode_png(served), expected.numpy(), atol=1)


def test_batch_of_odd_sizes_keeps_size_and_lightness(loaded):
  sizes = [(37, 1001), (1, 1), (3, 2), (64, 33)]
  inputs = [pattern_rgb(height, width, seed)
            for seed, (height, width) in enumerate(sizes)]
  served = serve(loaded, [encode(Image.fromarray(rgb), "PNG")
                           for rgb in inputs])
  assert len(served) == len(sizes)
  for rgb_uint8, png_bytes in zip(inputs, served):
    _assert_lightness_kept(decode_png(png_bytes), rgb_uint8)


def _rgba(rgb_uint8):
  alpha = np.full(rgb_uint8.shape[:2], 255, np.uint8)
  alpha[:, : rgb_uint8.shape[1] // 2] = 0  # Left half fully transparent.
  alpha[: rgb_uint8.shape[0] // 2] = 128
  return Image.fromarray(np.dstack([rgb_uint8, alpha]), "RGBA")


def _gray16(rgb_uint8):
  values = rgb_uint8[..., 1].astype(np.uint16) * 257 + 100
  return Image.fromarray(values.astype(np.uint16))


_FORMATS = {
    "png_gray": lambda rgb: encode(Image.fromarray(rgb[..., 0]), "PNG"),
    "png_rgb": lambda rgb: encode(Image.fromarray(rgb), "PNG"),
    "png_rgba": lambda rgb: encode(_rgba(rgb), "PNG"),
    "png_palette": lambda rgb: encode(Image.fromarray(rgb).convert(
        "P", palette=Image.Palette.ADAPTIVE), "PNG"),
    "png_16bit": lambda rgb: encode(_gray16(rgb), "PNG"),
    "jpeg": lambda rgb: encode(Image.fromarray(rgb), "JPEG", quality=95),
    "jpeg_gray": lambda rgb: encode(Image.fromarray(rgb[..., 0]), "JPEG"),
    "gif": lambda rgb: encode(Image.fromarray(rgb).convert("P"), "GIF"),
    "bmp": lambda rgb: encode(Image.fromarray(rgb), "BMP"),
    "webp_lossless_rgba": lambda rgb: encode(_rgba(rgb), "WEBP",
                                              lossless=True),
}


@pytest.mark.parametrize("image_format", sorted(_FORMATS))
def test_input_formats(loaded, image_format):
  image_bytes = _FORMATS[image_format](pattern_rgb(29, 43))
  [served] = serve(loaded, [image_bytes])
  # The served lightness is that of the image as Pillow shows it (alpha on
  # white, 16 bits scaled, palette applied). JPEG decoders may differ by a
  # level or two, so JPEG gets a looser bound.
  as_pillow_reads_it = image_io.read_rgb(image_bytes)
  output_rgb = decode_png(served)
  assert output_rgb.shape == as_pillow_reads_it.shape
  l_error = np.abs(_l_star(output_rgb) - _l_star(as_pillow_reads_it))
  bound = 3.0 if image_format.startswith("jpeg") else MAX_L_ERROR
  assert l_error.max() < bound, l_error.max()


@pytest.mark.parametrize("image_bytes", [b"", b"not an image",
                                         b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_bad_bytes_are_invalid_argument(loaded, image_bytes):
  good = encode(Image.fromarray(pattern_rgb(8, 8)), "PNG")
  with pytest.raises(tf.errors.InvalidArgumentError):
    serve(loaded, [good, image_bytes])


def test_pixel_limit(generator):
  module = export.ColorizerModule(generator, RENDER_SIZE, max_pixels=99,
                                  render_multiple=RENDER_SIZE)
  small = encode(Image.fromarray(pattern_rgb(9, 11)), "PNG")
  large = encode(Image.fromarray(pattern_rgb(10, 10)), "PNG")
  assert module.serve_bytes(tf.constant([small]))[
      export.OUTPUT_BYTES].shape == [1]
  with pytest.raises(tf.errors.InvalidArgumentError, match="99-pixel limit"):
    module.serve_bytes(tf.constant([large]))


def test_render_size_signature(loaded, generator_fn):
  rgb_uint8 = pattern_rgb(40, 52)
  png_bytes = encode(Image.fromarray(rgb_uint8), "PNG")
  [at_64] = serve(loaded, [png_bytes], render_size=tf.constant(64))
  expected = full_resolution.colorize_rgb(generator_fn, rgb_uint8, 64)
  np.testing.assert_allclose(decode_png(at_64), expected.numpy(), atol=1)
  # At the export's own size it is serving_default.
  [at_export_size] = serve(loaded, [png_bytes],
                            render_size=tf.constant(RENDER_SIZE))
  [default] = serve(loaded, [png_bytes])
  np.testing.assert_allclose(decode_png(at_export_size), decode_png(default),
                             atol=1)
  for bad_size in (48, 0, -32, 4096):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="render_size must be a positive multiple of 32"):
      serve(loaded, [png_bytes], render_size=tf.constant(bad_size))


def test_warmup_request_runs(version_dir, loaded):
  path = os.path.join(version_dir, "assets.extra", export.WARMUP_FILE)
  records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
  assert len(records) == 1
  log = prediction_log_pb2.PredictionLog.FromString(records[0])
  request = log.predict_log.request
  assert request.model_spec.name == MODEL_NAME
  assert request.model_spec.signature_name == export.SERVING_SIGNATURE
  image_bytes = tf.make_ndarray(request.inputs[export.INPUT_BYTES])
  served = serve(loaded, list(image_bytes))
  assert decode_png(served[0]).shape == (RENDER_SIZE, RENDER_SIZE, 3)


def test_metadata(version_dir, config):
  path = os.path.join(version_dir, "assets.extra", export.METADATA_FILE)
  with open(path) as f:
    metadata = json.load(f)
  assert metadata["render_size"] == RENDER_SIZE
  assert metadata["render_multiple"] == RENDER_SIZE
  assert metadata["step"] == 2
  assert set(metadata["signatures"]) == {
      export.SERVING_SIGNATURE, export.RENDER_SIZE_SIGNATURE,
      export.LAB_SIGNATURE}
  assert config_lib.from_dict(metadata["config"]) == config


@pytest.fixture(scope="module")
def bilinear_version_dir(generator, config, base_dir):
  return export.export(generator, config, base_dir, "bilinear",
                       guided_upsample=False)


def _edges_rgb(height: int, width: int) -> np.ndarray:
  """The pattern with a dark disc on it: a sharp L* edge to follow."""
  rows, cols = np.mgrid[0:height, 0:width]
  disc = (rows - height / 2) ** 2 + (cols - width / 3) ** 2 < (height / 3) ** 2
  rgb_uint8 = pattern_rgb(height, width)
  rgb_uint8[disc] //= 4
  return rgb_uint8


def test_guided_upsample_on_and_off_both_serve(
    version_dir, bilinear_version_dir, generator_fn, config):
  rgb_uint8 = _edges_rgb(70, 110)
  png_bytes = encode(Image.fromarray(rgb_uint8), "PNG")
  served = {}
  for path, guided in ((version_dir, True), (bilinear_version_dir, False)):
    metadata = export.read_metadata(path)
    assert metadata["guided_upsample"] is guided
    assert config_lib.from_dict(metadata["config"]) == config.replace(
        export={"guided_upsample": guided})
    [png] = serve(tf.saved_model.load(path), [png_bytes])
    served[guided] = decode_png(png)
    expected = full_resolution.colorize_rgb(
        generator_fn, rgb_uint8, RENDER_SIZE, guided_upsample=guided)
    np.testing.assert_allclose(served[guided], expected.numpy(), atol=1)
    _assert_lightness_kept(served[guided], rgb_uint8)
  # The two upsamplings differ where the disc's edge is.
  assert np.abs(served[True].astype(int) - served[False].astype(int)).max() > 2


def test_colorize_lab_with_guided_upsample_off(bilinear_version_dir,
                                               generator_fn):
  l_star = tf.random.stateless_uniform([1, 23, 41, 1], seed=[5, 6],
                                       maxval=100.0)
  served = tf.saved_model.load(bilinear_version_dir).signatures[
      export.LAB_SIGNATURE](l_star=l_star)["ab"]
  np.testing.assert_allclose(
      served.numpy(),
      full_resolution.predict_ab(generator_fn, l_star, RENDER_SIZE,
                                 guided_upsample=False).numpy(),
      atol=AB_ATOL)


def test_sketch_models_are_never_guided(config):
  sketch_config = config.replace(data={"input_mode": "sketch"})
  module = export.ColorizerModule(networks.build_generator(sketch_config),
                                  RENDER_SIZE, input_mode="sketch",
                                  guided_upsample=True)
  assert not module.guided_upsample
