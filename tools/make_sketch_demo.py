r"""Trains a short sketch-mode demo run and writes docs/sketch_demo.png.

Run from the repository root (about two minutes on 2 CPU cores):

  python -m tools.make_sketch_demo --model_dir=/tmp/sketch_demo \
      --output=docs/sketch_demo.png

The run: the demo preset with --input_mode=sketch at 64 px, base 16 filters,
1500 steps (500 of them reconstruction-only pretraining). The sheet is the
first --rows rows of the run's last validation grid (held-out demo scenes):
sketch | prediction | truth, enlarged --scale times (nearest neighbour). A
rerun with the same --model_dir resumes, so it only redraws the sheet.
"""

import io
import json
import os

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from colorizer import config as config_lib
from colorizer import presets
from colorizer.training import train

_MODEL_DIR = flags.DEFINE_string("model_dir", "/tmp/sketch_demo",
                                 "Where the run trains.")
_OUTPUT = flags.DEFINE_string("output", "docs/sketch_demo.png",
                              "The sheet to write.")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 1500, "Training steps.")
_ROWS = flags.DEFINE_integer("rows", 4, "Validation scenes on the sheet.")
_SCALE = flags.DEFINE_integer("scale", 2, "Enlargement of the 64 px sheet.")


def demo_sketch_config(train_steps: int) -> config_lib.Config:
  """The demo preset in sketch mode, small enough for a CPU."""
  return presets.demo().replace(
      data={"input_mode": "sketch"}, model={"base_filters": 16},
      train={"train_steps": train_steps,
             "pretrain_steps": train_steps // 3, "log_every": 50,
             "eval_every": train_steps, "save_every": train_steps},
      export={"export_name": ""})


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  config = demo_sketch_config(_TRAIN_STEPS.value)
  train.train_and_evaluate(config, _MODEL_DIR.value)
  # Written by the run's last evaluation, also when a rerun had nothing to do.
  with open(os.path.join(_MODEL_DIR.value, "eval_metrics.json")) as f:
    metrics = json.load(f)
  grid_path = os.path.join(_MODEL_DIR.value, train.SAMPLES_DIR, "latest.png")
  with open(grid_path, "rb") as f:
    grid = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
  rows = grid[:_ROWS.value * config.data.image_size]
  Image.fromarray(rows).resize(
      (rows.shape[1] * _SCALE.value, rows.shape[0] * _SCALE.value),
      Image.NEAREST).save(_OUTPUT.value)
  print(f"{_OUTPUT.value}: {_ROWS.value} rows, step {metrics['step']}: "
        f"PSNR {metrics['psnr']:.2f} dB (sketch {metrics['psnr_gray']:.2f}), "
        f"L* L1 {metrics['l_l1']:.2f}, a*b* L1 {metrics['ab_l1']:.2f} "
        f"(gray {metrics['ab_l1_gray']:.2f})")


if __name__ == "__main__":
  app.run(main)
