"""The first three methods against Keras itself: kernels, feature maps and class scores."""

import keras
import numpy as np
import pytest
from applications import application
from builders import (multi_output_model, nested_model, random_pixels, residual_model,
                      sequential_model)

import dial_visualization as dv
from dial_visualization.core.context import Target
from dial_visualization.core.errors import LabelsError, MethodNotApplicableError, ParameterError
from dial_visualization.core.images import load_image
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.registry import NodeType

TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture(scope="module")
def sequential():
    return sequential_model()


@pytest.fixture(scope="module")
def sequential_image(sequential):
    return load_image(random_pixels(), sequential)


# --------------------------------------------------------------------------- weights

def test_rgb_kernels_one_image_per_filter(sequential):
    kernel, bias = sequential.get_layer("conv1").get_weights()  # (3, 3, 3 in, 4 filters)
    result = dv.explain(sequential, None, "weights", layer="conv1")
    assert result.kind == "grid" and result.info["rgb"] is True
    assert result.data.shape == (4, 3, 3, 3)
    for f in range(4):
        np.testing.assert_array_equal(result.data[f], kernel[..., f])
    np.testing.assert_array_equal(result.info["bias"], bias)
    assert result.target == Target(NodeType.KERNEL, "conv1")
    assert result.title == "Weights: conv1"


def test_one_rgb_filter(sequential):
    kernel, bias = sequential.get_layer("conv1").get_weights()
    result = dv.explain(sequential, None, "weights", layer="conv1", target=2)
    assert result.data.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(result.data[0], kernel[..., 2])
    assert result.info["bias"] == bias[2]
    assert result.title == "Weights: conv1 filter 2"


def test_grey_kernels_one_image_per_input_channel(sequential):
    kernel, _ = sequential.get_layer("conv2").get_weights()  # (3, 3, 4 in, 6 filters)
    result = dv.explain(sequential, None, "weights", layer="conv2")
    assert "rgb" not in result.info and result.info["grid_columns"] == 4
    assert result.data.shape == (6 * 4, 3, 3)
    for f in range(6):
        for c in range(4):
            np.testing.assert_array_equal(result.data[f * 4 + c], kernel[:, :, c, f])


def test_one_grey_filter(sequential):
    kernel, bias = sequential.get_layer("conv2").get_weights()
    result = dv.explain(sequential, None, "weights", layer="conv2", target=5)
    assert result.data.shape == (4, 3, 3)
    for c in range(4):
        np.testing.assert_array_equal(result.data[c], kernel[:, :, c, 5])
    assert result.info["bias"] == bias[5]


def test_single_channel_model_kernels():
    model = sequential_model(channels=1)
    kernel, _ = model.get_layer("conv1").get_weights()  # (3, 3, 1, 4)
    result = dv.explain(model, None, "weights", layer="conv1")
    assert result.data.shape == (4, 3, 3) and "grid_columns" not in result.info  # laid out square
    np.testing.assert_array_equal(result.data, np.moveaxis(kernel[:, :, 0], -1, 0))


def test_dense_kernel_as_one_matrix(sequential):
    kernel, bias = sequential.get_layer("predictions").get_weights()  # (6, 4)
    result = dv.explain(sequential, None, "weights", layer="predictions")
    np.testing.assert_array_equal(result.data, kernel[np.newaxis])
    np.testing.assert_array_equal(result.info["bias"], bias)
    one = dv.explain(sequential, None, "weights", layer="predictions", target=3)
    np.testing.assert_array_equal(one.data, kernel[np.newaxis, :, 3:4])
    assert one.info["bias"] == bias[3]


def test_nested_layer_kernels():
    model = nested_model()
    kernel, _ = model.get_layer("base").get_layer("base_conv1").get_weights()
    result = dv.explain(model, None, "weights", layer="base/base_conv1")
    np.testing.assert_array_equal(result.data, np.moveaxis(kernel, -1, 0))


def test_weights_refusals(sequential):
    with pytest.raises(MethodNotApplicableError, match="has no kernel"):
        dv.explain(sequential, None, "weights", layer="pool")
    with pytest.raises(MethodNotApplicableError, match="has no layer 'nope'"):
        dv.explain(sequential, None, "weights", layer="nope")
    with pytest.raises(MethodNotApplicableError, match="4 filters; filter 4 does not exist"):
        dv.explain(sequential, None, "weights", layer="conv1", target=4)
    with pytest.raises(MethodNotApplicableError, match="filter -1 does not exist"):
        dv.explain(sequential, None, "weights", layer="conv1", target=-1)
    with pytest.raises(MethodNotApplicableError, match="works on kernel nodes"):
        dv.explain(sequential, None, "weights", layer="conv1", node_type="output")


