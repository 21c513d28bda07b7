"""The first three methods against Keras itself: kernels, feature maps and class scores."""

import keras
import numpy as np
import pytest
from builders import (multi_output_model, nested_model, random_pixels, residual_model,
                      sequential_model)

import dial_visualization as dv
from dial_visualization.core.context import Target
from dial_visualization.core.errors import LabelsError, MethodNotApplicableError, ParameterError
from dial_visualization.core.images import load_image
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
    assert result.data.shape == (4, 3, 3) and result.info["grid_columns"] == 1
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
