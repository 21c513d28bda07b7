"""The NodeGraphQt host's window: the Preprocessor shows the preset the widget detected for
a new model, each log line is written once, Ctrl+Q (or the graph menu's Quit) closes the
window, and the widget opened from a node is readable over the graph's dark style."""

import re

import keras
import numpy as np
import pytest
from qtpy import QtGui
from builders import random_pixels, sequential_model

from dial_visualization.hosts.node_graph import (ConvVisualizationNode, ModelLoaderNode,
                                                 PreprocessorNode, VisualizationGraph,
                                                 build_demo_graph)


@pytest.fixture
def graph(qtbot):
    graph = VisualizationGraph()
    qtbot.addWidget(graph.widget)
    yield graph
    graph.shutdown()


def rescaled_model(path):
    """A model that scales [0, 255] itself (Rescaling(1/255)): its preset is "none"."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(path)
    return path


def test_the_preprocessor_shows_the_preset_detected_for_a_new_model(graph, tmp_path):
    plain = tmp_path / "plain.keras"
    sequential_model().save(plain)
    rescaled = rescaled_model(tmp_path / "rescaled.keras")
    loader = graph.create_node(ModelLoaderNode.type_)
    preprocessor = graph.create_node(PreprocessorNode.type_)
    node = graph.create_node(ConvVisualizationNode.type_)
    widget = node.visualization_widget
    widget.show_dialogs = False
    widget.set_image(random_pixels())
    loader.set_property("path", str(plain))
    loader.set_output(0, node.input(0))
    preprocessor.set_output(0, node.input(1))
    assert preprocessor.get_property("preset") == widget.preprocessing.name == "unit"
    loader.set_property("path", str(rescaled))  # the loader's path edited
    assert widget.preprocessing.name == "none"
    assert preprocessor.get_property("preset") == "none"  # the node says what is used
    assert widget.image.preprocessing == "none"
    preprocessor.set_property("preset", "symmetric")  # and a choice there still reaches it
    assert widget.preprocessing.name == "symmetric" == widget.image.preprocessing
    widget.set_preprocessing("caffe")  # as the widget's own combo does
    assert preprocessor.get_property("preset") == "caffe"
    assert widget.wait_until_idle(60)


def test_each_log_line_is_written_once(qtbot):
    graph = build_demo_graph()
    qtbot.addWidget(graph.widget)
    widget = graph.visualization_nodes()[0].visualization_widget
    try:
        assert widget.wait_until_idle(60)
        lines = [re.sub(r"^\S+\s+", "", line)
                 for line in widget.log_view.toPlainText().splitlines()]
        assert len([line for line in lines if line.startswith("image circle")]) == 1
        assert len(lines) == len(set(lines)), lines
    finally:
        graph.shutdown()


def test_ctrl_q_and_the_menu_quit(graph, qtbot):
    window = graph.widget
    window.show()
    qtbot.waitExposed(window)
    assert graph.quit_shortcut.key().toString() == "Ctrl+Q"
    graph.quit_shortcut.activated.emit()
    assert not window.isVisible()
    window.show()
    node = graph.create_node(ConvVisualizationNode.type_)
    dialog = node.open_widget()
    menu = graph.get_context_menu("graph").qmenu
    quit_action = next(a for a in menu.actions() if a.text() == "Quit")
    assert quit_action.shortcut().toString() == "Ctrl+Q"
    quit_action.trigger()
    assert not window.isVisible() and not dialog.isVisible()


def contrast(first: QtGui.QColor, second: QtGui.QColor) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 to 21 (4.5 is its AA level for text)."""

    def luminance(colour):
        channels = np.array([colour.redF(), colour.greenF(), colour.blueF()])
        linear = np.where(channels <= 0.04045, channels / 12.92,
                          ((channels + 0.055) / 1.055) ** 2.4)
        return float(linear @ [0.2126, 0.7152, 0.0722])

    light, dark = sorted([luminance(first), luminance(second)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_has_the_wcag_values():
    black, white = QtGui.QColor("black"), QtGui.QColor("white")
    assert contrast(black, white) == pytest.approx(21) and contrast(white, white) == 1
    assert contrast(QtGui.QColor("#767676"), white) == pytest.approx(4.54, abs=0.01)


def drawn_contrast(image: QtGui.QImage, rect) -> float:
    """The contrast of the colour farthest from the background (the most frequent colour)
    in ``rect`` of ``image``: the text's, where text is drawn on a plain background."""
    colours = [image.pixelColor(x, y).rgb() for x in range(rect.left(), rect.right())
               for y in range(rect.top(), rect.bottom())]
    values, counts = np.unique(colours, return_counts=True)
    background = QtGui.QColor.fromRgb(int(values[counts.argmax()]))
    return max(contrast(QtGui.QColor.fromRgb(int(value)), background) for value in values)


def test_the_widget_opened_from_a_node_is_readable_over_the_graphs_dark_style(graph, qtbot):
    graph.widget.show()
    qtbot.waitExposed(graph.widget)
    node = graph.create_node(ConvVisualizationNode.type_)
    widget = node.visualization_widget
    widget.show_dialogs = False
    dialog = node.open_widget()
    qtbot.waitExposed(dialog)
    roles = QtGui.QPalette.ColorRole
    pairs = [(roles.WindowText, roles.Window), (roles.Text, roles.Base),
             (roles.Text, roles.AlternateBase), (roles.ButtonText, roles.Button)]
    for shown in (widget, widget.layer_table, widget.layer_tree, widget.log_view,
                  widget.model_path_label, widget.run_button, widget.tabs.tabBar()):
        palette = shown.palette()
        for text, background in pairs:
            ratio = contrast(palette.color(text), palette.color(background))
            assert ratio >= 4.5, (shown.objectName(), text.name, background.name, ratio)
    bar = widget.tabs.tabBar()  # a tab's name as drawn (a style sheet may colour it)
    widget.tabs.setCurrentWidget(widget.summary_tab)
    qtbot.wait(50)
    other = bar.tabRect(widget.tabs.indexOf(widget.visualisation_tab))
    assert drawn_contrast(bar.grab().toImage(), other) >= 4.5
    dialog.close()
