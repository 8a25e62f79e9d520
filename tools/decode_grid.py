"""Scores a grid of decodes of one --ab_head=classes run, then tabulates them.

  python -m tools.decode_grid --model_dir=runs/cifar10 \
      --output_dir=runs/cifar10/decode --num_images=2000

is colorizer-evaluate once per (--decode_temperature, --decode_rebalance,
--decode_saturation) setting, in one process (TensorFlow is imported once),
each report written to <output_dir>/T<t>_R<r>_S<s>/ without a contact
sheet; then it prints tools.decode_table's table, the decode rule's choice
and the PSNR at fixed colorfulness. docs/results.md chooses the cifar10
preset's decode with it.
"""

import os
import sys

from absl import app
from absl import flags

from tools import decode_table

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Training model dir of an --ab_head=classes run.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "One report dir per decode goes here.")
_TEMPERATURES = flags.DEFINE_list(
    "temperatures", ["0.2", "0.38", "0.6", "1"],
    "Annealed-mean temperatures.")
_REBALANCES = flags.DEFINE_list(
    "rebalances", ["0", "0.5", "1", "1.5", "2", "2.5", "3"],
    "Decode rebalancing powers.")
_SATURATIONS = flags.DEFINE_list(
    "saturations", ["1"], "Decode saturations.")
_NUM_IMAGES = flags.DEFINE_integer(
    "num_images", 2000, "Images scored per decode (black-and-white ones left "
    "out and not counted).")
_IMAGE_OFFSET = flags.DEFINE_integer(
    "image_offset", 0, "Skip the split's first images.")
_IMAGE_STRIDE = flags.DEFINE_integer(
    "image_stride", 1, "Then score every Nth image (colorizer-evaluate's "
    "--image_stride).")
_TEST_TIME_FLIP = flags.DEFINE_bool(
    "test_time_flip", None, "Score with (without) test-time flipping; unset: "
    "the run's own setting.")
flags.mark_flags_as_required(["model_dir", "output_dir"])


def _floats(flag) -> list:
  try:
    return [float(value) for value in flag.value]
  except ValueError:
    sys.exit(f"decode_grid: error: --{flag.name}={','.join(flag.value)}: "
             "expected comma-separated numbers.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.evaluation import evaluate_lib  # pylint: disable=g-import-not-at-top
  temperatures, rebalances, saturations = (
      _floats(_TEMPERATURES), _floats(_REBALANCES), _floats(_SATURATIONS))
  settings = [(t, r, s) for t in temperatures for r in rebalances
              for s in saturations]
  for index, (temperature, rebalance, saturation) in enumerate(settings):
    name = f"T{temperature:g}_R{rebalance:g}_S{saturation:g}"
    try:
      result, _ = evaluate_lib.evaluate(
          model_dir=_MODEL_DIR.value, num_images=_NUM_IMAGES.value,
          output_dir=os.path.join(_OUTPUT_DIR.value, name),
          contact_sheet_images=0,
          overrides=config_lib.InferenceOverrides(
              decode_temperature=temperature, decode_rebalance=rebalance,
              decode_saturation=saturation,
              test_time_flip=_TEST_TIME_FLIP.value),
          image_offset=_IMAGE_OFFSET.value, image_stride=_IMAGE_STRIDE.value,
          progress_stream=None)
    except ValueError as error:
      sys.exit(f"decode_grid: error: {error}")
    print(f"[{index + 1}/{len(settings)}] {name}: PSNR "
          f"{result.model['psnr']:.2f} colorfulness "
          f"{result.model['colorfulness']:.1f}", file=sys.stderr, flush=True)
  print(decode_table.markdown(_OUTPUT_DIR.value))


if __name__ == "__main__":
  app.run(main)
