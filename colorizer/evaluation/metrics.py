"""Colorization quality metrics as used in the colorization literature.

Everything is plain NumPy, computed in float64. Image arrays are channels-last:
``[N, H, W, C]`` batches of sRGB images in ``[0, 1]`` or CIE L*a*b* images
(L* in ``[0, 100]``, a*/b* roughly ``[-128, 127]``).
"""

import numpy as np

from colorizer.evaluation import ab_accuracy

_SSIM_FILTER_SIZE, _SSIM_FILTER_SIGMA, _SSIM_K1, _SSIM_K2 = 11, 1.5, 0.01, 0.03
_FLOAT_RESULT_KEYS = ("psnr", "ssim", "delta_e2000", "colorfulness", "colorfulness_true",
                      "delta_colorfulness", "auc", "accuracy_2pct")


def _as_float64(array):
    return np.asarray(array, dtype=np.float64)


def _check_image_pair(pred, true, name, channels=None):
    """Converts a prediction/target pair to float64 ``[N, H, W, C]`` arrays."""
    pred, true = _as_float64(pred), _as_float64(true)
    if pred.ndim != 4 or pred.shape != true.shape:
        raise ValueError(
            f"{name}: expected two [N, H, W, C] arrays of equal shape, got "
            f"{pred.shape} and {true.shape}")
    if channels is not None and pred.shape[-1] != channels:
        raise ValueError(f"{name}: expected {channels} channels, got shape {pred.shape}")
    return pred, true


