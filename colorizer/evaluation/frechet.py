"""Frechet distances between image sets on a pretrained network's features.

The Frechet distance (Dowson & Landau 1982) between Gaussians fitted to the
pooled features of two image sets says how far apart the sets lie as
distributions, with no pairing of images: a vivid but wrong color costs
little if such colors are common in real photos, where PSNR punishes it.
Heusel et al. (2017) made it FID on Inception-v3; here the same math runs on
any `FeatureExtractor`:

  * FD-MobileNetV2 (MOBILENET_V2, --fd_weights): the globally average-pooled
    1280-d features of ImageNet MobileNetV2 (width 1.0) on images resized to
    224 x 224. Not FID: another network, another feature space, so its
    numbers compare only with other FD-MobileNetV2 values.
  * FID (fid.INCEPTION_V3, --fid_weights): 2048-d Inception-v3 at 299 x 299.

`compare` scores the model's outputs and the gray baseline against the
truth over all images, and again split-half beside the truth's own floor
(two random halves of the real images: how far apart two samples of real
photos lie at this size), each with a bootstrap interval over the images.
It takes feature arrays, so each source's images can be scored alone.
"""

import dataclasses
import os
import warnings
from typing import Callable, List, NamedTuple, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from colorizer.evaluation import stats

DEFAULT_BOOTSTRAP_ROUNDS = 50
CONFIDENCE = 0.95
MIN_IMAGES = 2  # Per set: a covariance needs two rows.
BOOTSTRAP_SEED = 0

# rgb float32 [B, H, W, 3] in [0, 1] -> features float32 [B, D].
FeatureFn = Callable[[tf.Tensor], np.ndarray]


class WeightsUnavailableError(RuntimeError):
  """A network's ImageNet weights could not be fetched (e.g. offline)."""


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
  """A pretrained network whose pooled features a Frechet distance compares.

  Attributes:
    metric: the distance's name in reports ("FD-MobileNetV2", "FID").
    key: its key in metric dicts, JSON and TensorBoard ("fd_mobilenet_v2").
    flag: the flag that names its weights file ("--fd_weights").
    network: what the weights file must hold, for error messages.
    build: weights (a file, or download_name) -> a Keras model taking
      [B, input_size, input_size, 3] preprocessed images to [B, D] features.
    input_size: the square side every image is resized to (bilinear).
    preprocess: RGB float [0, 255] -> the network's input range.
    download_name: the weights value that lets Keras download them, or None
      when only a file will do.
  """
  metric: str
  key: str
  flag: str
  network: str
  build: Callable[[str], "object"]
  input_size: int
  preprocess: Callable[[tf.Tensor], tf.Tensor]
  download_name: Optional[str] = None


# 224 px: the size the ImageNet weights were trained and checked at
# (../shared/models/SOURCES.md); they load at any size.
MOBILENET_V2_SIZE = 224


def _build_mobilenet_v2(weights: str):
  import keras  # pylint: disable=g-import-not-at-top
  model = keras.applications.MobileNetV2(
      include_top=False, weights=None, pooling="avg",
      input_shape=(MOBILENET_V2_SIZE, MOBILENET_V2_SIZE, 3))
  model.load_weights(weights)
  return model


def _mobilenet_v2_preprocess(rgb_255: tf.Tensor) -> tf.Tensor:
  # keras.applications.mobilenet_v2.preprocess_input, written out.
  return rgb_255 / 127.5 - 1.0


MOBILENET_V2 = FeatureExtractor(
    metric="FD-MobileNetV2", key="fd_mobilenet_v2", flag="--fd_weights",
    network="MobileNetV2 (width 1.0, include_top=False)",
    build=_build_mobilenet_v2, input_size=MOBILENET_V2_SIZE,
    preprocess=_mobilenet_v2_preprocess)


def check_weights(extractor: FeatureExtractor, weights: str) -> None:
  """Fails fast on a weights file that is not there.

  Raises:
    ValueError: naming the extractor's flag.
  """
  if weights != extractor.download_name and not os.path.isfile(weights):
    raise ValueError(f"{extractor.flag}={weights}: no such file (use a Keras "
                     f"{extractor.network} weights file"
                     + (f", or '{extractor.download_name}'"
                        if extractor.download_name else "") + ").")


