"""The serving tf.Module and export to TF Serving's layout.

The SavedModel holds the whole full-resolution path as core TensorFlow ops:
decode -> L* at full size -> network at render size -> a*b* upsampled to
full size -> joined with the untouched L* -> a*b* clamped into the sRGB
gamut -> PNG. The a*b* are upsampled guided by the full-size L* (joint
bilateral upsampling, colorizer.serving.joint_bilateral: color stays on its
side of the photo's edges), or bilinearly for a model exported with
--noguided_upsample. It loads with TensorFlow alone (no colorizer, no
tensorflow-io import).

Signatures:
  serving_default:     image_bytes tf.string [B] -> colorized_bytes tf.string
                       [B] (PNG, each the size of its input).
  serving_render_size: image_bytes tf.string [B], render_size tf.int32 [] ->
                       colorized_bytes tf.string [B]: the same, with the
                       network at a per-call resolution (a positive multiple
                       of 2**U-Net depth, at most max_render_size).
  colorize_lab:        l_star float32 [B, H, W, 1] in [0, 100] -> ab float32
                       [B, H, W, 2] (a*b*, gamut-clamped, same H, W).
                       Grayscale models only.
  colorize_sketch:     sketch float32 [B, H, W, 1] in [0, 1] (ink dark, paper
                       light) -> lab float32 [B, H, W, 3] (L*a*b*, a*b*
                       gamut-clamped for the predicted L*, same H, W).
                       Sketch models only: which of the two a model has says
                       its mode (as does "input_mode" in its metadata).

A sketch model (--input_mode=sketch) reads the image bytes as a line drawing:
the image's L* / 100 is the drawing, used as given (a user's drawing is not
re-derived with XDoG). It predicts L* as well as a*b*, so the output's
lightness is the model's, not the input's (colorizer.data.sketch.colorize_drawing).

image_bytes may be PNG (8- or 16-bit; gray, RGB, palette, with or without
alpha), JPEG (gray, RGB or CMYK), GIF (first frame), BMP or WebP: what
tf.io.decode_image reads (not JPEG XL). An image over the pixel limit is
refused from the dimensions in its header, before it is decoded. Transparent
areas are composited on white, as colorizer.data.image_io does. EXIF orientation
is not applied in the graph: send upright pixels (the colorize binary does
this for you, and also reads TIFF).
"""

import datetime
import json
import os
import time
from typing import Optional

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.data import sketch
from colorizer.model import colorizer_model
from colorizer.model import networks
from colorizer.serving import float16_weights
from colorizer.serving import full_resolution
from colorizer.serving import shipped

SERVING_SIGNATURE = "serving_default"
RENDER_SIZE_SIGNATURE = "serving_render_size"
LAB_SIGNATURE = "colorize_lab"
SKETCH_SIGNATURE = "colorize_sketch"
INPUT_BYTES = "image_bytes"
INPUT_RENDER_SIZE = "render_size"
OUTPUT_BYTES = "colorized_bytes"
INPUT_L = "l_star"
OUTPUT_AB = "ab"
INPUT_SKETCH = "sketch"
OUTPUT_LAB = "lab"
WARMUP_FILE = "tf_serving_warmup_requests"
METADATA_FILE = "colorizer.json"
# serving_render_size accepts up to max(this, the export's render size): the
# generator's activations grow with the square of the render size.
DEFAULT_MAX_RENDER_SIZE = 2048
# zlib level of the PNG output: level 1 encodes a 6-megapixel photo 8 times
# faster than the default (6) for a file about 20% larger.
PNG_COMPRESSION = 1


