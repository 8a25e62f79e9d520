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

from absl import app
from absl import flags

from benchmarks import latency_lib

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


def _photo(width: int, height: int):
  if not _PHOTO.value:
    return latency_lib.synthetic_photo(width, height)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from colorizer.data import image_io  # pylint: disable=g-import-not-at-top
  image = Image.fromarray(image_io.read_rgb(_PHOTO.value))
  return np.asarray(image.resize((width, height), Image.Resampling.BICUBIC))


def _default_model(temp_dir: str) -> str:
  if os.path.isdir(DEFAULT_MODEL):
    return DEFAULT_MODEL
  from colorizer import presets  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  config = presets.preset(_PRESET.value)
  config = config.replace(model={"encoder_weights": "none"})
  return export.export(networks.build_generator(config), config, temp_dir,
                       f"untrained_{_PRESET.value}")


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
      serves[path] = latency_lib.serve_fn(loaded[path])
      print(f"model={path} version_dir={version_dir} render_size="
            f"{metadata[path].get('render_size')} guided_upsample="
            f"{metadata[path].get('guided_upsample', False)}", flush=True)
    for width, height in sizes:
      image_bytes = latency_lib.jpeg_bytes(_photo(width, height))
      seconds = latency_lib.time_models(serves, image_bytes, _WARMUP.value,
                            _REPEATS.value)
      for path in paths:
        p50, p95 = latency_lib.percentiles(seconds[path])
        print(f"name=serving_latency model={path} input={width}x{height} "
              f"batch_size=1 p50_s={p50:.4f} p95_s={p95:.4f} "
              f"calls={len(seconds[path])}", flush=True)
      if len(paths) > 1:
        base = latency_lib.percentiles(seconds[paths[0]])[0]
        for path in paths[1:]:
          print(f"name=serving_latency_ratio input={width}x{height} "
                f"model={path} vs={paths[0]} p50_ratio="
                f"{latency_lib.percentiles(seconds[path])[0] / base:.3f}",
                flush=True)
      if _STAGES.value:
        latency_lib.print_stages(loaded[paths[-1]], metadata[paths[-1]],
                                 image_bytes, f"{width}x{height}",
                                 _WARMUP.value, _REPEATS.value)


if __name__ == "__main__":
  app.run(main)
