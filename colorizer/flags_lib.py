"""absl flags generated from the config dataclasses, and config validation.

Every config field is a flag of the same name, with the field's help text and
allowed values, grouped by config group in --helpfull. A preset supplies the
values of flags the user does not set; flags the user sets win. The flags
have no absl default, so --helpfull shows none: the preset's value is the
default, and `colorizer-train --print_config` shows every value a run takes.
"""

import dataclasses
import os
from typing import Optional

from absl import flags
from absl import logging

from colorizer import config as config_lib
from colorizer import presets

PRESET_AUTO = "auto"
# Phase lengths (train group) a preset states for its own --train_steps: when
# the user sets --train_steps but not these, they scale with it, so that a
# shorter run keeps the preset's proportions (pretraining, encoder freeze,
# and with them the GAN phase; --decay_fraction is a fraction already).
PHASE_FLAGS = ("pretrain_steps", "freeze_encoder_steps")


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --preset and one flag per config field, without absl defaults."""
  flags.DEFINE_enum(
      "preset", PRESET_AUTO, [PRESET_AUTO] + sorted(presets.PRESETS),
      "Named config supplying the values of flags you do not set. auto: "
      "demo for --dataset=demo (small, minutes on a CPU), else photos (the "
      "recipe for photographs; docs/photos.md). pix2pix is the paper's "
      "256 px reference. --print_config shows the values a run takes.",
      flag_values=flag_values)
  for group_name in config_lib.GROUP_NAMES:
    group_type = config_lib.GROUP_TYPES[group_name]
    for field in dataclasses.fields(group_type):
      # The field's type picks the flag's; its value would be a default
      # --helpfull shows but the run does not take (the preset's does).
      default = field.default
      help_text = (f"[{group_name}] {field.metadata['help']} (default from "
                   "--preset; see --print_config)")
      choices = field.metadata.get("choices")
      args = (field.name, None)
      kwargs = {"flag_values": flag_values}
      if choices:
        flags.DEFINE_enum(*args, list(choices), help_text, **kwargs)
      elif isinstance(default, bool):
        flags.DEFINE_boolean(*args, help_text, **kwargs)
      elif isinstance(default, int):
        flags.DEFINE_integer(*args, help_text, **kwargs)
      elif isinstance(default, float):
        flags.DEFINE_float(*args, help_text, **kwargs)
      else:
        flags.DEFINE_string(*args, help_text, **kwargs)


def flagfile_text(config: config_lib.Config, preset: str,
                  model_dir: str) -> str:
  """A run's every value as a --flagfile, grouped as in --helpfull.

  Training with `--flagfile=<this text>` gives config whatever the presets
  become: every flag is set.
  """
  lines = ["# colorizer-train's values: the flags set, the preset's for the "
           "rest.", f"--preset={preset}", f"--model_dir={model_dir}"]
  for group_name, values in config.to_dict().items():
    lines.append(f"# {group_name}")
    for name, value in values.items():
      if isinstance(value, bool):
        lines.append(f"--{'' if value else 'no'}{name}")
      else:
        lines.append(f"--{name}={value}")
  return "\n".join(lines) + "\n"


def preset_name(flag_values: flags.FlagValues = flags.FLAGS) -> str:
  """The preset --preset names, resolving auto from --dataset."""
  name = flag_values.preset
  if name != PRESET_AUTO:
    return name
  dataset = flag_values["dataset"].value if flag_values["dataset"].present \
      else "demo"
  return "demo" if dataset == "demo" else "photos"


def default_model_dir(dataset: str) -> str:
  """runs/<the sources' names, joined by +>.

  Each source is named as in TensorBoard (mixture.source_name): demo ->
  runs/demo; folder:data/imagenette/train -> runs/imagenette (a generic
  last folder gives way to its parent); folder:a/train,folder:b/train ->
  runs/a+b.

  Raises:
    ValueError: naming --dataset, for an empty entry in the list.
  """
  from colorizer.data import mixture  # pylint: disable=g-import-not-at-top
  return os.path.join("runs", "+".join(
      mixture.source_names(mixture.split_specs(dataset))))


def _has_labels(dataset: str) -> bool:
  """Whether a --dataset source carries class labels (see check_labels)."""
  from colorizer.data import mixture  # pylint: disable=g-import-not-at-top
  try:
    mixture.check_labels(dataset)
  except ValueError:
    return False
  return True


def _fit_preset(config: config_lib.Config, overrides: dict) -> None:
  """Adds to overrides the preset values that the user's flags rule out.

  A preset's a*b* class head predicts a*b* only, and its auxiliary label
  loss needs class labels. A user who set --input_mode=sketch or an
  unlabelled --dataset, but not --ab_head or --label_weight, gets the
  preset without them (each change logged) rather than an error. An encoder
  --generator also drops the label loss unless --label_weight is set: the
  shipped model's recipe (docs/photos.md) trained without it. Values the
  user set stay; validate names them if they conflict.
  """
  given = {name for values in overrides.values() for name in values}
  wanted = config.replace(**overrides)

  def change(group_name, name, value, reason):
    logging.info("%s: the preset's --%s=%s becomes --%s=%s.", reason, name,
                 getattr(getattr(wanted, group_name), name), name, value)
    overrides.setdefault(group_name, {})[name] = value

  if wanted.model.ab_head == "classes" and "ab_head" not in given and \
      wanted.data.input_mode != "grayscale":
    reason = f"--input_mode={wanted.data.input_mode} predicts L*a*b*"
    change("model", "ab_head", "regression", reason)
    if "recon_weight" not in given:
      # The preset's weight is a cross-entropy's; an L1 on normalized
      # L*a*b* is about 50 times smaller, so it takes pix2pix's lambda.
      change("loss", "recon_weight", config_lib.Config().loss.recon_weight,
             reason)
  if wanted.loss.label_weight and "label_weight" not in given:
    if wanted.model.generator != "unet":
      change("loss", "label_weight", 0.0, f"--generator="
             f"{wanted.model.generator} trains without the label head "
             "unless --label_weight is set")
    elif not _has_labels(wanted.data.dataset):
      change("loss", "label_weight", 0.0,
             f"--dataset={wanted.data.dataset} has no class labels")


def config_from_flags(flag_values: flags.FlagValues = flags.FLAGS,
                      base: Optional[config_lib.Config] = None
                      ) -> config_lib.Config:
  """The preset (or base), overridden by every flag set on the command line."""
  config = base or presets.preset(preset_name(flag_values))
  overrides = {}
  for group_name in config_lib.GROUP_NAMES:
    group_type = config_lib.GROUP_TYPES[group_name]
    values = {field.name: flag_values[field.name].value
              for field in dataclasses.fields(group_type)
              if flag_values[field.name].present}
    if values:
      overrides[group_name] = values
  if not base:
    _fit_preset(config, overrides)
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
  if optim.encoder_learning_rate < 0:
    raise ValueError(f"--encoder_learning_rate={optim.encoder_learning_rate}"
                     ": must be >= 0 (0: --gen_learning_rate).")
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
  for name in ("label_weight", "colorfulness_weight"):
    if getattr(config.loss, name) < 0:
      raise ValueError(f"--{name}={getattr(config.loss, name)}: must be "
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
