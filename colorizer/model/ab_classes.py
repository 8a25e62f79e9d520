"""a*b* as classes: colorization as classification (Zhang, Isola & Efros 2016).

Regressing a*b* with L1 or L2 averages the plausible colors of an ambiguous
object into a dull, sepia gray. Predicting a distribution over quantized a*b*
instead keeps every mode, and the decode chooses the trade-off:

- the a*b* plane is cut into `grid`-wide squares; the squares any sRGB color
  falls in are the classes (Q = 261 at grid 10; the paper's 313 comes from
  a looser gamut test);
- the target of a pixel is a soft encoding: Gaussian weights (sigma 5) on its
  5 nearest class centers;
- class rebalancing weights each pixel by the inverse of its color's smoothed
  frequency mixed with a uniform prior, (1 - mix) * p + mix / Q, so the many
  desaturated pixels do not swamp the rare saturated ones;
- the annealed mean decodes: softmax(logits / T) times the class centers.
  T = 1 is the distribution's mean (the L2 optimum, dull); T -> 0 is its
  mode (vivid, but noisy and often wrong); the paper uses T = 0.38.

The decode is a layer of the generator, so everything downstream (training
losses, the GAN, evaluation, exports) sees a*b* as with a regression head.
"""

import functools
from typing import Iterable, Optional

import keras
import numpy as np
import tensorflow as tf

from colorizer import color

GRID = 10.0
LOGITS_LAYER = "ab_logits"
DECODE_LAYER = "ab_decode"
_SRGB_LEVELS = 64  # Per channel: 262,144 colors to find the in-gamut bins.


@functools.lru_cache(maxsize=None)
def bin_centers(grid: float = GRID) -> np.ndarray:
  """The in-gamut a*b* class centers: float32 [Q, 2] in a*b* units.

  A grid square is a class when some sRGB color of a 64-level cube rounds
  into it (a 128-level cube adds one more square).
  """
  levels = np.linspace(0.0, 1.0, _SRGB_LEVELS, dtype=np.float32)
  rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1)
  lab = color.rgb_to_lab(tf.constant(rgb.reshape(-1, 3))).numpy()
  cells = np.unique(np.round(lab[:, 1:] / grid).astype(np.int64), axis=0)
  return (cells * grid).astype(np.float32)


def num_classes(grid: float = GRID) -> int:
  return int(bin_centers(grid).shape[0])


def _squared_distances(ab: tf.Tensor, centers: tf.Tensor) -> tf.Tensor:
  """[N, 2] a*b*, [Q, 2] centers -> [N, Q] squared distances."""
  return (tf.reduce_sum(tf.square(ab), -1, keepdims=True)
          - 2.0 * tf.matmul(ab, centers, transpose_b=True)
          + tf.reduce_sum(tf.square(centers), -1)[None, :])


def _pixel_distances(ab: tf.Tensor, grid: float) -> tf.Tensor:
  """[..., 2] a*b* -> [N, Q] squared distances to the class centers."""
  ab = tf.reshape(tf.cast(ab, tf.float32), [-1, 2])
  return tf.maximum(
      _squared_distances(ab, tf.constant(bin_centers(grid))), 0.0)


def nearest_class(ab: tf.Tensor, grid: float = GRID) -> tf.Tensor:
  """[..., 2] a*b* (a*b* units) -> [N] int32 index of the nearest center."""
  return tf.argmin(_pixel_distances(ab, grid), axis=-1, output_type=tf.int32)


def soft_encode(ab: tf.Tensor, grid: float = GRID, sigma: float = 5.0,
                neighbors: int = 5):
  """Soft class targets for a*b* pixels.

  Args:
    ab: float [..., 2] a*b* in a*b* units (not normalized).
    grid: bin width.
    sigma: Gaussian width in a*b* units.
    neighbors: how many nearest centers share each pixel's mass.

  Returns:
    (targets [N, Q] summing to 1 per row, nearest [N] int32 class index),
    with N the number of pixels.
  """
  distances = _pixel_distances(ab, grid)  # [N, Q]
  kth = -tf.math.top_k(-distances, k=neighbors).values[:, -1:]  # [N, 1]
  weights = tf.where(distances <= kth,
                     tf.exp(-distances / (2.0 * sigma ** 2)), 0.0)
  targets = weights / tf.reduce_sum(weights, -1, keepdims=True)
  nearest = tf.argmin(distances, axis=-1, output_type=tf.int32)
  return targets, nearest


def class_histogram(ab_batches: Iterable[tf.Tensor],
                    grid: float = GRID) -> np.ndarray:
  """Counts of nearest classes over batches of a*b* (a*b* units): [Q]."""
  counts = np.zeros(num_classes(grid), np.float64)
  for ab in ab_batches:
    counts += np.bincount(nearest_class(ab, grid).numpy(),
                          minlength=counts.size)
  return counts


