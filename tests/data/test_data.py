"""The tf.data pipeline: sources, broken files, splits, preprocessing."""

import os

import numpy as np
import pytest
import tensorflow as tf

from colorizer import color
from colorizer import presets
from colorizer.data import image_io
from colorizer.data import image_sources
from colorizer.data import pipeline
from colorizer.data import splits
from colorizer.data import tfrecords
from tests import conftest


def _data_config(**overrides):
  values = dict(image_size=32, train_crop="resize", shuffle_buffer=16,
                val_fraction=0.25)
  values.update(overrides)
  return presets.tiny().data.__class__(**values)


def test_parse_dataset_spec():
  parse = image_sources.parse_dataset_spec
  assert parse("demo") == image_sources.DatasetSpec("demo")
  assert parse("tfds:imagenette/160px:train[:90%]") == (
      image_sources.DatasetSpec("tfds", "imagenette/160px", "train[:90%]"))
  assert parse("folder:/x/y").location == "/x/y"
  for bad, message in [("flickr", "unknown source 'flickr'"),
                       ("folder:", "needs a location"),
                       ("demo:3", "takes no argument")]:
    with pytest.raises(ValueError, match=f"--dataset={bad!r}.*{message}"):
      parse(bad)


def test_folder_lists_all_formats_and_skips_broken_files(mixed_image_folder):
  paths = image_io.list_image_files(mixed_image_folder)
  assert len(paths) == len(conftest.GOOD_FILES) + len(conftest.BROKEN_FILES)
  config = _data_config(dataset=f"folder:{mixed_image_folder}",
                        val_fraction=0.0)
  sources = image_sources.make_sources(config, seed=0)
  images = list(sources.train)  # One epoch.
  assert len(images) == len(conftest.GOOD_FILES)
  assert all(image.dtype == tf.uint8 and image.shape[-1] == 3
             for image in images)
  skipped = dict(sources.skipped.items())
  assert sorted(os.path.relpath(p, mixed_image_folder) for p in skipped) == (
      sorted(conftest.BROKEN_FILES))
  # A second epoch counts nothing twice.
  assert len(list(sources.train)) == len(conftest.GOOD_FILES)
  assert sources.skipped.count == len(conftest.BROKEN_FILES)


def test_folder_batches_have_model_shapes_and_ranges(mixed_image_folder):
  # The folder holds a gray PNG; keep it, to count only the broken files.
  config = _data_config(dataset=f"folder:{mixed_image_folder}",
                        train_crop="random_resized", skip_grayscale=False)
  train, val, sources = pipeline.make_datasets(config, per_replica_batch=4,
                                           seed=0)
  for l_channel, ab in train.take(5):  # Repeats past the broken files.
    assert l_channel.shape == (4, 32, 32, 1) and ab.shape == (4, 32, 32, 2)
    assert -1.0 <= l_channel.numpy().min() and l_channel.numpy().max() <= 1.0
    assert np.abs(ab.numpy()).max() <= 1.0
    assert np.abs(ab.numpy()).max() > 0.05  # Color survived.
  assert sum(int(b[0].shape[0]) for b in val) == sources.num_val - sum(
      1 for path, _ in sources.skipped.items()
      if path in set(splits.split_paths(image_io.list_image_files(
          mixed_image_folder), 0.25, 0)[1]))


def test_split_is_deterministic_under_seed():
  paths = [f"img{i:03d}.jpg" for i in range(100)]
  train_a, val_a = splits.split_paths(paths, 0.1, seed=3)
  train_b, val_b = splits.split_paths(paths, 0.1, seed=3)
  _, val_c = splits.split_paths(paths, 0.1, seed=4)
  assert (train_a, val_a) == (train_b, val_b)
  assert len(val_a) == 10 and not set(val_a) & set(train_a)
  assert val_a != val_c


def test_train_subset_is_nested_and_seeded():
  assert splits.train_subset(10, 1.0, seed=0) == list(range(10))
  quarter = splits.train_subset(100, 0.25, seed=0)
  half = splits.train_subset(100, 0.5, seed=0)
  assert len(quarter) == 25 and len(half) == 50
  assert set(quarter) <= set(half)  # A curve adds photos, never swaps them.
  assert half == sorted(half) and half == splits.train_subset(100, 0.5, 0)
  assert half != splits.train_subset(100, 0.5, seed=1)
  assert splits.train_subset(3, 0.01, seed=0) != []  # At least one.
  for bad in (0.0, 1.5):
    with pytest.raises(ValueError, match="--train_fraction"):
      splits.train_subset(10, bad, seed=0)


