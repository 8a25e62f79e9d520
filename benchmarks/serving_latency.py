r"""Latency of serving_default (p50, p95) for one JPEG photo at a time.

  python -m benchmarks.serving_latency
  python -m benchmarks.serving_latency --model=savedmodels/photos/3
  # Two exports in one run, calls interleaved, with their ratio:
  python -m benchmarks.serving_latency --model=/tmp/before/photos/1 \
      --model=savedmodels/photos/3
  # Where the time goes: each stage of the serving graph on its own.
  python -m benchmarks.serving_latency --stages --sizes=1024x768,3000x2000

The model defaults to savedmodels/photos (its highest version) if there is
one, else the --preset's generator, untrained, exported to a temporary dir
(timing depends on the architecture and render size, not the weights; an
untrained network puts fewer pixels out of gamut than a trained one).

Each photo is a synthetic one (smooth colors, edges and fine grain, so that
JPEG decoding and PNG encoding see photo-like content) or --photo resized,
encoded as JPEG (quality 90) and sent alone (batch 1). After --warmup calls
per model and size, --repeats calls are timed, the models taking turns so
that a machine's changing load falls on all of them alike. Prints the
hardware line, then `name=serving_latency model=... input=WxH p50_s=...
p95_s=...` per model and size, and with two models their p50 ratio.

--stages times, per size, what serving_default does in turn, each stage a
tf.function of its own: decode, L*, network (colorize_lab at render size),
a*b* upsampling, gamut clamp with the conversion to 8-bit sRGB, and PNG
encoding; each beside the implementation the graph had before (tfio's
L*a*b*, the twelve-step clamp then lab_to_rgb, PNG at zlib's default).
"""

import os
import tempfile
import time

from absl import app
from absl import flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

DEFAULT_MODEL = "savedmodels/photos"
_MODELS = flags.DEFINE_multi_string(
    "model", [], "SavedModel version dir or model base dir; repeat to "
    "compare. Default: savedmodels/photos, else an untrained --preset model.")
_PRESET = flags.DEFINE_string(
    "preset", "demo", "The untrained model's preset when there is no "
    "--model and no savedmodels/photos.")
_SIZES = flags.DEFINE_list("sizes", ["640x480", "1024x768", "3000x2000"],
                           "Photo sizes, WIDTHxHEIGHT.")
_PHOTO = flags.DEFINE_string("photo", "", "A photo to resize to each size; "
                             "default a synthetic one.")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed calls per model, size.")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed calls per model, size.")
_STAGES = flags.DEFINE_boolean("stages", False,
                               "Also time each stage of the graph.")


def _parse_size(text: str):
  try:
    width, height = (int(value) for value in text.lower().split("x"))
  except ValueError:
    raise app.UsageError(f"--sizes: {text!r} is not WIDTHxHEIGHT") from None
  if width < 1 or height < 1:
    raise app.UsageError(f"--sizes: {text!r} must be positive")
  return width, height


def synthetic_photo(width: int, height: int, seed: int = 0):
  """uint8 [H, W, 3]: smooth colors, a few hard edges and fine grain."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  coarse = Image.fromarray(rng.randint(0, 256, (6, 8, 3)).astype(np.uint8))
  rgb = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC),
                   np.float64)
  rows, cols = np.mgrid[0:height, 0:width]
  for _ in range(4):  # Discs of another color: edges to keep.
    row, col = rng.uniform(0, height), rng.uniform(0, width)
    radius = rng.uniform(0.05, 0.25) * min(width, height)
    disc = (rows - row) ** 2 + (cols - col) ** 2 < radius ** 2
    rgb[disc] = rgb[disc] * 0.3 + rng.uniform(0, 255, 3) * 0.7
  rgb += rng.normal(0, 6, rgb.shape)
  return np.clip(rgb, 0, 255).astype(np.uint8)


def _jpeg(rgb_uint8) -> bytes:
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(rgb_uint8).save(buffer, format="JPEG", quality=90)
  return buffer.getvalue()


def _photo(width: int, height: int):
  if not _PHOTO.value:
    return synthetic_photo(width, height)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from colorizer.data import image_io  # pylint: disable=g-import-not-at-top
  image = Image.fromarray(image_io.read_rgb(_PHOTO.value))
  return np.asarray(image.resize((width, height), Image.Resampling.BICUBIC))


def _default_model(temp_dir: str) -> str:
  if os.path.isdir(DEFAULT_MODEL):
    return DEFAULT_MODEL
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  config = config_lib.preset(_PRESET.value)
  config = config.replace(model={"encoder_weights": "none"})
  return export.export(networks.build_generator(config), config, temp_dir,
                       f"untrained_{_PRESET.value}")


def percentiles(seconds):
  """(p50, p95) of a list of durations, by linear interpolation."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  return (float(np.percentile(seconds, 50)), float(np.percentile(seconds, 95)))