def psnr(rgb_pred, rgb_true, max_value=1.0):
    """Per-image peak signal-to-noise ratio, ``10 log10(max_value^2 / MSE)``.

    The MSE is taken over all pixels and channels of one image (the usual
    definition in colorization papers, e.g. Zhang et al. 2016).

    Args:
        rgb_pred: Predicted images, float ``[N, H, W, C]`` in ``[0, max_value]``.
        rgb_true: Ground-truth images, same shape and range.
        max_value: Peak signal value (1.0 for float images, 255 for uint8 scale).

    Returns:
        float64 array ``[N]`` in dB. Identical images (MSE 0) give ``inf``
        without a warning; ``MetricAccumulator`` caps at 100 dB by default.

    Raises:
        ValueError: If the shapes differ or are not 4-D.
    """
    pred, true = _check_image_pair(rgb_pred, rgb_true, "psnr")
    mse = np.mean((pred - true) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(float(max_value) ** 2 / mse)


def _gaussian_kernel_1d(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-0.5 * coords ** 2 / sigma ** 2)
    return kernel / kernel.sum()


def _filter_valid(images, kernel):
    """Separable 'valid' Gaussian filtering of ``[N, H, W, C]`` over H and W."""
    size = kernel.shape[0]
    out_h, out_w = images.shape[1] - size + 1, images.shape[2] - size + 1
    rows = sum(kernel[k] * images[:, k:k + out_h] for k in range(size))
    return sum(kernel[k] * rows[:, :, k:k + out_w] for k in range(size))


def ssim(rgb_pred, rgb_true, max_value=1.0):
    """Per-image structural similarity (SSIM), matching ``tf.image.ssim``.

    Wang, Bovik, Sheikh & Simoncelli (2004), "Image quality assessment: from
    error visibility to structural similarity":
    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``
    with ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = max_value``; local
    statistics come from an 11x11 Gaussian window (sigma 1.5) applied with
    'valid' padding. The SSIM map is averaged over space per channel, then the
    channels are averaged, exactly as ``tf.image.ssim`` does.

    ``tf.image.ssim`` fails on images smaller than 11 px; here the window
    shrinks to ``min(11, H, W)`` (same sigma, renormalised) instead.

    Args:
        rgb_pred: Predicted images, float ``[N, H, W, C]`` in ``[0, max_value]``.
        rgb_true: Ground-truth images, same shape and range.
        max_value: Dynamic range ``L`` of the pixel values.

    Returns:
        float64 array ``[N]``, 1.0 for identical images.

    Raises:
        ValueError: If the shapes differ or are not 4-D.
    """
    x, y = _check_image_pair(rgb_pred, rgb_true, "ssim")
    size = min(_SSIM_FILTER_SIZE, x.shape[1], x.shape[2])
    kernel = _gaussian_kernel_1d(size, _SSIM_FILTER_SIGMA)
    c1, c2 = (_SSIM_K1 * max_value) ** 2, (_SSIM_K2 * max_value) ** 2
    mean_x, mean_y = _filter_valid(x, kernel), _filter_valid(y, kernel)
    num0, den0 = 2.0 * mean_x * mean_y, mean_x ** 2 + mean_y ** 2
    luminance = (num0 + c1) / (den0 + c1)
    num1 = 2.0 * _filter_valid(x * y, kernel)
    den1 = _filter_valid(x ** 2 + y ** 2, kernel)
    contrast_structure = (num1 - num0 + c2) / (den1 - den0 + c2)
    return np.mean(luminance * contrast_structure, axis=(1, 2, 3))


def ciede2000(lab1, lab2):
    """Elementwise CIEDE2000 colour difference (kL = kC = kH = 1).

    Implements the formula exactly as in Sharma, Wu & Dalal (2005), "The
    CIEDE2000 color-difference formula: implementation notes, supplementary
    test data, and mathematical observations" (Eqs. 1-22), including their
    conventions for hue when a chroma is zero and for the 180 degree wrap.

    Args:
        lab1: CIE L*a*b* array ``[..., 3]`` (any float dtype).
        lab2: CIE L*a*b* array ``[..., 3]``, broadcastable against ``lab1``.

    Returns:
        float64 array of Delta E00 with the broadcast shape minus the last axis.

    Raises:
        ValueError: If the last axis is not 3 or the shapes do not broadcast.
    """
    lab1, lab2 = _as_float64(lab1), _as_float64(lab2)
    if lab1.ndim < 1 or lab2.ndim < 1 or lab1.shape[-1] != 3 or lab2.shape[-1] != 3:
        raise ValueError(f"ciede2000: expected [..., 3] arrays, got {lab1.shape} and {lab2.shape}")
    try:
        lab1, lab2 = np.broadcast_arrays(lab1, lab2)
    except ValueError as error:
        raise ValueError(
            f"ciede2000: shapes {lab1.shape} and {lab2.shape} do not broadcast") from error
    (l1, a1, b1), (l2, a2, b2) = np.moveaxis(lab1, -1, 0), np.moveaxis(lab2, -1, 0)
    c_bar7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0) ** 7  # Eqs. 2-7
    g = 0.5 * (1.0 - np.sqrt(c_bar7 / (c_bar7 + 25.0 ** 7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    # atan2(0, 0) == 0, which is the convention of the paper (h' = 0 there).
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    chroma_product_zero = c1p * c2p == 0.0
    delta_lp, delta_cp, dh = l2 - l1, c2p - c1p, h2p - h1p  # Eqs. 8-11
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_product_zero, 0.0, dh)
    delta_hp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    l_bar, c_bar_p, h_sum = (l1 + l2) / 2.0, (c1p + c2p) / 2.0, h1p + h2p  # Eqs. 12-22
    h_bar = np.where(
        np.abs(h1p - h2p) <= 180.0, h_sum / 2.0,
        np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0))
    h_bar = np.where(chroma_product_zero, h_sum, h_bar)
    t = (1.0 - 0.17 * np.cos(np.radians(h_bar - 30.0))
         + 0.24 * np.cos(np.radians(2.0 * h_bar))
         + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0))
         - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0)))
    delta_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    c_bar_p7 = c_bar_p ** 7
    r_c = 2.0 * np.sqrt(c_bar_p7 / (c_bar_p7 + 25.0 ** 7))
    s_l = 1.0 + 0.015 * (l_bar - 50.0) ** 2 / np.sqrt(20.0 + (l_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * c_bar_p
    s_h = 1.0 + 0.015 * c_bar_p * t
    r_t = -np.sin(np.radians(2.0 * delta_theta)) * r_c
    term_l, term_c, term_h = delta_lp / s_l, delta_cp / s_c, delta_hp / s_h
    return np.sqrt(term_l ** 2 + term_c ** 2 + term_h ** 2 + r_t * term_c * term_h)


def colorfulness(rgb_uint8_or_float):
    """Per-image colorfulness of Hasler & Suesstrunk (2003).

    "Measuring colourfulness in natural images": with ``rg = R - G`` and
    ``yb = 0.5 (R + G) - B`` over the pixels of one image (0..255 scale),
    ``CF = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)``.
    Standard deviations are population ones (``ddof=0``).

    Args:
        rgb_uint8_or_float: sRGB images ``[N, H, W, 3]``; uint8 (or any
            integer dtype) in ``0..255`` is used as is, float in ``[0, 1]`` is
            multiplied by 255.

    Returns:
        float64 array ``[N]``; 0 for gray images.

    Raises:
        ValueError: If the input is not ``[N, H, W, 3]``.
    """
    images = np.asarray(rgb_uint8_or_float)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"colorfulness: expected [N, H, W, 3], got {images.shape}")
    scale = 1.0 if np.issubdtype(images.dtype, np.integer) else 255.0
    images = images.astype(np.float64) * scale
    red, green, blue = np.moveaxis(images, -1, 0)
    rg = (red - green).reshape(images.shape[0], -1)
    yb = (0.5 * (red + green) - blue).reshape(images.shape[0], -1)
    return (np.sqrt(rg.var(axis=1) + yb.var(axis=1))
            + 0.3 * np.sqrt(rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2))


def delta_colorfulness(cf_pred, cf_true):
    """Absolute difference of mean colorfulness, ``|mean(cf_pred) - mean(cf_true)|``.

    Args:
        cf_pred: Colorfulness of the predictions (any shape, e.g. ``[N]``).
        cf_true: Colorfulness of the ground truths (any shape).

    Returns:
        Python float.
    """
    return float(abs(np.mean(_as_float64(cf_pred)) - np.mean(_as_float64(cf_true))))


# Hasler & Suesstrunk's (2003) verbal scale for their colorfulness measure:
# the value observers' ratings of each attribute corresponded to.
COLORFULNESS_CATEGORIES = (
    ("not colorful", 0.0), ("slightly colorful", 15.0),
    ("moderately colorful", 33.0), ("averagely colorful", 45.0),
    ("quite colorful", 59.0), ("highly colorful", 82.0),
    ("extremely colorful", 109.0),
)


def colorfulness_category(value):
    """The attribute of ``COLORFULNESS_CATEGORIES`` nearest to a colorfulness.

    Two colorfulness values in the same category would be described with the
    same word by Hasler & Suesstrunk's observers; the boundaries lie halfway
    between neighbouring anchors (24 between "slightly" and "moderately").

    Args:
        value: a colorfulness (e.g. a mean over images), >= 0.

    Returns:
        The attribute's name, e.g. "moderately colorful".

    Raises:
        ValueError: For a negative or non-finite value.
    """
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"colorfulness_category: expected a finite value >= 0, got {value}")
    return min(COLORFULNESS_CATEGORIES, key=lambda item: abs(item[1] - value))[0]