def test_train_fraction_keeps_the_validation_split(tmp_path):
  root = str(tmp_path / "photos")
  conftest.write_files(root, {
      f"{name}/{i}.png": (lambda i=i: conftest.encoded(conftest.random_photo(
          16, 16, i), "PNG")) for i in range(12) for name in ("a", "b")})
  full, half = (image_sources.make_sources(
      _data_config(dataset=f"folder:{root}", val_fraction=0.25,
                   train_fraction=fraction), seed=0, with_labels=True)
                for fraction in (1.0, 0.5))
  assert (full.num_train, full.num_val) == (18, 6)
  assert (half.num_train, half.num_val) == (9, 6)
  assert len(list(half.train)) == 9
  np.testing.assert_array_equal(np.stack(list(full.val)),
                                np.stack(list(half.val)))
  images = np.stack([conftest.random_photo(16, 16, i) for i in range(8)])
  np.savez(tmp_path / "all.npz", images=images, labels=np.arange(8))
  npz = image_sources.make_sources(
      _data_config(dataset=f"npz:{tmp_path}/all.npz", val_fraction=0.25,
                   train_fraction=0.5), seed=0, with_labels=True)
  assert (npz.num_train, npz.num_val) == (3, 2)
  labels = sorted(int(label) for _, label in npz.train)
  kept = splits.split_paths(list(range(8)), 0.25, 0)[0]
  assert set(labels) <= set(kept) and len(labels) == 3
  with pytest.raises(ValueError, match="--train_fraction=0.5: only folder"):
    image_sources.make_sources(
        _data_config(dataset="demo", train_fraction=0.5), seed=0)


def test_validation_sample_spreads_over_a_class_sorted_split(tmp_path):
  root = str(tmp_path / "photos")
  # Class c's images are a flat color of level 40 * (c + 1): which classes a
  # validation batch holds is readable from its L*.
  conftest.write_files(root, {
      f"class{c}/{i}.png": (lambda c=c, i=i: conftest.encoded(np.tile(
          np.array([40 * (c + 1), 20 * c, 200 - 40 * c], np.uint8),
          [16, 16, 1]), "PNG")) for c in range(4) for i in range(5)})
  config = _data_config(dataset=f"folder:{root}", val_fraction=0.5,
                        image_size=16)
  _, whole, sources = pipeline.make_datasets(config, 2, seed=0)
  _, spread, _ = pipeline.make_datasets(config, 2, seed=0, val_images=4)
  levels = lambda dataset: [round(float(l_channel.numpy().mean()), 3)
                            for batch, _ in dataset for l_channel in batch]
  whole_levels, spread_levels = levels(whole), levels(spread)
  assert sources.num_val == 10 and len(whole_levels) == 10
  step = sources.num_val // 4
  assert spread_levels == whole_levels[::step]  # Every 2nd, from the first.
  assert len(set(spread_levels)) > len(set(whole_levels[:len(spread_levels)]))


def test_training_order_is_deterministic_under_seed(tmp_path):
  root = str(tmp_path)
  conftest.write_files(root, {
      f"{i}.png": (lambda i=i: conftest.encoded(conftest.random_photo(
          32, 32, i), "PNG")) for i in range(6)})
  config = _data_config(dataset=f"folder:{root}", val_fraction=0.0)
  first = [b[0].numpy() for b in pipeline.make_datasets(config, 2, seed=7)[0]
           .take(3)]
  second = [b[0].numpy() for b in pipeline.make_datasets(config, 2, seed=7)[0]
            .take(3)]
  np.testing.assert_array_equal(np.stack(first), np.stack(second))


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="--dataset=folder:.*not a directory"):
    image_sources.make_sources(
        _data_config(dataset=f"folder:{tmp_path}/nope"), 0)
  with pytest.raises(ValueError, match="found 0 image"):
    image_sources.make_sources(_data_config(dataset=f"folder:{tmp_path}"), 0)


def test_preprocess_eager_equals_tf_data():
  rgb_uint8 = conftest.random_photo(50, 70, 11)
  config = _data_config(train_crop="random_resized")
  seed = tf.constant([5, 6], tf.int64)
  eager = pipeline.preprocess(tf.constant(rgb_uint8), config, True, seed)
  dataset = tf.data.Dataset.from_tensors((rgb_uint8, seed)).map(
      lambda image, s: pipeline.preprocess(image, config, True, s))
  in_data = next(iter(dataset))
  for a, b in zip(eager, in_data):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_eval_preprocess_keeps_aspect_with_center_crop():
  rgb_uint8 = np.zeros([40, 80, 3], np.uint8)
  rgb_uint8[:, 20:60] = 255  # A white center band between black sides.
  l_channel, _ = pipeline.preprocess(tf.constant(rgb_uint8), _data_config(),
                                 training=False)
  # Short side 40 -> 32: width 64, and the center crop of 32 keeps only the
  # white band (the outermost columns are blended by the resize filter).
  assert l_channel.shape == (32, 32, 1)
  assert l_channel.numpy()[:, 1:-1].min() > 0.95
  assert l_channel.numpy()[:, 0].min() > 0.5


