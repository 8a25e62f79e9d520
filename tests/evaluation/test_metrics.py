"""Tests for colorizer.evaluation.metrics (hand-computed values and published references)."""

import math

import numpy as np
import pytest

from colorizer.evaluation import ab_accuracy
from colorizer.evaluation import metrics
from colorizer.evaluation import stats

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), Delta E00.
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _random_pair(rng, shape, noise=0.1):
    truth = rng.uniform(0.0, 1.0, size=shape)
    return np.clip(truth + rng.normal(0.0, noise, size=shape), 0.0, 1.0), truth


# ----------------------------------------------------------------------- PSNR
def test_psnr_hand_computed():
    truth = np.zeros((2, 4, 4, 3))
    pred = truth.copy()
    pred[0] += 0.1  # MSE 0.01 -> 20 dB
    pred[1, :2] += 0.5  # half the pixels off by 0.5 -> MSE 0.125
    np.testing.assert_allclose(
        metrics.psnr(pred, truth), [20.0, 10.0 * math.log10(1.0 / 0.125)], atol=1e-12)
    np.testing.assert_allclose(metrics.psnr(pred * 255, truth * 255, max_value=255.0)[0], 20.0)


def test_psnr_identical_is_inf_and_shape_errors():
    images = np.full((1, 3, 3, 3), 0.5)
    assert np.isinf(metrics.psnr(images, images)[0])
    with pytest.raises(ValueError, match="equal shape"):
        metrics.psnr(images, images[:, :2])
    with pytest.raises(ValueError):
        metrics.psnr(images[0], images[0])


# ----------------------------------------------------------------------- SSIM
def test_ssim_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    pred, truth = _random_pair(rng, (3, 32, 27, 3))
    expected = tf.image.ssim(tf.constant(pred, tf.float32), tf.constant(truth, tf.float32),
                             max_val=1.0).numpy()
    np.testing.assert_allclose(metrics.ssim(pred, truth), expected, atol=1e-4)
    noise = rng.uniform(size=(2, 11, 11, 3))  # smallest size tf accepts; uncorrelated
    expected = tf.image.ssim(tf.constant(noise[:1], tf.float32),
                             tf.constant(noise[1:], tf.float32), max_val=1.0).numpy()
    np.testing.assert_allclose(metrics.ssim(noise[:1], noise[1:]), expected, atol=1e-4)


def test_ssim_identical_and_small_images():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(2, 16, 16, 3))
    np.testing.assert_allclose(metrics.ssim(images, images), 1.0, atol=1e-12)
    small_pred, small_true = _random_pair(rng, (2, 5, 7, 3))
    small = metrics.ssim(small_pred, small_true)  # window shrinks to 5x5
    assert small.shape == (2,) and np.all(np.isfinite(small)) and np.all(small < 1.0)
    np.testing.assert_allclose(metrics.ssim(small_true, small_true), 1.0, atol=1e-12)
    with pytest.raises(ValueError):
        metrics.ssim(images, images[..., :2])


# ------------------------------------------------------------------ CIEDE2000
def test_ciede2000_all_sharma_pairs():
    lab1 = np.array([pair[0] for pair in SHARMA_PAIRS])
    lab2 = np.array([pair[1] for pair in SHARMA_PAIRS])
    expected = np.array([pair[2] for pair in SHARMA_PAIRS])
    assert len(SHARMA_PAIRS) == 34
    np.testing.assert_allclose(np.round(metrics.ciede2000(lab1, lab2), 4), expected, atol=1e-9)
    # Symmetric, and exact to within half a unit of the 4th decimal.
    np.testing.assert_allclose(metrics.ciede2000(lab2, lab1), expected, atol=5e-5)


def test_ciede2000_shapes_and_zero():
    lab = np.random.default_rng(2).uniform(-50, 50, size=(2, 3, 4, 3))
    assert metrics.ciede2000(lab, lab).shape == (2, 3, 4)
    np.testing.assert_allclose(metrics.ciede2000(lab, lab), 0.0, atol=1e-12)
    assert metrics.ciede2000(lab, np.array([50.0, 0.0, 0.0])).shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        metrics.ciede2000(lab[..., :2], lab[..., :2])


# --------------------------------------------------------------- colorfulness
def test_colorfulness_gray_is_zero():
    gray = np.full((2, 4, 4, 3), 128, dtype=np.uint8)
    gray[1, :2] = 30
    np.testing.assert_allclose(metrics.colorfulness(gray), 0.0, atol=1e-12)


