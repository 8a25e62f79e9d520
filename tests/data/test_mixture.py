"""Several --dataset sources at once: names, weights, labels, validation."""

import dataclasses
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from colorizer import flags_lib
from colorizer import presets
from colorizer.data import mixture
from colorizer.data import pipeline
from colorizer.training import validation


def _class_folder(root, classes, per_class, color_of_class, size=24):
  """root/<class>/<i>.png: flat images whose color encodes the source."""
  for label, name in enumerate(classes):
    os.makedirs(os.path.join(root, name), exist_ok=True)
    for index in range(per_class):
      rgb = np.zeros([size, size, 3], np.uint8)
      rgb[...] = color_of_class(label)
      Image.fromarray(rgb).save(os.path.join(root, name, f"{index:03d}.png"))
  return root


@pytest.fixture
def two_sources(tmp_path):
  """A red-ish 2-class source of 20 images and a blue-ish 3-class one of 60."""
  first = _class_folder(str(tmp_path / "alpha" / "train"), ["a0", "a1"], 10,
                        lambda label: (200, 40 + label, 40))
  second = _class_folder(str(tmp_path / "beta" / "train"),
                         ["b0", "b1", "b2"], 20,
                         lambda label: (40, 40 + label, 200))
  return f"folder:{first},folder:{second}"


def _data_config(**overrides):
  return dataclasses.replace(presets.tiny().data, **overrides)


def test_source_names_skip_generic_folders_and_stay_unique():
  assert mixture.source_name("folder:../data/imagenette/train") == "imagenette"
  assert mixture.source_name("folder:/x/places/train/") == "places"
  assert mixture.source_name("tfds:imagenette/320px-v2:train") == "imagenette"
  assert mixture.source_name("npz:cifar/train.npz") == "train"
  assert mixture.source_name("demo") == "demo"
  assert mixture.source_names(["folder:a/x", "folder:b/x", "folder:c/y"]) == [
      "x", "x_2", "y"]


@pytest.mark.parametrize("dataset, weights, message", [
    ("folder:a,,folder:b", "", "entry 2 of 3 is empty"),
    ("folder:a,", "", "entry 2 of 2 is empty"),
    ("folder:a,folder:b", "1", "1 weight.s. for 2 --dataset source"),
    ("folder:a,folder:b", "1,x", "expected comma-separated numbers"),
    ("folder:a,folder:b", "1,0", "every weight must be positive"),
])
def test_bad_lists_and_weights_are_one_line_errors(dataset, weights, message):
  with pytest.raises(ValueError, match=message) as error:
    mixture.check_sources(_data_config(dataset=dataset,
                                       dataset_weights=weights))
  assert "\n" not in str(error.value)


def test_a_bad_entry_is_named(two_sources, tmp_path):
  dataset = f"{two_sources},folder:{tmp_path}/missing"
  with pytest.raises(ValueError, match=r"--dataset=folder:.*missing: no such"):
    flags_lib.validate(presets.tiny().replace(data={"dataset": dataset}))
  with pytest.raises(ValueError, match="unknown source 'foldr'"):
    mixture.check_sources(_data_config(dataset=f"{two_sources},foldr:x"))


def test_default_mix_follows_source_sizes(two_sources):
  data_config = _data_config(dataset=two_sources, val_fraction=0.1)
  sources = mixture.make_sources(data_config, seed=0)
  assert list(sources.parts) == ["alpha", "beta"]
  # 18 and 54 training images after the 10% splits.
  assert sources.num_train == 18 + 54
  np.testing.assert_allclose(sources.weights, [0.25, 0.75])
  reds = sum(int(rgb[0, 0, 0] > 128) for rgb in
             sources.train.take(800).as_numpy_iterator())
  assert 150 < reds < 250  # Binomial(800, 0.25): mean 200, sd 12.