class ColorizerModule(tf.Module):
  """What the SavedModel holds: the generator and the serving functions."""

  def __init__(self, generator: keras.Model, render_size: int,
               max_pixels: int = full_resolution.DEFAULT_MAX_PIXELS,
               render_multiple: int = 1,
               max_render_size: Optional[int] = None,
               input_mode: str = "grayscale", test_time_flip: bool = False,
               guided_upsample: bool = True, weights_dtype: str = "float32"):
    super().__init__(name="colorizer")
    if input_mode not in ("grayscale", "sketch"):
      raise ValueError(f"Unknown input_mode {input_mode!r}.")
    if weights_dtype not in float16_weights.WEIGHTS_DTYPES:
      raise ValueError(f"--weights_dtype={weights_dtype}: expected one of "
                       f"{', '.join(float16_weights.WEIGHTS_DTYPES)}.")
    if weights_dtype == "float32":
      self.generator = generator
    else:
      # Only the float16 copies are tracked, so only they are saved.
      generator = float16_weights.Float16Weights(generator)
      self.float16_weights = generator.stored
    self._predict = networks.inference_fn(generator, test_time_flip)
    self.render_size = render_size
    self.max_pixels = max_pixels
    self.render_multiple = render_multiple
    self.max_render_size = max_render_size or max(DEFAULT_MAX_RENDER_SIZE,
                                                  render_size)
    self.input_mode = input_mode
    # A sketch model predicts L* too: there is no full-size L* to guide it.
    self.guided_upsample = guided_upsample and input_mode == "grayscale"
    # Only the mode's own tensor function exists: saving traces every
    # tf.function with an input signature, and the other mode's would not
    # trace with this generator's channel count.
    if input_mode == "sketch":
      self.serve_sketch = tf.function(self._serve_sketch, input_signature=[
          tf.TensorSpec([None, None, None, 1], tf.float32,
                        name=INPUT_SKETCH)])
    else:
      self.serve_lab = tf.function(self._serve_lab, input_signature=[
          tf.TensorSpec([None, None, None, 1], tf.float32, name=INPUT_L)])

  def _generator_fn(self, model_input):
    return self._predict(model_input)

  def _colorize_one(self, image_bytes, render_size):
    rgb_uint8 = full_resolution.decode_rgb_uint8(
        image_bytes, self.max_pixels)  # [H, W, 3]
    if self.input_mode == "sketch":
      rgb_out = sketch.colorize_drawing(self._generator_fn, rgb_uint8,
                                        render_size)
    else:
      rgb_out = full_resolution.colorize_rgb(
          self._generator_fn, rgb_uint8, render_size, self.guided_upsample)
    return tf.io.encode_png(rgb_out, compression=PNG_COMPRESSION)

  def _colorize_batch(self, image_bytes, render_size):
    colorized = tf.map_fn(lambda one: self._colorize_one(one, render_size),
                          image_bytes,
                          fn_output_signature=tf.TensorSpec([], tf.string))
    return {OUTPUT_BYTES: colorized}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name=INPUT_BYTES)])
  def serve_bytes(self, image_bytes):
    # A Python int: the network's input size is static in this signature.
    return self._colorize_batch(image_bytes, self.render_size)

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name=INPUT_BYTES),
      tf.TensorSpec([], tf.int32, name=INPUT_RENDER_SIZE)])
  def serve_bytes_at_size(self, image_bytes, render_size):
    valid = ((render_size > 0) & (render_size % self.render_multiple == 0) &
             (render_size <= self.max_render_size))
    check = tf.debugging.Assert(valid, [
        f"{INPUT_RENDER_SIZE} must be a positive multiple of "
        f"{self.render_multiple} (2**U-Net depth) and at most "
        f"{self.max_render_size}; got", render_size])
    # The check must fail before the generator sees a bad size, whose error
    # would name a convolution instead of the input.
    with tf.control_dependencies([check]):
      render_size = tf.identity(render_size)
    return self._colorize_batch(image_bytes, render_size)

  def _serve_lab(self, l_star):
    return {OUTPUT_AB: full_resolution.predict_ab(
        self._generator_fn, l_star, self.render_size, self.guided_upsample)}

  def _serve_sketch(self, sketch_image):
    return {OUTPUT_LAB: sketch.predict_lab(self._generator_fn, sketch_image,
                                           self.render_size)}


def next_version(model_base: str) -> int:
  """1 + the largest integer version directory under model_base (or 1)."""
  if not tf.io.gfile.isdir(model_base):
    return 1
  versions = [int(name.strip("/")) for name in tf.io.gfile.listdir(model_base)
              if name.strip("/").isdigit()]
  return max(versions, default=0) + 1


