"""RISE (Petsiuk et al. 2018): on a model linear in the input with one cell per pixel, the
expectation over the masks has the closed form b + p sum_mu a_mu + (1 - p) a_lambda
(a_mu = w_mu . x_mu, the pixel's contribution); smooth masks; batching and the seed."""

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.images import load_image
from dial_visualization.core.methods.rise import rise_masks


def linear_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((4, 4, 3), name="image"), keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomUniform(-1, 1),
                           bias_initializer=keras.initializers.Constant(0.5), name="score"),
    ], name="linear")


@pytest.mark.parametrize("keep", [0.5, 0.3])
def test_the_expectation_over_masks_of_a_linear_model_is_the_closed_form(keep):
    model = linear_model()
    pixels = random_pixels(size=4, seed=2)
    x = load_image(pixels, model, "unit").array  # black is 0: a mask multiplies the input
    weights, bias = (v.numpy() for v in model.get_layer("score").weights)
    contribution = (weights[:, 0].reshape(x.shape) * x).sum(-1)
    closed_form = bias[0] + keep * contribution.sum() + (1 - keep) * contribution

    result = dv.explain(model, pixels, "rise", preprocessing="unit", masks=20000, grid=4,
                        keep=keep, batch_size=2048)

    spread = np.abs(closed_form).max()
    print("rise", keep, np.abs(result.data - closed_form).max() / spread)
    np.testing.assert_allclose(result.data, closed_form, atol=0.03 * spread)


def test_masks_are_smooth_shifted_and_reproducible():
    masks = rise_masks(range(200), (16, 16), grid=4, keep=0.5, seed=3)
    assert masks.shape == (200, 16, 16) and masks.min() >= 0 and masks.max() <= 1
    assert 0.4 < masks.mean() < 0.6
    assert len(np.unique(masks.round(3))) > 3  # bilinear, not binary
    np.testing.assert_array_equal(masks[7:9], rise_masks(range(7, 9), (16, 16), 4, 0.5, 3))
    pixel_masks = rise_masks(range(50), (4, 4), grid=4, keep=0.5, seed=3)  # a cell per pixel
    assert set(np.unique(pixel_masks)) == {0.0, 1.0}


def test_results_do_not_depend_on_the_batch_size():
    model = linear_model()
    pixels = random_pixels(size=4)
    maps = [dv.explain(model, pixels, "rise", masks=40, grid=2, batch_size=size).data
            for size in (1, 7, 0)]
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-5, atol=1e-6)
