"""Tests for colorizer.evaluation.frechet (FD-MobileNetV2) and its reports.

The Frechet math is checked against hand-computed Gaussians and the
reference formula; the bootstrap on generated features; the MobileNetV2
extractor on a weights file of a randomly initialized MobileNetV2 saved by
the test (built once per module, at 32 px to save time: the weights load at
any size); the reports through score_images with a stand-in colorizer.
"""

import json

import numpy as np
import pytest

from colorizer.evaluation import evaluate_lib
from colorizer.evaluation import evaluate_report
from colorizer.evaluation import fid
from colorizer.evaluation import frechet
from colorizer.evaluation import stats
from tests import conftest

KEY = frechet.MOBILENET_V2.key


def _square_points(scale, center):
  """Four points whose unbiased covariance is (2/3) scale^2 I, in 2-D."""
  points = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
  return points * scale + np.asarray(center)


def test_frechet_distance_of_small_gaussians_by_hand():
  # S_a = 2/3 I, S_b = 8/3 I: ||(3, 4)||^2 + 2 (2/3 + 8/3 - 2 sqrt(16/9)).
  features_a = _square_points(1.0, [0.0, 0.0])
  features_b = _square_points(2.0, [3.0, 4.0])
  expected = 25.0 + 2.0 * (2.0 / 3.0 + 8.0 / 3.0 - 2.0 * 4.0 / 3.0)
  assert frechet.frechet_distance(features_a, features_b) == pytest.approx(
      expected, rel=1e-9)
  # The same points padded to 8 dimensions take the low-rank path (4 < 8).
  padded_a, padded_b = (np.pad(features, [(0, 0), (0, 6)])
                        for features in (features_a, features_b))
  assert frechet.frechet_distance(padded_a, padded_b) == pytest.approx(
      expected, rel=1e-9)


def test_low_rank_frechet_distance_equals_the_reference_formula():
  rng = np.random.RandomState(0)
  for num_a, num_b, dim in ((4, 4, 64), (5, 7, 16), (30, 20, 8)):
    features_a = rng.randn(num_a, dim) * 2.0 + 1.0
    features_b = rng.randn(num_b, dim)
    expected = stats.frechet_distance(
        *stats.activation_statistics(features_a),
        *stats.activation_statistics(features_b))
    # The reference takes square roots of eigenvalues that are zero up to
    # round-off (rank-deficient covariances): it is the less exact of the two.
    assert frechet.low_rank_frechet_distance(features_a, features_b) == (
        pytest.approx(expected, rel=1e-6))
  with pytest.raises(ValueError):
    frechet.low_rank_frechet_distance(rng.randn(1, 8), rng.randn(3, 8))
  with pytest.raises(ValueError):
    frechet.frechet_distance(rng.randn(5, 8), rng.randn(5, 7))


@pytest.mark.parametrize("dim", [16, 64])  # Full-rank and low-rank paths.
def test_a_set_is_at_distance_zero_from_itself(dim):
  features = np.random.RandomState(1).randn(40, dim) * 3.0 + 2.0
  assert frechet.frechet_distance(features, features) == pytest.approx(
      0.0, abs=1e-8)
  assert frechet.frechet_distance(features, features + 0.5) == pytest.approx(
      dim * 0.25, rel=1e-6)  # A shift moves the mean only.


def test_centered_percentile_interval_by_hand():
  # Quantiles 5, 50 and 95 of 0..100: the spread -45 .. +45 around 10.
  assert stats.centered_percentile_interval(
      10.0, np.arange(101.0), confidence=0.9) == pytest.approx((-35.0, 55.0))
  with pytest.raises(ValueError):
    stats.centered_percentile_interval(1.0, [], 0.95)
  with pytest.raises(ValueError):
    stats.centered_percentile_interval(1.0, [1.0, 2.0], 1.5)


def test_bootstrap_samples_resample_with_replacement_and_repeat():
  values = np.arange(10.0)
  draws = []
  samples = stats.bootstrap_samples(
      lambda rows: draws.append(rows) or [values[rows].mean(),
                                          values[rows].max()],
      10, 200, np.random.default_rng(3))
  assert samples.shape == (200, 2)
  assert all(len(rows) == 10 for rows in draws)
  assert any(len(set(rows)) < 10 for rows in draws)  # With replacement.
  assert abs(samples[:, 0].mean() - 4.5) < 0.3
  again = stats.bootstrap_samples(lambda rows: values[rows].mean(), 10, 200,
                                  np.random.default_rng(3))
  np.testing.assert_array_equal(again, samples[:, 0])
  with pytest.raises(ValueError):
    stats.bootstrap_samples(lambda rows: 0.0, 10, 0,
                            np.random.default_rng(0))


