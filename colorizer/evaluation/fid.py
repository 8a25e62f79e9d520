"""Frechet Inception Distance (FID) between colorized images and the truth.

Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to
a Local Nash Equilibrium": the Frechet distance between Gaussians fitted to the
2048-d pool3 features of Inception-v3 for two image sets. The features here
come from `keras.applications.InceptionV3(include_top=False, pooling='avg')`
on images resized to 299 x 299 and scaled by
`keras.applications.inception_v3.preprocess_input`. Keras' port differs
slightly from the TF1 graph of the reference implementation (resize filter,
weights conversion), so numbers compare with each other, not with papers.

The Frechet math, the feature loop and the bootstrap are shared with
FD-MobileNetV2 in colorizer.evaluation.frechet; this module defines the
Inception-v3 extractor. Nothing is downloaded unless the caller asks for
`weights="imagenet"`; a failed download gives no FID and a reason, never a
made-up number.
"""

from colorizer.evaluation import frechet

INCEPTION_SIZE = 299
IMAGENET_WEIGHTS = "imagenet"

# The name callers catch; frechet raises it for any network.
InceptionUnavailableError = frechet.WeightsUnavailableError


def _build_inception(weights: str):
  import keras  # pylint: disable=g-import-not-at-top
  return keras.applications.InceptionV3(
      include_top=False, pooling="avg", weights=weights,
      input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))


def _inception_preprocess(rgb_255):
  import keras  # pylint: disable=g-import-not-at-top
  return keras.applications.inception_v3.preprocess_input(rgb_255)


INCEPTION_V3 = frechet.FeatureExtractor(
    metric="FID", key="fid", flag="--fid_weights",
    network="InceptionV3(include_top=False)", build=_build_inception,
    input_size=INCEPTION_SIZE, preprocess=_inception_preprocess,
    download_name=IMAGENET_WEIGHTS)


def check_weights(weights: str) -> None:
  """Fails fast on a --fid_weights file that is not there.

  Raises:
    ValueError: naming the flag.
  """
  frechet.check_weights(INCEPTION_V3, weights)


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
  return frechet.load_feature_model(INCEPTION_V3, weights)
