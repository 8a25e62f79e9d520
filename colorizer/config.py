"""One typed configuration for training, evaluation and export.

The config is a frozen dataclass with one group per concern (data, model, loss,
optim, train, export). It is written to `<model_dir>/config.json` at the start
of training so that every later binary (export, evaluate, colorize) rebuilds
exactly the model that was trained.

Presets, named configs, are in `colorizer.presets`. Flags that a user sets
override the preset's values (see `colorizer.flags_lib`).
"""

import dataclasses
import json
import os
from typing import Any, Dict, Optional

CONFIG_FILENAME = "config.json"
# --export_name's value for "named after the run" (serving.export resolves it).
EXPORT_NAME_AUTO = "auto"
# config.json's key, beside the groups, for the --preset the run started from.
PRESET_KEY = "preset"


def _field(default: Any, help_text: str, choices: Optional[tuple] = None):
  """A dataclass field that carries its flag help and allowed values."""
  return dataclasses.field(
      default=default, metadata={"help": help_text, "choices": choices})


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where images come from and how they are preprocessed."""
  dataset: str = _field(
      "demo", "Source: demo | folder:PATH | tfrecord:GLOB | tfds:NAME[:SPLIT] "
      "| npz:PATH, or several separated by commas (trained on together, "
      "each validated on its own split; colorizer/data/mixture.py).")
  dataset_weights: str = _field(
      "", "Mixing weights of several --dataset sources, comma-separated in "
      "their order (e.g. 1,3); empty: each in proportion to its number of "
      "training images.")
  data_dir: str = _field(
      "", "TFDS data_dir (for tfds: sources); ignored otherwise.")
  image_size: int = _field(256, "Square training resolution in pixels.")
  val_fraction: float = _field(
      0.05, "Fraction held out for validation when the source has no split.")
  train_fraction: float = _field(
      1.0, "Train on this fraction of the training split (folder: and npz: "
      "sources), a subset drawn under --seed; the validation split is "
      "unchanged. For learning curves: how quality grows with data.")
  train_crop: str = _field(
      "random_resized", "Training crop: random_resized (scale "
      "[crop_min_scale, 1], aspect 3/4..4/3) or resize (short side, center).",
      ("random_resized", "resize"))
  crop_min_scale: float = _field(
      0.5, "Smallest area fraction kept by the random-resized crop.")
  flip: bool = _field(True, "Random horizontal flip when training.")
  shuffle_buffer: int = _field(2048, "Shuffle buffer, in images.")
  cache: bool = _field(
      False, "Cache decoded, resized images in memory (small datasets).")
  max_image_pixels: int = _field(
      64_000_000, "Images with more pixels than this are skipped as unsafe.")
  skip_grayscale: bool = _field(
      True, "Leave black-and-white examples (mean a*b* chroma < 1, judged "
      "on each preprocessed crop) out of training and validation: they "
      "teach no color, and their gray truth gives the gray baseline an "
      "infinite PSNR.")
  input_mode: str = _field(
      "grayscale", "What the model colors: grayscale (sees L*, predicts "
      "a*b*) or sketch (sees an XDoG line drawing made from each image, "
      "predicts L*a*b*; see docs/sketch.md).", ("grayscale", "sketch"))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Generator and discriminator architecture."""
  base_filters: int = _field(64, "Width of the first U-Net / PatchGAN layer.")
  max_filters: int = _field(
      0, "Cap on the width of any layer; 0 means 8 x base_filters (pix2pix).")
  unet_depth: int = _field(
      0, "Number of U-Net downsamplings; 0 derives it from image_size.")
  disc_layers: int = _field(
      3, "PatchGAN stride-2 layers; 3 gives the 70x70 receptive field.")
  disc_base_filters: int = _field(
      0, "Width of the first PatchGAN layer; 0 means base_filters.")
  dropout: float = _field(
      0.5, "Dropout in the first three decoder blocks (pix2pix: 0.5).")
  generator: str = _field(
      "unet", "Generator: unet (pix2pix) or a U-Net on a pretrained Keras "
      "application encoder: resnet_unet (ResNet50V2) or mobilenet_unet "
      "(MobileNetV2).", ("unet", "resnet_unet", "mobilenet_unet"))
  encoder_weights: str = _field(
      "imagenet", "Encoder weights for *_unet generators: imagenet (Keras "
      "downloads them once), none, or a local weights file path.")
  ab_head: str = _field(
      "regression", "Generator output: regression (a*b* through tanh) or "
      "classes (a distribution over quantized a*b*, decoded by the annealed "
      "mean; Zhang et al. 2016; see colorizer/ab_classes.py).",
      ("regression", "classes"))
  decode_temperature: float = _field(
      0.38, "Annealed-mean temperature of --ab_head=classes: 1 is the mean "
      "(dull), towards 0 the mode; Zhang et al. use 0.38.")
  decode_rebalance: float = _field(
      0.0, "--ab_head=classes: decode with the class distribution reweighted "
      "by the rebalancing weights to this power; 0 is the model's own "
      "distribution, higher favours rare, saturated colors (vivid).")
  decode_saturation: float = _field(
      1.0, "--ab_head=classes: scale each pixel's decoded a*b* offset from "
      "the image's mean a*b* by this; 1 leaves the colors as decoded, above "
      "1 they move apart (more colorful, the image's overall cast kept).")
  test_time_flip: bool = _field(
      False, "At inference (export, evaluate, in-training validation): "
      "average the prediction for the image and for its mirror image. Twice "
      "the network's compute for a small gain in fidelity (0.01 to 0.08 dB "
      "PSNR on CIFAR-10, docs/results.md round 3).")
  sync_batch_norm: bool = _field(
      True, "With several replicas, BatchNorm statistics over the global "
      "batch (as on one device) instead of each replica's share.")


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Adversarial and reconstruction losses."""
  gan_loss: str = _field(
      "vanilla", "Adversarial loss: vanilla (BCE with logits) or lsgan.",
      ("vanilla", "lsgan"))
  recon_loss: str = _field(
      "l1", "Reconstruction loss on normalized a*b*: l1 or l2 (with "
      "--ab_head=classes it is the rebalanced cross-entropy instead).",
      ("l1", "l2"))
  recon_weight: float = _field(
      100.0, "lambda: weight of the reconstruction loss against the GAN loss.")
  gan_weight: float = _field(1.0, "Weight of the generator's GAN loss.")
  rebalance_mix: float = _field(
      0.5, "--ab_head=classes: class weights ~ 1 / ((1 - mix) * prior + mix "
      "/ Q) against the training data's a*b* prior; 1 disables rebalancing.")
  prior_batches: int = _field(
      100, "--ab_head=classes: training batches read to estimate the a*b* "
      "prior before the first step.")
  colorfulness_weight: float = _field(
      0.0, "Weight of DDColor's colorfulness loss, 1 - CF/100 of each "
      "colorized image (Kang et al. 2023; colorizer/model/losses.py): a "
      "reward for vivid colors against the reconstruction loss's pull to "
      "dull averages. 0 turns it off.")
  label_smoothing: float = _field(
      0.0, "One-sided label smoothing: real targets become 1 - this.")
  label_weight: float = _field(
      0.0, "Weight of an auxiliary cross-entropy that predicts the image's "
      "class label from the U-Net bottleneck (Iizuka et al. 2016); needs "
      "labels from the source (npz with a 'labels' array, or a TFDS "
      "dataset's class label). 0 turns it off.")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """The two Adam optimizers and their schedule."""
  gen_learning_rate: float = _field(2e-4, "Generator Adam learning rate.")
  disc_learning_rate: float = _field(2e-4, "Discriminator Adam learning rate.")
  encoder_learning_rate: float = _field(
      0.0, "Adam learning rate of a pretrained encoder (--generator="
      "mobilenet_unet or resnet_unet) once it thaws; 0 means "
      "--gen_learning_rate. Lower keeps more of its ImageNet features.")
  beta_1: float = _field(0.5, "Adam beta_1 (pix2pix: 0.5).")
  beta_2: float = _field(0.999, "Adam beta_2.")
  lr_schedule: str = _field(
      "constant", "constant, or linear_decay to 0 over the last "
      "decay_fraction of training (as pix2pix does).",
      ("constant", "linear_decay"))
  decay_fraction: float = _field(
      0.5, "Fraction of train_steps over which linear_decay runs.")
  weight_decay: float = _field(
      0.0, "Decoupled weight decay (AdamW, Loshchilov & Hutter 2019) of every "
      "kernel: each step w -= learning_rate * weight_decay * w. Biases and "
      "BatchNorm scales and offsets are not decayed. 0: plain Adam.")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The loop: length, batch, logging, checkpoints, distribution."""
  batch_size: int = _field(16, "Global batch size (all replicas together).")
  train_steps: int = _field(100_000, "Total steps, pretraining included.")
  pretrain_steps: int = _field(
      0, "First steps train the generator on the reconstruction loss only.")
  freeze_encoder_steps: int = _field(
      0, "First steps keep a pretrained encoder frozen (decoder only).")
  seed: int = _field(0, "Seed for data order, splits, augmentation and init.")
  log_every: int = _field(50, "Steps between progress lines and scalars.")
  save_every: int = _field(1000, "Steps between checkpoints.")
  eval_every: int = _field(1000, "Steps between validation metrics/images.")
  eval_batches: int = _field(
      4, "Validation batches scored at each evaluation, from images spread "
      "evenly over the validation split.")
  keep_checkpoints: int = _field(3, "Checkpoints kept on disk.")
  strategy: str = _field(
      "auto", "tf.distribute strategy: auto, default, mirrored, "
      "multi_worker or tpu.",
      ("auto", "default", "mirrored", "multi_worker", "tpu"))
  tpu: str = _field("", "TPU name or address for --strategy=tpu.")
  mixed_precision: str = _field(
      "auto", "Compute dtype policy: auto (bfloat16 where the CPU or GPU "
      "computes it natively, float16 on GPUs older than compute capability "
      "8, else float32; see colorizer/hardware.py), none (float32), "
      "bfloat16 or float16.", ("auto", "none", "bfloat16", "float16"))
  jit_compile: bool = _field(False, "Compile the train step with XLA.")
  steps_per_execution: int = _field(
      1, "Train steps run inside one tf.function call.")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What the training run leaves behind for serving."""
  export_name: str = _field(
      "", "Export savedmodels/<export_name>/<version> when training ends. "
      f"{EXPORT_NAME_AUTO}: the run's name (the last folder of --model_dir), "
      "or my_<name> if a shipped model has that name; empty: no export.")
  export_base_dir: str = _field(
      "savedmodels", "Root of the TF Serving model tree.")
  render_size: int = _field(
      0, "Resolution the exported network runs at; 0 means image_size.")
  guided_upsample: bool = _field(
      True, "Upsample a*b* to each photo's size guided by its full-size L* "
      "(joint bilateral), so color stays within edges; false: bilinear.")


@dataclasses.dataclass(frozen=True)
class Config:
  """Every setting of a run, grouped by concern."""
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  loss: LossConfig = dataclasses.field(default_factory=LossConfig)
  optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
  train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
  export: ExportConfig = dataclasses.field(default_factory=ExportConfig)

  def replace(self, **groups: Dict[str, Any]) -> "Config":
    """Returns a copy with fields of the named groups replaced.

    Example: `config.replace(train={"batch_size": 4}, model={...})`.

    Raises:
      ValueError: for an unknown group or field name.
    """
    updated = {}
    for group_name, values in groups.items():
      if group_name not in GROUP_NAMES:
        raise ValueError(f"Unknown config group {group_name!r}; "
                         f"expected one of {GROUP_NAMES}.")
      group = getattr(self, group_name)
      known = {f.name for f in dataclasses.fields(group)}
      unknown = set(values) - known
      if unknown:
        raise ValueError(f"Unknown field(s) {sorted(unknown)} in config group "
                         f"{group_name!r}.")
      updated[group_name] = dataclasses.replace(group, **values)
    return dataclasses.replace(self, **updated)

  def to_dict(self) -> Dict[str, Dict[str, Any]]:
    return dataclasses.asdict(self)

  def flat(self) -> Dict[str, Any]:
    """Returns {field_name: value} across groups (names are unique)."""
    return {name: value for group in self.to_dict().values()
            for name, value in group.items()}


GROUP_NAMES = tuple(f.name for f in dataclasses.fields(Config))
GROUP_TYPES = {f.name: f.default_factory for f in dataclasses.fields(Config)}


@dataclasses.dataclass(frozen=True)
class InferenceOverrides:
  """Model settings a trained run can be restored with instead of its own.

  The decode of an --ab_head=classes model has no trained weights of its
  own, and test-time flipping none at all, so colorizer-export and
  colorizer-evaluate (and tools.decode_grid) choose them after training.
  None keeps the run's config value.
  """
  decode_temperature: Optional[float] = None
  decode_rebalance: Optional[float] = None
  decode_saturation: Optional[float] = None
  test_time_flip: Optional[bool] = None

  def given(self) -> Dict[str, Any]:
    """{model field: value} of the overrides that are set."""
    return {field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None}

  def apply(self, config: Config, model_dir: str = "") -> Config:
    """The config with the given overrides in its model group.

    Raises:
      ValueError: naming the flags, for decode settings of a model without
        the a*b* class head (the decode layer checks their values).
    """
    values = self.given()
    decode = [name for name in values if name.startswith("decode_")]
    if decode and config.model.ab_head != "classes":
      raise ValueError(f"--{', --'.join(decode)} need a model trained with "
                       f"--ab_head=classes; {model_dir or 'this model'} has "
                       "a regression head.")
    return config.replace(model=values) if values else config


def from_dict(values: Dict[str, Dict[str, Any]]) -> Config:
  """Builds a Config from `to_dict()` output; unknown keys are an error."""
  return Config().replace(**values)


def save(config: Config, model_dir: str, preset: str = "") -> str:
  """Writes `config.json` into model_dir atomically and returns its path.

  preset, when given, is recorded beside the groups: the --preset the run's
  unset flags came from, which its exports report (load_preset).
  """
  import tensorflow as tf  # Local: keeps this module importable without TF.
  tf.io.gfile.makedirs(model_dir)
  path = os.path.join(model_dir, CONFIG_FILENAME)
  temp_path = path + ".tmp"
  values = dict(config.to_dict(), **({PRESET_KEY: preset} if preset else {}))
  with tf.io.gfile.GFile(temp_path, "w") as f:
    f.write(json.dumps(values, indent=2, sort_keys=True) + "\n")
  tf.io.gfile.rename(temp_path, path, overwrite=True)
  return path


def _read(model_dir: str) -> Dict[str, Any]:
  """The parsed config.json of a model dir (groups and preset)."""
  import tensorflow as tf
  path = os.path.join(model_dir, CONFIG_FILENAME)
  if not tf.io.gfile.exists(path):
    raise ValueError(f"{path} not found: is {model_dir!r} a colorizer "
                     "model dir written by the train binary?")
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def load(model_dir: str) -> Config:
  """Reads `config.json` from a model dir.

  Raises:
    ValueError: if the model dir has no config.json.
  """
  values = _read(model_dir)
  values.pop(PRESET_KEY, None)
  return from_dict(values)


def load_preset(model_dir: str) -> str:
  """The --preset a model dir's run started from; "" if config.json does not
  say (runs from before presets were recorded).

  Raises:
    ValueError: if the model dir has no config.json.
  """
  return _read(model_dir).get(PRESET_KEY, "")