def _feature_sets(num_images, dim=8, seed=0):
  """Truth features, a near-copy of them, and a gray-like version."""
  rng = np.random.RandomState(seed)
  truth = rng.randn(num_images, dim) * 2.0 + 1.0
  near_copy = truth + rng.randn(num_images, dim) * 0.1
  # Gray loses part of each image's features and shifts the rest.
  gray = 0.5 * truth + rng.randn(num_images, dim) * 0.1 - 1.0
  return near_copy, gray, truth


def _inside(estimate):
  return estimate.low <= estimate.value <= estimate.high


def test_compare_orders_a_near_copy_gray_and_the_floor():
  near_copy, gray, truth = _feature_sets(200)
  comparison = frechet.compare("FD-test", near_copy, gray, truth, rounds=30)
  assert comparison.num_images == 200 and comparison.rounds == 30
  estimates = (comparison.model, comparison.gray,
               comparison.reduction_from_gray, comparison.model_split_half,
               comparison.gray_split_half, comparison.floor)
  for estimate in estimates:
    assert _inside(estimate) and estimate.high > estimate.low
  # Paired with its truth, a near-copy is nearly at distance 0.
  assert comparison.model.value < 0.1
  assert comparison.gray.low > comparison.model.high
  reduction = comparison.reduction_from_gray
  assert reduction.value == pytest.approx(comparison.gray.value -
                                          comparison.model.value)
  assert 0.0 < reduction.low <= reduction.value <= reduction.high
  # Against the other half's truths a near-copy sits at the floor, gray
  # far above it.
  assert comparison.model_split_half.value == pytest.approx(
      comparison.floor.value, rel=0.1)
  assert comparison.gray_split_half.low > comparison.floor.high
  # The same seed gives the same report.
  assert frechet.compare("FD-test", near_copy, gray, truth,
                         rounds=30) == comparison
  assert comparison.note == ""  # 200 images, 8 dimensions: no bias caveat.


def test_intervals_narrow_with_more_images():
  small = frechet.compare("FD-test", *_feature_sets(40), rounds=40)
  large = frechet.compare("FD-test", *_feature_sets(640), rounds=40)
  for name in ("gray", "floor"):
    small_width = getattr(small, name).high - getattr(small, name).low
    large_width = getattr(large, name).high - getattr(large, name).low
    assert large_width < small_width / 2, name


def test_compare_with_too_few_images_says_why():
  one = frechet.compare("FD-test", *_feature_sets(1))
  assert (one.model, one.gray, one.reduction_from_gray, one.floor) == (
      None, None, None, None)
  assert one.note == "not computed: FD-test needs at least 2 images, got 1"
  three = frechet.compare("FD-test", *_feature_sets(3), rounds=5)
  assert three.model is not None and three.floor is None
  assert "split-half FD-test not computed" in three.note
  few = frechet.compare("FD-test", *_feature_sets(6, dim=16), rounds=5)
  assert "from only 6 images (fewer than 16" in few.note
  with pytest.raises(ValueError, match="bootstrap_rounds=0"):
    frechet.compare("FD-test", *_feature_sets(6), rounds=0)
  near_copy, gray, truth = _feature_sets(6)
  with pytest.raises(ValueError, match="three"):
    frechet.compare("FD-test", near_copy[:5], gray, truth)


@pytest.fixture(scope="module")
def fake_weights(tmp_path_factory):
  """A randomly initialized MobileNetV2 1.0's weights (9 MB), saved here."""
  import keras  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp("weights") /
             "mobilenet_v2.weights.h5")
  keras.applications.MobileNetV2(
      include_top=False, weights=None, pooling="avg",
      input_shape=(32, 32, 3)).save_weights(path)
  return path


@pytest.fixture(scope="module")
def fd_feature_fn(fake_weights):
  return frechet.make_feature_fn(
      frechet.load_feature_model(frechet.MOBILENET_V2, fake_weights),
      frechet.MOBILENET_V2)


def test_mobilenet_v2_features_at_224_px(fake_weights, fd_feature_fn):
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  model = frechet.load_feature_model(frechet.MOBILENET_V2, fake_weights)
  assert model.input_shape == (None, 224, 224, 3)
  assert model.output_shape == (None, 1280)
  rgb = np.stack([conftest.random_photo(40, 56, seed) for seed in (0, 1)]
                 ).astype(np.float32) / 255.0  # [2, 40, 56, 3]
  features = fd_feature_fn(rgb)
  assert features.shape == (2, 1280) and np.all(np.isfinite(features))
  # Keras' own MobileNetV2 preprocessing on the 224 px resize, inference
  # mode: the same features.
  expected = model(keras.applications.mobilenet_v2.preprocess_input(
      tf.image.resize(rgb * 255.0, [224, 224])), training=False)
  np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_a_wrong_fd_weights_file_is_a_one_line_error(tmp_path):
  import keras  # pylint: disable=g-import-not-at-top
  other_model = str(tmp_path / "dense.weights.h5")
  keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)]).save_weights(
      other_model)
  not_hdf5 = tmp_path / "junk.weights.h5"
  not_hdf5.write_bytes(b"not weights\n" * 50)
  for path in (other_model, str(not_hdf5)):
    with pytest.raises(ValueError) as raised:
      evaluate_lib.evaluate(model_path=str(tmp_path / "no_model"),
                            fd_weights=path, progress_stream=None)
    message = str(raised.value)
    assert message.startswith(f"--fd_weights={path}: not MobileNetV2"), (
        message)
    assert "\n" not in message
  with pytest.raises(ValueError, match="--fd_weights=.*: no such file"):
    evaluate_lib.evaluate(model_path=str(tmp_path / "no_model"),
                          fd_weights=str(tmp_path / "missing.h5"))
  with pytest.raises(ValueError, match="--bootstrap_rounds=0"):
    evaluate_lib.evaluate(model_path=str(tmp_path / "no_model"),
                          bootstrap_rounds=0)


