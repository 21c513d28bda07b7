"""Occlusion against a naive loop that runs the model once per patch."""

import keras
import numpy as np
import pytest

from builders import StopAfterFirstBatch, counting_model, random_pixels, residual_model
from dial_visualization.core.context import Context
from dial_visualization.core.errors import Cancelled
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.methods.occlusion import gaussian_blur, window_starts


@pytest.fixture(scope="module")
def model():
    return residual_model()


def explain(model, index=None, progress=None, should_stop=None, **params):
    context = Context(model, load_image(random_pixels(), model))
    return run("occlusion", context, params=params, index=index, progress=progress,
               should_stop=should_stop)


def naive_occlusion(score, x, patch, stride, fill):
    """Mean score drop over the patches covering each pixel, one model call per patch."""
    height, width = x.shape[1:3]

    def starts(size):
        side, start, found = min(patch, size), 0, []
        while True:
            found.append(start)
            if start + side >= size:
                return found
            start = min(start + stride, size - side)

    original = score(x)
    total, covering = np.zeros((height, width)), np.zeros((height, width))
    for top in starts(height):
        for left in starts(width):
            occluded = x.copy()
            for i in range(top, min(top + patch, height)):
                for j in range(left, min(left + patch, width)):
                    occluded[0, i, j] = fill[i, j]
            drop = original - score(occluded)
            for i in range(top, min(top + patch, height)):
                for j in range(left, min(left + patch, width)):
                    total[i, j] += drop
                    covering[i, j] += 1
    return np.where(covering > 0, total / np.maximum(covering, 1), 0.0)


def fill_for(x, fill, patch):
    image = x[0]
    if fill == "zero":
        return np.zeros_like(image)
    if fill == "mean":
        return np.ones_like(image) * image.reshape(-1, image.shape[-1]).mean(axis=0)
    return gaussian_blur(image, patch / 2)


@pytest.mark.parametrize("patch, stride", [(4, 2), (5, 3), (8, 8), (32, 4)])
@pytest.mark.parametrize("fill", ["zero", "mean", "blur"])
@pytest.mark.parametrize("score", ["probability", "logit"])
def test_equals_the_naive_loop(model, patch, stride, fill, score):
    class_index = 1
    logits = keras.Model(model.inputs[0], model.get_layer("logits").output)
    scorer = model if score == "probability" else logits
    x = load_image(random_pixels(), model).batch()
    expected = naive_occlusion(lambda batch: float(scorer(batch)[0, class_index]), x, patch,
                               stride, fill_for(x, fill, patch))
    result = explain(model, index=class_index, patch=patch, stride=stride, fill=fill,
                     score=score, batch_size=7)
    assert np.abs(expected).max() > 1e-4
    np.testing.assert_allclose(result.data, expected, rtol=1e-5, atol=1e-6)


def test_windows_reach_the_border():
    assert window_starts(16, 4, 2) == [0, 2, 4, 6, 8, 10, 12]
    assert window_starts(16, 5, 3) == [0, 3, 6, 9, 11]
    assert window_starts(16, 8, 8) == [0, 8]
    assert window_starts(16, 16, 4) == [0]


def test_the_blur_is_a_normalised_gaussian_cut_at_three_sigma():
    impulse = np.zeros((21, 21, 1), np.float32)
    impulse[10, 10] = 1.0
    offsets = np.arange(-5, 6)  # ceil(3 * 1.5)
    gaussian = np.exp(-offsets ** 2 / (2 * 1.5 ** 2))
    gaussian /= gaussian.sum()
    expected = np.zeros((21, 21))
    expected[5:16, 5:16] = np.outer(gaussian, gaussian)
    np.testing.assert_allclose(gaussian_blur(impulse, 1.5)[..., 0], expected, atol=1e-7)
    flat = np.full((6, 5, 3), 0.25, np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, 4.0), flat, rtol=1e-6)


def test_results_do_not_depend_on_the_batch_size(model):
    results = [explain(model, patch=5, stride=3, batch_size=size) for size in (1, 3, 0)]
    maps = [result.data for result in results]
    np.testing.assert_allclose(maps[0], maps[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps[0], maps[2], rtol=1e-5, atol=1e-7)
    assert results[0].channels is None and "channel_reduction" not in results[0].info


def test_progress_rises_to_one(model):
    reported = []
    explain(model, patch=8, stride=8, batch_size=1, progress=reported.append)
    assert reported == [0.25, 0.5, 0.75, 1.0]


def test_stopping_cancels_within_one_batch():
    model, counter = counting_model()
    stop = StopAfterFirstBatch(counter)
    with pytest.raises(Cancelled):
        explain(model, patch=4, stride=2, batch_size=5, progress=stop.progress,
                should_stop=stop.should_stop)
    assert stop.reported == [5 / 49]
    assert stop.samples_after_stop() <= 5