def test_prepare_data_shards_read_back(mixed_image_folder, tmp_path):
  output_dir = str(tmp_path / "shards")
  counts = tfrecords.write_shards(mixed_image_folder, output_dir,
                                  image_size=40, num_shards=2,
                                  val_fraction=0.25)
  assert counts["skipped"] == len(conftest.BROKEN_FILES)
  assert counts["train"] + counts["val"] == len(conftest.GOOD_FILES)
  config = _data_config(dataset=f"tfrecord:{output_dir}/*.tfrecord")
  sources = image_sources.make_sources(config, seed=0)
  train_images = list(sources.train)
  assert len(train_images) == counts["train"]
  assert max(min(image.shape[:2]) for image in train_images) == 40
  assert len(list(sources.val)) == counts["val"]
  train, _, _ = pipeline.make_datasets(config, 2, seed=0)
  l_channel, ab = next(iter(train))
  assert l_channel.shape == (2, 32, 32, 1) and ab.shape == (2, 32, 32, 2)


def test_tfds_source_with_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = _data_config(dataset="tfds:cifar10", val_fraction=0.25)
  with tfds.testing.mock_data(num_examples=16,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    train, val, _ = pipeline.make_datasets(config, 4, seed=0)
    l_channel, ab = next(iter(train))
    val_images = sum(int(batch[0].shape[0]) for batch in val)
  assert l_channel.shape == (4, 32, 32, 1) and ab.shape == (4, 32, 32, 2)
  assert val_images == 4  # Every 4th of 16 examples.


def test_demo_source_batches():
  train, val, sources = pipeline.make_datasets(_data_config(dataset="demo"), 4,
                                           seed=0)
  l_channel, ab = next(iter(train))
  assert l_channel.shape == (4, 32, 32, 1)
  assert np.abs(ab.numpy()).mean() > 0.05
  assert sources.num_val > 0 and next(iter(val))[0].shape[1:] == (32, 32, 1)


def test_npz_file_and_folder_sources(tmp_path):
  images = np.stack([conftest.random_photo(32, 32, i) for i in range(8)])
  np.savez(tmp_path / "all.npz", images=images, labels=np.arange(8))
  sources = image_sources.make_sources(
      _data_config(dataset=f"npz:{tmp_path}/all.npz", val_fraction=0.25),
      seed=0)
  assert (sources.num_train, sources.num_val) == (6, 2)
  assert len(list(sources.train)) == 6
  split_dir = tmp_path / "split"
  split_dir.mkdir()
  np.savez(split_dir / "train.npz", images=images[:5])
  np.savez(split_dir / "val.npz", images=images[5:])
  train, val, sources = pipeline.make_datasets(
      _data_config(dataset=f"npz:{split_dir}"), 2, seed=0)
  assert (sources.num_train, sources.num_val) == (5, 3)
  first_val = next(iter(val))[0].numpy()
  expected_l, _ = pipeline.preprocess(tf.constant(images[5]), _data_config(),
                                  training=False)
  np.testing.assert_allclose(first_val[0], expected_l.numpy(), atol=1e-5)
  np.savez(tmp_path / "bad.npz", images=images.astype(np.float32))
  with pytest.raises(ValueError, match="must be uint8"):
    image_sources.make_sources(
        _data_config(dataset=f"npz:{tmp_path}/bad.npz"), 0)


def test_black_and_white_images_are_left_out_unless_asked(tmp_path):
  colorful = [conftest.random_photo(32, 32, seed) for seed in range(6)]
  # Gray (R = G = B) photos, as CIFAR-10 holds about 1.5% of.
  gray = [np.repeat(photo.mean(-1, keepdims=True), 3, -1).astype(np.uint8)
          for photo in colorful[:4]]
  np.savez(tmp_path / "train.npz", images=np.stack(colorful[:4] + gray[:2]))
  np.savez(tmp_path / "val.npz", images=np.stack(colorful[4:] + gray[2:]))
  for skip, expected_val in ((True, 2), (False, 4)):
    config = _data_config(dataset=f"npz:{tmp_path}", skip_grayscale=skip)
    train_ds, val_ds, _ = pipeline.make_datasets(config, 6, seed=0)
    val_targets = np.concatenate([ab for _, ab in val_ds])
    assert len(val_targets) == expected_val
    _, train_ab = next(iter(train_ds))
    chroma = np.linalg.norm(train_ab.numpy() * color.AB_SCALE, axis=-1)
    has_gray = bool((chroma.mean((1, 2)) < color.GRAYSCALE_CHROMA).any())
    assert has_gray == (not skip)


def test_has_color_threshold():
  ab = np.zeros([4, 4, 2], np.float32)
  assert not bool(color.has_color(ab))
  ab[..., 1] = 0.9  # Below a just-noticeable difference.
  assert not bool(color.has_color(ab))
  ab[..., 1] = 2.0
  assert bool(color.has_color(ab))