def test_colorfulness_pure_colour():
    red = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: std 0, CF = 0.3 * sqrt(255^2 + 127.5^2).
    expected = 0.3 * math.sqrt(255.0 ** 2 + 127.5 ** 2)
    np.testing.assert_allclose(metrics.colorfulness(red), [expected], rtol=1e-12)
    np.testing.assert_allclose(metrics.colorfulness(red / 255.0), [expected], rtol=1e-12)


def test_colorfulness_two_colours():
    image = np.zeros((1, 2, 4, 3), dtype=np.uint8)
    image[0, 0, :, 0] = 255  # top row red:   rg = 255, yb = 127.5
    image[0, 1, :, 2] = 255  # bottom row blue: rg = 0, yb = -255
    # rg: mean 127.5, std 127.5; yb: mean -63.75, std 191.25.
    expected = math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * math.sqrt(127.5 ** 2 + 63.75 ** 2)
    np.testing.assert_allclose(metrics.colorfulness(image), [expected], rtol=1e-12)
    with pytest.raises(ValueError):
        metrics.colorfulness(image[..., :2])


def test_delta_colorfulness():
    assert metrics.delta_colorfulness([10.0, 20.0], [30.0, 40.0, 50.0]) == pytest.approx(25.0)
    assert metrics.delta_colorfulness(np.array([5.0]), np.array([5.0])) == 0.0


def test_colorfulness_category_nearest_anchor():
    # Hasler & Suesstrunk's anchors 0, 15, 33, 45, ...: boundaries halfway.
    assert metrics.colorfulness_category(0.0) == "not colorful"
    assert metrics.colorfulness_category(7.4) == "not colorful"
    assert metrics.colorfulness_category(7.6) == "slightly colorful"
    assert metrics.colorfulness_category(23.9) == "slightly colorful"
    assert metrics.colorfulness_category(24.1) == "moderately colorful"
    assert metrics.colorfulness_category(38.9) == "moderately colorful"
    assert metrics.colorfulness_category(39.1) == "averagely colorful"
    assert metrics.colorfulness_category(500.0) == "extremely colorful"
    # A flat, muted red: 0.3 * sqrt(50^2 + 25^2) = 16.8, "slightly colorful".
    muted_red = np.full((1, 2, 2, 3), (150, 100, 100), np.uint8)
    assert metrics.colorfulness_category(metrics.colorfulness(muted_red)[0]) == (
        "slightly colorful")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="colorfulness_category"):
            metrics.colorfulness_category(bad)


# ------------------------------------------------------------------------ FID
def _random_covariance(rng, dim):
    factor = rng.normal(size=(dim, dim))
    return factor @ factor.T + 0.1 * np.eye(dim)


def _denman_beavers_sqrtm(matrix, iterations=60):
    y, z = matrix.copy(), np.eye(matrix.shape[0])
    for _ in range(iterations):
        y, z = (y + np.linalg.inv(z)) / 2.0, (z + np.linalg.inv(y)) / 2.0
    return y


def test_frechet_distance_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert expected == 7.0
    got = stats.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, abs=1e-10)


def test_frechet_distance_identical_and_one_dimensional():
    rng = np.random.default_rng(4)
    mu, sigma = rng.normal(size=5), _random_covariance(rng, 5)
    assert stats.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations 2 and 5.
    assert stats.frechet_distance(1.0, 4.0, 4.0, 25.0) == pytest.approx(9.0 + 9.0)
    assert stats.frechet_distance([1.0], [[4.0]], [4.0], [[25.0]]) == pytest.approx(18.0)
    with pytest.raises(ValueError):
        stats.frechet_distance(mu, sigma, mu[:4], sigma)


def test_frechet_distance_matches_brute_force():
    rng = np.random.default_rng(5)
    dim = 6
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    sigma1, sigma2 = _random_covariance(rng, dim), _random_covariance(rng, dim)
    product = sigma1 @ sigma2
    root = _denman_beavers_sqrtm(product)
    np.testing.assert_allclose(root @ root, product, rtol=1e-8, atol=1e-8)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                - 2.0 * np.trace(root))
    eig_trace = np.sum(np.sqrt(np.linalg.eigvals(product).real))
    assert np.trace(root) == pytest.approx(eig_trace, rel=1e-9)
    got = stats.frechet_distance(mu1, sigma1, mu2, sigma2)
    assert got == pytest.approx(expected, rel=1e-9)


def test_activation_statistics():
    features = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]], dtype=np.float32)
    mu, sigma = stats.activation_statistics(features)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, [3.0, 6.0])
    np.testing.assert_allclose(sigma, [[4.0, 8.0], [8.0, 16.0]])  # ddof = 1
    _, sigma_1d = stats.activation_statistics(features[:, :1])
    assert sigma_1d.shape == (1, 1)
    with pytest.raises(ValueError):
        stats.activation_statistics(features[:1])
    with pytest.raises(ValueError):
        stats.activation_statistics(features[0])