def _warm_tint(l_star):
  """A stand-in colorizer: every pixel a* = 20, b* = 30."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.ones_like(l_star) * tf.constant([20.0, 30.0])  # [B, H, W, 2]


def test_fd_in_the_reports(fd_feature_fn, tmp_path):
  images = [conftest.random_photo(32, 40 + 8 * (index % 2), seed=index)
            for index in range(8)]
  result = evaluate_lib.score_images(_warm_tint, images,
                                     fd_feature_fn=fd_feature_fn,
                                     bootstrap_rounds=10)
  comparison = result.frechet_comparisons[KEY]
  assert comparison.metric == "FD-MobileNetV2" and comparison.num_images == 8
  assert result.model[KEY] == comparison.model.value > 0.0
  assert result.gray[KEY] == comparison.gray.value > 0.0
  assert result.model["fid"] is None
  assert "fid" not in result.frechet_comparisons
  assert "from only 8 images (fewer than 1280" in result.fd_note
  lines = evaluate_report.format_table(result).splitlines()
  row = next(line for line in lines
             if line.startswith("FD-MobileNetV2 (lower)"))
  assert f"{comparison.model.value:.2f}" in row
  assert (f"split-half, 4 outputs against the other 4 truths: model "
          f"{comparison.model_split_half.value:.2f}") in "\n".join(lines)
  assert (f"truth against truth (the floor) {comparison.floor.value:.2f} "
          f"({comparison.floor.low:.2f} to {comparison.floor.high:.2f})"
          ) in "\n".join(lines)
  result.info = {"step": 7}
  paths = evaluate_report.write_reports(result, str(tmp_path),
                                        str(tmp_path / "metrics.json"))
  with open(paths["json"]) as f:
    report = json.load(f)
  assert report[KEY]["floor"] == {
      "value": pytest.approx(comparison.floor.value),
      "ci95": pytest.approx([comparison.floor.low, comparison.floor.high])}
  assert report[KEY]["bootstrap_rounds"] == 10
  assert report[KEY]["reduction_from_gray"]["value"] == pytest.approx(
      comparison.gray.value - comparison.model.value)
  assert report["metrics"]["gray_baseline"][KEY] == pytest.approx(
      comparison.gray.value)
  assert report["better"][KEY] in ("model", "gray baseline")
  events = conftest.summary_events(paths["tensorboard"])
  for tag, estimate in ((KEY, comparison.model),
                        (f"gray/{KEY}_split_half", comparison.gray_split_half),
                        (f"{KEY}_floor", comparison.floor),
                        (f"{KEY}_reduction_from_gray",
                         comparison.reduction_from_gray)):
    assert events[f"eval_full/{tag}"] == [(7, pytest.approx(estimate.value))]


def test_without_fd_weights_it_is_not_computed():
  images = [conftest.random_photo(24, 24, seed=index) for index in range(3)]
  result = evaluate_lib.score_images(_warm_tint, images)
  assert result.model[KEY] is None and result.gray[KEY] is None
  assert result.frechet_comparisons == {}
  assert result.fd_note.startswith("not computed: no --fd_weights given")
  assert "FD-MobileNetV2: not computed" in evaluate_report.format_table(
      result)
  assert evaluate_report.report_dict(result)["metrics"]["model"][KEY] is None


def test_fid_shares_the_machinery():
  assert fid.INCEPTION_V3.key == "fid" and fid.INCEPTION_V3.input_size == 299
  assert fid.InceptionUnavailableError is frechet.WeightsUnavailableError
  with pytest.raises(ValueError, match="--fid_weights=nothing.h5: no such"):
    fid.check_weights("nothing.h5")
  fid.check_weights("imagenet")  # Keras may download it: no file needed.
  with pytest.raises(ValueError, match="--fd_weights=imagenet: no such"):
    frechet.check_weights(frechet.MOBILENET_V2, "imagenet")
