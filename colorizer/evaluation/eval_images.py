"""Which images an evaluation scores, and how they are batched.

evaluation_images reads a split of any --dataset source as NumPy images at
their own sizes; GrayscaleFilter leaves black-and-white ones out, counting
them; batches_by_size stacks equal sizes without resizing anything.
"""

from typing import Iterable, Iterator, List, Optional, Tuple

import numpy as np

from colorizer import color
from colorizer import config as config_lib
from colorizer.data import image_io
from colorizer.data import mixture

SPLITS = ("val", "train", "all")
# Pixels per batch: SSIM and CIEDE2000 in float64 hold several copies of a
# batch, about 0.25 kB per pixel at the peak beyond the batch itself
# (measured), so about 0.5 GB at this budget.
MAX_BATCH_PIXELS = 2_000_000


class GrayscaleFilter:
  """Leaves out images without color (colorizer.color.has_color), counting.

  Colorization benchmarks leave black-and-white photos out of their test
  sets (Larsson et al. 2016's ctest10k does): their truth is the gray
  baseline itself, whose per-image PSNR there is infinite.
  """

  def __init__(self):
    self.count = 0

  def __call__(self, images: Iterable[np.ndarray], limit: int = 0
               ) -> Iterator[np.ndarray]:
    kept = 0
    for image in images:
      if limit and kept == limit:
        return
      lab = color.rgb_to_lab(color.rgb_uint8_to_float(image))
      if not bool(color.has_color(lab[..., 1:])):
        self.count += 1
        continue
      kept += 1
      yield image


def evaluation_images(data_config: config_lib.DataConfig, split: str,
                      num_images: int, seed: int, image_offset: int = 0,
                      image_stride: int = 1
                      ) -> Tuple[Iterator[np.ndarray], Optional[int],
                                 image_io.SkipCounter]:
  """The images to score, each uint8 [H, W, 3] at its own size.

  Args:
    data_config: the data group; dataset, data_dir, val_fraction and
      image_size (the demo scenes' size) matter.
    split: "val" (the held-out split training validated on), "train", or
      "all" (val then train: a folder kept only for evaluation).
    num_images: the first this many; 0 for all.
    seed: the split seed; the training seed gives the training split.
    image_offset: skip this many images of the split first (so that, say,
      a decode chosen on the first images is reported on the others).
    image_stride: then keep every this-many-th image: a sample spread over
      a split whose files are sorted by class folder. With stride 2, offset
      0 and offset 1 give two disjoint halves.

  Returns:
    (images, total, skipped): an iterator of NumPy images, their number when
    the source knows it (else None), and the counter of unreadable files.

  Raises:
    ValueError: for an unknown split or a source that cannot be read.
  """
  if split not in SPLITS:
    raise ValueError(f"--split={split}: expected one of {', '.join(SPLITS)}.")
  sources = mixture.make_sources(data_config, seed)
  if split == "val":
    dataset, total = sources.val, sources.num_val
  elif split == "train":
    dataset, total = sources.train, sources.num_train
  else:
    dataset = sources.val.concatenate(sources.train)
    total = (sources.num_val + sources.num_train
             if sources.num_val is not None and sources.num_train is not None
             else None)
  if image_offset:
    dataset = dataset.skip(image_offset)
    total = None if total is None else max(0, total - image_offset)
  if image_stride < 1:
    raise ValueError(f"--image_stride={image_stride}: must be >= 1.")
  if image_stride > 1:
    dataset = dataset.shard(image_stride, 0)
    total = None if total is None else -(-total // image_stride)
  if num_images:
    dataset = dataset.take(num_images)
    total = num_images if total is None else min(total, num_images)
  return dataset.as_numpy_iterator(), total, sources.skipped


def batches_by_size(images: Iterable[np.ndarray], batch_size: int,
                    max_pixels: int = MAX_BATCH_PIXELS
                    ) -> Iterator[np.ndarray]:
  """Stacks consecutive images of equal size, in order, up to batch_size.

  Images of different sizes cannot share a tensor and must not be resized
  (the ground truth stays untouched), so a size change ends a batch. So does
  the pixel budget: the float64 metrics hold several copies of a batch.

  Args:
    images: uint8 [H, W, 3] arrays.
    batch_size: most images per batch.
    max_pixels: most pixels per batch, unless one image alone has more.

  Yields:
    uint8 [B, H, W, 3] with 1 <= B <= batch_size.
  """
  pending: List[np.ndarray] = []
  for image in images:
    pixels = image.shape[0] * image.shape[1]
    if pending and (image.shape != pending[0].shape or
                    len(pending) == batch_size or
                    (len(pending) + 1) * pixels > max_pixels):
      yield np.stack(pending)
      pending = []
    pending.append(image)
  if pending:
    yield np.stack(pending)