# ---------------------------------------------------------------- accumulator
def _random_batch(rng, shape):
    rgb_pred, rgb_true = _random_pair(rng, shape, noise=0.02)
    lab_true = np.concatenate(
        [rng.uniform(0, 100, shape[:3] + (1,)), rng.uniform(-100, 100, shape[:3] + (2,))], -1)
    lab_pred = lab_true + rng.normal(0.0, 20.0, size=shape)
    return rgb_pred, rgb_true, lab_pred, lab_true


def test_accumulator_two_batches_equal_one():
    rng = np.random.default_rng(6)
    batch = _random_batch(rng, (5, 12, 12, 3))
    split = metrics.MetricAccumulator()
    split.update(*(array[:2] for array in batch))
    split.update(*(array[2:] for array in batch))
    whole = metrics.MetricAccumulator()
    whole.update(*batch)
    result_split, result_whole = split.result(), whole.result()
    assert set(result_whole) == {
        "psnr", "ssim", "delta_e2000", "colorfulness", "colorfulness_true",
        "delta_colorfulness", "auc", "accuracy_2pct", "num_images"}
    assert result_whole["num_images"] == result_split["num_images"] == 5
    for key, value in result_whole.items():
        assert result_split[key] == pytest.approx(value, rel=1e-12), key
    rgb_pred, rgb_true, lab_pred, lab_true = batch
    assert result_whole["psnr"] == pytest.approx(np.mean(metrics.psnr(rgb_pred, rgb_true)))
    assert result_whole["auc"] == pytest.approx(
        ab_accuracy.ab_error_auc(lab_pred[..., 1:], lab_true[..., 1:]), abs=1e-12)
    accuracy = ab_accuracy.pixel_accuracy(rgb_pred, rgb_true)
    assert result_whole["accuracy_2pct"] == pytest.approx(accuracy)
    assert result_whole["delta_colorfulness"] == pytest.approx(metrics.delta_colorfulness(
        metrics.colorfulness(rgb_pred), metrics.colorfulness(rgb_true)))


def test_accumulator_mixed_sizes_and_reset():
    rng = np.random.default_rng(7)
    first, second = _random_batch(rng, (1, 16, 16, 3)), _random_batch(rng, (2, 8, 12, 3))
    accumulator = metrics.MetricAccumulator()
    assert math.isnan(accumulator.result()["psnr"])
    accumulator.update(*first)
    accumulator.update(*second)
    result = accumulator.result()
    per_image_ssim = np.concatenate([metrics.ssim(*first[:2]), metrics.ssim(*second[:2])])
    assert result["ssim"] == pytest.approx(per_image_ssim.mean())  # mean over images
    delta_e = np.concatenate([metrics.ciede2000(*first[2:]).ravel(),
                              metrics.ciede2000(*second[2:]).ravel()])
    assert result["delta_e2000"] == pytest.approx(delta_e.mean())  # mean over pixels
    ab_pred = np.concatenate([first[2][..., 1:].reshape(-1, 2), second[2][..., 1:].reshape(-1, 2)])
    ab_true = np.concatenate([first[3][..., 1:].reshape(-1, 2), second[3][..., 1:].reshape(-1, 2)])
    assert result["auc"] == pytest.approx(ab_accuracy.ab_error_auc(ab_pred, ab_true), abs=1e-12)
    accumulator.reset()
    perfect = np.full((1, 4, 4, 3), 0.25)
    accumulator.update(perfect, perfect, perfect * 100, perfect * 100)
    result = accumulator.result()
    assert result["psnr"] == 100.0 and result["auc"] == pytest.approx(1.0)
    assert result["accuracy_2pct"] == 1.0 and result["num_images"] == 1
    with pytest.raises(ValueError):
        accumulator.update(perfect, perfect, perfect[:, :2], perfect[:, :2])


def test_paired_mean_difference_hand_computed():
    # Differences 1, 2, 2, 3: mean 2, sample sd sqrt(2/3).
    mean, half_width = stats.paired_mean_difference([1, 2, 3, 4], [0, 0, 1, 1])
    assert mean == pytest.approx(2.0)
    assert half_width == pytest.approx(1.96 * math.sqrt(2.0 / 3.0) / 2.0)
    # Wider for a larger z, zero when every image gains the same.
    assert stats.paired_mean_difference([1, 2, 3, 4], [0, 0, 1, 1], z=2.58)[1] > half_width
    assert stats.paired_mean_difference([3, 4, 5], [1, 2, 3]) == (2.0, 0.0)
    one = stats.paired_mean_difference([3.0], [1.0])
    assert one[0] == 2.0 and math.isnan(one[1])
    with pytest.raises(ValueError, match="equal non-empty"):
        stats.paired_mean_difference([1, 2], [1])
    with pytest.raises(ValueError, match="equal non-empty"):
        stats.paired_mean_difference([], [])