# --------------------------------------------------------------- depthwise, separable, grouped

def convolve(x, kernel, layer):
    """A plain convolution of ``x`` with ``kernel`` (kh, kw, in, out) and the strides,
    padding and dilation of ``layer``."""
    return np.asarray(keras.ops.conv(x, kernel, strides=layer.strides, padding=layer.padding,
                                     dilation_rate=layer.dilation_rate))


def small_convolutions():
    """A depthwise (multiplier 2), a separable (multiplier 2, strided) and a grouped (2
    groups) convolution on a 9x9x4 input, with biases."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 9, 4), name="image")
    random = keras.initializers.RandomNormal(stddev=0.5)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, bias_initializer=random,
                                             name="depthwise")(inputs)
    separable = keras.layers.SeparableConv2D(5, 3, strides=2, padding="same", depth_multiplier=2,
                                             bias_initializer=random, name="separable")(inputs)
    grouped = keras.layers.Conv2D(6, 3, groups=2, bias_initializer=random, name="grouped")(inputs)
    return keras.Model(inputs, [depthwise, separable, grouped], name="convolutions")


@pytest.mark.parametrize("layer", ["depthwise", "separable", "grouped"])
def test_each_filter_is_what_the_layer_computes_for_its_output_channel(layer):
    """Filter f, convolved with the input channels it sees, gives output channel f."""
    model = small_convolutions()
    node = LayerTree(model)[layer]
    x = np.random.default_rng(0).normal(size=(1, 9, 9, 4)).astype(np.float32)
    output = np.asarray(keras.Model(model.inputs[0], model.get_layer(layer).output)(x))
    assert node.has_kernel and node.filters == output.shape[-1] == {
        "depthwise": 8, "separable": 5, "grouped": 6}[layer]
    result = dv.explain(model, None, "weights", layer=layer)
    for f in range(node.filters):
        one = dv.explain(model, None, "weights", layer=layer, target=f)
        seen = range(*one.info["input_channels"])
        kernel = np.moveaxis(one.data, 0, -1)[..., np.newaxis]  # (kh, kw, seen, 1)
        expected = convolve(x[..., seen.start:seen.stop], kernel, model.get_layer(layer))
        np.testing.assert_allclose(expected[..., 0] + one.info["bias"], output[..., f],
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(result.data[f * len(seen):(f + 1) * len(seen)], one.data)
    assert [list(node.input_channels(f)) for f in (0, node.filters - 1)] == {
        "depthwise": [[0], [3]], "separable": [[0, 1, 2, 3]] * 2,
        "grouped": [[0, 1], [2, 3]]}[layer]


def test_a_depthwise_convolution_shows_one_kernel_per_output_channel():
    model = small_convolutions()
    kernel, bias = model.get_layer("depthwise").get_weights()  # (3, 3, 4 in, 2 per channel)
    result = dv.explain(model, None, "weights", layer="depthwise")
    assert result.data.shape == (8, 3, 3) and "grid_columns" not in result.info
    for channel in range(4):
        for m in range(2):  # output channel c * M + m is input channel c through kernel[c, m]
            np.testing.assert_array_equal(result.data[channel * 2 + m], kernel[:, :, channel, m])
    np.testing.assert_array_equal(result.info["bias"], bias)
    depthwise = dv.explain(model, None, "weights", layer="depthwise", kernel="depthwise")
    np.testing.assert_array_equal(depthwise.data, result.data)


def test_a_separable_convolution_shows_its_depthwise_and_pointwise_kernels():
    model = small_convolutions()
    depthwise, pointwise, bias = model.get_layer("separable").get_weights()
    shown = dv.explain(model, None, "weights", layer="separable", kernel="depthwise")
    assert shown.title == "Weights: separable (depthwise)" and shown.info["bias"] is None
    assert shown.data.shape == (8, 3, 3)
    for channel in range(4):
        for m in range(2):
            np.testing.assert_array_equal(shown.data[channel * 2 + m], depthwise[:, :, channel, m])
    mixing = dv.explain(model, None, "weights", layer="separable", kernel="pointwise")
    np.testing.assert_array_equal(mixing.data, pointwise[0, 0][np.newaxis])  # (1, 8, 5)
    np.testing.assert_array_equal(mixing.info["bias"], bias)
    column = dv.explain(model, None, "weights", layer="separable", kernel="pointwise", target=3)
    np.testing.assert_array_equal(column.data, pointwise[0, 0][np.newaxis, :, 3:4])
    assert column.info["bias"] == bias[3]
    with pytest.raises(MethodNotApplicableError, match="feed every one of its filters"):
        dv.explain(model, None, "weights", layer="separable", kernel="depthwise", target=3)


def test_a_plain_convolution_has_no_depthwise_or_pointwise_kernel(sequential):
    for part in ("depthwise", "pointwise"):
        with pytest.raises(MethodNotApplicableError, match=f"no {part} kernel: use kernel=filters"):
            dv.explain(sequential, None, "weights", layer="conv1", kernel=part)
    with pytest.raises(MethodNotApplicableError, match="no pointwise kernel"):
        dv.explain(small_convolutions(), None, "weights", layer="depthwise", kernel="pointwise")


@pytest.mark.parametrize("name, layer, kernels", [
    ("Xception", "block2_sepconv1", {"depthwise_kernel": (3, 3, 64, 1),
                                     "pointwise_kernel": (1, 1, 64, 128)}),
    ("NASNetMobile", "separable_conv_1_reduction_left1_stem_1",
     {"depthwise_kernel": (5, 5, 11, 1), "pointwise_kernel": (1, 1, 11, 11)}),
    ("MobileNet", "conv_dw_2", {"kernel": (3, 3, 64, 1)}),
    ("ConvNeXtTiny", "convnext_tiny_stage_0_block_0_depthwise_conv", {"kernel": (7, 7, 1, 96)}),
])
def test_the_kernels_of_real_architectures_are_their_layers_weights(name, layer, kernels):
    """Xception's and NASNetMobile's separable, MobileNet's depthwise and ConvNeXt's grouped
    (one group per channel) convolutions, which weights used to refuse ("has no kernel")."""
    model = application(name)
    node = LayerTree(model)[layer]
    stored = dict(zip([v.path.split("/")[-1] for v in node.layer.weights],
                      node.layer.get_weights()))
    assert {key: value.shape for key, value in node.kernels().items()} == kernels
    for key in kernels:
        np.testing.assert_array_equal(node.kernels()[key], stored[key])
    filters = dv.explain(model, None, "weights", layer=layer)
    assert len(filters.data) == node.filters * len(node.input_channels(0))
    last = dv.explain(model, None, "weights", layer=layer, target=node.filters - 1)
    if "pointwise_kernel" in kernels:
        depthwise, pointwise = stored["depthwise_kernel"], stored["pointwise_kernel"]
        expected = depthwise[..., 0] * pointwise[0, 0, :, -1]  # multiplier 1: a per-channel scale
        np.testing.assert_allclose(np.moveaxis(last.data, 0, -1), expected, rtol=1e-6)
        shown = dv.explain(model, None, "weights", layer=layer, kernel="depthwise")
        np.testing.assert_array_equal(shown.data, np.moveaxis(depthwise[..., 0], -1, 0))
    else:
        np.testing.assert_array_equal(last.data[0], stored["kernel"][:, :, -1, -1]
                                      if name == "MobileNet" else stored["kernel"][:, :, 0, -1])
        assert last.info["input_channels"] == [node.filters - 1, node.filters]


# --------------------------------------------------------------------------- activations

def _reference(model, layer_name, x):
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(layer_name).output)(x))[0]


@pytest.mark.parametrize("layer", ["conv1", "pool", "conv2"])
def test_activations_equal_a_reference_sub_model(sequential, sequential_image, layer):
    expected = _reference(sequential, layer, sequential_image.batch())
    fractions = []
    result = dv.explain(sequential, sequential_image, "activations", layer=layer,
                        progress=fractions.append)
    assert result.kind == "grid"
    np.testing.assert_allclose(result.data, np.moveaxis(expected, -1, 0), **TOLERANCE)
    np.testing.assert_array_equal(result.background, sequential_image.resized)
    assert result.target == Target(NodeType.OUTPUT, layer)
    assert fractions[-1] == 1.0

    one = dv.explain(sequential, sequential_image, "activations", layer=layer, target=1)
    np.testing.assert_allclose(one.data, expected[np.newaxis, ..., 1], **TOLERANCE)
    assert one.title == f"Activations: {layer} channel 1"


def test_activations_of_a_non_spatial_layer_are_scores(sequential, sequential_image):
    expected = _reference(sequential, "gap", sequential_image.batch())
    result = dv.explain(sequential, sequential_image, "activations", layer="gap")
    assert result.kind == "scores"
    np.testing.assert_allclose(result.data, expected, **TOLERANCE)
    one = dv.explain(sequential, sequential_image, "activations", layer="gap", target=5)
    np.testing.assert_allclose(one.data, expected[5:6], **TOLERANCE)


@pytest.mark.parametrize("layer", ["shortcut", "add", "relu", "conv_relu", "logits"])
def test_residual_activations(layer):
    model = residual_model()
    image = load_image(random_pixels(seed=4), model)
    expected = _reference(model, layer, image.batch())
    result = dv.explain(model, image, "activations", layer=layer)
    shown = result.data if expected.ndim == 1 else np.moveaxis(result.data, 0, -1)
    np.testing.assert_allclose(shown, expected, **TOLERANCE)


@pytest.mark.parametrize("inner", ["base_conv1", "base_conv2"])
def test_nested_layer_activations(inner):
    model = nested_model()
    image = load_image(random_pixels(seed=5), model)
    base = model.get_layer("base")
    expected = _reference(base, inner, image.batch())  # the base sees the classifier's input

    result = dv.explain(model, image, "activations", layer=f"base/{inner}")
    np.testing.assert_allclose(result.data, np.moveaxis(expected, -1, 0), **TOLERANCE)
    one = dv.explain(model, image, "activations", layer=f"base/{inner}", target=3)
    np.testing.assert_allclose(one.data[0], expected[..., 3], **TOLERANCE)


def test_activations_refusals(sequential, sequential_image):
    with pytest.raises(MethodNotApplicableError, match="6 channels; channel 6 does not exist"):
        dv.explain(sequential, sequential_image, "activations", layer="conv2", target=6)
    with pytest.raises(MethodNotApplicableError, match="channel -2 does not exist"):
        dv.explain(sequential, sequential_image, "activations", layer="conv2", target=-2)
    with pytest.raises(MethodNotApplicableError, match="no layer 'nope'"):
        dv.explain(sequential, sequential_image, "activations", layer="nope")
    with pytest.raises(MethodNotApplicableError, match="needs an input image"):
        dv.explain(sequential, None, "activations", layer="conv1")
    with pytest.raises(MethodNotApplicableError, match="needs a layer"):
        dv.explain(sequential, sequential_image, "activations")


# --------------------------------------------------------------------------- predictions

def test_predictions_equal_model_predict(sequential, sequential_image):
    expected = sequential.predict(sequential_image.batch(), verbose=0)[0]
    result = dv.explain(sequential, sequential_image, "predictions")
    assert result.kind == "scores"
    np.testing.assert_allclose(result.data, expected, **TOLERANCE)
    ranking = result.info["ranking"]
    assert sorted(ranking) == list(range(4))
    assert ranking[0] == int(np.argmax(expected))
    assert np.all(np.diff(result.data[ranking]) <= 0)  # best first
    assert result.info["top_k"] == 4  # the default 10, capped at the class count
    assert result.params == {"top_k": 10}
    assert result.info["preprocessing"] == "unit"
    assert result.target == Target(NodeType.PREDICTION)
    assert result.title == f"Predictions: top {ranking[0]} ({expected[ranking[0]]:.3f})"


def test_predictions_use_labels(sequential, sequential_image, tmp_path):
    labels = ["cat", "dog", "bird", "fish"]
    expected = sequential.predict(sequential_image.batch(), verbose=0)[0]
    best = int(np.argmax(expected))
    title = f"Predictions: top {labels[best]} ({expected[best]:.3f})"

    result = dv.explain(sequential, sequential_image, "predictions", labels=labels)
    assert result.title == title and result.labels == labels

    path = tmp_path / "labels.txt"
    path.write_text("\n".join(labels) + "\n")
    from_file = dv.explain(sequential, sequential_image, "predictions", labels=path)
    assert from_file.title == title and from_file.labels == labels

    for wrong in (labels[:3], labels + ["eel"]):  # names of another model: refused
        with pytest.raises(LabelsError, match=f"{len(wrong)} class names, but the model's "
                                              "output scores 4 classes"):
            dv.explain(sequential, sequential_image, "predictions", labels=wrong)


def test_predictions_top_k(sequential, sequential_image):
    assert dv.explain(sequential, sequential_image, "predictions", top_k="2").info["top_k"] == 2
    with pytest.raises(ParameterError, match="below the minimum"):
        dv.explain(sequential, sequential_image, "predictions", top_k=0)
    with pytest.raises(ParameterError, match="has no parameter colour"):
        dv.explain(sequential, sequential_image, "predictions", colour="red")


@pytest.mark.parametrize("output_index", [0, 1])
def test_predictions_of_each_output(output_index):
    model = multi_output_model()
    image = load_image(random_pixels(seed=6), model)
    expected = np.asarray(model(image.batch())[output_index])[0]
    result = dv.explain(model, image, "predictions", output_index=output_index)
    np.testing.assert_allclose(result.data, expected, **TOLERANCE)
    assert len(result.info["ranking"]) == len(expected)


def test_predictions_of_a_nested_model():
    model = nested_model()
    image = load_image(random_pixels(seed=7), model)
    result = dv.explain(model, image, "predictions")
    np.testing.assert_allclose(result.data, model.predict(image.batch(), verbose=0)[0], **TOLERANCE)