def read_metadata(version_dir: str) -> dict:
  """The metadata export() wrote beside a SavedModel.

  Args:
    version_dir: a SavedModel version dir, e.g. savedmodels/demo/3.

  Returns:
    The parsed assets.extra/colorizer.json; {} for a SavedModel without it
    (one exported by other tools).
  """
  path = os.path.join(version_dir, "assets.extra", METADATA_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _warmup_request_bytes(model_name: str, render_size: int) -> bytes:
  """One PredictionLog record in TF Serving's warmup format."""
  from tensorflow_serving.apis import model_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  gradient = np.linspace(0, 255, render_size, dtype=np.uint8)
  gray = np.repeat(np.tile(gradient, (render_size, 1))[..., None], 3, -1)
  png = tf.io.encode_png(gray).numpy()
  request = predict_pb2.PredictRequest(
      model_spec=model_pb2.ModelSpec(name=model_name,
                                     signature_name=SERVING_SIGNATURE))
  request.inputs[INPUT_BYTES].CopyFrom(tf.make_tensor_proto([png],
                                                            dtype=tf.string))
  log = prediction_log_pb2.PredictionLog(
      predict_log=prediction_log_pb2.PredictLog(request=request))
  return log.SerializeToString()


def export(generator: keras.Model, config: config_lib.Config, base_dir: str,
           name: str, version: Optional[int] = None,
           render_size: Optional[int] = None, step: Optional[int] = None,
           max_pixels: int = full_resolution.DEFAULT_MAX_PIXELS,
           guided_upsample: Optional[bool] = None, preset: str = "",
           weights_dtype: str = "float32") -> str:
  """Writes a SavedModel to base_dir/name/version, atomically.

  The model is written to a hidden temporary directory beside the target and
  renamed into place at the end, so TF Serving (which polls for integer
  version directories) never sees a half-written model.

  Args:
    generator: the trained generator.
    config: its config (image_size, export.render_size).
    base_dir: root of the model tree, e.g. "savedmodels".
    name: the model's name, the directory TF Serving's config points at.
    version: an integer version; default the next free one.
    render_size: network resolution; default config.export.render_size or
      the training image_size.
    step: the training step, recorded in the metadata.
    max_pixels: larger decoded inputs are refused.
    guided_upsample: upsample a*b* guided by L* (True, joint bilateral)
      or bilinearly; default config.export.guided_upsample. Grayscale models
      only: a sketch model's is always False. The metadata records it, and
      the config saved there carries it.
    preset: the --preset the run trained from, recorded in the metadata
      (with the export's UTC date and time) for describe_export.
    weights_dtype: "float16" stores the generator's large weights in half
      precision (half the file; computed in float32, see float16_weights).

  Returns:
    The version directory written.

  Raises:
    ValueError: if the version exists or render_size does not fit the U-Net.
  """
  render_size = colorizer_model.render_size(config, render_size)
  render_multiple = colorizer_model.size_multiple(config)
  model_base = os.path.join(base_dir, name)
  version = version or next_version(model_base)
  version_dir = os.path.join(model_base, str(version))
  if tf.io.gfile.exists(version_dir):
    raise ValueError(f"--version={version}: {version_dir} already exists.")
  tf.io.gfile.makedirs(model_base)
  temp_dir = os.path.join(model_base, f".tmp-{version}-{os.getpid()}-"
                          f"{int(time.time())}")
  input_mode = config.data.input_mode
  if guided_upsample is not None:
    config = config.replace(export={"guided_upsample": guided_upsample})
  module = ColorizerModule(generator, render_size, max_pixels,
                           render_multiple=render_multiple,
                           input_mode=input_mode,
                           test_time_flip=config.model.test_time_flip,
                           guided_upsample=config.export.guided_upsample,
                           weights_dtype=weights_dtype)
  signatures = {
      SERVING_SIGNATURE: module.serve_bytes.get_concrete_function(),
      RENDER_SIZE_SIGNATURE: module.serve_bytes_at_size.get_concrete_function(),
  }
  signature_io = {SERVING_SIGNATURE: [INPUT_BYTES, OUTPUT_BYTES],
                  RENDER_SIZE_SIGNATURE: [INPUT_BYTES, INPUT_RENDER_SIZE,
                                          OUTPUT_BYTES]}
  if input_mode == "sketch":
    signatures[SKETCH_SIGNATURE] = module.serve_sketch.get_concrete_function()
    signature_io[SKETCH_SIGNATURE] = [INPUT_SKETCH, OUTPUT_LAB]
  else:
    signatures[LAB_SIGNATURE] = module.serve_lab.get_concrete_function()
    signature_io[LAB_SIGNATURE] = [INPUT_L, OUTPUT_AB]
  try:
    tf.saved_model.save(module, temp_dir, signatures=signatures)
    extra_dir = os.path.join(temp_dir, "assets.extra")
    tf.io.gfile.makedirs(extra_dir)
    with tf.io.TFRecordWriter(os.path.join(extra_dir, WARMUP_FILE)) as writer:
      writer.write(_warmup_request_bytes(name, render_size))
    metadata = {"render_size": render_size, "step": step,
                "input_mode": input_mode, "max_pixels": max_pixels,
                "render_multiple": module.render_multiple,
                "max_render_size": module.max_render_size,
                "guided_upsample": module.guided_upsample,
                "png_compression": PNG_COMPRESSION,
                "weights_dtype": weights_dtype,
                "preset": preset or None,
                "exported": datetime.datetime.now(
                    datetime.timezone.utc).isoformat(timespec="seconds"),
                "signatures": signature_io,
                "config": config.to_dict()}
    with tf.io.gfile.GFile(os.path.join(extra_dir, METADATA_FILE), "w") as f:
      f.write(json.dumps(metadata, indent=2) + "\n")
    tf.io.gfile.rename(temp_dir, version_dir)
  except BaseException:
    if tf.io.gfile.exists(temp_dir):
      tf.io.gfile.rmtree(temp_dir)
    raise
  logging.info("Exported %s (render size %d).", version_dir, render_size)
  return version_dir


def restore_generator(
    model_dir: str, checkpoint_path: Optional[str] = None,
    overrides: config_lib.InferenceOverrides = config_lib.InferenceOverrides()):
  """Rebuilds the generator from model_dir/config.json and a checkpoint.

  overrides (config.InferenceOverrides) replace the config's decode settings
  of an --ab_head=classes model and its test-time flipping.

  Returns:
    (generator, config, step).

  Raises:
    ValueError: if there is no checkpoint, or for decode overrides of a
      regression-head model.
  """
  config = overrides.apply(config_lib.load(model_dir), model_dir)
  checkpoint_path = checkpoint_path or tf.train.latest_checkpoint(
      os.path.join(model_dir, "checkpoints"))
  if not checkpoint_path:
    raise ValueError(f"No checkpoint in {model_dir}/checkpoints; train first "
                     "or pass --checkpoint.")
  # Serving runs in float32 whatever the training precision was.
  config = config.replace(train={"mixed_precision": "none",
                                 "strategy": "default"})
  colorizer_model.set_precision_policy("none")
  # The checkpoint holds the trained encoder: no ImageNet download, and no
  # need for the --encoder_weights file the training run started from.
  generator = networks.build_generator(config.replace(
      model={"encoder_weights": "none"}))
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  tf.train.Checkpoint(generator=generator, step=step).restore(
      checkpoint_path).expect_partial()
  return generator, config, int(step.numpy())


def default_name(model_dir: str, configured_name: str = "") -> str:
  """The model name of an export whose caller names none.

  The config's export_name, or for auto (and empty) the run's name, the last
  folder of model_dir. A name a shipped model holds (savedmodels/photos)
  becomes my_<name>: TF Serving and colorizer-web load a model's highest
  version, so an export there would replace the shipped model unasked. A
  caller that names the model (colorizer-export --name, colorizer-train
  --export_name) is not redirected.
  """
  name = configured_name
  if name in ("", config_lib.EXPORT_NAME_AUTO):
    name = os.path.basename(os.path.normpath(model_dir))
  personal = shipped.personal_name(name)
  if personal != name:
    logging.warning(
        "%s is the shipped model's name: this export goes to %s instead "
        "(colorizer-export --name=%s or colorizer-train --export_name=%s "
        "exports there on purpose).", name, personal, name, name)
  return personal


def export_from_model_dir(
    model_dir: str, checkpoint_path: Optional[str] = None,
    name: Optional[str] = None, version: Optional[int] = None,
    base_dir: Optional[str] = None, render_size: Optional[int] = None,
    overrides: config_lib.InferenceOverrides = config_lib.InferenceOverrides(),
    guided_upsample: Optional[bool] = None,
    weights_dtype: str = "float32") -> str:
  """Restores a checkpoint from a model dir and exports it.

  name (auto: the run's name) and base dir default to the config's export
  group (see default_name). overrides: see restore_generator;
  guided_upsample, weights_dtype: see export. The metadata records the
  preset config.json names.
  """
  generator, config, step = restore_generator(model_dir, checkpoint_path,
                                              overrides)
  if not name or name == config_lib.EXPORT_NAME_AUTO:
    name = default_name(model_dir, config.export.export_name)
  return export(generator, config, base_dir or config.export.export_base_dir,
                name, version=version, render_size=render_size, step=step,
                guided_upsample=guided_upsample,
                preset=config_lib.load_preset(model_dir),
                weights_dtype=weights_dtype)


def describe_export(version_dir: str) -> str:
  """One line naming an export: its path, version, step, preset and date.

  Args:
    version_dir: a SavedModel version dir, e.g. savedmodels/photos/1.

  Returns:
    e.g. "savedmodels/photos version 1 (step 12000, preset photos, exported
    2026-12-01T09:51:58+00:00)"; "unknown" for what the metadata lacks
    (exports from before it was recorded).
  """
  metadata = read_metadata(version_dir)
  version_dir = version_dir.rstrip("/")  # Not normpath: gs:// would lose a /.
  model_base, version = os.path.split(version_dir)
  where = f"{model_base} version {version}" if version.isdigit() else \
      version_dir
  values = {key: metadata.get(key) for key in ("step", "preset", "exported")}
  details = [f"{key} {'unknown' if value in (None, '') else value}"
             for key, value in values.items()]
  return f"{where} ({', '.join(details)})"
