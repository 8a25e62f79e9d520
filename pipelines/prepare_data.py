r"""Converts a folder of images into resized TFRecord shards for training.

  colorizer-prepare-data --input_dir=$HOME/photos --output_dir=data/photos \
      --image_size=286 --num_shards=16

then train on them with

  colorizer-train --dataset='tfrecord:data/photos/*.tfrecord'

Unreadable files are skipped, listed and counted; the exit status is 0.
"""

import sys

from absl import app
from absl import flags

from colorizer.data import image_io

_INPUT_DIR = flags.DEFINE_string("input_dir", None, "Folder of images "
                                 "(searched recursively).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where shards go.")
_IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", 286, "Short side after resizing (0 keeps the original).")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 8, "Training shards.")
_VAL_FRACTION = flags.DEFINE_float("val_fraction", 0.05,
                                   "Fraction written to val-* shards.")
_FORMAT = flags.DEFINE_enum("format", "png", ["png", "jpeg"],
                            "Encoding inside the records.")
_SEED = flags.DEFINE_integer("seed", 0, "Train/val split seed.")
_MAX_IMAGE_PIXELS = flags.DEFINE_integer(
    "max_image_pixels", image_io.DEFAULT_MAX_PIXELS,
    "Images with more pixels are skipped.")
flags.mark_flags_as_required(["input_dir", "output_dir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  from colorizer.data import tfrecords  # pylint: disable=g-import-not-at-top
  try:
    counts = tfrecords.write_shards(
        _INPUT_DIR.value, _OUTPUT_DIR.value, image_size=_IMAGE_SIZE.value,
        num_shards=_NUM_SHARDS.value, val_fraction=_VAL_FRACTION.value,
        image_format=_FORMAT.value, seed=_SEED.value,
        max_pixels=_MAX_IMAGE_PIXELS.value)
  except ValueError as error:
    sys.exit(f"colorizer-prepare-data: error: {error}")
  print(f"Wrote {counts['train']} train and {counts['val']} val images to "
        f"{_OUTPUT_DIR.value}; skipped {counts['skipped']} unreadable "
        "file(s).")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