def _concatenate(batches, dtype):
    return np.concatenate(batches) if batches else np.zeros([0], dtype)


class MetricAccumulator:
    """Accumulates colorization metrics over batches, exactly.

    Per-image metrics (PSNR, SSIM, colorfulness) are averaged over images;
    pixel metrics (Delta E00, AuC, 2 % accuracy) are pooled over all pixels,
    so images of different sizes in different batches weigh by pixel count.
    The AuC keeps integer per-threshold counts, so the result equals
    ``ab_accuracy.ab_error_auc`` on the whole set, not a mean of per-batch AuCs.

    Args:
        psnr_cap_db: Per-image PSNR is capped at this value before averaging so
            that a perfect image (``inf`` dB) does not make the mean infinite;
            ``None`` disables the cap.
        max_threshold: AuC largest threshold (see ``ab_accuracy.ab_error_auc``).
        num_thresholds: AuC number of thresholds.
        accuracy_threshold_fraction: Tolerance of ``ab_accuracy.pixel_accuracy`` on sRGB.
    """

    def __init__(self, psnr_cap_db=100.0, max_threshold=150.0, num_thresholds=151,
                 accuracy_threshold_fraction=0.02):
        self.psnr_cap_db = psnr_cap_db
        self.thresholds = ab_accuracy.auc_thresholds(max_threshold, num_thresholds)
        self.accuracy_threshold_fraction = accuracy_threshold_fraction
        self.reset()

    def reset(self):
        """Clears all running sums."""
        self.num_images = self.num_pixels = self.accurate_pixels = 0
        self.ssim_sum = 0.0
        self.threshold_counts = np.zeros(self.thresholds.shape, dtype=np.int64)
        self._psnr_values = []
        self._delta_e_values = []  # Each image's mean CIEDE2000.
        self._pixel_counts = []
        self._colorfulness_values = []  # Of the predictions.
        self.colorfulness_true_sum = 0.0

    def update(self, rgb_pred, rgb_true, lab_pred, lab_true):
        """Adds one batch.

        Args:
            rgb_pred: Predicted sRGB, float ``[N, H, W, 3]`` in ``[0, 1]``.
            rgb_true: Ground-truth sRGB, same shape.
            lab_pred: Predicted CIE L*a*b* ``[N, H, W, 3]`` (same images).
            lab_true: Ground-truth CIE L*a*b*, same shape.

        Raises:
            ValueError: If any array is not ``[N, H, W, 3]`` of the common shape.
        """
        rgb_pred, rgb_true = _check_image_pair(rgb_pred, rgb_true, "update", channels=3)
        lab_pred, lab_true = _check_image_pair(lab_pred, lab_true, "update", channels=3)
        if lab_pred.shape != rgb_pred.shape:
            raise ValueError(f"update: RGB shape {rgb_pred.shape} != Lab shape {lab_pred.shape}")
        batch_psnr = psnr(rgb_pred, rgb_true)
        if self.psnr_cap_db is not None:
            batch_psnr = np.minimum(batch_psnr, self.psnr_cap_db)
        self.num_images += rgb_pred.shape[0]
        self.num_pixels += int(np.prod(rgb_pred.shape[:3]))
        self._psnr_values.append(batch_psnr)
        self.ssim_sum += float(np.sum(ssim(rgb_pred, rgb_true)))
        self._delta_e_values.append(
            ciede2000(lab_pred, lab_true).reshape(rgb_pred.shape[0], -1).mean(axis=1))
        self._pixel_counts.append(
            np.full([rgb_pred.shape[0]], np.prod(rgb_pred.shape[1:3]), np.int64))
        self._colorfulness_values.append(colorfulness(rgb_pred))
        self.colorfulness_true_sum += float(np.sum(colorfulness(rgb_true)))
        self.accurate_pixels += int(np.sum(ab_accuracy.pixels_within(
            rgb_pred, rgb_true, self.accuracy_threshold_fraction, 1.0)))
        distances = ab_accuracy.ab_distances(lab_pred[..., 1:], lab_true[..., 1:])
        self.threshold_counts += ab_accuracy.threshold_counts(distances, self.thresholds)

    def psnr_values(self):
        """Each image's (capped) PSNR so far, in update order: float64 ``[N]``."""
        return _concatenate(self._psnr_values, np.float64)

    def delta_e_values(self):
        """Each image's mean CIEDE2000 so far, in update order: float64 ``[N]``."""
        return _concatenate(self._delta_e_values, np.float64)

    def colorfulness_values(self):
        """Each prediction's colorfulness so far, in update order: float64 ``[N]``."""
        return _concatenate(self._colorfulness_values, np.float64)

    def pixel_counts(self):
        """Each image's pixel count so far, in update order: int64 ``[N]``;
        the weights that pool ``delta_e_values`` over pixels."""
        return _concatenate(self._pixel_counts, np.int64)

    def result(self):
        """Returns the metrics over everything seen since the last reset.

        Returns:
            dict with float values for ``psnr``, ``ssim``, ``delta_e2000``,
            ``colorfulness`` (predictions), ``colorfulness_true``,
            ``delta_colorfulness``, ``auc``, ``accuracy_2pct`` and the int
            ``num_images``. Before any update every float is NaN.
        """
        if self.num_images == 0:
            return {**{key: float("nan") for key in _FLOAT_RESULT_KEYS}, "num_images": 0}
        cf_pred = float(np.mean(self.colorfulness_values()))
        cf_true = self.colorfulness_true_sum / self.num_images
        return {
            "psnr": float(np.mean(self.psnr_values())),
            "ssim": self.ssim_sum / self.num_images,
            "delta_e2000": float(np.sum(self.delta_e_values() * self.pixel_counts())
                                 / self.num_pixels),
            "colorfulness": cf_pred,
            "colorfulness_true": cf_true,
            "delta_colorfulness": abs(cf_pred - cf_true),
            "auc": ab_accuracy.auc_from_cdf(self.threshold_counts / self.num_pixels,
                                            self.thresholds),
            "accuracy_2pct": self.accurate_pixels / self.num_pixels,
            "num_images": self.num_images,
        }

