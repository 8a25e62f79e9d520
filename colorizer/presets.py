"""Presets: named configs, each a function of nothing returning a full Config.

`photos` is the recipe for photographs (the shipped model's); `pix2pix` is
the paper's reference (256 px, base 64); `demo` is the small, fast one the
quickstart trains on the built-in scenes; `cifar10` is the recipe for 32 px
data; `tiny` is for tests. A preset's docstring carries what it is for and
what it gives. Flags that a user sets override the preset's values (see
`colorizer.flags_lib`).
"""

from colorizer.config import Config
from colorizer.config import EXPORT_NAME_AUTO


def pix2pix() -> Config:
  """The paper's reference: 256 px, base 64 (about 54 M generator params)."""
  return Config()


def demo() -> Config:
  """The quickstart: the built-in scenes at 64 px, a few minutes on 2 cores."""
  return Config().replace(
      data={"dataset": "demo", "image_size": 64, "train_crop": "resize"},
      model={"base_filters": 32},
      train={"batch_size": 16, "train_steps": 1500, "pretrain_steps": 300,
             "log_every": 50, "save_every": 500, "eval_every": 250},
      optim={"gen_learning_rate": 1e-3, "disc_learning_rate": 2e-4},
      export={"export_name": EXPORT_NAME_AUTO})


def cifar10() -> Config:
  """Labelled 32 px data such as CIFAR-10: the recipe docs/results.md chose.

  a*b* classes (Zhang et al. 2016) trained on the plain cross-entropy plus
  an auxiliary cross-entropy on the image's class label (Iizuka et al. 2016,
  --label_weight; an npz's `labels`, class subfolders or a TFDS class
  label), no GAN (pretraining runs the whole way), random-resized crops
  (area 0.64 to 1), Adam at 1e-3 decaying linearly over the second half.
  The decode, chosen on validation images by round 6's rule, reweights the
  class distribution a little towards rare colors (rebalance 0.5), anneals
  it (T = 0.6) and spreads each image's colors 1.5x about its mean
  (saturation).
  8,000 steps of 64 (docs/results.md has the time). For unlabelled 32 px
  data add --label_weight=0.
  """
  return Config().replace(
      data={"image_size": 32, "train_crop": "random_resized",
            "crop_min_scale": 0.64},
      model={"base_filters": 64, "ab_head": "classes", "dropout": 0.0,
             "decode_temperature": 0.6, "decode_rebalance": 0.5,
             "decode_saturation": 1.5},
      loss={"recon_weight": 1.0, "rebalance_mix": 1.0, "label_weight": 1.0},
      optim={"gen_learning_rate": 1e-3, "beta_1": 0.9,
             "lr_schedule": "linear_decay"},
      train={"batch_size": 64, "train_steps": 8_000,
             "pretrain_steps": 8_000, "log_every": 200, "save_every": 1000,
             "eval_every": 1000, "eval_batches": 16},
      export={"export_name": EXPORT_NAME_AUTO})


def photos() -> Config:
  """Photographs: the shipped model's recipe, and the auto preset for
  every source but demo.

  The cifar10 recipe scaled to photos: a*b* classes (Zhang et al. 2016) on
  the plain cross-entropy, the image's class label as an auxiliary target
  (Iizuka et al. 2016; a folder's class subfolders or a TFDS class label;
  flags_lib turns it off for a source without labels), random-resized crops
  (area 0.5 to 1) and flips, at 96 px with a base-32 U-Net (18 MB
  exported), Adam at 1e-3 decaying linearly over the second half, no GAN.
  The decode (T 0.38, saturation 1.25) was chosen on validation photos.
  docs/photos_v1.md has the command, the measurements and why each choice
  was made, and the time of its 12,000 steps of 32.
  On a GPU, flags alone scale it up: --image_size=256 --batch_size=64.
  """
  return Config().replace(
      data={"image_size": 96, "train_crop": "random_resized",
            "crop_min_scale": 0.5, "val_fraction": 0.1},
      model={"base_filters": 32, "ab_head": "classes", "dropout": 0.0,
             "decode_temperature": 0.38, "decode_rebalance": 0.0,
             "decode_saturation": 1.25},
      loss={"recon_weight": 1.0, "rebalance_mix": 1.0, "label_weight": 1.0},
      optim={"gen_learning_rate": 1e-3, "beta_1": 0.9,
             "lr_schedule": "linear_decay"},
      train={"batch_size": 32, "train_steps": 12_000,
             "pretrain_steps": 12_000, "log_every": 100, "save_every": 800,
             "eval_every": 2000, "eval_batches": 8},
      export={"export_name": EXPORT_NAME_AUTO})


def tiny() -> Config:
  """For tests: 32 px, 8 filters, a handful of steps."""
  return Config().replace(
      data={"dataset": "demo", "image_size": 32, "train_crop": "resize",
            "shuffle_buffer": 64},
      model={"base_filters": 8, "max_filters": 32},
      train={"batch_size": 4, "train_steps": 4, "log_every": 2,
             "save_every": 2, "eval_every": 2, "eval_batches": 1,
             "strategy": "default", "mixed_precision": "none"})


PRESETS = {"pix2pix": pix2pix, "demo": demo, "cifar10": cifar10,
           "photos": photos, "tiny": tiny}


def preset(name: str) -> Config:
  """Returns the named preset.

  Raises:
    ValueError: for an unknown name.
  """
  if name not in PRESETS:
    raise ValueError(f"Unknown preset {name!r}; expected one of "
                     f"{sorted(PRESETS)}.")
  return PRESETS[name]()
