"""Guided backprop: ReLUs pass only positive gradients at positive inputs, every ReLU form,
nested models, the user's model untouched, and equality with a hand-written reference;
the map is max_c |guided gradient| (as saliency's), the guided image is kept per channel."""

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.images import load_image

FORMS = ("activation", "relu-layer", "activation-layer", "nested")


def _positive_conv(**kwargs):
    return keras.layers.Conv2D(
        4, 3, padding="same", kernel_initializer=keras.initializers.RandomUniform(0.05, 0.2),
        bias_initializer=keras.initializers.Constant(0.1), name="conv", **kwargs)


def squared_relu_model(form, sign):
    """``sign * mean(relu(conv(x))**2)`` with every pre-activation positive (for x >= 0).

    With ``sign = -1`` the gradient reaching the ReLU is negative everywhere, so the plain
    gradient is not zero but the guided one is.
    """
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3), name="image")
    if form == "activation":
        rectified = _positive_conv(activation="relu")(inputs)
    elif form == "relu-layer":
        rectified = keras.layers.ReLU(name="relu")(_positive_conv()(inputs))
    elif form == "activation-layer":
        rectified = keras.layers.Activation("relu", name="relu")(_positive_conv()(inputs))
    else:
        inner_inputs = keras.Input((8, 8, 3))
        inner = keras.Model(inner_inputs, keras.layers.ReLU()(_positive_conv()(inner_inputs)),
                            name="inner")
        rectified = inner(inputs)
    squared = keras.layers.Multiply(name="square")([rectified, rectified])
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(squared)
    score = keras.layers.Dense(1, use_bias=False, name="score",
                               kernel_initializer=keras.initializers.Constant(sign))(pooled)
    return keras.Model(inputs, score, name=f"squared_{form}")


def explain(model, method, **kwargs):
    return dv.explain(model, random_pixels(size=8), method, preprocessing="unit", **kwargs)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layer", [None, "score"])
def test_negative_gradients_are_stopped_at_every_relu_form(form, layer):
    model = squared_relu_model(form, sign=-1.0)

    plain = explain(model, "saliency", layer=layer)
    guided = explain(model, "guided-backprop", layer=layer)

    assert np.abs(plain.data).max() > 1e-4
    assert np.all(guided.data == 0)
    assert guided.is_constant
    assert guided.warnings == [
        "Guided backprop map is zero everywhere: it singles out no part of the image"]


@pytest.mark.parametrize("form", FORMS)
def test_positive_gradients_at_positive_inputs_pass_unchanged(form):
    model = squared_relu_model(form, sign=1.0)

    plain = explain(model, "saliency")
    guided = explain(model, "guided-backprop")

    assert np.abs(plain.data).max() > 1e-4
    np.testing.assert_allclose(guided.data, plain.data, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(guided.channels, plain.channels, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("form", ["activation", "relu-layer", "nested"])
def test_the_users_model_is_left_unchanged(form):
    model = squared_relu_model(form, sign=-1.0)
    x = load_image(random_pixels(size=8), model, "unit").batch()
    weights = [w.copy() for w in model.get_weights()]
    outputs = model(x).numpy()
    plain = explain(model, "saliency")

    explain(model, "guided-backprop")

    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(model(x).numpy(), outputs)
    np.testing.assert_array_equal(explain(model, "saliency").data, plain.data)
    if form == "activation":
        assert model.get_layer("conv").activation is keras.activations.relu


def two_relu_model(channels):
    """5x5 image -> 5x5 conv (a dense layer in effect) -> ReLU -> dense -> ReLU -> 3 logits."""
    keras.utils.set_random_seed(3)
    random_bias = keras.initializers.RandomNormal(stddev=0.3)
    return keras.Sequential([
        keras.Input((5, 5, channels), name="image"),
        keras.layers.Conv2D(6, 5, activation="relu", bias_initializer=random_bias, name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(5, activation="relu", bias_initializer=random_bias, name="hidden"),
        keras.layers.Dense(3, bias_initializer=random_bias, name="logits"),
    ], name="two_relu")


def naive_guided_backprop(model, x, class_index):
    """Guided backprop through the two ReLUs of :func:`two_relu_model`, by hand in numpy."""
    conv_kernel, conv_bias = model.get_layer("conv").get_weights()
    hidden_kernel, hidden_bias = model.get_layer("hidden").get_weights()
    logits_kernel = model.get_layer("logits").get_weights()[0]
    first_kernel = conv_kernel.reshape(-1, conv_kernel.shape[-1])
    first = x.reshape(-1) @ first_kernel + conv_bias
    second = np.maximum(first, 0) @ hidden_kernel + hidden_bias
    gradient = logits_kernel[:, class_index]
    gradient = gradient * (second > 0) * (gradient > 0)
    gradient = hidden_kernel @ gradient
    gradient = gradient * (first > 0) * (gradient > 0)
    return (first_kernel @ gradient).reshape(x.shape)


@pytest.mark.parametrize("channels", [1, 3])
def test_equals_a_hand_written_reference(channels):
    model = two_relu_model(channels)
    pixels = random_pixels(size=5, channels=channels, seed=4)
    x = load_image(pixels, model, "unit").array
    differs_from_plain = []  # the ReLU masks matter on this model
    for class_index in range(3):
        guided = dv.explain(model, pixels, "guided-backprop", target=class_index,
                            preprocessing="unit")
        plain = dv.explain(model, pixels, "saliency", target=class_index, preprocessing="unit")
        reference = naive_guided_backprop(model, x, class_index)
        assert np.abs(reference).max() > 1e-3
        np.testing.assert_allclose(guided.channels, reference, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(guided.data, np.abs(reference).max(-1), rtol=1e-5, atol=1e-7)
        assert guided.info["channel_reduction"] == "max-abs"
        differs_from_plain.append(not np.allclose(guided.channels, plain.channels, rtol=1e-3))
    assert all(differs_from_plain)
