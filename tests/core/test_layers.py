"""LayerTree: shapes, parameter counts and kernels agree with Keras' own figures."""

import keras
import numpy as np
import pytest
from builders import multi_output_model, nested_model, residual_model, sequential_model

from dial_visualization.core.layers import LayerTree

BUILDERS = {
    "sequential": sequential_model,
    "residual": residual_model,
    "nested": nested_model,
    "multi-output": multi_output_model,
}


def _summary_rows(model):
    """{layer name: (output shape text, parameter count)} from model.summary(expand_nested=True)."""
    lines = []
    model.summary(expand_nested=True, print_fn=lambda line, line_break=False: lines.append(line))
    rows = {}
    for line in "\n".join(lines).splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) < 5 or not cells[3]:  # a border, or the wrapped second line of a row
            continue
        name = cells[1].lstrip("└ ").split(" (")[0]
        rows[name] = (cells[2], int(cells[3].replace(",", "")))
    return rows


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_shapes_and_params_equal_the_keras_summary(kind):
    model = BUILDERS[kind]()
    tree = LayerTree(model)
    rows = _summary_rows(model)

    nodes = list(tree.walk())
    assert {node.name for node in nodes} == set(rows)
    for node in nodes:
        shape_text, params = rows[node.name]
        assert ", ".join(map(str, node.output_shapes)) == shape_text, node.path
        assert node.params == params == node.layer.count_params(), node.path


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_shapes_equal_the_layers_symbolic_tensors(kind):
    tree = LayerTree(BUILDERS[kind]())
    for node in tree.walk():
        assert node.output_shapes == [tuple(t.shape) for t in keras.tree.flatten(node.layer.output)]
        if node.type != "InputLayer":
            inputs = keras.tree.flatten(node.layer.input)
            assert node.input_shapes == [tuple(t.shape) for t in inputs], node.path


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_root_params_sum_to_the_models_count(kind):
    model = BUILDERS[kind]()
    assert sum(root.params for root in LayerTree(model).roots) == model.count_params()


def test_sequential_layers_in_order():
    tree = LayerTree(sequential_model())
    assert [node.path for node in tree.walk()] == ["conv1", "pool", "conv2", "gap", "predictions"]
    conv1 = tree["conv1"]
    assert conv1.type == "Conv2D"
    assert conv1.input_shapes == [(None, 16, 16, 3)]
    assert conv1.output_shapes == [(None, 16, 16, 4)]
    assert conv1.params == 3 * 3 * 3 * 4 + 4
    assert conv1.activation == "relu"
    assert conv1.is_spatial and conv1.channels == 4 and conv1.filters == 4
    assert conv1.has_kernel and conv1.has_bias
    pool = tree["pool"]
    assert not pool.has_kernel and pool.kernel() is None and pool.bias() is None
    assert pool.filters == 0
    gap = tree["gap"]
    assert not gap.is_spatial and gap.channels == 6
    assert tree["predictions"].activation == "softmax"


def test_functional_model_lists_its_input_layer_and_activations():
    tree = LayerTree(residual_model())
    assert [root.name for root in tree.roots] == [
        "image", "branch", "shortcut", "add", "relu", "conv", "conv_relu", "gap", "logits",
        "softmax"]
    assert tree["image"].type == "InputLayer"
    assert tree["add"].input_shapes == [(None, 8, 8, 8), (None, 8, 8, 8)]
    assert tree["relu"].activation == "relu"
    assert tree["conv_relu"].activation == "relu"
    assert tree["conv"].activation == "linear"
    assert tree["logits"].activation == "linear"
    assert tree["softmax"].activation == "softmax"


def test_nested_layers_are_children_with_paths():
    model = nested_model()
    tree = LayerTree(model)
    base = tree["base"]
    assert base.type == "Functional"
    assert base.params == model.get_layer("base").count_params()
    assert not base.has_kernel
    child_paths = [child.path for child in base.children]
    assert child_paths[1:] == ["base/base_conv1", "base/base_conv2"]
    assert child_paths[0].startswith("base/input_layer")
    inner = tree["base/base_conv1"]
    assert inner.layer is model.get_layer("base").get_layer("base_conv1")
    assert inner.output_shapes == [(None, 16, 16, 4)]
    assert "base/base_conv2" in tree and "base_conv2" not in tree
    walked = [node.path for node in tree.walk()]
    assert walked.index("base") < walked.index("base/base_conv1") < walked.index("gap")


@pytest.mark.parametrize("kind, expected", [
    ("sequential", "conv2"), ("residual", "conv_relu"), ("nested", "base/base_conv2"),
    ("multi-output", "conv"),
])
def test_last_spatial(kind, expected):
    assert LayerTree(BUILDERS[kind]()).last_spatial().path == expected