def _first_line(error: Exception) -> str:
  lines = str(error).strip().splitlines()
  return lines[0] if lines else type(error).__name__


def load_feature_model(extractor: FeatureExtractor, weights: str):
  """The extractor's network with its weights, ready for make_feature_fn.

  Args:
    extractor: which network.
    weights: a Keras weights file (.weights.h5 or a legacy .h5), or the
      extractor's download_name.

  Returns:
    A keras.Model: preprocessed [B, S, S, 3] -> [B, D].

  Raises:
    ValueError: one line naming the flag, if the file does not exist or
      does not fit the network.
    WeightsUnavailableError: if download_name weights could not be fetched.
  """
  check_weights(extractor, weights)
  # A wrong file makes Keras warn once per layer before it raises: the
  # one-line error says it all. A file that loads passes its warnings on.
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
      model = extractor.build(weights)
    except Exception as error:  # pylint: disable=broad-except
      # Keras reports a failed download as a bare Exception; a wrong file
      # as ValueError or an h5py error, depending on the format.
      if weights == extractor.download_name:
        raise WeightsUnavailableError(
            f"could not fetch the ImageNet {extractor.network} weights "
            f"({_first_line(error)}); pass {extractor.flag}=PATH to a local "
            "copy") from error
      raise ValueError(f"{extractor.flag}={weights}: not {extractor.network} "
                       f"weights: {_first_line(error)}") from error
  for warning in caught:
    logging.warning("%s: %s", extractor.flag, warning.message)
  return model


def make_feature_fn(model, extractor: FeatureExtractor) -> FeatureFn:
  """Wraps a feature model as sRGB [0, 1] images of any size -> features.

  Each image is resized to the extractor's square input (aspect ratio not
  kept), preprocessed, and run with BatchNorm in inference mode.

  Args:
    model: load_feature_model's model for this extractor.
    extractor: its input size and preprocessing.

  Returns:
    A FeatureFn returning float32 NumPy [B, D].
  """
  size = extractor.input_size

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3],
                                              tf.float32)])
  def features(rgb):
    resized = tf.image.resize(rgb * 255.0, [size, size],
                              method="bilinear")  # [B, size, size, 3]
    return model(extractor.preprocess(resized), training=False)  # [B, D]

  return lambda rgb: features(tf.convert_to_tensor(rgb, tf.float32)).numpy()


def low_rank_frechet_distance(features_a: np.ndarray,
                              features_b: np.ndarray) -> float:
  """stats.frechet_distance of the features' Gaussians, without D x D work.

  With fewer images than feature dimensions (N, M < D) both covariances have
  low rank: S_a = A A^T / (N - 1) with A the centered features [D, N], and
  likewise S_b from B [D, M]. The nonzero eigenvalues of
  S_a^(1/2) S_b S_a^(1/2) are those of S_a S_b, which are the squared
  singular values of A^T B divided by (N - 1)(M - 1), so
  ``Tr((S_a S_b)^(1/2)) = sum(svd(A^T B)) / sqrt((N - 1)(M - 1))``. That is
  exact for any N and M, and cheaper than two D x D eigendecompositions
  while min(N, M) < D, which is when it is used.

  Args:
    features_a: [N, D] with N >= 2.
    features_b: [M, D] with M >= 2.

  Returns:
    Python float >= 0, equal to stats.frechet_distance on the two
    activation statistics up to round-off.

  Raises:
    ValueError: on fewer than 2 rows or different feature dimensions.
  """
  features_a = np.asarray(features_a, np.float64)
  features_b = np.asarray(features_b, np.float64)
  _check_feature_shapes(features_a, features_b)
  mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
  centered_a, centered_b = features_a - mean_a, features_b - mean_b  # [N, D]
  scale_a, scale_b = len(features_a) - 1.0, len(features_b) - 1.0
  trace_a = np.sum(centered_a ** 2) / scale_a
  trace_b = np.sum(centered_b ** 2) / scale_b
  singular_values = np.linalg.svd(centered_a @ centered_b.T,
                                   compute_uv=False)  # of A^T B, [min(N, M)]
  trace_sqrt = np.sum(singular_values) / np.sqrt(scale_a * scale_b)
  distance = (np.sum((mean_a - mean_b) ** 2) + trace_a + trace_b -
              2.0 * trace_sqrt)
  return float(max(distance, 0.0))


