"""The .ui file, the layer table and layer tree models, the delegate and the drag data."""

import time
import xml.etree.ElementTree as ElementTree

import keras
import pytest
from builders import nested_model, random_pixels, residual_model
from qtpy import PYSIDE2, QtCore, QtWidgets

from dial_visualization.core.context import Target
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.registry import HandlerConfiguration, NodeType
from dial_visualization.core.result import Result
from dial_visualization.qt import canvas, layer_tree_view, params_form
from dial_visualization.qt.layer_models import (
    FETCH_CHUNK, LayerTableModel, LayerTreeModel, nodes_from_mime)
from dial_visualization.qt.widget import UI_FILE

CUSTOM_CLASSES = {"CanvasWidget": canvas.CanvasWidget, "LayerTreeView": layer_tree_view.LayerTreeView,
                  "ParamsForm": params_form.ParamsForm}


def has_flag(flags, flag) -> bool:
    """Whether ``flag`` is set in ``flags`` (PySide2 5.13 cannot ``&`` its enums)."""
    return bool(int(flags) & int(flag)) if PYSIDE2 else bool(flags & flag)


def children(model, parent):
    return [model.index(row, 0, parent) for row in range(model.rowCount(parent))]


def labels_of(model, parent=QtCore.QModelIndex()):
    return [model.data(index) for index in children(model, parent)]


def child_named(model, parent, text):
    return next(i for i in children(model, parent) if model.data(i).startswith(text))


def test_ui_file_is_package_data_and_every_named_widget_is_built(widget):
    assert UI_FILE.parent.name == "ui"  # ui/ of the repository (see tests/test_packaging.py)
    root = ElementTree.parse(UI_FILE).getroot()
    declared = {w.get("name"): w.get("class") for w in root.iter("widget")}
    declared.pop("ConvVisualizer")
    assert {"canvas", "layer_tree", "params_form", "layer_table", "log_view", "status_bar",
            "preprocessing_combo", "device_combo", "image_original_view",
            "image_model_view", "runs_group"} <= set(declared)
    headers = {c.findtext("class"): c.findtext("header") for c in root.iter("customwidget")}
    assert headers == {"CanvasWidget": "dial_visualization.qt.canvas",
                       "LayerTreeView": "dial_visualization.qt.layer_tree_view",
                       "ParamsForm": "dial_visualization.qt.params_form"}
    for name, class_name in declared.items():
        expected = CUSTOM_CLASSES.get(class_name) or getattr(QtWidgets, class_name)
        assert isinstance(getattr(widget, name), expected), name
    assert widget.objectName() == "ConvVisualizer"
    assert [widget.tabs.tabText(i) for i in range(widget.tabs.count())] == [
        "Summary", "Layer visualisation", "Dataset"]  # the Dataset tab is built in code
    combo = widget.preprocessing_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [
        "none", "unit", "symmetric", "caffe", "torch"]
    assert [combo.itemText(i) for i in range(combo.count()) if i != combo.currentIndex()] == [
        "none", "symmetric", "caffe", "torch"]
    assert combo.currentText() == "unit (default: no model)"  # the preset and its reason


def test_layer_table_lists_every_layer_with_shapes_params_and_activation(qtmodeltester):
    model = nested_model()
    table = LayerTableModel(LayerTree(model))
    qtmodeltester.check(table)
    rows = {table.data(table.index(r, 1)): [table.data(table.index(r, c)) for c in range(7)]
            for r in range(table.rowCount())}
    assert list(rows) == [n.path for n in LayerTree(model).walk()]
    conv = rows["base/base_conv1"]
    assert conv[2:] == ["Conv2D", "(None, 16, 16, 3)", "(None, 16, 16, 4)", "112", "relu"]
    assert rows["predictions"][5] == f"{5 * 3 + 3:,}"
    assert [table.headerData(c, QtCore.Qt.Orientation.Horizontal) for c in range(7)] == [
        "#", "Name", "Type", "Input shape", "Output shape", "Params", "Activation"]


def test_tree_has_prediction_kernel_output_nodes_and_nested_layers(qtmodeltester):
    tree = LayerTreeModel(LayerTree(nested_model()), class_count=3)
    qtmodeltester.check(tree)
    root = QtCore.QModelIndex()
    assert labels_of(tree, root) == ["Prediction (3 classes)", "base (Functional)",
                                     "gap (GlobalAveragePooling2D)", "predictions (Dense)"]
    base = child_named(tree, root, "base")
    assert labels_of(tree, base) == ["Output (5 channels)", "base_conv1 (Conv2D)",
                                     "base_conv2 (Conv2D)"]
    conv = child_named(tree, base, "base_conv2")
    assert labels_of(tree, conv) == ["Kernel (5 filters)", "Output (5 channels)"]
    assert labels_of(tree, child_named(tree, root, "gap")) == ["Output (5 channels)"]
    kernel, output = children(tree, conv)
    assert tree.target(conv) is None
    assert tree.target(kernel) == Target(NodeType.KERNEL, "base/base_conv2", None)
    tree.fetchMore(kernel)
    assert labels_of(tree, kernel) == [f"filter {i}" for i in range(5)]
    assert tree.target(tree.index(3, 0, kernel)) == Target(NodeType.KERNEL, "base/base_conv2", 3)
    qtmodeltester.check(tree)  # again, with fetched children


