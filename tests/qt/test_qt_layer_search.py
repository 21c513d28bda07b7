"""Layer search: the filter boxes over the layer tree and the layer table, on a model with
many layers (MobileNetV2, 156) and on a nested one (ancestors of a match stay visible)."""

import keras
import pytest
from builders import nested_model
from qtpy import QtCore

from dial_visualization.core.context import NodeType, Target


@pytest.fixture(scope="module")
def mobilenet():
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))


def visible_rows(view, parent=QtCore.QModelIndex()):
    """(label, index) of every row shown under ``parent``, depth first (expanded or not)."""
    model, rows = view.model(), []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        if view.isRowHidden(row, parent):
            continue
        rows.append((model.data(index), index))
        if model.item(index).kind == "layer":
            rows.extend(visible_rows(view, index))
    return rows


def layer_rows(view, parent=QtCore.QModelIndex()):
    return [(label, index) for label, index in visible_rows(view, parent)
            if view.model().item(index).kind == "layer"]


def test_the_tree_filter_keeps_matching_layers_and_the_prediction_node(widget, mobilenet):
    assert widget.set_model(mobilenet)
    view, box = widget.layer_tree, widget.layer_filters.tree_filter
    everything = layer_rows(view)
    assert len(everything) >= 150
    box.setText("expand_relu")
    shown = layer_rows(view)
    assert 10 <= len(shown) < 20
    assert all("expand_relu" in label for label, _ in shown)
    top = [view.model().data(view.model().index(r, 0)) for r in range(view.model().rowCount())
           if not view.isRowHidden(r, QtCore.QModelIndex())]
    assert top[0].startswith("Prediction (1000 classes)")
    # a matching layer keeps its own nodes: its output still runs from the tree
    label, index = shown[0]
    output = view.model().node_children(index)
    assert output and not view.isRowHidden(output[-1].row(), index)
    box.setText("depthwiseconv2d")  # by type, case ignored
    assert len(layer_rows(view)) == 17
    box.setText("block_16 project")  # every word must match
    assert [label for label, _ in layer_rows(view)] == [
        "block_16_project (Conv2D)", "block_16_project_BN (BatchNormalization)"]
    box.clear()
    assert len(layer_rows(view)) == len(everything)


def test_the_tree_keeps_the_ancestors_of_a_nested_match(widget):
    assert widget.set_model(nested_model())
    view, box = widget.layer_tree, widget.layer_filters.tree_filter
    box.setText("base_conv2")
    shown = [label for label, _ in layer_rows(view)]
    assert shown == ["base (Functional)", "base_conv2 (Conv2D)"]
    base = next(index for label, index in layer_rows(view) if label.startswith("base ("))
    assert view.isExpanded(base)
    # the filter holds for the next model, and the model's own lookups still work
    assert widget.set_model(nested_model(seed=1))
    assert [label for label, _ in layer_rows(view)] == shown
    node = view.model().index_for(Target(NodeType.OUTPUT, "base/base_conv2"))
    assert node.isValid() and view.model().target(node).layer == "base/base_conv2"


def test_the_table_filter_hides_rows_by_name_and_type(widget, mobilenet, qtbot):
    assert widget.set_model(mobilenet)
    table, box = widget.layer_table, widget.layer_filters.table_filter
    rows = table.model().rowCount()

    def shown():
        return [table.model().index(r, 1).data() for r in range(rows)
                if not table.isRowHidden(r)]

    assert len(shown()) == rows
    qtbot.keyClicks(box, "Conv2D")
    assert shown() and all(
        "conv2d" in (name + table.model().index(r, 2).data()).lower()
        for r, name in enumerate(table.model().index(r, 1).data() for r in range(rows))
        if not table.isRowHidden(r))
    box.setText("block_3_expand")
    assert shown() == ["block_3_expand", "block_3_expand_BN", "block_3_expand_relu"]
    box.clear()
    assert len(shown()) == rows


def test_ctrl_f_goes_to_the_filter_of_the_tab_shown(widget, qtbot):
    widget.show()
    qtbot.waitExposed(widget)
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    widget.layer_filters.shortcut.activated.emit()
    assert widget.focusWidget() is widget.layer_filters.tree_filter
    widget.tabs.setCurrentWidget(widget.summary_tab)
    widget.layer_filters.shortcut.activated.emit()
    assert widget.focusWidget() is widget.layer_filters.table_filter