def test_weights_set_the_mix(two_sources):
  data_config = _data_config(dataset=two_sources, dataset_weights="3,1")
  sources = mixture.make_sources(data_config, seed=0)
  np.testing.assert_allclose(sources.weights, [0.75, 0.25])
  reds = sum(int(rgb[0, 0, 0] > 128) for rgb in
             sources.train.take(800).as_numpy_iterator())
  assert 550 < reds < 650


def test_class_labels_stay_apart_per_source(two_sources):
  sources = mixture.make_sources(_data_config(dataset=two_sources), seed=0,
                                 with_labels=True)
  assert sources.num_labels == 5
  seen = {}
  for rgb, label in sources.train.take(400).as_numpy_iterator():
    red, green = int(rgb[0, 0, 0] > 128), int(rgb[0, 0, 1]) - 40
    expected = green if red else 2 + green  # alpha: 0..1, beta: 2..4
    assert label == expected
    seen[int(label)] = True
  assert sorted(seen) == [0, 1, 2, 3, 4]


def test_each_source_keeps_its_own_validation_split(two_sources):
  data_config = _data_config(dataset=two_sources, val_fraction=0.2)
  sources = mixture.make_sources(data_config, seed=3)
  single = {name: mixture.make_sources(
      _data_config(dataset=spec, val_fraction=0.2), seed=3)
            for name, spec in zip(("alpha", "beta"),
                                  mixture.split_specs(two_sources))}
  assert sources.num_val == 4 + 12
  for name, part in sources.parts.items():
    assert part.num_val == single[name].num_val
    mixed_val = [rgb.tobytes() for rgb in part.val.as_numpy_iterator()]
    alone_val = [rgb.tobytes() for rgb in single[name].val.as_numpy_iterator()]
    assert mixed_val == alone_val
  by_source = pipeline.validation_batches_by_source(sources, data_config, 4)
  assert list(by_source) == ["alpha", "beta"]
  for name, batches in by_source.items():
    count = sum(int(l_channel.shape[0]) for l_channel, _ in batches)
    assert count == sources.parts[name].num_val


def test_evaluate_sources_reports_each_and_all_weighted_by_images():
  size = 8
  # A predictor whose a*b* are the truth of the first source only.
  def batch(ab_value, count):
    l_channel = tf.zeros([count, size, size, 1])
    ab = tf.fill([count, size, size, 2], ab_value)
    return l_channel, ab

  def predict(l_channel):
    return tf.fill(tf.concat([tf.shape(l_channel)[:3], [2]], 0), 0.2)

  metrics, grid = validation.evaluate_sources(
      predict, {"right": [batch(0.2, 2)], "wrong": [batch(-0.3, 6)]})
  assert metrics["right/ab_l1"] < 1e-4 < metrics["wrong/ab_l1"]
  np.testing.assert_allclose(
      metrics["ab_l1"], (2 * metrics["right/ab_l1"] + 6 *
                         metrics["wrong/ab_l1"]) / 8, rtol=1e-6)
  assert metrics["num_images"] == 8
  # Half the rows from each source: both of "right"'s, 4 of "wrong"'s 6.
  tile = validation.grid_scale(size) * size
  assert grid.shape == ((2 + validation.GRID_ROWS // 2) * tile, 3 * tile, 3)


def test_training_logs_each_source(two_sources, tmp_path, tiny_config):
  from colorizer.training import train  # pylint: disable=g-import-not-at-top
  from tests.conftest import summary_events  # pylint: disable=g-import-not-at-top
  config = tiny_config.replace(
      data={"dataset": two_sources, "val_fraction": 0.2},
      loss={"label_weight": 1.0}, train={"train_steps": 2, "eval_every": 2})
  model_dir = str(tmp_path / "run")
  metrics = train.train_and_evaluate(config, model_dir)
  for source in ("alpha", "beta"):
    assert np.isfinite(metrics[f"{source}/psnr"])
  events = summary_events(os.path.join(model_dir, train.EVAL_LOG_DIR))
  assert {"eval/psnr", "eval/alpha/psnr", "eval/beta/psnr"} <= set(events)
