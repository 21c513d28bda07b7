"""The statistics of the metrics, in numpy, against SciPy and scikit-image and against the
formula of Wang et al. 2004."""

import numpy as np
import pytest

from dial_visualization.core.metrics.statistics import (area_under_curve, pearson, ranks, ssim,
                                                        spearman, unit_range)


def test_spearman_equals_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 6, 200), rng.integers(0, 6, 200) + rng.integers(0, 2, 200)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    np.testing.assert_array_equal(ranks([3, 1, 3, 2]), [3.5, 1, 3.5, 2])
    assert spearman([1, 2, 3], [10, 20, 1000]) == 1.0
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3])) and np.isnan(pearson([2, 2], [1, 3]))


@pytest.mark.parametrize("shape", [(64, 64), (16, 24), (11, 11), (7, 9)])
def test_ssim_equals_scikit_image(shape):
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.random(shape)
    b = np.clip(a + 0.3 * rng.standard_normal(shape), 0, 1)
    if min(shape) < 11:  # scikit-image needs a whole 11-pixel window; the formula does not
        assert -1 <= ssim(a, b) <= 1
        return
    expected = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_ssim_follows_the_formula_of_wang_et_al():
    """Constant images have no variance: SSIM is the luminance term (2 m n + C1) /
    (m^2 + n^2 + C1), C1 = (0.01 L)^2; an image with itself is 1."""
    c1 = (0.01 * 1.0) ** 2
    for m, n in [(0.2, 0.7), (0.5, 0.5), (0.0, 1.0)]:
        expected = (2 * m * n + c1) / (m * m + n * n + c1)
        assert ssim(np.full((20, 20), m), np.full((20, 20), n)) == pytest.approx(expected)
    image = np.random.default_rng(2).random((20, 20))
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, 1 - image) < 0


def test_unit_range_and_area():
    np.testing.assert_allclose(unit_range([[2.0, 4.0], [6.0, 3.0]]), [[0, 0.5], [1, 0.25]])
    assert not unit_range(np.ones((3, 3))).any()
    assert area_under_curve([0, 0.5, 1], [1, 1, 0]) == pytest.approx(0.75)
