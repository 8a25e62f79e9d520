"""Statistics over sets of scores and features, in float64 NumPy.

mean_interval gives a mean over images with its confidence interval, and
paired_mean_difference the same for two methods scored on the same images
(the gain over the gray baseline); bootstrap_samples and
centered_percentile_interval a bootstrap interval; frechet_distance and
activation_statistics compare two sets of features as Gaussians (FID).
"""

import numpy as np


def _as_float64(array):
    return np.asarray(array, dtype=np.float64)


def mean_interval(values, z=1.96, weights=None):
    """Mean of per-image values with its normal-approximation confidence
    half-width ``z * sd / sqrt(n)`` (1.96: 95 %): how far the mean could move
    on another sample of images of the same kind.

    With ``weights`` (e.g. each image's pixel count, for a metric pooled over
    pixels) the mean is ``sum(w x) / sum(w)`` and the half-width is the ratio
    estimator's, ``z * sqrt(n / (n - 1) * sum((w (x - mean))^2)) / sum(w)``,
    which is the unweighted one when all weights are equal.

    Args:
        values: float ``[N]`` per-image values, N >= 1.
        z: the normal quantile of the interval.
        weights: optional positive ``[N]`` weights of the images.

    Returns:
        ``(mean, half_width)``; the half-width is NaN for fewer than 2 values.

    Raises:
        ValueError: If there are no values or a weight is not positive.
    """
    values = _as_float64(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"mean_interval: need non-empty [N] values, got {values.shape}")
    weights = np.ones_like(values) if weights is None else _as_float64(weights)
    if weights.shape != values.shape or not np.all(weights > 0):
        raise ValueError(f"mean_interval: weights must be positive and "
                         f"{values.shape}, got {weights.shape}")
    mean = float(np.sum(weights * values) / np.sum(weights))
    n = values.size
    if n < 2:
        return mean, float("nan")
    residuals = weights * (values - mean)
    half_width = z * np.sqrt(n / (n - 1) * np.sum(residuals ** 2)) / np.sum(weights)
    return mean, float(half_width)


def paired_mean_difference(values_a, values_b, z=1.96, weights=None):
    """Mean of ``a - b`` over paired samples, with its confidence half-width
    (``mean_interval`` of the differences).

    Scoring two methods on the same images, the per-image differences are
    what varies; their spread says how far the mean gain could move on
    another sample of images of the same kind.

    Args:
        values_a, values_b: float ``[N]`` per-image scores, same images.
        z: the normal quantile of the interval.
        weights: optional positive ``[N]`` weights of the images (see
            ``mean_interval``).

    Returns:
        ``(mean, half_width)``; the half-width is NaN for fewer than 2 pairs.

    Raises:
        ValueError: If the shapes differ, there are no pairs, or a weight is
            not positive.
    """
    a, b = _as_float64(values_a), _as_float64(values_b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired_mean_difference: need two equal non-empty "
                         f"[N] arrays, got {a.shape} and {b.shape}")
    return mean_interval(a - b, z, weights)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between two Gaussians (the FID formula).

    Dowson & Landau (1982); used as FID by Heusel et al. (2017):
    ``d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Without SciPy the
    trace term uses ``Tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))``;
    the symmetric PSD matrices are decomposed with ``eigh``/``eigvalsh`` and
    negative round-off eigenvalues are clipped to 0.

    Args:
        mu1: Mean ``[D]`` (a scalar is treated as ``D = 1``).
        sigma1: Covariance ``[D, D]`` (symmetric PSD; a scalar for ``D = 1``).
        mu2: Mean ``[D]``.
        sigma2: Covariance ``[D, D]``.

    Returns:
        Python float >= 0 (tiny negative round-off is clipped to 0).

    Raises:
        ValueError: On inconsistent shapes.
    """
    mu1, mu2 = np.atleast_1d(_as_float64(mu1)), np.atleast_1d(_as_float64(mu2))
    sigma1, sigma2 = np.atleast_2d(_as_float64(sigma1)), np.atleast_2d(_as_float64(sigma2))
    dim = mu1.shape[0]
    shapes = (mu1.shape, sigma1.shape, mu2.shape, sigma2.shape)
    if shapes != ((dim,), (dim, dim), (dim,), (dim, dim)):
        raise ValueError(f"frechet_distance: inconsistent shapes {shapes}")
    eigenvalues, eigenvectors = np.linalg.eigh((sigma1 + sigma1.T) / 2.0)
    sqrt_sigma1 = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    product_eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    trace_sqrt = np.sum(np.sqrt(np.clip(product_eigenvalues, 0.0, None)))
    distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def activation_statistics(features):
    """Mean and covariance of feature activations for ``frechet_distance``.

    Args:
        features: Array ``[N, D]`` with ``N >= 2`` samples.

    Returns:
        ``(mu, sigma)``: float64 ``[D]`` mean and ``[D, D]`` unbiased
        covariance (``ddof=1``, as in the reference FID code).

    Raises:
        ValueError: If ``features`` is not 2-D or has fewer than 2 rows.
    """
    features = _as_float64(features)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"activation_statistics: expected [N >= 2, D], got {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def bootstrap_samples(statistic, num_items, rounds, rng):
    """A statistic over ``rounds`` resamples of N items drawn with replacement.

    Efron (1979): the spread of a statistic over resamples of the data
    approximates its spread over new samples of the same kind.

    Args:
        statistic: ``(indices int [N]) -> float`` (or K floats), the
            statistic of the items at those indices (repeats allowed, in
            random order).
        num_items: N, the number of items.
        rounds: the number of resamples, >= 1.
        rng: a ``numpy.random.Generator``.

    Returns:
        float64 ``[rounds]`` (or ``[rounds, K]``) values of the statistic.

    Raises:
        ValueError: If num_items or rounds is below 1.
    """
    if num_items < 1 or rounds < 1:
        raise ValueError(f"bootstrap_samples: need num_items and rounds >= 1, "
                         f"got {num_items} and {rounds}")
    return np.array([statistic(rng.integers(0, num_items, num_items))
                     for _ in range(rounds)], np.float64)


def centered_percentile_interval(value, samples, confidence=0.95):
    """The bootstrap samples' percentile interval, moved to center on value.

    ``value + (quantile(samples, (1 - c) / 2) - median(samples))`` to
    ``value + (quantile(samples, (1 + c) / 2) - median(samples))``: the
    bootstrap's spread around a point value its resamples are biased from
    (a Frechet distance grows when resamples repeat images), so the
    interval always holds the value.

    Args:
        value: the statistic on the data itself.
        samples: float ``[R]`` bootstrap values, R >= 1.
        confidence: the interval's coverage, in (0, 1).

    Returns:
        ``(low, high)`` floats with ``low <= value <= high``.

    Raises:
        ValueError: If there are no samples or confidence is not in (0, 1).
    """
    samples = _as_float64(samples)
    if samples.ndim != 1 or samples.size == 0 or not 0 < confidence < 1:
        raise ValueError(f"centered_percentile_interval: need [R >= 1] samples "
                         f"and confidence in (0, 1), got {samples.shape} and "
                         f"{confidence}")
    low, median, high = np.quantile(
        samples, [(1 - confidence) / 2, 0.5, (1 + confidence) / 2])
    return float(value + low - median), float(value + high - median)
