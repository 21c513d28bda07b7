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


# --------------------------------------------------------------------------- ReLU-like units
# Each form's guided backward rule, by hand: the gradient passes where the unit's input z
# lies in the interval where the unit passes z unchanged, (low, high), and is positive.
# Clipped units pass below their maximum only; leaky ones above 0 only (their leaky part is
# cut, as a ReLU's dead part is).

#: form -> (the unit as a layer, or the name of an activation function; (low, high))
UNIT_FORMS = {
    "relu6-layer": (lambda: keras.layers.ReLU(max_value=6.0), (0.0, 6.0)),
    "relu6-activation": ("relu6", (0.0, 6.0)),
    "clipped-thresholded-leaky-relu": (
        lambda: keras.layers.ReLU(max_value=4.0, threshold=0.5, negative_slope=0.1),
        (0.5, 4.0)),
    "leaky-relu-layer": (lambda: keras.layers.LeakyReLU(negative_slope=0.2), (0.0, np.inf)),
    "leaky-relu-activation": ("leaky_relu", (0.0, np.inf)),
    "prelu": (lambda: keras.layers.PReLU(
        alpha_initializer=keras.initializers.RandomUniform(0.1, 0.5)), (0.0, np.inf)),
}


def unit_model(form):
    """5x5 image -> 5x5 conv (a dense layer in effect) -> unit -> dense -> unit -> 3 logits,
    with pre-activations of about +-10, so that every part of each unit is reached."""
    unit, _ = UNIT_FORMS[form]
    keras.utils.set_random_seed(6)
    wide = keras.initializers.RandomNormal(stddev=2.0)
    conv = keras.layers.Conv2D(12, 5, kernel_initializer=wide, bias_initializer=wide, name="conv",
                               activation=unit if isinstance(unit, str) else None)
    hidden = keras.layers.Dense(8, kernel_initializer=keras.initializers.RandomNormal(stddev=1.5),
                                bias_initializer=wide, name="hidden",
                                activation=unit if isinstance(unit, str) else None)
    layers = [keras.Input((5, 5, 3), name="image"), conv]
    if not isinstance(unit, str):
        layers.append(unit())
    layers += [keras.layers.Flatten(name="flat"), hidden]
    if not isinstance(unit, str):
        layers.append(unit())
    layers.append(keras.layers.Dense(3, name="logits"))
    return keras.Sequential(layers, name=form.replace("-", "_"))


def naive_guided_units(model, x, class_index, region):
    """Guided backprop through the two units of :func:`unit_model`, in numpy; the units'
    forward values are the model's own (a sub-model's output)."""
    low, high = region
    conv_kernel, conv_bias = model.get_layer("conv").get_weights()
    hidden_kernel, hidden_bias = model.get_layer("hidden").get_weights()
    logits_kernel = model.get_layer("logits").get_weights()[0]
    first_kernel = conv_kernel.reshape(-1, conv_kernel.shape[-1])
    first = x.reshape(-1) @ first_kernel + conv_bias
    unit = model.layers[model.layers.index(model.get_layer("flat")) - 1]  # conv or its unit
    rectified = np.asarray(keras.Model(model.inputs[0], unit.output)(x[np.newaxis])).reshape(-1)
    second = rectified @ hidden_kernel + hidden_bias
    gradient = logits_kernel[:, class_index]
    gradient = gradient * ((second > low) & (second < high)) * (gradient > 0)
    gradient = hidden_kernel @ gradient
    gradient = gradient * ((first > low) & (first < high)) * (gradient > 0)
    return (first_kernel @ gradient).reshape(x.shape), np.concatenate([first, second])


@pytest.mark.parametrize("form", UNIT_FORMS)
def test_each_relu_form_follows_the_guided_rule_of_its_active_part(form):
    model = unit_model(form)
    region = UNIT_FORMS[form][1]
    pixels = random_pixels(size=5, seed=4)
    x = load_image(pixels, model, "unit").array
    differs_from_plain = []
    for class_index in range(3):
        guided = dv.explain(model, pixels, "guided-backprop", target=class_index,
                            preprocessing="unit")
        plain = dv.explain(model, pixels, "saliency", target=class_index, preprocessing="unit")
        reference, pre_activations = naive_guided_units(model, x, class_index, region)
        assert np.abs(reference).max() > 1e-3
        np.testing.assert_allclose(guided.channels, reference, rtol=1e-5, atol=1e-6)
        assert guided.info["guided_relus"] == 2 and not guided.warnings
        differs_from_plain.append(not np.allclose(guided.channels, plain.channels, rtol=1e-3))
    assert all(differs_from_plain)
    # every part of the unit is reached: below low (off or leaky), active, above high (clipped)
    low, high = region
    active = (pre_activations > low) & (pre_activations < high)
    assert np.any(pre_activations < low) and np.any(active)
    assert np.isinf(high) or np.any(pre_activations > high)