def rebalancing_weights(counts: np.ndarray, mix: float = 0.5,
                        sigma: float = 5.0, grid: float = GRID) -> np.ndarray:
  """Zhang et al.'s class weights from class counts: float32 [Q].

  w ~ 1 / ((1 - mix) * p_smooth + mix / Q), normalized so that the expected
  weight under p_smooth is 1; p_smooth is the empirical distribution blurred
  by a Gaussian of width sigma over the a*b* plane. mix = 1 weights every
  class equally (no rebalancing).

  Raises:
    ValueError: for mix outside [0, 1] or counts that sum to zero.
  """
  if not 0.0 <= mix <= 1.0:
    raise ValueError(f"rebalancing mix must be in [0, 1], got {mix}.")
  counts = np.asarray(counts, np.float64)
  if counts.sum() <= 0:
    raise ValueError("No pixels counted for the a*b* prior.")
  centers = bin_centers(grid).astype(np.float64)
  squared = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
  blur = np.exp(-squared / (2.0 * sigma ** 2))
  prior = blur @ (counts / counts.sum())
  prior /= prior.sum()
  weights = 1.0 / ((1.0 - mix) * prior + mix / prior.size)
  weights /= (prior * weights).sum()
  return weights.astype(np.float32)


def cross_entropy_per_example(ab_logits: tf.Tensor, ab_real: tf.Tensor,
                              class_weights: Optional[tf.Tensor] = None,
                              grid: float = GRID) -> tf.Tensor:
  """Rebalanced soft-target cross-entropy, mean over each example's pixels.

  Args:
    ab_logits: [B, h, w, Q] class logits.
    ab_real: [B, H, W, 2] normalized ground-truth a*b*; area-resized to
      h x w when the head predicts at a lower resolution.
    class_weights: [Q] weights, or None for no rebalancing.
    grid: bin width.

  Returns:
    float32 [B].
  """
  logits = tf.cast(ab_logits, tf.float32)
  batch = tf.shape(logits)[0]
  if ab_real.shape[1] != logits.shape[1]:  # A head at reduced resolution.
    ab_real = tf.image.resize(ab_real, tf.shape(logits)[1:3], method="area")
  targets, nearest = soft_encode(color.denormalize_ab(ab_real), grid)
  log_probs = tf.nn.log_softmax(tf.reshape(logits, tf.shape(targets)))
  per_pixel = -tf.reduce_sum(targets * log_probs, -1)
  if class_weights is not None:
    per_pixel *= tf.gather(tf.cast(class_weights, tf.float32), nearest)
  return tf.reduce_mean(tf.reshape(per_pixel, [batch, -1]), axis=1)


