r"""Train-step throughput on synthetic batches; prints img_per_s=X last.

  python -m benchmarks.train_throughput --image_size=128 --batch_size=16
  python -m benchmarks.train_throughput --image_size=128 --batch_size=16 \
      --mixed_precision=bfloat16 --jit_compile
  python -m benchmarks.train_throughput --implementation=textbook \
      --image_size=128 --batch_size=16

--implementation=both measures the textbook TF pix2pix step and colorizer's
side by side in one process (the fair way on a shared, noisy machine) and
prints their ratio.

Several --generators are timed in turns in one process (--rounds rounds,
median per variant) and compared as ratios to the first; `NAME:frozen` is
the step with the pretrained encoder frozen (--freeze_encoder_steps). The
photos recipe (no GAN), the U-Net against MobileNetV2 frozen and
fine-tuned:

  python -m benchmarks.train_throughput --image_size=96 --batch_size=32 \
      --base_filters=32 --ab_head=classes --label_weight=1 --noadversarial \
      --generators=unet,mobilenet_unet:frozen,mobilenet_unet
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
_GENERATORS = flags.DEFINE_list(
    "generators", ["unet"],
    "colorizer generators to time: unet, mobilenet_unet, resnet_unet; "
    "NAME:frozen for the step with the encoder frozen.")
_ROUNDS = flags.DEFINE_integer(
    "rounds", 3, "With several --generators: timed in turns this many "
    "times, --min_seconds each; the median is reported.")
_AB_HEAD = flags.DEFINE_enum("ab_head", "regression",
                             ["regression", "classes"], "The a*b* head.")
_LABEL_WEIGHT = flags.DEFINE_float(
    "label_weight", 0.0, "> 0 adds the label head (--generator=unet only, "
    "the one generator that has it) on --num_labels synthetic labels.")
_NUM_LABELS = flags.DEFINE_integer("num_labels", 110,
                                   "Labels for --label_weight.")
_ADVERSARIAL = flags.DEFINE_boolean(
    "adversarial", True, "The GAN step; --noadversarial times the "
    "reconstruction-only step (pretraining; the photos recipe).")
_ENCODER_WEIGHTS = flags.DEFINE_string(
    "encoder_weights", "none", "Encoder generators: weights do not change "
    "the speed, so none by default.")


_ENCODER_GENERATORS = ("mobilenet_unet", "resnet_unet")
flags.register_validator(
    "generators", lambda specs: bool(specs) and all(
        spec in ("unet",) + _ENCODER_GENERATORS or
        spec.removesuffix(":frozen") in _ENCODER_GENERATORS
        for spec in specs),
    message="--generators: expected unet, mobilenet_unet or resnet_unet; "
    "NAME:frozen for an encoder generator with its encoder frozen.")


def _variant(spec: str, config):
  """(config, step options) of one --generators entry."""
  generator, _, mode = spec.partition(":")
  label_weight = _LABEL_WEIGHT.value if generator == "unet" else 0.0
  config = config.replace(
      model={"generator": generator, "ab_head": _AB_HEAD.value,
             "encoder_weights": _ENCODER_WEIGHTS.value},
      loss={"label_weight": label_weight})
  return config, {"adversarial": _ADVERSARIAL.value,
                  "freeze_encoder": mode == "frozen",
                  "num_labels": _NUM_LABELS.value if label_weight else 0}


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
  described = (f"image_size={_IMAGE_SIZE.value} batch_size={_BATCH_SIZE.value}"
               f" base_filters={_BASE_FILTERS.value} ab_head={_AB_HEAD.value}"
               f" adversarial={_ADVERSARIAL.value} "
               f"mixed_precision={config.train.mixed_precision} "
               f"jit_compile={_JIT_COMPILE.value}")
  rates = {}
  if _IMPLEMENTATION.value in ("textbook", "both"):
    rates["textbook"] = measure.textbook_train_rate(
        _IMAGE_SIZE.value, _BATCH_SIZE.value, _BASE_FILTERS.value,
        _STEPS.value, _MIN_SECONDS.value)
    print(f"name=textbook_pix2pix image_size={_IMAGE_SIZE.value} "
          f"batch_size={_BATCH_SIZE.value} img_per_s={rates['textbook']:.3f}")
  if _IMPLEMENTATION.value in ("colorizer", "both"):
    variants = [_variant(spec, config) for spec in _GENERATORS.value]
    if len(variants) == 1:
      variant, options = variants[0]
      rates["colorizer"] = measure.colorizer_train_rate(
          variant, _STEPS.value, _MIN_SECONDS.value, **options)
      print(f"name=colorizer generator={_GENERATORS.value[0]} {described} "
            f"img_per_s={rates['colorizer']:.3f}")
    else:
      calls = {spec: measure.colorizer_train_call(variant, **options)
               for spec, (variant, options) in zip(_GENERATORS.value,
                                                   variants)}
      by_spec = measure.interleaved_rates(calls, _ROUNDS.value,
                                          _MIN_SECONDS.value)
      first = _GENERATORS.value[0]
      for spec, rate in by_spec.items():
        print(f"name=colorizer generator={spec} {described} "
              f"img_per_s={rate:.3f} ratio_to_{first}="
              f"{rate / by_spec[first]:.3f}")
      rates["colorizer"] = by_spec[first]
  if len(rates) == 2:
    print(f"speedup_vs_textbook={rates['colorizer'] / rates['textbook']:.3f}")
  print(f"img_per_s={rates.get('colorizer', rates.get('textbook')):.3f}")


if __name__ == "__main__":
  app.run(main)
