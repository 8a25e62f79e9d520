"""Frechet Inception Distance (FID) between colorized images and the truth.

Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to
a Local Nash Equilibrium": the Frechet distance between Gaussians fitted to the
2048-d pool3 features of Inception-v3 for two image sets. The features here
come from `keras.applications.InceptionV3(include_top=False, pooling='avg')`
on images resized to 299 x 299 and scaled by
`keras.applications.inception_v3.preprocess_input`. Keras' port differs
slightly from the TF1 graph of the reference implementation (resize filter,
weights conversion), so numbers compare with each other, not with papers.

Nothing is downloaded unless the caller asks for `weights="imagenet"`; a
failed download gives no FID and a reason, never a made-up number.
"""

import os
from typing import Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

from colorizer.evaluation import stats

INCEPTION_SIZE = 299
IMAGENET_WEIGHTS = "imagenet"
# Below this many images the 2048 x 2048 feature covariance is singular and
# FID is biased upward; the reference code warns below it too.
RELIABLE_FID_IMAGES = 2048
MIN_FID_IMAGES = 2

# rgb float32 [B, H, W, 3] in [0, 1] -> features float32 [B, D].
FeatureFn = Callable[[tf.Tensor], np.ndarray]


class InceptionUnavailableError(RuntimeError):
  """ImageNet Inception-v3 weights could not be fetched (e.g. offline)."""


def check_weights(weights: str) -> None:
  """Fails fast on a --fid_weights file that is not there.

  Raises:
    ValueError: naming the flag.
  """
  if weights != IMAGENET_WEIGHTS and not os.path.isfile(weights):
    raise ValueError(f"--fid_weights={weights}: no such file (use a Keras "
                     "InceptionV3(include_top=False) weights file, or "
                     "'imagenet').")


def build_inception(weights: str):
  """Inception-v3 without its classifier, pooled to 2048 features.

  Args:
    weights: a Keras weights file (.weights.h5 or a legacy .h5, as
      `model.save_weights` or keras-applications write them), or "imagenet"
      for Keras' own download (cached in ~/.keras/models).

  Returns:
    A keras.Model: float [B, 299, 299, 3] preprocessed -> [B, 2048].

  Raises:
    ValueError: if the weights file does not exist or does not fit the model.
    InceptionUnavailableError: if "imagenet" weights could not be fetched.
  """
  import keras  # pylint: disable=g-import-not-at-top
  check_weights(weights)
  try:
    return keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=weights,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
  except Exception as error:  # pylint: disable=broad-except
    # Keras reports a failed download as a bare Exception; a wrong file as
    # ValueError or an h5py error, depending on the format.
    if weights == IMAGENET_WEIGHTS:
      raise InceptionUnavailableError(
          f"could not fetch the ImageNet Inception-v3 weights ({error}); "
          "pass --fid_weights=PATH to a local copy") from error
    raise ValueError(f"--fid_weights={weights}: not Inception-v3 "
                     f"(include_top=False) weights: {error}") from error


def make_feature_fn(model) -> FeatureFn:
  """Wraps a feature model as sRGB [0, 1] images of any size -> features.

  Args:
    model: a Keras model taking [B, 299, 299, 3] in Inception's [-1, 1] input
      range, such as build_inception's.

  Returns:
    A FeatureFn returning float32 NumPy [B, D].
  """
  import keras  # pylint: disable=g-import-not-at-top

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3],
                                              tf.float32)])
  def features(rgb):
    resized = tf.image.resize(rgb * 255.0, [INCEPTION_SIZE, INCEPTION_SIZE],
                              method="bilinear")  # [B, 299, 299, 3]
    inputs = keras.applications.inception_v3.preprocess_input(resized)
    return model(inputs, training=False)

  return lambda rgb: features(tf.convert_to_tensor(rgb, tf.float32)).numpy()


def low_rank_frechet_distance(features_a: np.ndarray,
                              features_b: np.ndarray) -> float:
  """stats.frechet_distance of the features' Gaussians, without D x D work.

  With fewer images than feature dimensions (N, M < D = 2048) both
  covariances have low rank: S_a = A A^T / (N - 1) with A the centered
  features [D, N], and likewise S_b from B [D, M]. The nonzero eigenvalues of
  S_a^(1/2) S_b S_a^(1/2) are those of S_a S_b, which are the squared
  singular values of A^T B divided by (N - 1)(M - 1), so
  ``Tr((S_a S_b)^(1/2)) = sum(svd(A^T B)) / sqrt((N - 1)(M - 1))``. That is
  exact for any N and M, and cheaper than two D x D eigendecompositions
  (seconds each) while min(N, M) < D, which is when it is used.

  Args:
    features_a: [N, D] with N >= 2.
    features_b: [M, D] with M >= 2.

  Returns:
    Python float >= 0, equal to frechet_distance on the two activation
    statistics up to round-off.

  Raises:
    ValueError: on fewer than 2 rows or different feature dimensions.
  """
  features_a = np.asarray(features_a, np.float64)
  features_b = np.asarray(features_b, np.float64)
  if (features_a.ndim != 2 or features_b.ndim != 2 or
      features_a.shape[1] != features_b.shape[1] or
      min(len(features_a), len(features_b)) < 2):
    raise ValueError(f"low_rank_frechet_distance: expected [N >= 2, D] and "
                     f"[M >= 2, D], got {features_a.shape} and "
                     f"{features_b.shape}")
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


def frechet_inception_distance(features_a: np.ndarray, features_b: np.ndarray
                               ) -> Tuple[Optional[float], str]:
  """FID between two feature sets, with a note when it is unreliable.

  Args:
    features_a: [N, D] features of one image set.
    features_b: [M, D] features of the other.

  Returns:
    (fid, note): fid is None with the reason in note when either set has
    fewer than MIN_FID_IMAGES images; note warns when fewer than
    RELIABLE_FID_IMAGES, and is empty otherwise.
  """
  num_images = min(len(features_a), len(features_b))
  if num_images < MIN_FID_IMAGES:
    return None, (f"not computed: FID needs at least {MIN_FID_IMAGES} images, "
                  f"got {num_images}")
  if num_images < np.shape(features_a)[1]:
    distance = low_rank_frechet_distance(features_a, features_b)
  else:
    mu_a, sigma_a = stats.activation_statistics(features_a)
    mu_b, sigma_b = stats.activation_statistics(features_b)
    distance = stats.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
  if num_images < RELIABLE_FID_IMAGES:
    return distance, (f"FID from only {num_images} images (fewer than "
                      f"{RELIABLE_FID_IMAGES}, the feature dimension) is "
                      "biased upward; compare it only with FIDs over the "
                      "same images")
  return distance, ""
