"""Maps and channels that are constant for a reason say which reason, on models built for
it and on real architectures:

* a class activation map of a layer before its activation (Grad-CAM++, Score-CAM: their
  weights are never negative, the layer's maps mostly are);
* a layer whose every channel is constant over its positions (InceptionV3's last pooled
  branch, a 3x3 "same" average pooling of a 2x2 map);
* a dead channel (a ReLU that is off at every position) as the target of activations,
  guided backpropagation and activation maximization (ResNet50V2's ``post_relu``).
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from applications import application, pictures
from dial_visualization.core.context import Context, Target
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.tf_ops import layer_output_function

NAMES = {"grad-cam": "Grad-CAM", "grad-cam-plus-plus": "Grad-CAM++", "score-cam": "Score-CAM"}


def two_detector_model():
    """A grey image -> two 1x1 detectors before their ReLU: ``bright`` = 2x - 1.9 (above 0
    only where x > 0.95) and ``dark`` = 0.1 - 2x (only where x < 0.05) -> global average ->
    softmax over two classes; class 0 adds both."""
    inputs = keras.Input((16, 16, 1), name="image")
    detectors = keras.layers.Conv2D(
        2, 1, name="detectors", kernel_initializer=keras.initializers.Constant([[[[2.0, -2.0]]]]),
        bias_initializer=keras.initializers.Constant([-1.9, 0.1]))(inputs)
    rectified = keras.layers.ReLU(name="relu")(detectors)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(rectified)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions",
                                 kernel_initializer=keras.initializers.Constant([[1.0, -1.0]] * 2))(
        pooled)
    return keras.Model(inputs, outputs, name="detectors")


def grey_picture():
    """Mid-grey, with a white 2x2 square (the bright detector fires) and a black one (the
    dark detector fires): 8 of the 512 detector activations are positive."""
    pixels = np.full((16, 16, 1), 128, np.uint8)
    pixels[2:4, 2:4] = 255
    pixels[12:14, 12:14] = 0
    return pixels


@pytest.mark.parametrize("method", ["grad-cam-plus-plus", "score-cam", "grad-cam"])
def test_a_layer_before_its_activation_gives_a_zero_map_that_says_so(method):
    """Both detectors weigh for class 0, but where one fires (+0.1) the other is at -1.9."""
    model = two_detector_model()
    context = Context(model, load_image(grey_picture(), model, "unit"))
    result = run(method, context, params={"layer": "detectors"}, index=0)
    assert np.all(result.data == 0)
    assert result.warnings == [
        f"{NAMES[method]} map is zero everywhere: 98.4% of the activations of layer "
        "'detectors' are negative in the channels that count for this class (as before an "
        "activation), and no channel has a negative weight, so the weighted sum is negative "
        "everywhere; choose a layer after its activation"]
    after = run(method, context, params={"layer": "relu"}, index=0)
    assert after.data.max() > 0 and not after.warnings


@functools.cache
def application_context(name):
    model = application(name)
    pixels = pictures(model.inputs[0].shape[1], 1, seed=1)[0].astype(np.uint8)
    return Context(model, load_image(pixels, model))  # the family's preprocessing, detected


def layer_values(context, paths):
    outputs = layer_output_function(context.model, tuple(paths))(
        tf.constant(context.image.batch()))[1]
    return {path: np.asarray(outputs[path])[0] for path in paths}


def constant_channels(values):
    flat = values.reshape(-1, values.shape[-1])
    return np.flatnonzero(flat.max(axis=0) == flat.min(axis=0))


@pytest.mark.parametrize("method", ["grad-cam", "score-cam"])
def test_a_layer_with_every_channel_constant_says_so(method):
    """InceptionV3's last 1x1 convolution after a 3x3 "same" average pooling of a 2x2 map
    (each position averages the whole map); Score-CAM used to blame its weights."""
    context = application_context("InceptionV3")
    tree = LayerTree(context.model)
    convolutions = [node.path for node in tree.walk() if node.type == "Conv2D"]
    values = layer_values(context, convolutions)
    layer = [path for path in convolutions
             if len(constant_channels(values[path])) == values[path].shape[-1]][-1]
    assert values[layer].shape[:2] == (2, 2)
    result = run(method, context, params={"layer": layer}, index=0)
    assert result.is_constant
    assert result.warnings == [
        f"{NAMES[method]} map is constant: every channel of layer '{layer}' has the same value "
        "at every position for this image (as after a pooling over its whole map); choose "
        "another layer"]


def dead_channels(context, layer):
    """The channels of ``layer`` that are 0 at every position for the context's image."""
    values = layer_values(context, [layer])[layer]
    return [int(k) for k in constant_channels(values) if values[0, 0, k] == 0], values


def test_a_dead_channel_says_why_as_the_target_of_activations_and_guided_backprop():
    """A channel of ResNet50V2's last ReLU that is 0 everywhere for the picture."""
    context = application_context("ResNet50V2")
    dead, values = dead_channels(context, "post_relu")
    target = Target("output", "post_relu", dead[0])
    off = f"post_relu channel {dead[0]} is 0 at every position for this image (a unit that " \
          "is off everywhere, as a ReLU whose input is negative at every position)"

    activations = run("activations", context, target)
    assert np.all(activations.data == 0) and activations.warnings == [off]
    guided = run("guided-backprop", context, target)
    assert guided.is_constant and guided.warnings == [
        f"Guided backprop map is zero everywhere: {off}: its gradient is zero, so no pixel "
        "moves it"]
    live = Target("output", "post_relu", int(np.argmax(values.std(axis=(0, 1)))))
    assert not run("activations", context, live).warnings
    assert not run("guided-backprop", context, live).warnings
    layer = run("activations", context, Target("output", "post_relu"))
    assert layer.warnings[0].startswith(f"{len(constant_channels(values))} of 2048 channels of "
                                        "post_relu have the same value at every position")


def test_a_unit_that_is_dead_where_the_ascent_starts_does_not_move_and_says_why():
    """ResNet50V2 at a mid-grey image (where activation maximization starts): some
    channels of its last ReLU are 0 everywhere, and even its class logits have a zero
    input gradient."""
    context = application_context("ResNet50V2")
    grey = Context(context.model, load_image(np.full((96, 96, 3), 128, np.uint8), context.model))
    dead, _ = dead_channels(grey, "post_relu")
    cases = {f"post_relu channel {dead[0]}": Target("output", "post_relu", dead[0]),
             "class 0": Target("prediction", None, 0)}
    for name, target in cases.items():
        maximized = run("activation-maximization", context, target, {"steps": 4})
        objectives = maximized.info["objective_per_frame"]
        assert objectives[0] == objectives[-1]
        assert maximized.warnings == [
            f"{name}: the objective stayed at {objectives[0][0]:.3g} for 4 steps: its gradient "
            "is zero at the start image (every path from the image to it passes a unit that "
            "is off, as a ReLU below 0), so the ascent cannot move"]
