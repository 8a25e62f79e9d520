"""absl flags generated from the config dataclasses, and config validation.

Every config field is a flag of the same name, with the field's help text and
allowed values, grouped by config group in --helpfull. A preset supplies the
values of flags the user does not set; flags the user sets win.
"""

import dataclasses
import os
from typing import Optional

from absl import flags
from absl import logging

from colorizer import config as config_lib

PRESET_AUTO = "auto"
# Phase lengths (train group) a preset states for its own --train_steps: when
# the user sets --train_steps but not these, they scale with it, so that a
# shorter run keeps the preset's proportions (pretraining, encoder freeze,
# and with them the GAN phase; --decay_fraction is a fraction already).
PHASE_FLAGS = ("pretrain_steps", "freeze_encoder_steps")


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --preset and one flag per config field."""
  flags.DEFINE_enum(
      "preset", PRESET_AUTO, [PRESET_AUTO] + sorted(config_lib.PRESETS),
      "Named config supplying the defaults of flags you do not set. auto: "
      "demo for --dataset=demo (small, minutes on a CPU), else photos (the "
      "recipe for photographs; docs/results.md). pix2pix is the paper's "
      "256 px reference.", flag_values=flag_values)
  for group_name in config_lib.GROUP_NAMES:
    group_type = config_lib.GROUP_TYPES[group_name]
    for field in dataclasses.fields(group_type):
      default = field.default
      help_text = f"[{group_name}] {field.metadata['help']}"
      choices = field.metadata.get("choices")
      kwargs = {"flag_values": flag_values}
      if choices:
        flags.DEFINE_enum(field.name, default, list(choices), help_text,
                          **kwargs)
      elif isinstance(default, bool):
        flags.DEFINE_boolean(field.name, default, help_text, **kwargs)
      elif isinstance(default, int):
        flags.DEFINE_integer(field.name, default, help_text, **kwargs)
      elif isinstance(default, float):
        flags.DEFINE_float(field.name, default, help_text, **kwargs)
      else:
        flags.DEFINE_string(field.name, default, help_text, **kwargs)


def preset_name(flag_values: flags.FlagValues = flags.FLAGS) -> str:
  """The preset --preset names, resolving auto from --dataset."""
  name = flag_values.preset
  if name != PRESET_AUTO:
    return name
  dataset = flag_values["dataset"].value if flag_values["dataset"].present \
      else "demo"
  return "demo" if dataset == "demo" else "photos"


def default_model_dir(dataset: str) -> str:
  """runs/demo, runs/<folder name>, runs/<tfds name>, ..."""
  kind, _, location = dataset.partition(":")
  location = location.split(":")[0]  # tfds:NAME:SPLIT -> NAME
  name = os.path.basename(os.path.normpath(location)) if location else ""
  name = name.replace("*", "").strip(".")
  return os.path.join("runs", name or kind)


def _has_labels(dataset: str) -> bool:
  """Whether a --dataset source carries class labels (see check_labels)."""
  from colorizer.data import mixture  # pylint: disable=g-import-not-at-top
  try:
    mixture.check_labels(dataset)
  except ValueError:
    return False
  return True


def config_from_flags(flag_values: flags.FlagValues = flags.FLAGS,
                      base: Optional[config_lib.Config] = None
                      ) -> config_lib.Config:
  """The preset (or base), overridden by every flag set on the command line."""
  config = base or config_lib.preset(preset_name(flag_values))
  overrides = {}
  for group_name in config_lib.GROUP_NAMES:
    group_type = config_lib.GROUP_TYPES[group_name]
    values = {field.name: flag_values[field.name].value
              for field in dataclasses.fields(group_type)
              if flag_values[field.name].present}
    if values:
      overrides[group_name] = values
  loss_given = overrides.get("loss", {})
  dataset = overrides.get("data", {}).get("dataset", config.data.dataset)
  if config.loss.label_weight and "label_weight" not in loss_given and \
      not base and not _has_labels(dataset):
    # The preset's auxiliary label loss needs labels; a user who set none
    # gets the preset without it rather than an error.
    logging.info("--dataset=%s has no class labels: the preset's "
                 "--label_weight=%s is turned off (--label_weight=0).",
                 dataset, config.loss.label_weight)
    overrides["loss"] = dict(loss_given, label_weight=0.0)
  train_given = overrides.get("train", {})
  if "train_steps" in train_given and config.train.train_steps:
    ratio = train_given["train_steps"] / config.train.train_steps
    for name in PHASE_FLAGS:
      if name not in train_given:
        preset_value = getattr(config.train, name)
        train_given[name] = min(train_given["train_steps"],
                                int(round(preset_value * ratio)))
  return config.replace(**overrides)



def validate(config: config_lib.Config) -> None:
  """Checks a config before any work, naming the flag and the fix.

  Raises:
    ValueError: with a one-line message that names the flag.
  """
  # pylint: disable=g-import-not-at-top
  from colorizer.data import mixture
  from colorizer.model import colorizer_model
  # pylint: enable=g-import-not-at-top
  train, data_config, optim = config.train, config.data, config.optim

  def positive(name, value):
    if value <= 0:
      raise ValueError(f"--{name}={value}: must be positive.")

  for name in ("batch_size", "train_steps", "log_every", "save_every",
               "steps_per_execution", "keep_checkpoints"):
    positive(name, getattr(train, name))
  for name in ("image_size", "shuffle_buffer", "max_image_pixels"):
    positive(name, getattr(data_config, name))
  positive("gen_learning_rate", optim.gen_learning_rate)
  positive("disc_learning_rate", optim.disc_learning_rate)
  if train.eval_every < 0 or train.eval_batches < 1:
    raise ValueError("--eval_every must be >= 0 and --eval_batches >= 1.")
  if not 0 <= train.pretrain_steps <= train.train_steps:
    raise ValueError(f"--pretrain_steps={train.pretrain_steps}: must be in "
                     f"[0, --train_steps={train.train_steps}].")
  if not 0 <= train.freeze_encoder_steps <= train.train_steps:
    raise ValueError(f"--freeze_encoder_steps={train.freeze_encoder_steps}: "
                     f"must be in [0, --train_steps={train.train_steps}].")
  if not 0.0 <= data_config.val_fraction < 1.0:
    raise ValueError(f"--val_fraction={data_config.val_fraction}: must be in "
                     "[0, 1).")
  if not 0.0 < data_config.train_fraction <= 1.0:
    raise ValueError(f"--train_fraction={data_config.train_fraction}: must "
                     "be in (0, 1].")
  if not 0.0 < data_config.crop_min_scale <= 1.0:
    raise ValueError(f"--crop_min_scale={data_config.crop_min_scale}: must be "
                     "in (0, 1].")
  if not 0.0 <= config.loss.label_smoothing < 1.0:
    raise ValueError(f"--label_smoothing={config.loss.label_smoothing}: must "
                     "be in [0, 1).")
  if config.loss.recon_weight < 0 or config.loss.gan_weight < 0:
    raise ValueError("--recon_weight and --gan_weight must be >= 0.")
  if config.loss.label_weight < 0:
    raise ValueError(f"--label_weight={config.loss.label_weight}: must be "
                     ">= 0.")
  if not 0.0 < optim.decay_fraction <= 1.0:
    raise ValueError(f"--decay_fraction={optim.decay_fraction}: must be in "
                     "(0, 1].")
  if optim.weight_decay < 0:
    raise ValueError(f"--weight_decay={optim.weight_decay}: must be >= 0.")
  colorizer_model.check_config(config)  # Architecture, heads, decode.
  if not 0.0 <= config.loss.rebalance_mix <= 1.0:
    raise ValueError(f"--rebalance_mix={config.loss.rebalance_mix}: must be "
                     "in [0, 1].")
  if config.model.ab_head == "classes":
    positive("prior_batches", config.loss.prior_batches)
  mixture.check_sources(data_config)  # Each source, and the weights.
  if config.loss.label_weight:
    mixture.check_labels(data_config.dataset)