def _check_feature_shapes(features_a: np.ndarray,
                          features_b: np.ndarray) -> None:
  if (features_a.ndim != 2 or features_b.ndim != 2 or
      features_a.shape[1] != features_b.shape[1] or
      min(len(features_a), len(features_b)) < MIN_IMAGES):
    raise ValueError(f"Frechet distance: expected [N >= 2, D] and "
                     f"[M >= 2, D] features, got {features_a.shape} and "
                     f"{features_b.shape}")


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """The Frechet distance between Gaussians fitted to two feature sets.

  ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with unbiased
  covariances, by low_rank_frechet_distance while either set has fewer rows
  than D, else by stats.frechet_distance.

  Args:
    features_a: [N, D] with N >= 2.
    features_b: [M, D] with M >= 2.

  Returns:
    Python float >= 0.

  Raises:
    ValueError: on fewer than 2 rows or different feature dimensions.
  """
  features_a = np.asarray(features_a, np.float64)
  features_b = np.asarray(features_b, np.float64)
  _check_feature_shapes(features_a, features_b)
  if min(len(features_a), len(features_b)) < features_a.shape[1]:
    return low_rank_frechet_distance(features_a, features_b)
  return stats.frechet_distance(*stats.activation_statistics(features_a),
                                *stats.activation_statistics(features_b))


class Estimate(NamedTuple):
  """A distance and its 95% bootstrap interval."""
  value: float
  low: float
  high: float


@dataclasses.dataclass
class Comparison:
  """One Frechet distance for the model and the gray baseline, two ways.

  Attributes:
    metric: the distance's name ("FD-MobileNetV2").
    num_images: images in each set (N).
    model: all N outputs against their N truths; None below MIN_IMAGES.
    gray: all N gray versions against their N truths; None likewise.
    reduction_from_gray: gray's value minus the model's (positive: the
      model is closer to the truth), its interval from the same resamples.
    model_split_half: one random half's outputs against the other half's
      truths (N/2 each), averaged over random splits; None below
      2 * MIN_IMAGES images.
    gray_split_half: the same for the gray versions.
    floor: the truth's own split-half distance: one half's truths against
      the other half's, so two samples of real photos.
    rounds: bootstrap rounds (and random splits) behind the values.
    note: why a distance is missing, or a caveat; empty otherwise.
  """
  metric: str
  num_images: int
  model: Optional[Estimate]
  gray: Optional[Estimate]
  reduction_from_gray: Optional[Estimate]
  model_split_half: Optional[Estimate]
  gray_split_half: Optional[Estimate]
  floor: Optional[Estimate]
  rounds: int
  note: str = ""


def _estimates(values: np.ndarray, samples: np.ndarray) -> List[Estimate]:
  """Estimates from point values [K] and bootstrap samples [R, K]."""
  return [Estimate(float(value), *stats.centered_percentile_interval(
      value, samples[:, column], CONFIDENCE))
          for column, value in enumerate(values)]


