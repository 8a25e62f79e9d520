r"""Exports a trained checkpoint as a SavedModel in TF Serving's layout.

  colorizer-export --model_dir=runs/demo --name=demo
  # -> savedmodels/demo/<next version>/ with serving_default,
  #    serving_render_size and colorize_lab (see docs/serving.md)

Choose a checkpoint, a version and the network's resolution:

  colorizer-export --model_dir=runs/photos --checkpoint=runs/photos/checkpoints/ckpt-20000 \
      --name=photos --version=3 --render_size=512

a*b* are upsampled to each photo's size guided by its L* (joint bilateral);
--noguided_upsample exports the former bilinear resize instead:

  colorizer-export --model_dir=runs/photos --name=photos_bilinear \
      --noguided_upsample

--weights_dtype=float16 halves the file (docs/serving.md#float16-weights).
"""

import sys

from absl import app
from absl import flags

_MODEL_DIR = flags.DEFINE_string("model_dir", None,
                                 "Training model dir (config.json and "
                                 "checkpoints/).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "",
                                  "Checkpoint prefix; default the latest.")
_NAME = flags.DEFINE_string(
    "name", "", "Model name; default the config's export_name, or for auto "
    "the model dir's last folder (my_<name> if a shipped model has that "
    "name; docs/serving.md#where-exports-go).")
_BASE_DIR = flags.DEFINE_string("base_dir", "savedmodels",
                                "Root of the TF Serving model tree.")
_VERSION = flags.DEFINE_integer("version", 0,
                                "Integer version; 0 picks the next free one.")
_RENDER_SIZE = flags.DEFINE_integer(
    "render_size", 0, "Resolution the network runs at (multiple of 2**depth); "
    "0 uses the config's render_size or training image_size.")
_DECODE_TEMPERATURE = flags.DEFINE_float(
    "decode_temperature", None, "--ab_head=classes models: export with this "
    "annealed-mean temperature (unset: the training config's).")
_DECODE_REBALANCE = flags.DEFINE_float(
    "decode_rebalance", None, "--ab_head=classes models: export with this "
    "decode rebalancing power (unset: the training config's).")
_DECODE_SATURATION = flags.DEFINE_float(
    "decode_saturation", None, "--ab_head=classes models: export with this "
    "decode saturation (unset: the training config's).")
_TEST_TIME_FLIP = flags.DEFINE_bool(
    "test_time_flip", None, "Export averaging each prediction with the "
    "mirror image's (unset: the training config's model.test_time_flip).")
_GUIDED_UPSAMPLE = flags.DEFINE_bool(
    "guided_upsample", None, "Upsample a*b* to each photo's size guided by "
    "its full-size L* (joint bilateral: color stays within edges); false: "
    "bilinear. Unset: the training config's export.guided_upsample (true "
    "unless the run set it).")
_WEIGHTS_DTYPE = flags.DEFINE_enum(
    "weights_dtype", "float32", ["float32", "float16"],
    "float16 stores the generator's large weights in half precision: half "
    "the file, computed in float32 (the shipped photo model's).")
flags.mark_flag_as_required("model_dir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if _VERSION.value < 0 or _RENDER_SIZE.value < 0:
    sys.exit("colorizer-export: error: --version and --render_size must be "
             ">= 0.")
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  overrides = config_lib.InferenceOverrides(
      decode_temperature=_DECODE_TEMPERATURE.value,
      decode_rebalance=_DECODE_REBALANCE.value,
      decode_saturation=_DECODE_SATURATION.value,
      test_time_flip=_TEST_TIME_FLIP.value)
  try:
    version_dir = export.export_from_model_dir(
        _MODEL_DIR.value, _CHECKPOINT.value or None, name=_NAME.value or None,
        version=_VERSION.value or None, base_dir=_BASE_DIR.value or None,
        render_size=_RENDER_SIZE.value or None, overrides=overrides,
        guided_upsample=_GUIDED_UPSAMPLE.value,
        weights_dtype=_WEIGHTS_DTYPE.value)
  except ValueError as error:
    sys.exit(f"colorizer-export: error: {error}")
  print(f"Exported {version_dir}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
