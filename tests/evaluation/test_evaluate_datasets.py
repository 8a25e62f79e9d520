"""Tests of which images colorizer-evaluate scores, and from which dataset.

The split's offset and stride, the render size, the dataset a model records
and whether evaluate may default to it, and several sources scored apart.
"""

import json
import os

import numpy as np
from PIL import Image
import pytest

from colorizer import config as config_lib
from colorizer.evaluation import eval_images
from colorizer.evaluation import evaluate_lib
from colorizer.evaluation import scored_models
from colorizer.model import networks
from colorizer.serving import export
from tests import conftest
from tests.evaluation.conftest import generated_photos
from tests.evaluation.conftest import IMAGE_SIZES


def test_image_offset_skips_the_first_images_of_the_split(tiny_config):
  data_config = tiny_config.data
  first, total, _ = eval_images.evaluation_images(data_config, "val", 5, 0)
  first = list(first)
  later, later_total, _ = eval_images.evaluation_images(
      data_config, "val", 2, 0, image_offset=3)
  later = list(later)
  assert total == 5 and later_total == 2 and len(later) == 2
  for expected, image in zip(first[3:], later):
    np.testing.assert_array_equal(expected, image)


def test_image_stride_samples_the_split_and_offsets_give_disjoint_halves(
    tiny_config):
  data_config = tiny_config.data
  every, _, _ = eval_images.evaluation_images(data_config, "val", 6, 0)
  every = list(every)
  even, even_total, _ = eval_images.evaluation_images(
      data_config, "val", 3, 0, image_stride=2)
  odd, _, _ = eval_images.evaluation_images(
      data_config, "val", 3, 0, image_offset=1, image_stride=2)
  even, odd = list(even), list(odd)
  assert even_total == 3 and len(even) == len(odd) == 3
  for expected, image in zip(every[0::2], even):
    np.testing.assert_array_equal(expected, image)
  for expected, image in zip(every[1::2], odd):
    np.testing.assert_array_equal(expected, image)
  with pytest.raises(ValueError, match="--image_stride=0"):
    eval_images.evaluation_images(data_config, "val", 3, 0, image_stride=0)


def test_render_size_runs_a_checkpoint_at_another_size(trained_model_dir,
                                                      saved_model, tmp_path):
  # tiny trains at 32 px; its U-Net takes multiples of 32.
  result, _ = evaluate_lib.evaluate(
      model_dir=trained_model_dir, num_images=2, render_size=64,
      output_dir=str(tmp_path / "at64"), progress_stream=None)
  native, _ = evaluate_lib.evaluate(
      model_dir=trained_model_dir, num_images=2,
      output_dir=str(tmp_path / "native"), progress_stream=None)
  assert result.info["render_size"] == 64 and native.info["render_size"] == 32
  assert result.model["psnr"] != native.model["psnr"]
  assert result.gray["psnr"] == native.gray["psnr"]
  with pytest.raises(ValueError, match="--render_size=12:.*multiples of"):
    evaluate_lib.evaluate(model_dir=trained_model_dir, render_size=12)
  with pytest.raises(ValueError, match="--render_size needs --model_dir"):
    evaluate_lib.evaluate(model_path=saved_model, render_size=64)


def test_a_run_records_its_dataset_as_typed_and_evaluate_does_not_guess_it(
    tmp_path, monkeypatch):
  """--dataset=folder:~/photos stays that spec in config.json and the export.

  An absolute path there would be this machine's; evaluate --model names the
  recorded spec and asks for --dataset instead of reading it.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  from colorizer import flags_lib  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv("HOME", str(tmp_path))
  monkeypatch.chdir(tmp_path)
  for index in range(2):
    path = tmp_path / "photos" / f"class_{index}" / f"{index}.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(conftest.random_photo(40, 40, seed=index)).save(path)
  typed = "folder:~/photos"
  flag_values = flags.FlagValues()
  flags_lib.define_config_flags(flag_values)
  flag_values(["colorizer-train", "--preset=tiny", f"--dataset={typed}"])
  config = flags_lib.config_from_flags(flag_values)
  flags_lib.validate(config)
  config_lib.save(config, "run")  # As train.train_and_evaluate does.
  config = config_lib.load("run")
  assert config.data.dataset == typed
  version_dir = export.export(networks.build_generator(config, seed=0),
                              config, "savedmodels", "photos")
  recorded = export.read_metadata(version_dir)["config"]["data"]["dataset"]
  assert recorded == typed
  with pytest.raises(ValueError) as error:
    evaluate_lib.evaluate(model_path="savedmodels/photos",
                          progress_stream=None)
  message = str(error.value)
  assert message.startswith("--dataset is needed with --model")
  assert f"--dataset={typed}" in message and "\n" not in message


@pytest.mark.parametrize("recorded,portable", [
    ("demo", True), ("tfds:imagenette/320px-v2", True),
    ("tfds:cifar10,tfds:imagenette/320px-v2:train", True),
    ("folder:../shared/data/imagenette/train", False),
    ("tfds:cifar10,npz:data/cifar10", False), ("tfrecord:data/*.tfrecord", False),
    (None, False)])
def test_evaluate_model_defaults_only_to_a_dataset_named_not_pathed(
    tmp_path, recorded, portable):
  version_dir = tmp_path / "model" / "1"
  (version_dir / "assets.extra").mkdir(parents=True)
  (version_dir / "saved_model.pb").write_bytes(b"")
  metadata = {"config": {"data": {"dataset": recorded}}} if recorded else {}
  (version_dir / "assets.extra" / export.METADATA_FILE).write_text(
      json.dumps(metadata))
  if portable:
    assert scored_models.recorded_dataset(str(tmp_path / "model")) == recorded
    return
  with pytest.raises(ValueError, match="^--dataset is needed with --model"):
    scored_models.recorded_dataset(str(tmp_path / "model"))


def test_several_sources_are_scored_one_report_each(saved_model, image_folder,
                                                   tmp_path):
  # pylint: disable=g-import-not-at-top
  from colorizer.evaluation import per_source
  other = tmp_path / "other" / "train"
  other.mkdir(parents=True)
  for index, rgb_uint8 in enumerate(generated_photos()[:2]):
    Image.fromarray(rgb_uint8).save(other / f"photo_{index}.png")
  reports = per_source.evaluate_each_source(
      model_path=saved_model, dataset=f"folder:{image_folder},folder:{other}",
      split="all", output_dir=str(tmp_path / "report"),
      contact_sheet_images=0, progress_stream=None)
  assert [name for name, _, _ in reports] == [os.path.basename(image_folder),
                                              "other"]
  assert [result.num_images for _, result, _ in reports] == [
      len(IMAGE_SIZES), 2]
  for name, result, paths in reports:
    assert paths["json"] == str(tmp_path / "report" / name / "metrics.json")
    with open(paths["json"]) as f:
      assert json.load(f)["num_images"] == result.num_images
