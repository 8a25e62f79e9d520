"""Tests for colorizer.serving.export: the SavedModel, loaded back, against Keras.

One untrained tiny generator is exported once per module. Its last layer is
scaled up so that it predicts vivid a*b*, many of them outside the sRGB gamut:
that makes the gamut clamp and the L*-preservation checks bite, which a
freshly initialized (nearly gray) generator would not.
"""

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

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
from tests import conftest

REPO_ROOT = conftest.REPO_ROOT
MODEL_NAME = "demo"
# The tiny config trains at 32 px with a 5-level U-Net: render sizes are
# multiples of 32.
RENDER_SIZE = 32
# Output L* vs input L*: each output channel is rounded to 8 bits (at most
# 0.5/255 each), which moves L* by at most about 0.4 where L* is steepest in
# sRGB; 1.0 leaves room for float32 noise, the mean stays far below it.
MAX_L_ERROR = 1.0
MEAN_L_ERROR = 0.3
# Served a*b* vs in-process: graph and eager float32 can flip the gamut
# clamp's last bisection step (2**-12 of a chroma up to about 110, 0.03).
AB_ATOL = 0.05


def _vivid_generator(config):
  generator = networks.build_generator(config, seed=3)
  layer = generator.get_layer("ab_deconv")
  kernel, bias = layer.get_weights()
  layer.set_weights([kernel * 100.0, bias])
  return generator


def _encode(image: Image.Image, image_format: str, **options) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=image_format, **options)
  return buffer.getvalue()


