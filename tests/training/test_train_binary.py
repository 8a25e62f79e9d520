"""The train and prepare_data binaries: end to end in subprocesses, once each;
reruns and flag errors in this process (tests/binaries.py)."""

import os
import subprocess
import sys

from absl import flags
import pytest

from colorizer import config as config_lib
from colorizer import flags_lib
from colorizer import presets
from tests import binaries
from tests import conftest

_TINY_FLAGS = ["--preset=tiny", "--train_steps=3", "--log_every=1",
               "--save_every=3", "--eval_every=3"]


def run_binary(module, *args, timeout=300):
  return subprocess.run(
      [sys.executable, "-m", module, *args], capture_output=True, text=True,
      timeout=timeout, cwd=conftest.REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def test_train_binary_trains_exports_and_says_how_to_look(tmp_path):
  model_dir = str(tmp_path / "run")
  export_dir = str(tmp_path / "savedmodels")
  result = run_binary("pipelines.train", f"--model_dir={model_dir}",
                      *_TINY_FLAGS, "--export_name=tiny",
                      f"--export_base_dir={export_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  # Progress lines carry step, losses, rate and ETA.
  progress = [line for line in result.stderr.splitlines()
              if "step 2/3" in line]
  assert progress and "img/s" in progress[0] and "ETA" in progress[0]
  assert "gen_recon" in progress[0]
  assert f"tensorboard --logdir {model_dir}" in result.stdout
  assert os.path.exists(os.path.join(export_dir, "tiny", "1",
                                     "saved_model.pb"))
  config = config_lib.load(model_dir)
  assert config.train.train_steps == 3 and config.model.base_filters == 8
  # The flagfile reproduces the run; rerunning resumes instead of retraining.
  flagfile = tmp_path / "flags.txt"
  flagfile.write_text("\n".join([f"--model_dir={model_dir}", *_TINY_FLAGS]))
  again = binaries.run_main("pipelines.train", f"--flagfile={flagfile}")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "Already trained to step 3" in again.stderr


@pytest.mark.parametrize("flag,message", [
    ("--batch_size=0", "--batch_size=0: must be positive"),
    ("--dataset=flickr", "--dataset='flickr': unknown source"),
    ("--image_size=100", "--image_size=100 allows only 2 U-Net halvings"),
    ("--dataset=folder:/no/such/dir", "--dataset=folder:/no/such/dir: no such"),
    ("--pretrain_steps=10", "--pretrain_steps=10: must be in [0, "),
    ("--unet_depth=6", "--unet_depth=6 needs --image_size divisible by 64"),
    ("--train_fraction=0", "--train_fraction=0.0: must be in (0, 1]"),
    ("--train_fraction=0.5", "--train_fraction=0.5: only folder: and npz:"),
])
def test_bad_flags_are_errors_naming_the_flag(flag, message):
  flag_values = flags.FlagValues()
  flags_lib.define_config_flags(flag_values)
  flag_values(["colorizer-train", "--preset=tiny", flag])
  with pytest.raises(ValueError) as error:
    flags_lib.validate(flags_lib.config_from_flags(flag_values))
  assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_flag_is_one_line_on_stderr(tmp_path):
  result = binaries.run_main("pipelines.train", f"--model_dir={tmp_path}",
                             "--preset=tiny", "--dataset=flickr")
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines()
            if line.startswith("colorizer-train: error:")]
  assert len(errors) == 1 and "--dataset='flickr'" in errors[0]
  assert "Traceback" not in result.stderr


def _parsed(*argv):
  flag_values = flags.FlagValues()
  flags_lib.define_config_flags(flag_values)
  flag_values(["colorizer-train", *argv])
  return flag_values


def test_preset_auto_follows_the_dataset(tmp_path):
  assert flags_lib.preset_name(_parsed()) == "demo"
  flag_values = _parsed(f"--dataset=folder:{tmp_path}", "--batch_size=2")
  config = flags_lib.config_from_flags(flag_values)
  assert flags_lib.preset_name(flag_values) == "photos"
  assert config.data.image_size == presets.photos().data.image_size
  assert config.train.batch_size == 2
  assert flags_lib.preset_name(_parsed("--dataset=tfds:imagenette")) == \
      "photos"
  assert flags_lib.preset_name(_parsed("--preset=pix2pix",
                                       f"--dataset=folder:{tmp_path}")) == \
      "pix2pix"


def test_auto_photos_preset_keeps_labels_only_where_the_source_has_them(
    tmp_path):
  loose, classes = tmp_path / "loose", tmp_path / "classes"
  png = lambda seed: (lambda: conftest.encoded(
      conftest.random_photo(8, 8, seed), "PNG"))
  conftest.write_files(loose, {f"{i}.png": png(i) for i in range(2)})
  conftest.write_files(classes, {f"{name}/{i}.png": png(i)
                                 for name in ("dog", "church")
                                 for i in range(2)})
  assert flags_lib.config_from_flags(_parsed(
      f"--dataset=folder:{classes}")).loss.label_weight == 1.0
  config = flags_lib.config_from_flags(_parsed(f"--dataset=folder:{loose}"))
  assert config.loss.label_weight == 0.0
  flags_lib.validate(config)  # A flat folder trains with the default preset.
  # A label weight the user asked for is kept, and refused by validation.
  config = flags_lib.config_from_flags(_parsed(f"--dataset=folder:{loose}",
                                               "--label_weight=1"))
  with pytest.raises(ValueError, match="--label_weight"):
    flags_lib.validate(config)
  # An encoder generator drops the label loss unless asked for it.
  encoder = ("--generator=mobilenet_unet", "--encoder_weights=none")
  assert flags_lib.config_from_flags(_parsed(
      f"--dataset=folder:{classes}", *encoder)).loss.label_weight == 0.0
  config = flags_lib.config_from_flags(_parsed(
      f"--dataset=folder:{classes}", *encoder, "--label_weight=1"))
  assert config.loss.label_weight == 1.0
  flags_lib.validate(config)


def test_preset_phases_scale_with_the_users_train_steps(tmp_path):
  # The example: the photos preset pretrains all its steps.
  config = flags_lib.config_from_flags(_parsed(
      f"--dataset=folder:{tmp_path}", "--train_steps=20"))
  assert (config.train.train_steps, config.train.pretrain_steps) == (20, 20)
  flags_lib.validate(config.replace(loss={"label_weight": 0.0}))
  # A preset with a GAN phase keeps its proportions.
  base = presets.demo()  # 1,500 steps, 300 of them pretraining.
  config = flags_lib.config_from_flags(_parsed("--train_steps=150"), base)
  assert config.train.pretrain_steps == 30
  # A phase the user sets is theirs, whatever --train_steps is.
  config = flags_lib.config_from_flags(
      _parsed("--train_steps=150", "--pretrain_steps=100"), base)
  assert config.train.pretrain_steps == 100
  # Only values the user gave can conflict; the message names both flags.
  config = flags_lib.config_from_flags(
      _parsed("--train_steps=20", "--pretrain_steps=300"), base)
  with pytest.raises(ValueError) as error:
    flags_lib.validate(config)
  assert "--pretrain_steps=300" in str(error.value)
  assert "--train_steps=20" in str(error.value)


def test_unparsable_flag_names_the_flag():
  result = binaries.run_main("pipelines.train", "--batch_size=many")
  assert result.returncode == 1
  assert "--batch_size" in result.stderr and "Traceback" not in result.stderr


def test_prepare_data_binary(mixed_image_folder, tmp_path):
  output_dir = str(tmp_path / "shards")
  result = run_binary("pipelines.prepare_data",
                      f"--input_dir={mixed_image_folder}",
                      f"--output_dir={output_dir}", "--image_size=40",
                      "--num_shards=2", timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (f"skipped {len(conftest.BROKEN_FILES)} unreadable"
          in result.stdout)
  assert sorted(os.listdir(output_dir))[0].startswith("train-00000-of-00002")


def test_default_model_dir_names_the_dataset():
  assert flags_lib.default_model_dir("demo") == "runs/demo"
  assert flags_lib.default_model_dir("folder:/data/photos/") == (
      "runs/photos")
  assert flags_lib.default_model_dir("tfds:imagenette/160px:train") == (
      "runs/imagenette")
  assert flags_lib.default_model_dir("tfrecord:data/shards/*.tfrecord") == (
      "runs/tfrecord")
  assert flags_lib.default_model_dir("npz:/x/cifar10") == "runs/cifar10"
  # A folder named for its split gives way to its parent.
  for generic in ("train", "training", "val", "validation", "images", "test"):
    assert flags_lib.default_model_dir(
        f"folder:../shared/data/imagenette/{generic}") == "runs/imagenette"
  assert flags_lib.default_model_dir(
      "folder:a/imagenette/train,folder:b/places/train") == (
          "runs/imagenette+places")