def test_last_spatial_is_none_without_a_spatial_layer():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    assert LayerTree(model).last_spatial() is None
    assert LayerTree(model).last_feature_map() is None


@pytest.mark.parametrize("kind, expected", [
    ("sequential", "conv2"), ("residual", "conv_relu"), ("nested", "base/base_conv2"),
    ("multi-output", "conv"),
])
def test_last_feature_map(kind, expected):
    assert LayerTree(BUILDERS[kind]()).last_feature_map().path == expected


def convolutional_head(size):
    """conv -> pool -> conv -> global pooling kept 1x1 -> the classifier as a 1x1 conv."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = keras.layers.Conv2D(3, 1, name="conv_preds")(x)
    return keras.Model(inputs, keras.layers.Reshape((3,), name="reshape")(x))


@pytest.mark.parametrize("size", [8, None])
def test_the_last_feature_map_is_larger_than_1x1_and_not_pooled(size):
    tree = LayerTree(convolutional_head(size))
    assert tree.last_spatial().path == "conv_preds"
    assert not tree["conv_preds"].has_spatial_extent and not tree["gap"].has_spatial_extent
    assert tree["pool"].has_spatial_extent and tree["pool"].is_pooling
    assert tree["conv2"].has_spatial_extent and not tree["conv2"].is_pooling
    assert tree.last_feature_map().path == "conv2"


def test_no_feature_map_when_every_spatial_layer_is_1x1():
    inputs = keras.Input((1, 1, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="conv")(inputs))
    assert LayerTree(model).last_spatial().path == "conv"
    assert LayerTree(model).last_feature_map() is None


@pytest.mark.parametrize("kind, path", [
    ("sequential", "conv1"), ("sequential", "conv2"), ("sequential", "predictions"),
    ("residual", "shortcut"), ("residual", "logits"), ("nested", "base/base_conv2"),
])
def test_kernel_and_bias_equal_get_weights(kind, path):
    tree = LayerTree(BUILDERS[kind]())
    node = tree[path]
    kernel, bias = node.layer.get_weights()
    np.testing.assert_array_equal(node.kernel(), kernel)
    np.testing.assert_array_equal(node.bias(), bias)
    assert node.filters == kernel.shape[-1]


def test_layer_without_bias():
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(2, 3, use_bias=False, name="conv")
    tree = LayerTree(keras.Model(inputs, conv(inputs)))
    assert tree["conv"].has_kernel and not tree["conv"].has_bias
    assert tree["conv"].bias() is None
    np.testing.assert_array_equal(tree["conv"].kernel(), conv.get_weights()[0])


def test_functional_model_with_keras_ops_calls():
    # keras.ops calls in a functional graph are Operations, not Layers: they are left out.
    inputs = keras.Input((8, 8, 3), name="image")
    conv = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    scaled = keras.ops.relu(conv) * 2.0
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(scaled))
    tree = LayerTree(model)
    assert [node.path for node in tree.walk()] == ["image", "conv", "gap"]
    assert tree["gap"].input_shapes == [(None, 6, 6, 2)]
    assert tree.last_spatial().path == "conv"


def test_unknown_path():
    tree = LayerTree(sequential_model())
    assert "nope" not in tree
    with pytest.raises(KeyError, match="no layer 'nope'"):
        tree["nope"]


def test_table_rows():
    model = nested_model()
    tree = LayerTree(model)
    rows = {row["path"]: row for row in tree.table()}
    assert list(rows) == [node.path for node in tree.walk()]
    assert rows["base/base_conv2"] == {
        "path": "base/base_conv2", "type": "Conv2D", "input": "(None, 16, 16, 4)",
        "output": "(None, 16, 16, 5)", "params": 3 * 3 * 4 * 5 + 5, "activation": "relu"}
    assert rows["gap"]["activation"] == ""


def test_a_built_models_tree_is_read_once():
    model = sequential_model()
    assert LayerTree.of(model) is LayerTree.of(model)
    assert [n.path for n in LayerTree.of(model).walk()] == [n.path for n in LayerTree(model).walk()]


def test_an_unbuilt_models_tree_is_read_again_once_it_is_built():
    model = keras.Sequential([keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(3, name="dense")])
    assert LayerTree.of(model)["dense"].params == 0
    model.build((None, 8, 8, 1))
    assert LayerTree.of(model)["dense"].params == 36 * 2 * 3 + 3
    assert LayerTree.of(model) is LayerTree.of(model)
