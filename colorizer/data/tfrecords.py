"""Converting a folder of images into resized TFRecord shards.

Each image is read with Pillow (so every format, mode and EXIF orientation is
handled, and broken files are found here rather than during training),
resized so its short side is `image_size`, re-encoded, and written to
`train-XXXXX-of-YYYYY.tfrecord` / `val-...` shards that the
`tfrecord:GLOB` source reads.
"""

import io
import os
from typing import Dict, List

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf

from colorizer.data import image_io
from colorizer.data import image_sources
from colorizer.data import splits


def _resize_short_side(rgb_uint8: np.ndarray, image_size: int) -> np.ndarray:
  height, width = rgb_uint8.shape[:2]
  if not image_size or min(height, width) <= image_size:
    return rgb_uint8
  scale = image_size / min(height, width)
  new_size = (max(image_size, round(width * scale)),
              max(image_size, round(height * scale)))
  return np.asarray(Image.fromarray(rgb_uint8).resize(new_size,
                                                      Image.Resampling.LANCZOS))


def encode(rgb_uint8: np.ndarray, image_format: str) -> bytes:
  """uint8 RGB -> PNG (lossless) or JPEG (quality 95) bytes."""
  buffer = io.BytesIO()
  if image_format == "png":
    Image.fromarray(rgb_uint8).save(buffer, format="PNG")
  elif image_format == "jpeg":
    Image.fromarray(rgb_uint8).save(buffer, format="JPEG", quality=95)
  else:
    raise ValueError(f"--format={image_format!r}: expected png or jpeg.")
  return buffer.getvalue()


def make_example(image_bytes: bytes, filename: str) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      image_sources.FEATURE_IMAGE: tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[image_bytes])),
      image_sources.FEATURE_NAME: tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[filename.encode("utf-8")])),
  }))


def _write_split(paths: List[str], root: str, output_dir: str, split: str,
                 num_shards: int, image_size: int, image_format: str,
                 skipped: image_io.SkipCounter, max_pixels: int) -> int:
  num_shards = max(1, min(num_shards, len(paths)))
  writers = [tf.io.TFRecordWriter(os.path.join(
      output_dir, f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"))
             for shard in range(num_shards)]
  written = 0
  try:
    for index, path in enumerate(paths):
      try:
        rgb_uint8 = image_io.read_rgb(path, max_pixels)
      except image_io.ImageReadError as error:
        skipped.add(path, str(error))
        continue
      example = make_example(
          encode(_resize_short_side(rgb_uint8, image_size), image_format),
          os.path.relpath(path, root))
      writers[written % num_shards].write(example.SerializeToString())
      written += 1
      if (index + 1) % 500 == 0:
        logging.info("%s: %d/%d images", split, index + 1, len(paths))
  finally:
    for writer in writers:
      writer.close()
  return written


def write_shards(input_dir: str, output_dir: str, image_size: int = 286,
                 num_shards: int = 8, val_fraction: float = 0.05,
                 image_format: str = "png", seed: int = 0,
                 max_pixels: int = image_io.DEFAULT_MAX_PIXELS
                 ) -> Dict[str, int]:
  """Converts every image below input_dir into train/val TFRecord shards.

  Args:
    input_dir: a folder of images (recursive).
    output_dir: where shards go (created).
    image_size: short side after resizing; 0 keeps the original size. 286 is
      pix2pix's load size for 256 px random crops.
    num_shards: training shards (validation gets proportionally fewer).
    val_fraction: fraction of images in the val split (same split as the
      folder source with the same seed).
    image_format: png (lossless) or jpeg.
    seed: split seed.
    max_pixels: larger images are skipped.

  Returns:
    {"train": n, "val": n, "skipped": n}.

  Raises:
    ValueError: for a missing or empty input_dir.
  """
  try:
    paths = image_io.list_image_files(input_dir)
  except ValueError as error:
    raise ValueError(f"--input_dir={input_dir}: {error}") from None
  if not paths:
    raise ValueError(f"--input_dir={input_dir}: no image files found.")
  tf.io.gfile.makedirs(output_dir)
  train_paths, val_paths = splits.split_paths(paths, val_fraction, seed)
  skipped = image_io.SkipCounter()
  counts = {}
  for split, split_paths, shards in (
      ("train", train_paths, num_shards),
      ("val", val_paths, max(1, round(num_shards * val_fraction)))):
    if split_paths:
      counts[split] = _write_split(split_paths, input_dir, output_dir, split,
                                   shards, image_size, image_format, skipped,
                                   max_pixels)
    else:
      counts[split] = 0
  counts["skipped"] = skipped.count
  return counts