def test_lazy_children_appear_on_expansion_so_big_models_open_at_once(qtbot, qtmodeltester):
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(512, 1, name="wide")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    big = keras.Model(inputs, keras.layers.Dense(1000, name="classes")(pooled))
    started = time.perf_counter()
    tree = LayerTreeModel(LayerTree(big), class_count=1000)
    view = layer_tree_view.LayerTreeView()
    qtbot.addWidget(view)
    view.setModel(tree)
    view.show()
    assert time.perf_counter() - started < 2.0
    prediction = tree.index(0, 0)
    wide_kernel = child_named(tree, child_named(tree, QtCore.QModelIndex(), "wide"), "Kernel")
    for group, total in ((prediction, 1000), (wide_kernel, 512)):
        assert tree.rowCount(group) == 0 and tree.hasChildren(group)
        assert tree.canFetchMore(group)
        view.collapseAll()
        view.expand(group.parent())
        view.expand(group)  # the view asks for the first chunk
        view.scrollTo(group)
        qtbot.waitUntil(lambda g=group: tree.rowCount(g) > 0)
        fetched = tree.rowCount(group)
        assert fetched % FETCH_CHUNK == 0 or fetched == total
        while tree.canFetchMore(group):
            tree.fetchMore(group)
        assert tree.rowCount(group) == total
    assert tree.data(tree.index(999, 0, prediction)) == "class 999"
    qtmodeltester.check(tree)


def test_classes_sorted_by_score_with_names_once_an_image_is_loaded(demo_widget, demo):
    import dial_visualization as dv

    tree = demo_widget.layer_tree.model()
    prediction = tree.index(0, 0)
    tree.fetchMore(prediction)
    expected = dv.explain(demo["model"], demo_widget.image, "predictions")
    order = list(expected.info["ranking"])
    shown = [tree.target(i).index for i in children(tree, prediction)]
    assert shown == order
    best = order[0]
    assert tree.data(tree.index(0, 0, prediction)) == (
        f"{best}: {demo['labels'][best]}  ({expected.data[best]:.3f})")


def test_model_with_image_scores_passes_modeltester(widget, qtmodeltester):
    model = residual_model()
    widget.set_labels(["a", "b", "c"])
    widget.set_model(model)
    widget.set_image(random_pixels())
    assert widget.wait_until_idle(60)
    tree = widget.layer_tree.model()
    tree.fetchMore(tree.index(0, 0))
    assert "(" in tree.data(tree.index(0, 0, tree.index(0, 0)))  # a score is shown
    qtmodeltester.check(tree)
    qtmodeltester.check(widget.layer_table.model())


def test_delegate_offers_the_registered_methods_live_and_children_inherit(qtbot):
    tree = LayerTreeModel(LayerTree(residual_model()), class_count=3)
    view = layer_tree_view.LayerTreeView()
    qtbot.addWidget(view)
    view.setModel(tree)
    branch = child_named(tree, QtCore.QModelIndex(), "branch")
    kernel = child_named(tree, branch, "Kernel")
    cell = kernel.siblingAtColumn(1)

    def offered():
        editor = view.delegate.createEditor(view.viewport(), QtWidgets.QStyleOptionViewItem(),
                                            cell)
        return editor, [editor.itemData(i) for i in range(editor.count())]

    registry_ids = [a.id for a in HandlerConfiguration.default().for_node_type(NodeType.KERNEL)]
    assert offered()[1] == registry_ids
    unregister = HandlerConfiguration.default().register(
        id="test-kernel-norms", name="Kernel norms (test)", node_types={NodeType.KERNEL},
        run=lambda c, t, p, progress, stop: Result("test-kernel-norms", "norms", "scores", [1.0]))
    try:
        editor, ids = offered()
        assert ids == registry_ids + ["test-kernel-norms"]
        view.delegate.setEditorData(editor, cell)
        assert editor.currentData() == registry_ids[0]
        editor.setCurrentIndex(ids.index("test-kernel-norms"))
        view.delegate.setModelData(editor, tree, cell)
        assert tree.method_id(kernel) == "test-kernel-norms"
        assert tree.data(cell) == "Kernel norms (test)"
        tree.fetchMore(kernel)
        assert tree.method_id(tree.index(2, 0, kernel)) == "test-kernel-norms"
        assert not tree.setData(cell, "saliency")  # not offered for kernels: refused
    finally:
        unregister()
    assert tree.method_id(kernel) == registry_ids[0]  # gone from the registry: default


