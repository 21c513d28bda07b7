"""Saliency equals a direct GradientTape gradient of the logit or the channel mean, reduced
over colour channels as Simonyan et al. 2013 do: max_c |gradient|."""

import re

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


def assert_same_map(result, gradient):
    """The map is max_c |gradient|; the per-channel gradient is kept."""
    reference = np.abs(gradient).max(axis=-1)
    assert reference.max() > 0
    np.testing.assert_allclose(result.data, reference, rtol=1e-4, atol=1e-5 * reference.max())
    np.testing.assert_allclose(result.channels, gradient, rtol=1e-4, atol=1e-5 * reference.max())
    assert result.info["channel_reduction"] == "max-abs" and not result.warnings


@pytest.mark.parametrize("index", [0, 2])
def test_prediction_is_the_logit_gradient_not_the_probability_gradient(index):
    model = residual_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    logits = keras.Model(model.input, model.get_layer("logits").output)

    result = dv.explain(model, pixels, "saliency", target=index, preprocessing="unit")

    logit_gradient = tape_gradient(lambda t: logits(t)[:, index], x)
    assert_same_map(result, logit_gradient)
    probability_gradient = tape_gradient(lambda t: model(t)[:, index], x)
    assert not np.allclose(result.data, np.abs(probability_gradient).max(-1), rtol=0.05)


def test_top_class_is_used_when_no_class_is_given():
    model = residual_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    top = int(np.argmax(model(x)[0]))
    logits = keras.Model(model.input, model.get_layer("logits").output)

    result = dv.explain(model, pixels, "saliency", preprocessing="unit")

    assert result.target.index == top
    assert_same_map(result, tape_gradient(lambda t: logits(t)[:, top], x))


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

    assert_same_map(result, tape_gradient(channel_mean, x))


def test_output_target_inside_a_nested_model():
    model = nested_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").batch()
    base = model.get_layer("base")
    conv1 = keras.Model(base.input, base.get_layer("base_conv1").output)

    result = dv.explain(model, pixels, "saliency", layer="base/base_conv1", target=1,
                        preprocessing="unit")

    assert_same_map(result, tape_gradient(lambda t: tf.reduce_mean(conv1(t)[..., 1]), x))


def opposite_channels_model():
    """A first 1x1 convolution that reads red minus green: the gradient of every later
    score has opposite signs in the two channels, and sums to 0 over the channels."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((8, 8, 3), name="image"),
        keras.layers.Conv2D(1, 1, use_bias=False, name="red_minus_green"),
        keras.layers.Conv2D(4, 3, activation="tanh", name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, name="logits"),
    ], name="opposite_channels")
    model.get_layer("red_minus_green").set_weights([np.reshape([1.0, -1.0, 0.0], (1, 1, 3, 1))])
    return model


def test_the_map_is_the_largest_absolute_channel_not_the_sum():
    model = opposite_channels_model()
    pixels = random_pixels(size=8)
    x = load_image(pixels, model, "unit").batch()

    result = dv.explain(model, pixels, "saliency", target=1, preprocessing="unit")

    gradient = tape_gradient(lambda t: model(t)[:, 1], x)
    np.testing.assert_allclose(gradient[..., 0], -gradient[..., 1], rtol=1e-6)
    np.testing.assert_allclose(gradient.sum(-1), 0.0, atol=1e-7)  # the sum shows nothing
    assert_same_map(result, gradient)
    np.testing.assert_allclose(result.data, np.abs(gradient[..., 0]), rtol=1e-4)


@pytest.mark.parametrize("method", [
    "saliency", "guided-backprop", "integrated-gradients", "smoothgrad", "grad-cam",
    "grad-cam-plus-plus", "score-cam", "occlusion"])
def test_every_map_method_declares_its_channel_reduction_with_its_paper(method):
    declared = dv.available_methods()[method].channel_reduction
    assert re.search(r"et al\. 20\d\d|Fergus 2014", declared), declared


def test_a_class_that_does_not_exist_is_refused(model, image):
    from dial_visualization.core.errors import MethodNotApplicableError

    with pytest.raises(MethodNotApplicableError, match="class 9 does not exist"):
        dv.explain(model, image, "saliency", target=9)


@pytest.mark.parametrize("channels", [1, 3, 4, 12])
def test_the_channel_reductions_equal_numpys(channels):
    from dial_visualization.core.attribution import CHANNEL_REDUCTIONS

    rng = np.random.default_rng(channels)
    attribution = rng.normal(size=(2, 5, 7, channels)).astype(np.float32)
    np.testing.assert_array_equal(CHANNEL_REDUCTIONS["max-abs"](attribution),
                                  np.abs(attribution).max(axis=-1))
    np.testing.assert_allclose(CHANNEL_REDUCTIONS["sum"](attribution), attribution.sum(axis=-1),
                               rtol=1e-6, atol=1e-6)
    assert CHANNEL_REDUCTIONS["sum"](attribution).shape == (2, 5, 7)
