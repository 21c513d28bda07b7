"""Gradient x input (Shrikumar et al. 2016): the input times a GradientTape gradient of the
logit, summed over the colour channels; for a bias-free linear model it adds up to the
score."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dial_visualization as dv
from builders import random_pixels, residual_model
from dial_visualization.core.images import load_image


def test_equals_the_input_times_a_tape_gradient_of_the_logit():
    model = residual_model()
    pixels = random_pixels()
    x = tf.constant(load_image(pixels, model, "unit").batch())
    logits = keras.Model(model.input, model.get_layer("logits").output)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = logits(x)[:, 1]
    reference = (tape.gradient(score, x) * x).numpy()[0]

    result = dv.explain(model, pixels, "gradient-x-input", target=1, preprocessing="unit")

    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(result.channels, reference, rtol=1e-4,
                               atol=1e-5 * np.abs(reference).max())
    np.testing.assert_allclose(result.data, reference.sum(-1), rtol=1e-4,
                               atol=1e-5 * np.abs(reference).max())
    assert result.info["channel_reduction"] == "sum"


def test_a_bias_free_linear_model_sums_to_its_score():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(3, use_bias=False, name="scores")])
    pixels = random_pixels()
    score = model(load_image(pixels, model, "unit").batch()).numpy()[0, 2]

    result = dv.explain(model, pixels, "gradient-x-input", target=2, preprocessing="unit")

    assert abs(score) > 1e-3
    assert result.data.sum() == pytest.approx(score, rel=1e-4)


@pytest.mark.parametrize("method", ["deconvnet", "gradient-x-input", "expected-gradients",
                                    "rise", "lime"])
def test_each_new_method_declares_its_paper_and_its_map(method):
    import re

    declared = dv.available_methods()[method]
    assert re.search(r"et al\. 20\d\d|Fergus 2014", declared.reference), declared.reference
    assert re.search(r"et al\. 20\d\d|Fergus 2014", declared.channel_reduction)
