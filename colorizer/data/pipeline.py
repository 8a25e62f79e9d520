"""The tf.data input pipeline: sources -> RGB -> (L*, a*b*) batches.

colorizer.data.image_sources reads a --dataset source as uint8 RGB images of
any size (colorizer.data.mixture mixes several). `preprocess` then crops/resizes them to the training size, flips,
converts to L*a*b* and normalizes; `make_datasets` batches the result for
training and validation. In sketch mode (--input_mode=sketch) it pairs an
XDoG line drawing of each image with the image's full L*a*b* instead
(colorizer.data.sketch).
"""

from typing import Dict, Optional, Tuple

import tensorflow as tf

from colorizer import color
from colorizer import config as config_lib
from colorizer.data import mixture
from colorizer.data import sketch

AUTOTUNE = tf.data.AUTOTUNE


def resize_short_side_center_crop(rgb_uint8: tf.Tensor,
                                  image_size: int) -> tf.Tensor:
  """uint8 [H, W, 3] -> float32 [S, S, 3] in [0, 255], aspect kept.

  The centered square is cut out before resizing, so a very long, thin image
  (1 x 200000, small on disk) never becomes a huge intermediate tensor.
  """
  shape = tf.shape(rgb_uint8)[:2]
  side = tf.reduce_min(shape)
  offset = (shape - side) // 2
  square = tf.image.crop_to_bounding_box(rgb_uint8, offset[0], offset[1],
                                         side, side)  # [side, side, 3]
  return tf.image.resize(square, [image_size, image_size], antialias=True)


def random_resized_crop(rgb_uint8: tf.Tensor, image_size: int,
                        min_scale: float, seed: tf.Tensor) -> tf.Tensor:
  """Inception-style crop: area in [min_scale, 1], aspect 3/4..4/3."""
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(rgb_uint8), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
      seed=seed, min_object_covered=0.0, aspect_ratio_range=(0.75, 1.333),
      area_range=(min_scale, 1.0), max_attempts=10,
      use_image_if_no_bounding_boxes=True)
  crop = tf.slice(rgb_uint8, begin, size)
  return tf.image.resize(crop, [image_size, image_size], antialias=True)


# The line drawing sketch mode trains on (XDoG of the image's L*), public here
# beside the rest of preprocessing; colorizer.data.sketch holds the method.
sketch_from_rgb = sketch.sketch_from_rgb


def preprocess(rgb_uint8: tf.Tensor, data_config: config_lib.DataConfig,
               training: bool, seed: Optional[tf.Tensor] = None
               ) -> Tuple[tf.Tensor, tf.Tensor]:
  """One image -> the model's (model_input, target) pair.

  Args:
    rgb_uint8: uint8 [H, W, 3].
    data_config: image_size, train_crop, crop_min_scale, flip, input_mode.
    training: random crop and flip when True; center crop when False.
    seed: int64 [2], the per-example stateless seed (training only).

  Returns:
    grayscale mode: l_channel float32 [S, S, 1] = L*/50 - 1, and ab float32
    [S, S, 2] = a*b*/110, both in [-1, 1].
    sketch mode: the drawing float32 [S, S, 1] = 2 * sketch_from_rgb - 1,
    and lab float32 [S, S, 3] = concat(L*/50 - 1, a*b*/110), in [-1, 1].
  """
  size = data_config.image_size
  if training and data_config.train_crop == "random_resized":
    rgb = random_resized_crop(rgb_uint8, size, data_config.crop_min_scale,
                              seed)
  else:
    rgb = resize_short_side_center_crop(rgb_uint8, size)
  if training and data_config.flip:
    flip_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    rgb = tf.image.stateless_random_flip_left_right(rgb, flip_seed)
  rgb = tf.clip_by_value(rgb, 0.0, 255.0) / 255.0  # [S, S, 3] in [0, 1]
  l_channel, ab = color.rgb_to_model_inputs(rgb)
  if data_config.input_mode == "sketch":
    # Drawn after the crop and flip, so the lines sit on the target's edges,
    # from the L* already computed (the same as sketch_from_rgb(rgb), without
    # a second Lab conversion in every map call).
    sketch_normalized = sketch.normalize_sketch(
        sketch.xdog(color.denormalize_l(l_channel) / 100.0))
    lab = tf.concat([l_channel, ab], axis=-1)  # [S, S, 3]
    return tf.ensure_shape(sketch_normalized, [size, size, 1]), (
        tf.ensure_shape(lab, [size, size, 3]))
  return tf.ensure_shape(l_channel, [size, size, 1]), tf.ensure_shape(
      ab, [size, size, 2])


