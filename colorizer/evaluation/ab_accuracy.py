"""Per-pixel accuracy of predicted colors: the a*b* error AuC and 2 % accuracy.

Zhang, Isola & Efros (2016) pool every pixel's a*b* error into a cumulative
curve and report the area under it; Nazeri, Ng & Ebrahimi (2018) count the
pixels within 2 % of the value range. Both are plain NumPy in float64 and
pool all pixels of their input. ``metrics.MetricAccumulator`` keeps the
per-threshold counts so that batches add up to the set-level AuC.
"""

import numpy as np


def _as_float64(array):
    return np.asarray(array, dtype=np.float64)


def ab_distances(ab_pred, ab_true):
    """Every pixel's a*b* error ``||ab_pred - ab_true||_2``, flattened: float64 ``[P]``."""
    ab_pred, ab_true = _as_float64(ab_pred), _as_float64(ab_true)
    if ab_pred.shape != ab_true.shape or ab_pred.ndim < 1 or ab_pred.shape[-1] != 2:
        raise ValueError(
            f"ab_error_auc: expected two [..., 2] arrays of equal shape, got "
            f"{ab_pred.shape} and {ab_true.shape}")
    return np.hypot(*np.moveaxis(ab_pred - ab_true, -1, 0)).ravel()


def auc_thresholds(max_threshold, num_thresholds):
    """The AuC's thresholds, ``linspace(0, max_threshold, num_thresholds)``."""
    if max_threshold <= 0 or num_thresholds < 2:
        raise ValueError("ab_error_auc: need max_threshold > 0 and num_thresholds >= 2")
    return np.linspace(0.0, float(max_threshold), int(num_thresholds))


def threshold_counts(distances, thresholds):
    """Number of distances ``<= t`` for every threshold ``t`` (int64)."""
    return np.searchsorted(np.sort(distances), thresholds, side="right").astype(np.int64)


def auc_from_cdf(cdf, thresholds):
    """Trapezoidal area under ``cdf(thresholds)`` divided by the largest threshold."""
    widths = np.diff(thresholds)
    return float(np.sum(widths * (cdf[1:] + cdf[:-1]) / 2.0) / thresholds[-1])


def ab_error_auc(ab_pred, ab_true, max_threshold=150.0, num_thresholds=151):
    """Area under the cumulative ab-error curve (Zhang, Isola & Efros 2016).

    "Colorful Image Colorization", Sec. 3.1 (raw accuracy, AuC): for every
    pixel ``d = ||ab_pred - ab_true||_2`` in the a*b* plane; for thresholds
    ``t`` in ``linspace(0, max_threshold, num_thresholds)`` the curve
    ``F(t) = fraction of pixels with d <= t`` is integrated with the trapezoid
    rule and divided by ``max_threshold``, giving a score in ``[0, 1]``
    (1 = perfect). All pixels of the whole input are pooled (the set-level
    AuC); call it per image for per-image values.

    Args:
        ab_pred: Predicted a*b* values ``[..., 2]`` (e.g. ``[N, H, W, 2]``).
        ab_true: Ground-truth a*b* values, same shape.
        max_threshold: Largest threshold (150 in the paper).
        num_thresholds: Number of equally spaced thresholds including 0.

    Returns:
        Python float in ``[0, 1]``.

    Raises:
        ValueError: On mismatched shapes, last axis not 2, or bad thresholds.
    """
    distances = ab_distances(ab_pred, ab_true)
    thresholds = auc_thresholds(max_threshold, num_thresholds)
    if distances.size == 0:
        raise ValueError("ab_error_auc: no pixels")
    return auc_from_cdf(threshold_counts(distances, thresholds) / distances.size, thresholds)


def pixels_within(pred, true, threshold_fraction, value_range):
    """Boolean ``[...]`` mask: every channel within ``fraction * range``."""
    pred, true = _as_float64(pred), _as_float64(true)
    if pred.shape != true.shape or pred.ndim < 1:
        raise ValueError(
            f"pixel_accuracy: expected two [..., C] arrays of equal shape, got "
            f"{pred.shape} and {true.shape}")
    tolerance = threshold_fraction * _as_float64(value_range)
    if tolerance.ndim > 1 or (tolerance.ndim == 1 and tolerance.shape[0] != pred.shape[-1]):
        raise ValueError(
            f"pixel_accuracy: value_range must be a scalar or have {pred.shape[-1]} entries")
    return np.all(np.abs(pred - true) <= tolerance, axis=-1)


def pixel_accuracy(ab_pred, ab_true, threshold_fraction=0.02, value_range=1.0):
    """Fraction of pixels whose every channel is within 2 % of the value range.

    Nazeri, Ng & Ebrahimi (2018), "Image Colorization using Generative
    Adversarial Networks": a pixel counts as correct when, for *all* channels,
    ``|pred - true| <= threshold_fraction * value_range``. Their reference code
    applies this in L*a*b* after rounding to integers, with ranges L*: 100,
    a*/b*: 220 (``value_range=(100, 220, 220)`` here, without the rounding).
    This project reports it on sRGB in ``[0, 1]`` (default ``value_range=1``,
    tolerance 0.02 per channel); despite the argument names, any channels-last
    colour array works (sRGB, Lab or ab).

    Args:
        ab_pred: Predicted values ``[..., C]``.
        ab_true: Ground-truth values, same shape.
        threshold_fraction: Tolerance as a fraction of the value range.
        value_range: Scalar or per-channel ``[C]`` range of the values.

    Returns:
        Python float in ``[0, 1]``, pooled over all pixels.

    Raises:
        ValueError: On mismatched shapes or a bad ``value_range``.
    """
    return float(np.mean(pixels_within(ab_pred, ab_true, threshold_fraction, value_range)))
