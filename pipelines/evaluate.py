r"""Scores a colorizer at full resolution against the grayscale baseline.

An exported SavedModel (what TF Serving runs), on the validation split of the
data it was trained on, with FID from a local Inception-v3 weights file:

  colorizer-evaluate --model=savedmodels/demo --fid_weights=inception_notop.weights.h5

A realism measure that needs no Inception: FD-MobileNetV2, beside gray's and
the truth's own split-half floor, with bootstrap intervals (docs/evaluate.md):

  colorizer-evaluate --model=savedmodels/photos --dataset=folder:$HOME/held_out \
      --split=all --fd_weights=mobilenet_v2_1.0_imagenet_notop.weights.h5

A model trained on a folder needs --dataset (the path it records is the
training machine's); --split=all scores a folder kept for evaluation whole:

  colorizer-evaluate --model=savedmodels/photos --dataset=folder:$HOME/held_out --split=all

A model trained on several sources, scored on each one's validation split
(reports under <output_dir>/<source name>/):

  colorizer-evaluate --model_dir=runs/imagenette+places \
      --dataset=folder:$HOME/imagenette/train,folder:$HOME/places/train

A training model dir (its latest checkpoint), on 200 images of another source,
writing the reports next to its TensorBoard logs:

  colorizer-evaluate --model_dir=runs/photos --dataset=folder:$HOME/more_photos \
      --split=all --num_images=200

Prints a metric | model | gray baseline | better? table and writes
<output_dir>/metrics.json, <output_dir>/contact_sheet.png (gray | output |
truth rows) and TensorBoard scalars under <output_dir>/eval_full/.
"""

import os
import sys

from absl import app
from absl import flags

# Before NumPy loads: the Frechet bootstrap's hundreds of small matrix
# decompositions ran 9 times faster on one OpenBLAS thread than on two while
# other jobs held the cores (24 s against 212 s for 300 images); TensorFlow
# keeps its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_MODEL = flags.DEFINE_string(
    "model", "", "An exported SavedModel: a version dir (savedmodels/demo/3) "
    "or a model base dir (savedmodels/demo: its highest version).")
_MODEL_DIR = flags.DEFINE_string(
    "model_dir", "", "A training model dir (config.json, checkpoints/); its "
    "latest checkpoint runs at the training image_size. Exactly one of "
    "--model and --model_dir.")
_DATASET = flags.DEFINE_string(
    "dataset", "", "demo | folder:PATH | tfrecord:GLOB | tfds:NAME[:SPLIT] | "
    "npz:PATH; default the source the model was trained on (with --model, "
    "only demo or tfds:NAME: a recorded path is not guessed).")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", "", "TFDS data_dir; default --model_dir's, or TFDS's own.")
_SPLIT = flags.DEFINE_enum(
    "split", "val", ["val", "train", "all"],
    "val: the held-out split training validated on (same seed and "
    "val_fraction); all: val then train, for a source kept for evaluation.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 0,
                                   "Score the first N images; 0 for all.")
_IMAGE_OFFSET = flags.DEFINE_integer(
    "image_offset", 0, "Skip the split's first N images (e.g. to report on "
    "images other than those a decode was chosen on).")
_IMAGE_STRIDE = flags.DEFINE_integer(
    "image_stride", 1, "Then score every Nth image: a sample spread over the "
    "split (a folder's files are sorted by class). --image_stride=2 with "
    "--image_offset=0 and 1 gives two disjoint halves.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "", "Reports go here; default --model_dir, or "
    "runs/eval/<name>_v<version> for --model.")
_OUTPUT_JSON = flags.DEFINE_string(
    "output_json", "", "JSON report; default <output_dir>/metrics.json.")
_FID_WEIGHTS = flags.DEFINE_string(
    "fid_weights", "", "Inception-v3 weights for FID: a Keras file for "
    "InceptionV3(include_top=False, pooling='avg'), or 'imagenet' to let "
    "Keras download them. Empty: FID is reported as not computed.")
_FD_WEIGHTS = flags.DEFINE_string(
    "fd_weights", "", "ImageNet MobileNetV2 weights for FD-MobileNetV2 (a "
    "Frechet distance on its pooled 1280-d features at 224 px): a Keras file "
    "for MobileNetV2(include_top=False), such as "
    "mobilenet_v2_1.0_imagenet_notop.weights.h5. Empty: not computed.")
