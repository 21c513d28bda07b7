"""The statistics the metrics report, in numpy: Pearson and Spearman correlation, SSIM, the
area under a curve.

* Spearman's rank correlation is Pearson's correlation of the ranks, ties given their mean
  rank (Spearman 1904), as ``scipy.stats.spearmanr`` computes it.
* SSIM is Wang, Bovik, Sheikh & Simoncelli 2004 (Image Quality Assessment: From Error
  Visibility to Structural Similarity, IEEE TIP 13(4), equation 13):
  SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
  sigma_y^2 + C2)), C1 = (K1 L)^2, C2 = (K2 L)^2 with K1 = 0.01, K2 = 0.03 and L the data
  range, the local statistics weighted by a Gaussian window of sigma 1.5 (section III.C),
  and the mean SSIM over the image is the score. As in scikit-image's
  ``structural_similarity(..., gaussian_weights=True, use_sample_covariance=False)``: the
  window is truncated at 3.5 sigma (11 pixels), borders are reflected, and the mean leaves
  out the half-window at each border (all of the image where it is smaller than a window).

A correlation with a constant series is undefined: it is NaN.
"""

from __future__ import annotations

import numpy as np

K1, K2 = 0.01, 0.03
SSIM_SIGMA = 1.5
_TRUNCATE = 3.5


def pearson(first, second) -> float:
    """Pearson's correlation of two equally long series (NaN if either is constant)."""
    a = np.asarray(first, np.float64).ravel()
    b = np.asarray(second, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    if norm == 0 or not np.isfinite(norm):
        return float("nan")
    return float(np.clip((a * b).sum() / norm, -1.0, 1.0))


def ranks(values) -> np.ndarray:
    """1-based ranks of ``values`` (flattened), ties sharing their mean rank."""
    values = np.asarray(values, np.float64).ravel()
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    result = np.empty(len(values))
    result[order] = np.repeat(mean_rank, ends - starts)
    return result


def spearman(first, second) -> float:
    """Spearman's rank correlation of two equally long series (NaN if either is constant)."""
    return pearson(ranks(first), ranks(second))


def _gaussian_filter(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` (H, W) filtered by a Gaussian truncated at 3.5 sigma, borders reflected
    (scipy.ndimage's ``mode="reflect"``: d c b a | a b c d)."""
    radius = int(_TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    filtered = image
    for axis in (0, 1):
        pad = [(radius, radius) if a == axis else (0, 0) for a in range(2)]
        padded = _reflect_pad(filtered, pad)
        length = filtered.shape[axis]
        filtered = sum(weight * np.take(padded, np.arange(i, i + length), axis=axis)
                       for i, weight in enumerate(kernel))
    return filtered


def _reflect_pad(image: np.ndarray, pad) -> np.ndarray:
    """Symmetric padding that also works where the pad is longer than the image."""
    while any(before > size for (before, _), size in zip(pad, image.shape)):
        step = [(min(before, size), min(after, size)) for (before, after), size
                in zip(pad, image.shape)]
        image = np.pad(image, step, mode="symmetric")
        pad = [(before - s[0], after - s[1]) for (before, after), s in zip(pad, step)]
    return np.pad(image, pad, mode="symmetric")


def ssim(first, second, data_range: float = 1.0) -> float:
    """The mean structural similarity of two (H, W) images with values spanning
    ``data_range`` (Wang et al. 2004, equation 13, Gaussian window of sigma 1.5)."""
    x = np.asarray(first, np.float64)
    y = np.asarray(second, np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"SSIM compares two images of one (H, W) shape, not {x.shape}, {y.shape}")
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = _gaussian_filter(x, SSIM_SIGMA), _gaussian_filter(y, SSIM_SIGMA)
    var_x = _gaussian_filter(x * x, SSIM_SIGMA) - mu_x ** 2
    var_y = _gaussian_filter(y * y, SSIM_SIGMA) - mu_y ** 2
    covariance = _gaussian_filter(x * y, SSIM_SIGMA) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * covariance + c2)
             / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))
    border = (2 * int(_TRUNCATE * SSIM_SIGMA + 0.5) + 1 - 1) // 2
    if min(x.shape) > 2 * border:
        index = index[border:-border, border:-border]
    return float(index.mean())


def unit_range(image) -> np.ndarray:
    """``image`` min-max scaled to [0, 1] (a constant image is all 0)."""
    image = np.asarray(image, np.float64)
    span = image.max() - image.min()
    return (image - image.min()) / span if span > 0 else np.zeros_like(image)


def area_under_curve(x, y) -> float:
    """The trapezoid rule's area under the points (x, y)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum())