def compare(metric: str, model_features: np.ndarray,
            gray_features: np.ndarray, truth_features: np.ndarray,
            rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
            seed: int = BOOTSTRAP_SEED) -> Comparison:
  """Frechet distances of the model and of gray to the truth, and the floor.

  Row i of each array holds the features of image i's output, gray version
  and truth, so one source's images can be compared by themselves. Two
  readings (docs/evaluate.md):

  * all images: outputs against their own truths, N against N, as FID is
    computed. Each output shows the same scene as its truth, so only color
    separates them: a near-copy scores about 0.
  * split-half: a random half's outputs against the other half's truths,
    beside the floor, the first half's truths against the other half's
    (N/2 images each, averaged over `rounds` random splits). Two samples of
    real photos lie the floor apart, so an output whose distance reaches it
    cannot be told from real photos by these features. (The all-images
    distances lie far below the floor: paired scenes, twice the images.)

  Each bootstrap round resamples the N images with replacement (rows of all
  three sets together) and recomputes the distances; for split-half it
  splits the images at random and resamples within each half, so that no
  image lands in both. Resamples repeat images, which by itself raises a
  Frechet distance, so each interval is the bootstrap's percentile spread
  centered on the point value (stats.centered_percentile_interval).

  Args:
    metric: the distance's name, for notes.
    model_features: [N, D] features of the model's outputs.
    gray_features: [N, D] features of the gray baseline.
    truth_features: [N, D] features of the true images.
    rounds: bootstrap rounds (and random splits), >= 1.
    seed: of the resampling and splits, so a report can be reproduced.

  Returns:
    A Comparison; distances that too few images cannot give are None, and
    its note says why.

  Raises:
    ValueError: if the arrays' shapes differ or rounds < 1.
  """
  model_features, gray_features, truth_features = (
      np.asarray(features, np.float64)
      for features in (model_features, gray_features, truth_features))
  if not (model_features.shape == gray_features.shape ==
          truth_features.shape) or truth_features.ndim != 2:
    raise ValueError(f"compare: expected three [N, D] feature arrays, got "
                     f"{model_features.shape}, {gray_features.shape} and "
                     f"{truth_features.shape}")
  if rounds < 1:
    raise ValueError(f"--bootstrap_rounds={rounds}: must be >= 1.")
  num_images, dim = truth_features.shape
  if num_images < MIN_IMAGES:
    return Comparison(metric, num_images, None, None, None, None, None, None,
                      rounds, note=f"not computed: {metric} needs at least "
                      f"{MIN_IMAGES} images, got {num_images}")
  rng = np.random.default_rng(seed)

  def all_images(rows):
    return [frechet_distance(features[rows], truth_features[rows])
            for features in (model_features, gray_features)]

  values = np.array(all_images(np.arange(num_images)))
  samples = stats.bootstrap_samples(all_images, num_images, rounds, rng)
  # Gray minus model, on the same resampled images: [1] and [R, 1].
  reductions = _estimates(values[1:] - values[:1],
                          samples[:, 1:] - samples[:, :1])
  comparison = Comparison(metric, num_images,
                          *_estimates(values, samples), *reductions, None,
                          None, None, rounds,
                          note=sample_size_note(metric, num_images, dim))
  half = num_images // 2
  if half < MIN_IMAGES:
    comparison.note = (f"split-half {metric} not computed: it needs at "
                       f"least {2 * MIN_IMAGES} images, got {num_images}")
    return comparison

  def split_half(resample):
    rows = rng.permutation(num_images)
    first, second = rows[:half], rows[half:2 * half]
    if resample:  # Within each half: no image lands in both.
      first, second = (part[rng.integers(0, half, half)]
                       for part in (first, second))
    return [frechet_distance(features[first], truth_features[second])
            for features in (model_features, gray_features, truth_features)]

  values = np.mean([split_half(False) for _ in range(rounds)], axis=0)
  samples = np.array([split_half(True) for _ in range(rounds)])  # [R, 3]
  (comparison.model_split_half, comparison.gray_split_half,
   comparison.floor) = _estimates(values, samples)
  return comparison


def sample_size_note(metric: str, num_images: int, dim: int) -> str:
  """A caveat when fewer images than feature dimensions bias the distance."""
  if num_images >= dim:
    return ""
  return (f"computed from only {num_images} images (fewer than {dim}, the "
          f"feature dimension), so biased upward: compare {metric} only with "
          "values over the same images")


class FeatureSets:
  """Collects the features of outputs, gray versions and truths, batch by batch.

  Args:
    feature_fn: sRGB [B, H, W, 3] in [0, 1] -> [B, D].
  """

  def __init__(self, feature_fn: FeatureFn):
    self._feature_fn = feature_fn
    self._batches = {"model": [], "gray": [], "truth": []}

  def add(self, model: tf.Tensor, gray: tf.Tensor, truth: tf.Tensor) -> None:
    """Adds one batch: the same images' output, gray version and truth."""
    for name, rgb in (("model", model), ("gray", gray), ("truth", truth)):
      self._batches[name].append(np.asarray(self._feature_fn(rgb)))

  def arrays(self) -> List[np.ndarray]:
    """[model, gray, truth] features, each [N, D]."""
    return [np.concatenate(self._batches[name])
            for name in ("model", "gray", "truth")]

  def compare(self, metric: str, rounds: int = DEFAULT_BOOTSTRAP_ROUNDS
              ) -> Comparison:
    """compare() on the collected features."""
    return compare(metric, *self.arrays(), rounds=rounds)