def _target_has_color(model_input, target, *label) -> tf.Tensor:
  """Filter for (model_input, target[, label]): a*b* (or L*a*b*) with color."""
  del model_input, label
  return color.has_color(color.denormalize_ab(target[..., -2:]))


def make_datasets(data_config: config_lib.DataConfig, per_replica_batch: int,
                  seed: int, val_batch: Optional[int] = None,
                  input_context: Optional[tf.distribute.InputContext] = None,
                  with_labels: bool = False,
                  val_images: Optional[int] = None):
  """Batched training and validation datasets of (model_input, target).

  (l_channel, ab) in grayscale mode, (sketch, lab) in sketch mode: see
  preprocess. With with_labels the training batches are (model_input,
  target, int32 label [B]); validation batches never carry labels.

  Args:
    data_config: the data group.
    per_replica_batch: the batch each replica (or the one device) receives.
    seed: data order and augmentation seed.
    val_batch: validation batch size (default per_replica_batch).
    input_context: shard the training stream for tf.distribute.
    with_labels: training batches carry the source's class labels.
    val_images: keep about this many validation images, spread evenly over
      the split (every (split size // val_images)-th), not its first ones: a
      folder's split is sorted by class, and the first few batches would be
      its first classes. None keeps the whole split.

  Returns:
    (train_ds, val_ds, sources): train_ds repeats forever with fixed-shape
    batches; val_ds is finite and in a fixed order.
  """
  sources = mixture.make_sources(data_config, seed, input_context,
                                 with_labels)
  train = sources.train
  if data_config.cache:
    # The shuffle before the cache is frozen after the first epoch; a buffer
    # shuffle of the cached images keeps later epochs in a new order.
    train = train.cache().shuffle(data_config.shuffle_buffer, seed=seed,
                                  reshuffle_each_iteration=True)
  train = train.repeat()
  augment_seeds = tf.data.Dataset.random(seed=seed).batch(2)

  def augment(example, example_seed):
    rgb_uint8, label = example if with_labels else (example, None)
    pair = preprocess(rgb_uint8, data_config, True, example_seed)
    return pair + (label,) if with_labels else pair

  train = tf.data.Dataset.zip((train, augment_seeds)).map(
      augment, num_parallel_calls=AUTOTUNE)
  if data_config.skip_grayscale:
    train = train.filter(_target_has_color)
  train = train.batch(per_replica_batch, drop_remainder=True,
                      num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
  val = validation_batches(sources.val, sources.num_val, data_config,
                           val_batch or per_replica_batch, val_images)
  return train, val, sources


def validation_batches(val: tf.data.Dataset, num_val: Optional[int],
                       data_config: config_lib.DataConfig, batch_size: int,
                       val_images: Optional[int] = None) -> tf.data.Dataset:
  """Preprocessed, batched validation images in a fixed order.

  Args:
    val: uint8 [H, W, 3] images of a source's validation split.
    num_val: their number, if known.
    data_config: the data group.
    batch_size: images per batch.
    val_images: keep about this many, spread evenly over the split (see
      make_datasets); None keeps them all.
  """
  if val_images and num_val and num_val > val_images:
    val = val.shard(num_val // val_images, 0)
  val = val.map(lambda rgb_uint8: preprocess(rgb_uint8, data_config, False),
                num_parallel_calls=AUTOTUNE)
  if data_config.skip_grayscale:
    val = val.filter(_target_has_color)
  options = tf.data.Options()
  options.deterministic = True
  return val.batch(batch_size).prefetch(AUTOTUNE).with_options(options)


def validation_batches_by_source(sources: mixture.NamedSources,
                                 data_config: config_lib.DataConfig,
                                 batch_size: int,
                                 val_images: Optional[int] = None
                                 ) -> Dict[str, tf.data.Dataset]:
  """{source name: its validation_batches}, in --dataset order."""
  return {name: validation_batches(part.val, part.num_val, data_config,
                                   batch_size, val_images)
          for name, part in sources.parts.items()}