def test_mime_data_of_selected_nodes_round_trips(qtbot):
    tree = LayerTreeModel(LayerTree(residual_model()), class_count=3)
    root = QtCore.QModelIndex()
    conv = child_named(tree, root, "conv (Conv2D)")
    output = child_named(tree, conv, "Output")
    tree.fetchMore(output)
    prediction = tree.index(0, 0)
    tree.fetchMore(prediction)
    picked = [output, tree.index(2, 0, output), tree.index(2, 1, output), prediction,
              tree.index(1, 0, prediction), conv]
    mime = tree.mimeData(picked)
    assert mime.formats() == tree.mimeTypes()
    assert nodes_from_mime(mime) == [
        (Target(NodeType.OUTPUT, "conv", None), tree.method_id(output)),
        (Target(NodeType.OUTPUT, "conv", 2), tree.method_id(output)),
        (Target(NodeType.PREDICTION, None, None), tree.method_id(prediction)),
        (Target(NodeType.PREDICTION, None, 1), tree.method_id(prediction)),
    ]
    drag = QtCore.Qt.ItemFlag.ItemIsDragEnabled
    assert has_flag(tree.flags(output), drag) and not has_flag(tree.flags(conv), drag)
    assert nodes_from_mime(QtCore.QMimeData()) == []


def test_index_for_finds_lazy_nodes():
    tree = LayerTreeModel(LayerTree(nested_model()), class_count=3)
    index = tree.index_for(Target(NodeType.OUTPUT, "base/base_conv1", 3))
    assert tree.target(index) == Target(NodeType.OUTPUT, "base/base_conv1", 3)
    assert not tree.index_for(Target(NodeType.KERNEL, "gap", 0)).isValid()


@pytest.mark.parametrize("channels", [1, 3])
def test_summary_shows_the_image_as_loaded_and_as_the_model_sees_it(widget, channels):
    from builders import sequential_model

    widget.set_model(sequential_model(channels=channels, size=16))
    assert widget.set_image(random_pixels(size=40, channels=3))
    assert widget.image.resized.shape == (16, 16, channels)
    assert not widget.image_original_view.pixmap().isNull()
    assert not widget.image_model_view.pixmap().isNull()
    assert "40×40" in widget.image_info_label.text()
    assert "preprocessing unit (default: no preprocessing found in the model)" in \
        widget.image_info_label.text()
    assert widget.preprocessing_combo.currentText() == \
        "unit (default: no preprocessing found in the model)"
    assert widget.set_preprocessing("symmetric")
    assert widget.image.preprocessing == "symmetric" and widget.image.array.min() < 0
    assert widget.preprocessing_combo.currentText() == "symmetric (chosen)"
    widget.wait_until_idle(60)


def test_detected_preprocessing_is_preselected(widget):
    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled), name="vgg_like")
    widget.set_model(model)
    assert widget.preprocessing_combo.currentText() == "caffe (detected VGG)"
    widget.set_image(random_pixels())
    assert widget.image.preprocessing == "caffe"
    assert widget.session().preprocessing == "caffe"
    widget.wait_until_idle(60)


def test_custom_preprocessing_function_is_shown_and_recorded(widget):
    from builders import sequential_model

    def halve(pixels):
        return pixels / 510.0

    widget.set_model(sequential_model())
    assert widget.set_preprocessing(halve)
    widget.set_image(random_pixels())
    assert widget.image.preprocessing == "halve" and 0 < widget.image.array.max() <= 0.5
    assert widget.preprocessing_combo.currentText() == "custom: halve (custom function)"
    assert widget.session().preprocessing == "halve"
    assert widget.set_preprocessing("unit")
    assert widget.preprocessing_combo.findData("custom") == -1
    assert widget.preprocessing_combo.currentText() == "unit (chosen)"
    assert widget.image.array.max() > 0.5
    widget.wait_until_idle(60)


def test_separable_and_depthwise_layers_have_a_kernel_node_with_one_child_per_filter():
    inputs = keras.Input((16, 16, 3))
    separable = keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, name="separable")(inputs)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(separable)
    tree = LayerTreeModel(LayerTree(keras.Model(inputs, depthwise)))
    layers = children(tree, QtCore.QModelIndex())
    kernel_groups = {tree.data(layer): tree.data(child_named(tree, layer, "Kernel"))
                     for layer in layers}
    assert kernel_groups == {"separable (SeparableConv2D)": "Kernel (5 filters)",
                             "depthwise (DepthwiseConv2D)": "Kernel (10 filters)"}