@keras.saving.register_keras_serializable(package="colorizer")
class AnnealedMeanDecode(keras.layers.Layer):
  """[B, H, W, Q] logits -> [B, H, W, 2] normalized a*b*, the annealed mean.

    probabilities ~ softmax(logits / temperature + rebalance * log w)

  w are class-rebalancing weights (mix 0.5) from the training data's a*b*
  prior, a non-trainable weight of this layer set before the first step (see
  set_prior_weights) and so saved with the generator. rebalance = 0 decodes
  the model's own distribution; rebalance = 1 reweights it as Zhang et al.'s
  training-time rebalancing would, which favours the rare saturated colors.
  Applying it at decode time instead lets one trained model choose its
  vividness on validation data.

  saturation then scales each pixel's offset from the image's mean a*b*:

    ab = mean_ab + saturation * (annealed_mean - mean_ab)

  and clips to the normalized range. 1 leaves the annealed mean alone; above
  1 the image's colors move apart (more colorful) while its overall cast
  stays. Of the ways to add colorfulness (Hasler & Suesstrunk's measure is
  the spread of the image's opponent colors plus a little of their mean),
  this costs the least fidelity per unit: docs/results.md round 5 measures
  it against lower temperatures and stronger rebalancing.

  All three are config fields (model.decode_temperature, decode_rebalance,
  decode_saturation); colorizer-evaluate and colorizer-export can override
  them for a trained model, as the checkpoint holds the weights.
  """

  def __init__(self, temperature: float = 0.38, rebalance: float = 0.0,
               grid: float = GRID, saturation: float = 1.0, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    check_decode(temperature, rebalance, saturation)
    self.temperature = float(temperature)
    self.rebalance = float(rebalance)
    self.saturation = float(saturation)
    self.grid = float(grid)
    self._centers = bin_centers(self.grid) / color.AB_SCALE  # [Q, 2]

  def build(self, input_shape):
    self.log_class_weights = self.add_weight(
        shape=(len(self._centers),), initializer="zeros", trainable=False,
        name="log_class_weights")  # [Q]

  def call(self, ab_logits):
    logits = tf.cast(ab_logits, tf.float32) / self.temperature
    if self.rebalance:
      logits += self.rebalance * tf.cast(self.log_class_weights, tf.float32)
    probabilities = tf.nn.softmax(logits, axis=-1)  # [B, H, W, Q]
    ab_normalized = tf.einsum("bhwq,qc->bhwc", probabilities,
                              tf.constant(self._centers))  # [B, H, W, 2]
    if self.saturation == 1.0:
      return ab_normalized
    ab_mean = tf.reduce_mean(ab_normalized, axis=[1, 2],
                             keepdims=True)  # [B, 1, 1, 2]
    return tf.clip_by_value(
        ab_mean + self.saturation * (ab_normalized - ab_mean),
        -1.0, 1.0)  # [B, H, W, 2]

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (2,)

  def get_config(self):
    return {**super().get_config(), "temperature": self.temperature,
            "rebalance": self.rebalance, "grid": self.grid,
            "saturation": self.saturation}


def check_decode(temperature: float, rebalance: float,
                 saturation: float = 1.0) -> None:
  """Raises ValueError naming the flag for an unusable decode setting."""
  if temperature <= 0:
    raise ValueError(f"--decode_temperature={temperature}: must be positive.")
  if rebalance < 0:
    raise ValueError(f"--decode_rebalance={rebalance}: must be >= 0.")
  if saturation <= 0:
    raise ValueError(f"--decode_saturation={saturation}: must be positive "
                     "(1 leaves the decode's colors as they are).")


@keras.saving.register_keras_serializable(package="colorizer")
class BilinearUpsample(keras.layers.Layer):
  """Bilinear resize by an integer factor, for any (unknown) input size.

  keras.layers.UpSampling2D needs static spatial sizes, which the exported
  graph (any render size) does not have.
  """

  def __init__(self, factor: int, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.factor = int(factor)

  def call(self, images):
    size = tf.shape(images)[1:3] * self.factor
    return tf.image.resize(images, size, method="bilinear")

  def compute_output_shape(self, input_shape):
    batch, height, width, channels = input_shape
    scale = lambda n: None if n is None else n * self.factor
    return (batch, scale(height), scale(width), channels)

  def get_config(self):
    return {**super().get_config(), "factor": self.factor}


def classification_head(features, model_config, seed=None, upsample: int = 1):
  """Features -> (logits, ab_normalized): the generator's class output.

  Args:
    features: the decoder's last feature map [B, S/upsample, S/upsample, C].
    model_config: a config.ModelConfig; its decode_temperature,
      decode_rebalance and decode_saturation set the AnnealedMeanDecode.
    seed: initializer seed.
    upsample: the decoded a*b* is resized (bilinear) by this factor to the
      output size. As in Zhang et al., who predict at a quarter of the
      resolution, chroma needs less resolution than the L* it joins, and the
      Q-channel logits and their loss cost 1 / upsample**2 as much.

  Returns:
    (ab_logits [B, S/upsample, S/upsample, Q] float32,
     ab_normalized [B, S, S, 2] float32).
  """
  ab_logits = keras.layers.Conv2D(
      num_classes(), 1, kernel_initializer=keras.initializers.RandomNormal(
          stddev=0.02, seed=seed), dtype="float32",
      name=LOGITS_LAYER)(features)  # [B, S/u, S/u, Q]
  ab_normalized = AnnealedMeanDecode(
      model_config.decode_temperature, model_config.decode_rebalance,
      saturation=model_config.decode_saturation,
      name=DECODE_LAYER)(ab_logits)  # [B, S/u, S/u, 2]
  if upsample > 1:
    ab_normalized = BilinearUpsample(
        upsample, name="ab_upsample")(ab_normalized)  # [B, S, S, 2]
  return ab_logits, ab_normalized


def has_class_head(generator: keras.Model) -> bool:
  return any(layer.name == LOGITS_LAYER for layer in generator.layers)


def _decode_layer(generator: keras.Model) -> AnnealedMeanDecode:
  if not has_class_head(generator):
    raise ValueError(f"{generator.name} has no a*b* class head "
                     "(--ab_head=classes).")
  return generator.get_layer(DECODE_LAYER)


def set_prior_weights(generator: keras.Model, class_weights: np.ndarray
                      ) -> None:
  """Stores decode-time rebalancing weights [Q] (> 0) in the generator."""
  _decode_layer(generator).log_class_weights.assign(
      np.log(np.asarray(class_weights, np.float32)))
