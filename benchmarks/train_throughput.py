r"""Train-step throughput on synthetic batches; prints img_per_s=X last.

  python -m benchmarks.train_throughput --image_size=128 --batch_size=16
  python -m benchmarks.train_throughput --image_size=128 --batch_size=16 \
      --mixed_precision=bfloat16 --jit_compile
  python -m benchmarks.train_throughput --implementation=textbook \
      --image_size=128 --batch_size=16

--implementation=both measures the textbook TF pix2pix step and colorizer's
side by side in one process (the fair way on a shared, noisy machine) and
prints their ratio.
"""

import os

from absl import app
from absl import flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

_IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Square input size.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size.")
_BASE_FILTERS = flags.DEFINE_integer("base_filters", 64, "Model width.")
_MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision", "auto", ["auto", "none", "bfloat16", "float16"],
    "Compute dtype (colorizer only; the textbook step is float32). auto "
    "chooses as colorizer-train does (colorizer.hardware).")
_JIT_COMPILE = flags.DEFINE_boolean("jit_compile", False,
                                    "XLA (colorizer only).")
_STEPS_PER_EXECUTION = flags.DEFINE_integer("steps_per_execution", 1,
                                            "Steps per tf.function call.")
_STEPS = flags.DEFINE_integer("steps", 5, "Timed steps (at least).")
_MIN_SECONDS = flags.DEFINE_float("min_seconds", 10.0,
                                  "Time each measurement at least this long.")
_IMPLEMENTATION = flags.DEFINE_enum(
    "implementation", "colorizer", ["colorizer", "textbook", "both"],
    "Which train step to time.")


def main(argv):
  del argv
  from benchmarks import measure  # pylint: disable=g-import-not-at-top
  from colorizer import hardware  # pylint: disable=g-import-not-at-top
  from colorizer.training import steps  # pylint: disable=g-import-not-at-top
  print(hardware.describe())
  # The same choice colorizer-train makes with no flags, logged the same way.
  config = steps.resolve_precision(measure.benchmark_config(
      _IMAGE_SIZE.value, _BATCH_SIZE.value, _BASE_FILTERS.value,
      _MIXED_PRECISION.value, _JIT_COMPILE.value, _STEPS_PER_EXECUTION.value))
  rates = {}
  if _IMPLEMENTATION.value in ("textbook", "both"):
    rates["textbook"] = measure.textbook_train_rate(
        _IMAGE_SIZE.value, _BATCH_SIZE.value, _BASE_FILTERS.value,
        _STEPS.value, _MIN_SECONDS.value)
    print(f"name=textbook_pix2pix image_size={_IMAGE_SIZE.value} "
          f"batch_size={_BATCH_SIZE.value} img_per_s={rates['textbook']:.3f}")
  if _IMPLEMENTATION.value in ("colorizer", "both"):
    rates["colorizer"] = measure.colorizer_train_rate(config, _STEPS.value,
                                                      _MIN_SECONDS.value)
    print(f"name=colorizer image_size={_IMAGE_SIZE.value} "
          f"batch_size={_BATCH_SIZE.value} "
          f"mixed_precision={config.train.mixed_precision} "
          f"jit_compile={_JIT_COMPILE.value} img_per_s="
          f"{rates['colorizer']:.3f}")
  if len(rates) == 2:
    print(f"speedup_vs_textbook={rates['colorizer'] / rates['textbook']:.3f}")
  print(f"img_per_s={rates.get('colorizer', rates.get('textbook')):.3f}")


if __name__ == "__main__":
  app.run(main)
