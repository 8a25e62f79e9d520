r"""Trains a colorizer (L* in, a*b* out) and logs it to TensorBoard.

With no flags it trains on the built-in demo scenes for a few minutes on a
laptop CPU, then exports a SavedModel to savedmodels/demo/<version>:

  colorizer-train

Your own photos, under the photos preset (the shipped model's recipe: 96 px,
a*b* as color classes, the class subfolders as an auxiliary label, no GAN;
docs/photos.md):

  colorizer-train --dataset=folder:$HOME/photos --model_dir=runs/photos

The values that command trains with (the preset's, then your flags), as a
--flagfile, without training:

  colorizer-train --dataset=folder:$HOME/photos --print_config

The pix2pix paper's reference (GAN + 100 x L1, tanh a*b*, 256 px, base 64):

  colorizer-train --preset=pix2pix --dataset=folder:$HOME/photos \
      --model_dir=runs/pix2pix

A TFDS dataset, a smaller model, fewer steps:

  colorizer-train --dataset=tfds:imagenette/160px --data_dir=~/tensorflow_datasets \
      --image_size=128 --base_filters=32 --train_steps=20000 --model_dir=runs/inet

Rerunning the same command resumes from the last checkpoint in --model_dir.
SIGTERM or Ctrl-C saves a checkpoint after the current step and exits with
status 128 + the signal number (143, 130); a non-finite loss stops the run
with an error naming the step and keeps the last good checkpoint.
Flags you do not set come from --preset (docs/flags.md).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging

from colorizer import config as config_lib
from colorizer import flags_lib

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", "",
    "Checkpoints, TensorBoard logs, config.json and sample grids. Default: "
    "runs/<dataset name>.")
_PRINT_CONFIG = flags.DEFINE_boolean(
    "print_config", False, "Print the values this command trains with (the "
    "preset's for every flag you do not set) as a --flagfile, and exit "
    "without training.")
flags_lib.define_config_flags()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  try:
    config = flags_lib.config_from_flags()
    flags_lib.validate(config)
  except ValueError as error:
    sys.exit(f"colorizer-train: error: {error}")
  model_dir = _MODEL_DIR.value or flags_lib.default_model_dir(config.data.dataset)
  if _PRINT_CONFIG.value:
    print(flags_lib.flagfile_text(config, flags_lib.preset_name(), model_dir),
          end="")
    return
  logging.info("Preset %s; config written to %s", flags_lib.preset_name(),
               os.path.join(model_dir, config_lib.CONFIG_FILENAME))

  from colorizer.training import train  # pylint: disable=g-import-not-at-top
  try:
    metrics = train.train_and_evaluate(config, model_dir,
                                       preset=flags_lib.preset_name())
  except train.TrainingInterrupted as interrupted:
    print(f"colorizer-train: stopped by {interrupted}. Rerun the same "
          "command to resume.", file=sys.stderr)
    # 128 + N is the shell's convention for "ended by signal N".
    sys.exit(128 + interrupted.signal_number)
  except (ValueError, train.NonFiniteLossError) as error:
    sys.exit(f"colorizer-train: error: {error}")

  print(f"\nTrained to step {metrics['step']}. Model dir: {model_dir}")
  if "psnr" in metrics:
    print(f"Validation: PSNR {metrics['psnr']:.2f} dB (gray baseline "
          f"{metrics['psnr_gray']:.2f}), colorfulness "
          f"{metrics['colorfulness']:.1f} (truth "
          f"{metrics['colorfulness_true']:.1f})")
    print("Latest gray | prediction | truth grid: "
          f"{os.path.join(model_dir, train.SAMPLES_DIR, 'latest.png')}")
  print(f"Watch it in TensorBoard:  tensorboard --logdir {model_dir}  then "
        "open http://localhost:6006")
  if config.export.export_name:
    from colorizer.serving import export  # pylint: disable=g-import-not-at-top
    # A name the user gave is exported to as given; the preset's (auto) is
    # the run's name, kept off the shipped model's (export.default_name).
    given = flags.FLAGS["export_name"].present
    export_dir = export.export_from_model_dir(
        model_dir, name=config.export.export_name if given else None)
    print(f"SavedModel (TF Serving layout): {export_dir}")
    print("Colorize with it:  colorizer-colorize "
          f"--model={os.path.dirname(export_dir)} --input=PHOTO "
          "--output_dir=out")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
