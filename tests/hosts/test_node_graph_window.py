"""The NodeGraphQt host's window: the Preprocessor shows the preset the widget detected for
a new model, each log line is written once, and Ctrl+Q (or the graph menu's Quit) closes
the window."""

import re

import keras
import pytest
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