_BOOTSTRAP_ROUNDS = flags.DEFINE_integer(
    "bootstrap_rounds", 50, "Resamples of the images behind the 95% "
    "intervals of FD-MobileNetV2 and FID (and random splits behind their "
    "split-half values).")
_CONTACT_SHEET_IMAGES = flags.DEFINE_integer(
    "contact_sheet_images", 8, "Rows of the gray | output | truth sheet.")
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", 16, "Most images per model call (equal sizes only).")
_DECODE_TEMPERATURE = flags.DEFINE_float(
    "decode_temperature", None, "With --model_dir of an --ab_head=classes "
    "run: decode at this annealed-mean temperature (unset: the run's own), to "
    "choose the temperature on validation data before exporting.")
_SKIP_GRAYSCALE = flags.DEFINE_bool(
    "skip_grayscale", True, "Leave images without color (mean a*b* chroma "
    "< 1: black-and-white photos) out of the scores, as colorization "
    "benchmarks do; their number is reported.")
_DECODE_REBALANCE = flags.DEFINE_float(
    "decode_rebalance", None, "With --model_dir of an --ab_head=classes run: "
    "decode with this rebalancing power (unset: the run's own).")
_DECODE_SATURATION = flags.DEFINE_float(
    "decode_saturation", None, "With --model_dir of an --ab_head=classes "
    "run: decode with this saturation (unset: the run's own).")
_TEST_TIME_FLIP = flags.DEFINE_bool(
    "test_time_flip", None, "With --model_dir: average each prediction with "
    "the mirror image's (unset: the run's own model.test_time_flip).")
_RENDER_SIZE = flags.DEFINE_integer(
    "render_size", 0, "With --model_dir: run the network at this square "
    "size (a multiple of 2**U-Net depth) instead of its export's (0: "
    "export.render_size, else the training size), to choose "
    "colorizer-export's --render_size.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.evaluation import evaluate_report  # pylint: disable=g-import-not-at-top
  from colorizer.evaluation import per_source  # pylint: disable=g-import-not-at-top
  try:
    reports = per_source.evaluate_each_source(
        model_path=_MODEL.value, model_dir=_MODEL_DIR.value,
        dataset=_DATASET.value, data_dir=_DATA_DIR.value, split=_SPLIT.value,
        num_images=_NUM_IMAGES.value, output_dir=_OUTPUT_DIR.value,
        output_json=_OUTPUT_JSON.value, fid_weights=_FID_WEIGHTS.value,
        fd_weights=_FD_WEIGHTS.value,
        bootstrap_rounds=_BOOTSTRAP_ROUNDS.value,
        contact_sheet_images=_CONTACT_SHEET_IMAGES.value,
        batch_size=_BATCH_SIZE.value,
        overrides=config_lib.InferenceOverrides(
            decode_temperature=_DECODE_TEMPERATURE.value,
            decode_rebalance=_DECODE_REBALANCE.value,
            decode_saturation=_DECODE_SATURATION.value,
            test_time_flip=_TEST_TIME_FLIP.value),
        skip_grayscale=_SKIP_GRAYSCALE.value,
        image_offset=_IMAGE_OFFSET.value, image_stride=_IMAGE_STRIDE.value,
        render_size=_RENDER_SIZE.value)
  except ValueError as error:
    sys.exit(f"colorizer-evaluate: error: {error}")
  for source, result, paths in reports:
    if source:
      print(f"\n=== source {source}: {result.info['dataset']} ===")
    print(evaluate_report.format_table(result))
    if result.info.get("grayscale_images_left_out"):
      print(f"{result.info['grayscale_images_left_out']} black-and-white "
            "image(s) were left out (--noskip_grayscale scores them).")
    if result.info.get("skipped_files"):
      print(f"{result.info['skipped_files']} unreadable file(s) were "
            "skipped.")
    print(f"\nJSON report: {paths['json']}")
    if "contact_sheet" in paths:
      print(f"Contact sheet (gray | output | truth): {paths['contact_sheet']}")
    print("TensorBoard (eval_full/ scalars and the sheet): tensorboard "
          f"--logdir {os.path.dirname(paths['tensorboard'])}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