def test_paired_mean_difference_weighted_hand_computed():
    # Differences 1 and 3 with weights 1 and 3: mean (1 + 9) / 4 = 2.5;
    # weighted residuals -1.5 and 1.5, so sqrt(2 / 1 * 4.5) / 4 = 0.75.
    mean, half_width = stats.paired_mean_difference([2, 4], [1, 1], weights=[1, 3])
    assert mean == pytest.approx(2.5)
    assert half_width == pytest.approx(1.96 * 0.75)
    # Equal weights, of any size, are the unweighted interval.
    unweighted = stats.paired_mean_difference([1, 2, 3, 4], [0, 0, 1, 1])
    assert stats.paired_mean_difference(
        [1, 2, 3, 4], [0, 0, 1, 1], weights=[7, 7, 7, 7]) == pytest.approx(unweighted)
    for bad in ([1, 0, 1, 1], [1, 1]):
        with pytest.raises(ValueError, match="weights must be positive"):
            stats.paired_mean_difference([1, 2, 3, 4], [0, 0, 1, 1], weights=bad)


def test_mean_interval_hand_computed():
    # Values 1, 2, 2, 3: mean 2, sample sd sqrt(2/3).
    mean, half_width = stats.mean_interval([1, 2, 2, 3])
    assert mean == pytest.approx(2.0)
    assert half_width == pytest.approx(1.96 * math.sqrt(2.0 / 3.0) / 2.0)
    # The paired difference is the interval of the differences.
    assert stats.paired_mean_difference([1, 2, 3, 4], [0, 0, 1, 1]) == (
        pytest.approx(stats.mean_interval([1, 2, 2, 3])))
    one = stats.mean_interval([5.0])
    assert one[0] == 5.0 and math.isnan(one[1])
    with pytest.raises(ValueError, match="non-empty"):
        stats.mean_interval([])
    with pytest.raises(ValueError, match="weights must be positive"):
        stats.mean_interval([1, 2], weights=[1, -1])


def test_accumulator_keeps_each_image_s_delta_e_colorfulness_and_pixel_count():
    rng = np.random.default_rng(9)
    first, second = _random_batch(rng, (1, 16, 16, 3)), _random_batch(rng, (2, 8, 12, 3))
    accumulator = metrics.MetricAccumulator()
    assert accumulator.delta_e_values().shape == accumulator.pixel_counts().shape == (0,)
    accumulator.update(*first)
    accumulator.update(*second)
    np.testing.assert_allclose(accumulator.colorfulness_values(), np.concatenate(
        [metrics.colorfulness(first[0]), metrics.colorfulness(second[0])]))
    assert accumulator.result()["colorfulness"] == pytest.approx(
        accumulator.colorfulness_values().mean())
    expected = [metrics.ciede2000(*first[2:])[0].mean(),
                metrics.ciede2000(*second[2:])[0].mean(),
                metrics.ciede2000(*second[2:])[1].mean()]
    np.testing.assert_allclose(accumulator.delta_e_values(), expected)
    np.testing.assert_array_equal(accumulator.pixel_counts(), [256, 96, 96])
    # Weighted by pixel count, the per-image means pool to the result's.
    assert np.average(accumulator.delta_e_values(), weights=accumulator.pixel_counts()) == (
        pytest.approx(accumulator.result()["delta_e2000"]))
    accumulator.reset()
    assert accumulator.delta_e_values().shape == (0,)


def test_accumulator_keeps_each_image_s_capped_psnr_in_order():
    rng = np.random.default_rng(8)
    first, second = _random_batch(rng, (2, 8, 8, 3)), _random_batch(rng, (3, 8, 8, 3))
    accumulator = metrics.MetricAccumulator()
    assert accumulator.psnr_values().shape == (0,)
    accumulator.update(*first)
    accumulator.update(*second)
    expected = np.concatenate([metrics.psnr(*first[:2]), metrics.psnr(*second[:2])])
    np.testing.assert_allclose(accumulator.psnr_values(), expected)
    perfect = np.full((1, 4, 4, 3), 0.25)
    accumulator.update(perfect, perfect, perfect * 100, perfect * 100)
    assert accumulator.psnr_values()[-1] == 100.0  # Capped, as in the mean.
    accumulator.reset()
    assert accumulator.psnr_values().shape == (0,)