def time_models(serves, image_bytes, warmup: int, repeats: int):
  """{name: [seconds]} of serving image_bytes, the models taking turns."""
  for serve in serves.values():
    for _ in range(warmup):
      serve(image_bytes)
  seconds = {name: [] for name in serves}
  for _ in range(repeats):
    for name, serve in serves.items():
      start = time.perf_counter()
      serve(image_bytes)
      seconds[name].append(time.perf_counter() - start)
  return seconds


def _serve_fn(loaded):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  signature = loaded.signatures[export.SERVING_SIGNATURE]
  return lambda image_bytes: signature(image_bytes=tf.constant(
      [image_bytes]))[export.OUTPUT_BYTES].numpy()


def _stages(loaded, metadata):
  """[(stage, variant, fn, input name, output name)] in serving order."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer import color  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  from colorizer.serving import joint_bilateral  # pylint: disable=g-import-not-at-top
  render_size = metadata["render_size"]
  guided = metadata.get("guided_upsample", False)
  serve_lab = loaded.signatures[export.LAB_SIGNATURE]
  decode_native = lambda image_bytes: tf.io.decode_image(
      image_bytes, channels=0, expand_animations=False)
  l_star_tfio = lambda rgb_uint8: color.rgb_to_lab(
      color.rgb_uint8_to_float(rgb_uint8))[..., :1][None]
  resize_down = lambda l_star: tf.image.resize(
      l_star, [render_size, render_size], antialias=True)
  three_steps = lambda l_star, ab: color.rgb_float_to_uint8(color.lab_to_rgb(
      tf.concat([l_star, color.clamp_ab_to_gamut(l_star, ab, 12)], -1)))[0]
  return [
      ("decode", "decode_rgb_uint8", export.decode_rgb_uint8, ("bytes",),
       "rgb"),
      ("decode", "decode_image_alone", decode_native, ("bytes",), None),
      ("l_star", "from_uint8_table", lambda rgb_uint8: (
          color.l_star_from_rgb_uint8(rgb_uint8)[None]), ("rgb",), "l_star"),
      ("l_star", "before_tfio_lab", l_star_tfio, ("rgb",), None),
      ("resize_down", "antialias", resize_down, ("l_star",), "l_render"),
      ("network", "colorize_lab_at_render_size",
       lambda l_render: serve_lab(l_star=l_render)[export.OUTPUT_AB],
       ("l_render",), "ab_render"),
      # The model's own upsampling feeds the clamp.
      ("upsample", "joint_bilateral", joint_bilateral.upsample_ab,
       ("l_star", "l_render", "ab_render"), "ab" if guided else None),
      ("upsample", "before_bilinear", lambda l_star, ab_render: (
          tf.image.resize(ab_render, tf.shape(l_star)[1:3])),
       ("l_star", "ab_render"), None if guided else "ab"),
      ("clamp_to_uint8", "fused_10_steps", lambda l_star, ab: (
          color.lab_to_rgb_uint8_in_gamut(l_star, ab)[0]), ("l_star", "ab"),
       "rgb_out"),
      ("clamp_to_uint8", "before_12_steps_then_lab_to_rgb", three_steps,
       ("l_star", "ab"), None),
      ("png", f"compression_{export.PNG_COMPRESSION}",
       lambda rgb_out: tf.io.encode_png(
           rgb_out, compression=export.PNG_COMPRESSION), ("rgb_out",), None),
      ("png", "before_zlib_default", tf.io.encode_png, ("rgb_out",), None),
  ]


def print_stages(loaded, metadata, image_bytes: bytes, size: str,
                 warmup: int, repeats: int) -> None:
  """Times each stage of serving_default on its own, as tf.functions.

  Each stage's input is the previous stage's output, computed once; the
  variants of a stage take turns.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from colorizer import color  # pylint: disable=g-import-not-at-top
  values = {"bytes": tf.constant(image_bytes)}
  for stage, variant, fn, inputs, output in _stages(loaded, metadata):
    function = tf.function(fn)
    args = [values[name] for name in inputs]
    result = function(*args)
    if output:
      values[output] = result
    seconds = time_models({variant: lambda _: tf.nest.map_structure(
        lambda tensor: tensor.numpy(), function(*args))}, None, warmup,
                          repeats)[variant]
    p50, p95 = percentiles(seconds)
    print(f"name=serving_stage input={size} stage={stage} variant={variant} "
          f"p50_s={p50:.4f} p95_s={p95:.4f}", flush=True)
  # The clamp's bisection costs in proportion to the pixels out of gamut:
  # more for a trained, vivid model than for an untrained one.
  inside = color.in_srgb_gamut(tf.concat([values["l_star"], values["ab"]],
                                         axis=-1))
  print(f"name=serving_stage input={size} out_of_gamut_share="
        f"{1.0 - float(tf.reduce_mean(tf.cast(inside, tf.float32))):.4f}",
        flush=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  sizes = [_parse_size(text) for text in _SIZES.value]
  if _WARMUP.value < 0 or _REPEATS.value < 1:
    raise app.UsageError("--warmup must be >= 0 and --repeats >= 1")
  from colorizer import hardware  # pylint: disable=g-import-not-at-top
  from colorizer.serving import colorize_lib  # pylint: disable=g-import-not-at-top
  print(hardware.describe(), flush=True)
  with tempfile.TemporaryDirectory() as temp_dir:
    paths = _MODELS.value or [_default_model(temp_dir)]
    loaded, metadata, serves = {}, {}, {}
    for path in paths:
      try:
        version_dir, loaded[path], metadata[path] = colorize_lib.load_export(
            path)
      except ValueError as error:
        raise app.UsageError(str(error)) from None
      serves[path] = _serve_fn(loaded[path])
      print(f"model={path} version_dir={version_dir} render_size="
            f"{metadata[path].get('render_size')} guided_upsample="
            f"{metadata[path].get('guided_upsample', False)}", flush=True)
    for width, height in sizes:
      image_bytes = _jpeg(_photo(width, height))
      seconds = time_models(serves, image_bytes, _WARMUP.value,
                            _REPEATS.value)
      for path in paths:
        p50, p95 = percentiles(seconds[path])
        print(f"name=serving_latency model={path} input={width}x{height} "
              f"batch_size=1 p50_s={p50:.4f} p95_s={p95:.4f} "
              f"calls={len(seconds[path])}", flush=True)
      if len(paths) > 1:
        base = percentiles(seconds[paths[0]])[0]
        for path in paths[1:]:
          print(f"name=serving_latency_ratio input={width}x{height} "
                f"model={path} vs={paths[0]} p50_ratio="
                f"{percentiles(seconds[path])[0] / base:.3f}", flush=True)
      if _STAGES.value:
        print_stages(loaded[paths[-1]], metadata[paths[-1]], image_bytes,
                     f"{width}x{height}", _WARMUP.value, _REPEATS.value)


if __name__ == "__main__":
  app.run(main)
