"""Validation during training: metrics against the gray baseline, and grids.

Runs on the chief only, on a fixed list of validation batches, so numbers and
pictures are comparable from one evaluation to the next.

In sketch mode there is no gray image to compare with: the "gray" baseline
is the input drawing itself, shown as a black-and-white picture, so
psnr_gray and ssim_gray say how far the bare drawing is from the photo, and
ab_l1_gray stays the error of predicting no color (a* = b* = 0). Sketch mode
also reports l_l1, the mean |L* error|, since it predicts lightness too.
"""

from typing import Dict, List, Tuple

import keras
import numpy as np
import tensorflow as tf

from colorizer import color
from colorizer.evaluation import metrics as metrics_lib
from colorizer.model import networks

GRID_ROWS = 8
# Tiles smaller than this are enlarged (nearest neighbour, a whole factor) in
# the grid: a 32 px CIFAR-10 image is too small to judge color on screen.
GRID_MIN_TILE = 128


def grid_scale(tile_size: int) -> int:
  """The whole factor make_grid enlarges tiles of this size by."""
  return max(1, -(-GRID_MIN_TILE // int(tile_size)))


def _ssim(rgb_pred, rgb_true):
  # tf.image.ssim needs images at least as large as its 11 px filter.
  filter_size = int(min(11, rgb_true.shape[1], rgb_true.shape[2]))
  return tf.image.ssim(rgb_pred, rgb_true, max_val=1.0,
                       filter_size=filter_size)


def make_predict_fn(generator: keras.Model, test_time_flip: bool = False):
  """A traced inference function: l_channel -> ab, as export runs it."""
  return tf.function(networks.inference_fn(generator, test_time_flip))


def _sketch_mode_rgb(sketch_normalized, lab_fake, lab_real):
  """(rgb_input, rgb_fake, rgb_true, ab_fake, ab_real) for sketch mode."""
  rgb_true = color.model_outputs_to_rgb(lab_real[..., :1], lab_real[..., 1:])
  rgb_fake = color.model_outputs_to_rgb(lab_fake[..., :1], lab_fake[..., 1:])
  drawing = (tf.cast(sketch_normalized, tf.float32) + 1.0) / 2.0  # [B,H,W,1]
  rgb_input = tf.tile(drawing, [1, 1, 1, 3])  # The drawing as it is.
  return rgb_input, rgb_fake, rgb_true, lab_fake[..., 1:], lab_real[..., 1:]


def evaluate_batches(predict_fn, batches: List[Tuple[tf.Tensor, tf.Tensor]],
                     input_mode: str = "grayscale"
                     ) -> Tuple[Dict[str, float], np.ndarray]:
  """Scores the generator on validation batches.

  Args:
    predict_fn: l_channel [B, H, W, 1] -> ab_normalized [B, H, W, 2]
      (sketch mode: sketch [B, H, W, 1] -> lab_normalized [B, H, W, 3]).
    batches: (l_channel, ab_real) normalized pairs ((sketch, lab_real) in
      sketch mode).
    input_mode: "grayscale" or "sketch" (see the module docstring for what
      the baseline is in sketch mode).

  Returns:
    (metrics, grid): per-image means of psnr, ssim, colorfulness for the
    prediction and for the gray baseline (a*b* = 0) and the truth; grid is a
    uint8 [rows * S, 3 * S, 3] image of gray | prediction | truth rows, the
    first images of every batch (sketch | prediction | truth in sketch
    mode), so the rows spread over the sample as the batches do.

  Raises:
    ValueError: for an empty batch list or an unknown input mode.
  """
  if input_mode not in ("grayscale", "sketch"):
    raise ValueError(f"Unknown input_mode {input_mode!r}.")
  totals: Dict[str, float] = {}
  num_images = 0
  # Rows of the grid taken from each batch: GRID_ROWS spread over them all.
  rows_per_batch = -(-GRID_ROWS // max(1, len(batches)))
  grid_rows = []  # (rgb_gray, rgb_fake, rgb_true), rows_per_batch each.
  for model_input, target in batches:
    prediction = predict_fn(model_input)
    values = {}
    if input_mode == "sketch":
      rgb_gray, rgb_fake, rgb_true, ab_fake, ab_real = _sketch_mode_rgb(
          model_input, prediction, target)
      values["l_l1"] = tf.reduce_mean(
          tf.abs(prediction[..., :1] - target[..., :1]),
          axis=[1, 2, 3]) * color.L_SCALE
    else:
      l_channel, ab_real, ab_fake = model_input, target, prediction
      rgb_true = color.model_outputs_to_rgb(l_channel, ab_real)
      rgb_fake = color.model_outputs_to_rgb(l_channel, ab_fake)
      rgb_gray = color.gray_rgb(l_channel)
    values.update({
        "psnr": tf.image.psnr(rgb_fake, rgb_true, max_val=1.0),
        "ssim": _ssim(rgb_fake, rgb_true),
        "psnr_gray": tf.image.psnr(rgb_gray, rgb_true, max_val=1.0),
        "ssim_gray": _ssim(rgb_gray, rgb_true),
        "colorfulness": metrics_lib.colorfulness(rgb_fake.numpy()),
        "colorfulness_true": metrics_lib.colorfulness(rgb_true.numpy()),
        "ab_l1": tf.reduce_mean(tf.abs(ab_fake - ab_real), axis=[1, 2, 3]) *
                 color.AB_SCALE,
        "ab_l1_gray": tf.reduce_mean(tf.abs(ab_real), axis=[1, 2, 3]) *
                      color.AB_SCALE,
    })
    for name, per_image in values.items():
      # Identical images give infinite PSNR; cap as is customary (100 dB).
      per_image = np.minimum(np.asarray(per_image, np.float64), 100.0)
      totals[name] = totals.get(name, 0.0) + float(per_image.sum())
    num_images += int(model_input.shape[0])
    if sum(int(rows[0].shape[0]) for rows in grid_rows) < GRID_ROWS:
      grid_rows.append(tuple(rgb[:rows_per_batch]
                             for rgb in (rgb_gray, rgb_fake, rgb_true)))
  if not num_images:
    raise ValueError("The validation set is empty: no batch to evaluate.")
  grid = make_grid(*(tf.concat(column, axis=0)
                     for column in zip(*grid_rows)))
  metrics = {name: total / num_images for name, total in totals.items()}
  metrics["num_images"] = num_images
  return metrics, grid


def evaluate_sources(predict_fn, batches_by_source: Dict[str, list],
                     input_mode: str = "grayscale"
                     ) -> Tuple[Dict[str, float], np.ndarray]:
  """evaluate_batches for each --dataset source, and for all together.

  Args:
    predict_fn: see evaluate_batches.
    batches_by_source: {source name: its validation batches}.
    input_mode: see evaluate_batches.

  Returns:
    (metrics, grid): the metrics over every source's images (each source
    weighs by its number of images), and with several sources also each
    source's as "<name>/<metric>"; the grid takes an equal share of rows
    from every source.

  Raises:
    ValueError: if there is no source, or a source has no batch.
  """
  if not batches_by_source:
    raise ValueError("No validation source to evaluate.")
  per_source = {name: evaluate_batches(predict_fn, batches, input_mode)
                for name, batches in batches_by_source.items()}
  if len(per_source) == 1:
    return next(iter(per_source.values()))
  num_images = sum(metrics["num_images"]
                   for metrics, _ in per_source.values())
  combined = {
      name: sum(metrics[name] * metrics["num_images"]
                for metrics, _ in per_source.values()) / num_images
      for name in next(iter(per_source.values()))[0] if name != "num_images"}
  combined["num_images"] = num_images
  rows_each = max(1, GRID_ROWS // len(per_source))
  grid_parts = []
  for source, (metrics, grid) in per_source.items():
    combined.update({f"{source}/{name}": value
                     for name, value in metrics.items()})
    # The grid's rows are tiles of a third of its width.
    grid_parts.append(grid[:rows_each * (grid.shape[1] // 3)])
  return combined, np.concatenate(grid_parts, axis=0)


def make_grid(rgb_gray, rgb_fake, rgb_true, rows: int = GRID_ROWS
              ) -> np.ndarray:
  """Rows of input | prediction | truth, as one uint8 image [R*k*S, 3*k*S, 3].

  k = grid_scale(S) enlarges small tiles so the colors can be seen.
  """
  triples = tf.concat([rgb_gray[:rows], rgb_fake[:rows], rgb_true[:rows]],
                      axis=2)  # [R, S, 3S, 3]
  scale = grid_scale(triples.shape[1])
  if scale > 1:
    triples = tf.repeat(tf.repeat(triples, scale, axis=1), scale,
                        axis=2)  # [R, kS, 3kS, 3]
  stacked = tf.reshape(triples, [-1, triples.shape[2], 3])  # [R*kS, 3kS, 3]
  return color.rgb_float_to_uint8(stacked).numpy()
