"""Where training images come from: the --dataset sources.

`--dataset` selects one source:
  demo               the built-in procedural scenes (colorizer.data.demo_data);
  folder:PATH        every image below PATH (JPEG, PNG, BMP, GIF, WebP, TIFF);
  tfrecord:GLOB      shards written by pipelines/prepare_data.py;
  tfds:NAME[:SPLIT]  any TFDS image dataset, prepared in --data_dir on first
                     use (colorizer.data.tfds_source);
  npz:PATH           uint8 `images` [N, H, W, 3] in a .npz file, or a folder
                     holding train.npz and val.npz (e.g. CIFAR-10 arrays).

--label_weight trains on class labels: an npz's `labels` array, a folder's
class subfolders or a TFDS dataset's ClassLabel (colorizer.data.class_labels).

Every source yields uint8 RGB images of any size (colorizer.data.pipeline then
preprocesses and batches them). Shuffling happens where it is cheapest (file
paths, indices or encoded bytes, before decoding). Unreadable files are
skipped and counted, never fatal.
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from colorizer import config as config_lib
from colorizer.data import class_labels
from colorizer.data import demo_data
from colorizer.data import image_io
from colorizer.data import splits
from colorizer.data import tfds_source

AUTOTUNE = tf.data.AUTOTUNE
SOURCE_KINDS = ("demo", "folder", "tfrecord", "tfds", "npz")
NPZ_IMAGES_KEY = "images"
# TFRecord feature keys written by prepare_data.
FEATURE_IMAGE = "image/encoded"
FEATURE_NAME = "image/filename"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  kind: str
  location: str = ""
  split: str = ""


def parse_dataset_spec(spec: str) -> DatasetSpec:
  """Parses a --dataset value.

  Raises:
    ValueError: naming --dataset, for an unknown kind or a missing location.
  """
  kind, _, rest = spec.partition(":")
  if kind not in SOURCE_KINDS:
    raise ValueError(f"--dataset={spec!r}: unknown source {kind!r}; use demo, "
                     "folder:PATH, tfrecord:GLOB, tfds:NAME[:SPLIT] or npz:PATH.")
  if kind == "demo":
    if rest:
      raise ValueError(f"--dataset={spec!r}: demo takes no argument.")
    return DatasetSpec("demo")
  if not rest:
    raise ValueError(f"--dataset={spec!r}: {kind} needs a location, e.g. "
                     f"{kind}:{'NAME' if kind == 'tfds' else 'PATH'}.")
  if kind == "tfds":
    name, _, split = rest.partition(":")
    return DatasetSpec("tfds", name, split)
  return DatasetSpec(kind, os.path.expanduser(rest))


@dataclasses.dataclass
class Sources:
  """Undecoded train and validation images, plus what was skipped."""
  # uint8 [H, W, 3], one shuffled epoch; (uint8 [H, W, 3], int32 label) pairs
  # when labels were asked for.
  train: tf.data.Dataset
  val: tf.data.Dataset  # uint8 [H, W, 3], fixed order, finite
  skipped: image_io.SkipCounter
  num_train: Optional[int] = None
  num_val: Optional[int] = None
  num_labels: int = 0  # Distinct class labels, when train carries them.


def _decode_paths(paths: tf.data.Dataset, skipped: image_io.SkipCounter,
                  max_pixels: int) -> tf.data.Dataset:
  """Reads each path with Pillow; unreadable files are counted and dropped.

  paths yields path strings, or (path, label) pairs: then the images keep
  their labels, (uint8 [H, W, 3], label).
  """

  def read_or_skip(path_bytes):
    path = path_bytes.decode("utf-8", errors="surrogateescape")
    try:
      return image_io.read_rgb(path, max_pixels), True
    except image_io.ImageReadError as error:
      skipped.add(path, str(error))
      return np.zeros([1, 1, 3], np.uint8), False

  def decode(path, *label):
    rgb_uint8, ok = tf.numpy_function(read_or_skip, [path],
                                      (tf.uint8, tf.bool), stateful=False)
    rgb_uint8.set_shape([None, None, 3])
    ok.set_shape([])
    return (rgb_uint8, ok) + label

  def drop_ok(rgb_uint8, ok, *label):
    del ok
    return (rgb_uint8,) + label if label else rgb_uint8

  return (paths.map(decode, num_parallel_calls=AUTOTUNE)
          .filter(lambda rgb_uint8, ok, *label: ok)
          .map(drop_ok, num_parallel_calls=AUTOTUNE))


def decode_encoded(image_bytes: tf.Tensor) -> tf.Tensor:
  """Encoded JPEG/PNG/GIF/BMP -> uint8 [H, W, 3] (first frame, gray to RGB)."""
  rgb_uint8 = tf.io.decode_image(image_bytes, channels=3,
                                 expand_animations=False)
  rgb_uint8.set_shape([None, None, 3])
  return rgb_uint8


def _folder_image_paths(location: str):
  try:
    paths = image_io.list_image_files(location)
  except ValueError as error:
    raise ValueError(f"--dataset=folder:{location}: {error}") from None
  if len(paths) < 2:
    raise ValueError(f"--dataset=folder:{location}: found {len(paths)} image "
                     f"file(s), need at least 2 (extensions: "
                     f"{', '.join(image_io.IMAGE_EXTENSIONS)}).")
  return paths


def _folder_sources(location, data_config, seed, shard,
                    with_labels: bool) -> Sources:
  paths = _folder_image_paths(location)
  train_paths, val_paths = splits.split_paths(paths, data_config.val_fraction,
                                              seed)
  train_paths = [train_paths[i] for i in splits.train_subset(
      len(train_paths), data_config.train_fraction, seed)]
  train_elements, num_labels = train_paths, 0
  if with_labels:
    class_names = class_labels.folder_class_names(location, paths)
    num_labels = len(class_names)
    train_elements = (train_paths, np.asarray(class_labels.folder_labels(
        location, train_paths, class_names), np.int32))
  skipped = image_io.SkipCounter()
  train = shard(tf.data.Dataset.from_tensor_slices(train_elements))
  train = train.shuffle(len(train_paths), seed=seed,
                        reshuffle_each_iteration=True)
  val = tf.data.Dataset.from_tensor_slices(val_paths or train_paths[:1])
  return Sources(
      train=_decode_paths(train, skipped, data_config.max_image_pixels),
      val=_decode_paths(val, skipped, data_config.max_image_pixels),
      skipped=skipped, num_train=len(train_paths), num_val=len(val_paths),
      num_labels=num_labels)


def _tfrecord_sources(location, data_config, seed, shard) -> Sources:
  files = sorted(tf.io.gfile.glob(location))
  if not files:
    raise ValueError(f"--dataset=tfrecord:{location}: no file matches.")
  train_files = [f for f in files if "/val-" not in f and "/train-" in f]
  val_files = [f for f in files if "/val-" in f]
  if not train_files:  # Shards not named by prepare_data: use them all.
    train_files = [f for f in files if f not in val_files]

  def records(file_list, shuffle):
    dataset = tf.data.Dataset.from_tensor_slices(file_list)
    if shuffle:
      dataset = shard(dataset).shuffle(len(file_list), seed=seed,
                                       reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset, cycle_length=min(8, len(file_list)),
        num_parallel_calls=AUTOTUNE, deterministic=not shuffle)
    return dataset.map(
        lambda record: tf.io.parse_single_example(
            record, {FEATURE_IMAGE: tf.io.FixedLenFeature([], tf.string)})[
                FEATURE_IMAGE], num_parallel_calls=AUTOTUNE)

  if val_files:
    train_bytes, val_bytes = records(train_files, True), records(val_files,
                                                                 False)
  else:
    train_bytes = splits.every_kth(records(train_files, True),
                                   data_config.val_fraction, False)
    val_bytes = splits.every_kth(records(train_files, False),
                                 data_config.val_fraction, True)
  train_bytes = train_bytes.shuffle(data_config.shuffle_buffer, seed=seed,
                                    reshuffle_each_iteration=True)
  # prepare_data validated every image with Pillow, so errors here mean the
  # shard itself is damaged; those records are dropped with a warning.
  decode = lambda ds: ds.map(decode_encoded, num_parallel_calls=AUTOTUNE  # pylint: disable=g-long-lambda
                            ).ignore_errors(log_warning=True)
  return Sources(train=decode(train_bytes), val=decode(val_bytes),
                 skipped=image_io.SkipCounter())


def _tfds_sources(spec, data_config, seed, shard,
                  with_labels: bool) -> Sources:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds_source.prepared_builder(spec.location, data_config.data_dir)
  tfds_splits = builder.info.splits
  train_split = spec.split or "train"
  features = builder.info.features
  image_keys = [key for key, feature in features.items()
                if isinstance(feature, tfds.features.Image)]
  if not image_keys:
    raise ValueError(f"--dataset=tfds:{spec.location} has no image feature.")
  image_key = image_keys[0]
  label_keys = [key for key, feature in features.items()
                if isinstance(feature, tfds.features.ClassLabel)]
  if with_labels and not label_keys:
    raise ValueError(f"--label_weight: --dataset=tfds:{spec.location} has no "
                     f"class label feature; {class_labels.NO_LABELS_HINT}.")

  def load(split, shuffle, labelled=False):
    dataset = builder.as_dataset(
        split=split, shuffle_files=shuffle,
        decoders={image_key: tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(shuffle_seed=seed))
    if labelled:  # (encoded image, int32 label) pairs.
      return dataset.map(
          lambda example: (example[image_key],
                           tf.cast(example[label_keys[0]], tf.int32)),
          num_parallel_calls=AUTOTUNE)
    return dataset.map(lambda example: example[image_key],
                       num_parallel_calls=AUTOTUNE)

  val_split = next((s for s in ("validation", "val", "test")
                    if s in tfds_splits and s != train_split), None)
  if val_split:
    train_bytes = load(train_split, True, with_labels)
    val_bytes = load(val_split, False)
  else:
    train_bytes = splits.every_kth(load(train_split, True, with_labels),
                                   data_config.val_fraction, False)
    val_bytes = splits.every_kth(load(train_split, False),
                                 data_config.val_fraction, True)
  train_bytes = shard(train_bytes).shuffle(
      data_config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  decode = lambda ds: ds.map(decode_encoded, num_parallel_calls=AUTOTUNE)
  train = (train_bytes.map(lambda image_bytes, label: (
      decode_encoded(image_bytes), label), num_parallel_calls=AUTOTUNE)
           if with_labels else decode(train_bytes))
  return Sources(train=train, val=decode(val_bytes),
                 skipped=image_io.SkipCounter(),
                 num_train=_tfds_num_examples(tfds_splits, train_split),
                 num_labels=(features[label_keys[0]].num_classes
                             if with_labels else 0))


def _tfds_num_examples(tfds_splits, split: str) -> Optional[int]:
  """The images in a TFDS split (a slice like train[:10%] too), if known."""
  try:
    return int(tfds_splits[split].num_examples) or None
  except (KeyError, ValueError, TypeError):
    return None


def _load_npz_images(path: str) -> np.ndarray:
  try:
    with np.load(path, allow_pickle=False) as arrays:
      images = arrays[NPZ_IMAGES_KEY]
  except (OSError, KeyError, ValueError) as error:
    raise ValueError(f"--dataset=npz:{path}: cannot read uint8 "
                     f"'{NPZ_IMAGES_KEY}' [N, H, W, 3] ({error}).") from None
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"--dataset=npz:{path}: '{NPZ_IMAGES_KEY}' must be uint8 "
                     f"[N, H, W, 3], got {images.dtype} {images.shape}.")
  return images


def _npz_train_path(location: str) -> str:
  """The file holding the training images (and their labels) of npz:PATH."""
  return (os.path.join(location, "train.npz") if os.path.isdir(location)
          else location)


def check_labels(dataset: str) -> None:
  """Fails unless --dataset provides class labels (for --label_weight).

  Raises:
    ValueError: one line naming --label_weight, for a source without labels.
  """
  spec = parse_dataset_spec(dataset)
  if spec.kind == "tfds":
    return  # Its class label feature is looked up when the source is built.
  if spec.kind == "folder":
    class_labels.folder_class_names(spec.location,
                                    _folder_image_paths(spec.location))
    return
  if spec.kind != "npz":
    raise ValueError(f"--label_weight needs class labels, which only npz:PATH "
                     f"sources with a '{class_labels.LABELS_KEY}' array, "
                     f"folder:PATH sources with one subfolder per class and "
                     f"tfds: datasets with a class label provide (got "
                     f"--dataset={dataset}); {class_labels.NO_LABELS_HINT}.")
  path = _npz_train_path(spec.location)
  try:
    with np.load(path, allow_pickle=False) as arrays:
      has_labels = class_labels.LABELS_KEY in arrays.files
  except (OSError, ValueError) as error:
    raise ValueError(f"--dataset=npz:{path}: cannot read it ({error})."
                     ) from None
  if not has_labels:
    raise ValueError(f"--label_weight: --dataset=npz:{path} has no "
                     f"'{class_labels.LABELS_KEY}' array; "
                     f"{class_labels.NO_LABELS_HINT}.")


def check_train_fraction(data_config: config_lib.DataConfig) -> None:
  """Fails for a --train_fraction below 1 on a source without a subset.

  Raises:
    ValueError: one line naming --train_fraction and --dataset.
  """
  kind = parse_dataset_spec(data_config.dataset).kind
  if data_config.train_fraction != 1.0 and kind not in ("folder", "npz"):
    raise ValueError(f"--train_fraction={data_config.train_fraction}: only "
                     f"folder: and npz: sources take a training subset (got "
                     f"--dataset={data_config.dataset}).")


def _npz_sources(location, data_config, seed, shard,
                 with_labels: bool) -> Sources:
  train_path = _npz_train_path(location)
  if os.path.isdir(location):
    images = _load_npz_images(train_path)
    val_images = _load_npz_images(os.path.join(location, "val.npz"))
    train_index = slice(None)  # Every image (and label) of train.npz.
  else:
    images = _load_npz_images(location)
    train_index, val_index = splits.split_paths(list(range(len(images))),
                                                data_config.val_fraction, seed)
    val_images = images[val_index]
  if data_config.train_fraction < 1.0:
    candidates = np.arange(len(images))[train_index]
    train_index = candidates[splits.train_subset(
        len(candidates), data_config.train_fraction, seed)]
  # A slice views the array; an index list copies only the images kept.
  train_images = images[train_index]
  train_elements, num_labels = train_images, 0
  if with_labels:
    all_labels = class_labels.load_npz_labels(train_path, len(images))
    train_labels = all_labels[train_index]
    num_labels = int(all_labels.max()) + 1
    train_elements = (train_images, train_labels)
  train = shard(tf.data.Dataset.from_tensor_slices(train_elements)).shuffle(
      min(len(train_images), 50_000), seed=seed, reshuffle_each_iteration=True)
  return Sources(train=train,
                 val=tf.data.Dataset.from_tensor_slices(val_images),
                 skipped=image_io.SkipCounter(), num_train=len(train_images),
                 num_val=len(val_images), num_labels=num_labels)


def _demo_sources(data_config, seed, shard) -> Sources:
  image_size = data_config.image_size
  render = lambda index: demo_data.render_scene(index, image_size, seed=seed)
  train = shard(tf.data.Dataset.range(demo_data.DEMO_TRAIN_SIZE))
  train = train.shuffle(demo_data.DEMO_TRAIN_SIZE, seed=seed,
                        reshuffle_each_iteration=True)
  return Sources(
      train=train.map(render, num_parallel_calls=AUTOTUNE),
      val=demo_data.make_dataset(demo_data.DEMO_VAL_SIZE, image_size,
                                 seed=seed, start_index=demo_data.DEMO_VAL_START_INDEX),
      skipped=image_io.SkipCounter(), num_train=demo_data.DEMO_TRAIN_SIZE,
      num_val=demo_data.DEMO_VAL_SIZE)


def make_sources(data_config: config_lib.DataConfig, seed: int,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 with_labels: bool = False) -> Sources:
  """Builds the undecoded train/val streams for data_config.dataset.

  Args:
    data_config: the data group of the config.
    seed: shuffling and split seed.
    input_context: when set, the training stream is sharded per input
      pipeline (worker), as tf.distribute requires.
    with_labels: the training stream yields (image, class label) pairs.

  Returns:
    Sources.

  Raises:
    ValueError: with_labels for a source without labels.
  """
  spec = parse_dataset_spec(data_config.dataset)
  if with_labels:
    check_labels(data_config.dataset)
  check_train_fraction(data_config)

  def shard(dataset):
    if input_context and input_context.num_input_pipelines > 1:
      return dataset.shard(input_context.num_input_pipelines,
                           input_context.input_pipeline_id)
    return dataset

  if spec.kind == "folder":
    return _folder_sources(spec.location, data_config, seed, shard,
                           with_labels)
  if spec.kind == "tfrecord":
    return _tfrecord_sources(spec.location, data_config, seed, shard)
  if spec.kind == "tfds":
    return _tfds_sources(spec, data_config, seed, shard, with_labels)
  if spec.kind == "npz":
    return _npz_sources(spec.location, data_config, seed, shard, with_labels)
  return _demo_sources(data_config, seed, shard)