def _pattern_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
  """Smooth gradients plus noise: every lightness, some saturated colors."""
  rows, cols = np.mgrid[0:height, 0:width]
  noise = np.random.RandomState(seed).randint(0, 40, (height, width, 3))
  rgb = np.stack([cols * 255 // max(width - 1, 1),
                  rows * 255 // max(height - 1, 1),
                  (rows + cols) * 127 // max(height + width - 2, 1)], -1)
  return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def _l_star(rgb_uint8: np.ndarray) -> np.ndarray:
  return color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[..., 0].numpy()


def _assert_lightness_kept(output_rgb: np.ndarray, input_rgb: np.ndarray):
  assert output_rgb.shape == input_rgb.shape
  l_error = np.abs(_l_star(output_rgb) - _l_star(input_rgb))
  assert l_error.max() < MAX_L_ERROR, l_error.max()
  assert l_error.mean() < MEAN_L_ERROR, l_error.mean()


def _decode_png(png_bytes: bytes) -> np.ndarray:
  image = Image.open(io.BytesIO(png_bytes))
  assert image.format == "PNG" and image.mode == "RGB"
  return np.asarray(image)


@pytest.fixture(scope="module")
def config():
  return config_lib.tiny()


@pytest.fixture(scope="module")
def generator(config):
  return _vivid_generator(config)


@pytest.fixture(scope="module")
def generator_fn(generator):
  return lambda l_normalized: generator(l_normalized, training=False)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("savedmodels"))


@pytest.fixture(scope="module")
def version_dir(generator, config, base_dir):
  return export.export(generator, config, base_dir, MODEL_NAME, step=2)


@pytest.fixture(scope="module")
def loaded(version_dir):
  return tf.saved_model.load(version_dir)


def _serve(loaded, images, **inputs):
  signature = loaded.signatures[export.RENDER_SIZE_SIGNATURE if inputs
                                else export.SERVING_SIGNATURE]
  outputs = signature(image_bytes=tf.constant(images), **inputs)
  return [value.numpy() for value in outputs[export.OUTPUT_BYTES]]


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
  rgb_uint8 = _pattern_rgb(50, 66)
  [served] = _serve(loaded, [_encode(Image.fromarray(rgb_uint8), "PNG")])
  expected = full_resolution.colorize_rgb(generator_fn, rgb_uint8, RENDER_SIZE)
  # Graph and eager float32 may round a channel to a neighbouring level.
  np.testing.assert_allclose(_decode_png(served), expected.numpy(), atol=1)


def test_batch_of_odd_sizes_keeps_size_and_lightness(loaded):
  sizes = [(37, 1001), (1, 1), (3, 2), (64, 33)]
  inputs = [_pattern_rgb(height, width, seed)
            for seed, (height, width) in enumerate(sizes)]
  served = _serve(loaded, [_encode(Image.fromarray(rgb), "PNG")
                           for rgb in inputs])
  assert len(served) == len(sizes)
  for rgb_uint8, png_bytes in zip(inputs, served):
    _assert_lightness_kept(_decode_png(png_bytes), rgb_uint8)


def _rgba(rgb_uint8):
  alpha = np.full(rgb_uint8.shape[:2], 255, np.uint8)
  alpha[:, : rgb_uint8.shape[1] // 2] = 0  # Left half fully transparent.
  alpha[: rgb_uint8.shape[0] // 2] = 128
  return Image.fromarray(np.dstack([rgb_uint8, alpha]), "RGBA")


def _gray16(rgb_uint8):
  values = rgb_uint8[..., 1].astype(np.uint16) * 257 + 100
  return Image.fromarray(values.astype(np.uint16))


_FORMATS = {
    "png_gray": lambda rgb: _encode(Image.fromarray(rgb[..., 0]), "PNG"),
    "png_rgb": lambda rgb: _encode(Image.fromarray(rgb), "PNG"),
    "png_rgba": lambda rgb: _encode(_rgba(rgb), "PNG"),
    "png_palette": lambda rgb: _encode(Image.fromarray(rgb).convert(
        "P", palette=Image.Palette.ADAPTIVE), "PNG"),
    "png_16bit": lambda rgb: _encode(_gray16(rgb), "PNG"),
    "jpeg": lambda rgb: _encode(Image.fromarray(rgb), "JPEG", quality=95),
    "jpeg_gray": lambda rgb: _encode(Image.fromarray(rgb[..., 0]), "JPEG"),
    "gif": lambda rgb: _encode(Image.fromarray(rgb).convert("P"), "GIF"),
    "bmp": lambda rgb: _encode(Image.fromarray(rgb), "BMP"),
    "webp_lossless_rgba": lambda rgb: _encode(_rgba(rgb), "WEBP",
                                              lossless=True),
}


@pytest.mark.parametrize("image_format", sorted(_FORMATS))
def test_input_formats(loaded, image_format):
  image_bytes = _FORMATS[image_format](_pattern_rgb(29, 43))
  [served] = _serve(loaded, [image_bytes])
  # The served lightness is that of the image as Pillow shows it (alpha on
  # white, 16 bits scaled, palette applied). JPEG decoders may differ by a
  # level or two, so JPEG gets a looser bound.
  as_pillow_reads_it = image_io.read_rgb(image_bytes)
  output_rgb = _decode_png(served)
  assert output_rgb.shape == as_pillow_reads_it.shape
  l_error = np.abs(_l_star(output_rgb) - _l_star(as_pillow_reads_it))
  bound = 3.0 if image_format.startswith("jpeg") else MAX_L_ERROR
  assert l_error.max() < bound, l_error.max()


@pytest.mark.parametrize("image_bytes", [b"", b"not an image",
                                         b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_bad_bytes_are_invalid_argument(loaded, image_bytes):
  good = _encode(Image.fromarray(_pattern_rgb(8, 8)), "PNG")
  with pytest.raises(tf.errors.InvalidArgumentError):
    _serve(loaded, [good, image_bytes])


def test_pixel_limit(generator):
  module = export.ColorizerModule(generator, RENDER_SIZE, max_pixels=99,
                                  render_multiple=RENDER_SIZE)
  small = _encode(Image.fromarray(_pattern_rgb(9, 11)), "PNG")
  large = _encode(Image.fromarray(_pattern_rgb(10, 10)), "PNG")
  assert module.serve_bytes(tf.constant([small]))[
      export.OUTPUT_BYTES].shape == [1]
  with pytest.raises(tf.errors.InvalidArgumentError, match="99-pixel limit"):
    module.serve_bytes(tf.constant([large]))


def test_render_size_signature(loaded, generator_fn):
  rgb_uint8 = _pattern_rgb(40, 52)
  png_bytes = _encode(Image.fromarray(rgb_uint8), "PNG")
  [at_64] = _serve(loaded, [png_bytes], render_size=tf.constant(64))
  expected = full_resolution.colorize_rgb(generator_fn, rgb_uint8, 64)
  np.testing.assert_allclose(_decode_png(at_64), expected.numpy(), atol=1)
  # At the export's own size it is serving_default.
  [at_export_size] = _serve(loaded, [png_bytes],
                            render_size=tf.constant(RENDER_SIZE))
  [default] = _serve(loaded, [png_bytes])
  np.testing.assert_allclose(_decode_png(at_export_size), _decode_png(default),
                             atol=1)
  for bad_size in (48, 0, -32, 4096):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="render_size must be a positive multiple of 32"):
      _serve(loaded, [png_bytes], render_size=tf.constant(bad_size))


def test_warmup_request_runs(version_dir, loaded):
  path = os.path.join(version_dir, "assets.extra", export.WARMUP_FILE)
  records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
  assert len(records) == 1
  log = prediction_log_pb2.PredictionLog.FromString(records[0])
  request = log.predict_log.request
  assert request.model_spec.name == MODEL_NAME
  assert request.model_spec.signature_name == export.SERVING_SIGNATURE
  image_bytes = tf.make_ndarray(request.inputs[export.INPUT_BYTES])
  served = _serve(loaded, list(image_bytes))
  assert _decode_png(served[0]).shape == (RENDER_SIZE, RENDER_SIZE, 3)


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
  rgb_uint8 = _pattern_rgb(height, width)
  rgb_uint8[disc] //= 4
  return rgb_uint8


def test_guided_upsample_on_and_off_both_serve(
    version_dir, bilinear_version_dir, generator_fn, config):
  rgb_uint8 = _edges_rgb(70, 110)
  png_bytes = _encode(Image.fromarray(rgb_uint8), "PNG")
  served = {}
  for path, guided in ((version_dir, True), (bilinear_version_dir, False)):
    metadata = export.read_metadata(path)
    assert metadata["guided_upsample"] is guided
    assert config_lib.from_dict(metadata["config"]) == config.replace(
        export={"guided_upsample": guided})
    [png] = _serve(tf.saved_model.load(path), [png_bytes])
    served[guided] = _decode_png(png)
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


def test_saved_model_cli_lists_signatures(version_dir):
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  if not os.path.exists(cli):
    cli = shutil.which("saved_model_cli")
  if not cli:
    pytest.skip("saved_model_cli not installed next to this Python")
  result = subprocess.run([cli, "show", "--dir", version_dir, "--all"],
                          capture_output=True, text=True, timeout=120,
                          check=True)
  for name in (export.SERVING_SIGNATURE, export.RENDER_SIZE_SIGNATURE,
               export.LAB_SIGNATURE):
    assert f"signature_def['{name}']" in result.stdout
  for tensor in ("inputs['image_bytes']", "inputs['render_size']",
                 "outputs['colorized_bytes']", "inputs['l_star']",
                 "outputs['ab']"):
    assert tensor in result.stdout


_SELF_CONTAINED = """
import sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
png = tf.io.encode_png(tf.fill([5, 7, 3], tf.constant(90, tf.uint8)))
out = model.signatures["serving_default"](image_bytes=tf.reshape(png, [1]))
print(tuple(tf.io.decode_png(out["colorized_bytes"][0]).shape))
ab = model.signatures["colorize_lab"](l_star=tf.fill([1, 4, 6, 1], 50.0))["ab"]
print(tuple(ab.shape))
print(sorted(name for name in sys.modules
             if name.split(".")[0] in ("colorizer", "tensorflow_io")))
"""


def test_loads_and_runs_with_tensorflow_alone(version_dir, tmp_path):
  env = {key: value for key, value in os.environ.items()
         if key != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  # cwd is not the repository, so colorizer cannot be imported even by
  # accident: the model has to run on core TensorFlow ops.
  result = subprocess.run([sys.executable, "-c", _SELF_CONTAINED, version_dir],
                          capture_output=True, text=True, timeout=180,
                          cwd=tmp_path, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split("\n")[:3] == ["(5, 7, 3)", "(1, 4, 6, 2)", "[]"]


def test_existing_version_is_refused(generator, config, base_dir, version_dir):
  with pytest.raises(ValueError, match="already exists"):
    export.export(generator, config, base_dir, MODEL_NAME,
                  version=int(os.path.basename(version_dir)))


def test_render_size_must_fit_the_unet(generator, config, tmp_path):
  with pytest.raises(ValueError, match="multiple of 32"):
    export.export(generator, config, str(tmp_path), "x", render_size=48)
  assert not os.path.exists(tmp_path / "x")


def test_next_version_ignores_temp_and_other_dirs(tmp_path):
  assert export.next_version(str(tmp_path / "missing")) == 1
  for name in ("2", "10", ".tmp-11-123-456", "notes", "3a"):
    (tmp_path / name).mkdir()
  assert export.next_version(str(tmp_path)) == 11


def test_failed_export_leaves_no_version_and_no_temp_dir(
    generator, config, tmp_path, monkeypatch):
  def half_written_save(module, export_dir, signatures=None, **unused):
    del module, signatures, unused
    os.makedirs(os.path.join(export_dir, "variables"))
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
      f.write(b"partial")
    raise OSError("disk full")

  monkeypatch.setattr(tf.saved_model, "save", half_written_save)
  with pytest.raises(OSError, match="disk full"):
    export.export(generator, config, str(tmp_path), "failing")
  assert os.listdir(tmp_path / "failing") == []


def test_export_binary_restores_checkpoint_as_next_version(
    generator, config, base_dir, version_dir, tmp_path):
  # With --test_time_flip, which a run that did not use it can still ask for,
  # and --noguided_upsample.
  model_dir = str(tmp_path / "run")
  config_lib.save(config, model_dir)
  tf.train.Checkpoint(generator=generator,
                      step=tf.Variable(7, dtype=tf.int64)).save(
                          os.path.join(model_dir, "checkpoints", "ckpt"))
  result = subprocess.run(
      [sys.executable, "-m", "pipelines.export", f"--model_dir={model_dir}",
       f"--base_dir={base_dir}", f"--name={MODEL_NAME}", "--test_time_flip",
       "--noguided_upsample"],
      capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  next_dir = os.path.join(base_dir, MODEL_NAME,
                          str(int(os.path.basename(version_dir)) + 1))
  assert f"Exported {next_dir}" in result.stdout
  assert sorted(os.listdir(os.path.join(base_dir, MODEL_NAME))) == [
      os.path.basename(version_dir), os.path.basename(next_dir)]
  with open(os.path.join(next_dir, "assets.extra",
                         export.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata["step"] == 7
  assert metadata["guided_upsample"] is False
  assert metadata["config"]["model"]["test_time_flip"]
  assert not config.model.test_time_flip
  l_star = tf.random.stateless_uniform([1, 20, 24, 1], seed=[3, 4],
                                       maxval=100.0)
  restored = tf.saved_model.load(next_dir).signatures[export.LAB_SIGNATURE]
  np.testing.assert_allclose(
      restored(l_star=l_star)["ab"].numpy(),
      full_resolution.predict_ab(
          networks.inference_fn(generator, test_time_flip=True), l_star,
          RENDER_SIZE, guided_upsample=False).numpy(),
      atol=AB_ATOL)


def _free_loopback_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def _http_json(url: str, payload=None, timeout: float = 30.0):
  data = None if payload is None else json.dumps(payload).encode()
  request = urllib.request.Request(
      url, data=data, headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=timeout) as response:
    return json.load(response)


def test_tensorflow_model_server_rest(version_dir, loaded):
  server = shutil.which("tensorflow_model_server")
  if not server:
    pytest.skip("tensorflow_model_server not on PATH; runs where TF Serving "
                "is installed, e.g. the tensorflow/serving Docker image")
  grpc_port, rest_port = _free_loopback_port(), _free_loopback_port()
  # TF Serving has no flag to pick the interface (gRPC listens on 0.0.0.0);
  # this test only ever connects to 127.0.0.1.
  process = subprocess.Popen(
      [server, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
       f"--model_name={MODEL_NAME}",
       f"--model_base_path={os.path.dirname(os.path.abspath(version_dir))}"],
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  model_url = f"http://127.0.0.1:{rest_port}/v1/models/{MODEL_NAME}"
  try:
    deadline = time.monotonic() + 120
    while True:
      if process.poll() is not None:
        pytest.fail(f"tensorflow_model_server exited: "
                    f"{process.stderr.read().decode()[-2000:]}")
      try:
        states = [version["state"] for version in
                  _http_json(model_url, timeout=5)["model_version_status"]]
        if "AVAILABLE" in states:
          break
      except (urllib.error.URLError, ConnectionError, KeyError):
        pass
      if time.monotonic() > deadline:
        pytest.fail("TF Serving did not make the model AVAILABLE in 120 s")
      time.sleep(0.5)
    rgb_uint8 = _pattern_rgb(21, 34)
    png_bytes = _encode(Image.fromarray(rgb_uint8), "PNG")
    b64 = base64.b64encode(png_bytes).decode()
    rows = _http_json(model_url + ":predict", {"instances": [{"b64": b64}]})
    served = base64.b64decode(rows["predictions"][0]["b64"])
    [in_process] = _serve(loaded, [png_bytes])
    np.testing.assert_allclose(_decode_png(served), _decode_png(in_process),
                               atol=1)
    columns = _http_json(model_url + ":predict", {
        "signature_name": export.RENDER_SIZE_SIGNATURE,
        "inputs": {"image_bytes": [{"b64": b64}], "render_size": 64}})
    at_64 = _decode_png(base64.b64decode(columns["outputs"][0]["b64"]))
    assert at_64.shape == rgb_uint8.shape
  finally:
    process.terminate()
    try:
      process.wait(timeout=20)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
