"""Saliency equals a direct GradientTape gradient of the logit or the channel mean."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dial_visualization as dv
from builders import nested_model, random_pixels, residual_model, sequential_model
from dial_visualization.core.images import load_image


def tape_gradient(function, x):
    """d function(x) / dx for a batch of one, as (H, W, C)."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
    return tape.gradient(value, x).numpy()[0]


def assert_same_map(heatmap, gradient):
    reference = gradient.sum(axis=-1)
    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(heatmap, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())


@pytest.mark.parametrize("index", [0, 2])
def test_prediction_is_the_logit_gradient_not_the_probability_gradient(index):
    model = residual_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    logits = keras.Model(model.input, model.get_layer("logits").output)

    result = dv.explain(model, pixels, "saliency", target=index, preprocessing="unit")

    logit_gradient = tape_gradient(lambda t: logits(t)[:, index], x)
    assert_same_map(result.data, logit_gradient)
    probability_gradient = tape_gradient(lambda t: model(t)[:, index], x)
    assert not np.allclose(result.data, probability_gradient.sum(-1), rtol=0.05)


def test_top_class_is_used_when_no_class_is_given():
    model = residual_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    top = int(np.argmax(model(x)[0]))
    logits = keras.Model(model.input, model.get_layer("logits").output)

    result = dv.explain(model, pixels, "saliency", preprocessing="unit")

    assert result.target.index == top
    assert_same_map(result.data, tape_gradient(lambda t: logits(t)[:, top], x))


@pytest.mark.parametrize("channel", [3, None])
def test_output_target_is_the_gradient_of_the_channel_mean(channel):
    model = sequential_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    conv2 = keras.Model(model.inputs[0], model.get_layer("conv2").output)

    def channel_mean(t):
        maps = tf.reduce_mean(conv2(t), axis=(1, 2))
        return maps[:, channel] if channel is not None else tf.reduce_mean(maps, axis=-1)

    result = dv.explain(model, pixels, "saliency", layer="conv2", target=channel,
                        preprocessing="unit")

    assert_same_map(result.data, tape_gradient(channel_mean, x))


def test_output_target_inside_a_nested_model():
    model = nested_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    base = model.get_layer("base")
    conv1 = keras.Model(base.input, base.get_layer("base_conv1").output)

    result = dv.explain(model, pixels, "saliency", layer="base/base_conv1", target=1,
                        preprocessing="unit")

    assert_same_map(result.data, tape_gradient(lambda t: tf.reduce_mean(conv1(t)[..., 1]), x))


def test_a_class_that_does_not_exist_is_refused(model, image):
    from dial_visualization.core.errors import MethodNotApplicableError

    with pytest.raises(MethodNotApplicableError, match="class 9 does not exist"):
        dv.explain(model, image, "saliency", target=9)
