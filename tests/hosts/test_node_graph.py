"""The NodeGraphQt host: nodes hand the model and preprocessing to the widget over wires;
a saved graph keeps the model file, the preset and the fit."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels, sequential_model
from dial_visualization.hosts.node_graph import (ConvVisualizationNode, ModelLoaderNode,
                                                 PreprocessorNode, VisualizationGraph,
                                                 build_demo_graph, main)


@pytest.fixture
def graph(qtbot):
    graph = VisualizationGraph()
    qtbot.addWidget(graph.widget)
    yield graph
    for node in graph.visualization_nodes():
        node.visualization_widget.shutdown()


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    sequential_model().save(path)
    return path


def visualization_node(graph):
    node = graph.create_node(ConvVisualizationNode.type_)
    node.visualization_widget.show_dialogs = False
    return node


def loader_of(graph, path):
    loader = graph.create_node(ModelLoaderNode.type_)
    loader.set_property("path", str(path))
    return loader


def test_connecting_the_loader_hands_its_model_to_the_widget_and_a_run_fills_the_preview(
        graph, model_file, qtbot):
    loader = loader_of(graph, model_file)
    node = visualization_node(graph)
    widget = node.visualization_widget
    widget.set_image(random_pixels())
    assert loader.keras_model is not None and widget.model is None
    assert node.preview.picture.pixmap().isNull()

    loader.set_output(0, node.input(0))

    assert widget.model is loader.keras_model
    with qtbot.waitSignal(widget.result_added, timeout=60000) as added:
        widget.run_method("predictions", dv.Target("prediction"), {})
    expected = loader.keras_model(widget.image.batch()).numpy()[0]
    np.testing.assert_allclose(added.args[0].data, expected, rtol=1e-5)
    assert not node.preview.picture.pixmap().isNull()


def test_disconnecting_clears_the_model_and_undo_hands_it_back(graph, model_file):
    loader = loader_of(graph, model_file)
    node = visualization_node(graph)
    loader.set_output(0, node.input(0))

    node.input(0).disconnect_from(loader.output(0))
    assert node.visualization_widget.model is None

    graph.undo_stack().undo()
    assert node.visualization_widget.model is loader.keras_model


def test_a_new_path_sends_the_new_model_and_a_bad_one_clears_it(graph, model_file, tmp_path):
    loader = loader_of(graph, model_file)
    node = visualization_node(graph)
    loader.set_output(0, node.input(0))
    first = loader.keras_model
    other_file = tmp_path / "other.keras"
    sequential_model(seed=4).save(other_file)

    loader.set_property("path", str(other_file))
    assert node.visualization_widget.model is loader.keras_model is not first

    loader.set_property("path", str(tmp_path / "missing.keras"))
    assert loader.error.startswith("no such model file")
    assert node.visualization_widget.model is None


def test_the_loader_reads_its_file_while_the_graph_keeps_answering(graph, model_file):
    from qtpy import QtCore

    ticks = []
    timer = QtCore.QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    loader = loader_of(graph, model_file)  # the model is read on a thread meanwhile
    timer.stop()
    assert loader.keras_model is not None and loader.error == ""
    assert ticks  # a read on the GUI thread would let no timer fire before it ends


def test_preprocessor_preset_reaches_the_image_and_unplugging_restores_unit(graph, model_file):
    loader = loader_of(graph, model_file)
    preprocessor = graph.create_node(PreprocessorNode.type_)
    node = visualization_node(graph)
    pixels = random_pixels()
    node.visualization_widget.set_image(pixels)
    loader.set_output(0, node.input(0))
    preprocessor.set_output(0, node.input(1))
    image = lambda: node.visualization_widget.image  # noqa: E731

    assert image().preprocessing == "unit"
    preprocessor.set_property("preset", "symmetric")
    np.testing.assert_allclose(image().array, pixels / 127.5 - 1.0, atol=1e-6)

    def halve(x):
        return x / 2

    preprocessor.set_function(halve)
    np.testing.assert_allclose(image().array, pixels / 2, atol=1e-6)

    node.input(1).disconnect_from(preprocessor.output(0))
    assert image().preprocessing == "unit"


def test_the_fit_follows_the_widget_and_a_saved_graph_restores_it(graph, model_file, qtbot):
    loader = loader_of(graph, model_file)
    preprocessor = graph.create_node(PreprocessorNode.type_)
    node = visualization_node(graph)
    loader.set_output(0, node.input(0))
    preprocessor.set_output(0, node.input(1))
    widget = node.visualization_widget
    assert node.get_property("fit") == widget.workspace.fit == "stretch"
    node.set_property("fit", "crop")  # on the node's face
    assert widget.workspace.fit == "crop" and widget.fit_combo.currentData() == "crop"
    widget.set_fit("pad")  # in the widget
    assert node.get_property("fit") == "pad"
    preprocessor.set_property("preset", "symmetric")
    saved = json.loads(json.dumps(graph.serialize_session()))  # as save_session writes it
    assert saved["nodes"][node.id]["custom"]["fit"] == "pad"

    older = json.loads(json.dumps(saved))  # a graph saved before the fit was a property
    del older["nodes"][node.id]["custom"]["fit"]
    for data, fit in ((saved, "pad"), (older, "stretch")):
        opened = VisualizationGraph()
        qtbot.addWidget(opened.widget)
        try:
            opened.deserialize_session(data)
            (restored,) = opened.visualization_nodes()
            restored_widget = restored.visualization_widget
            assert restored.get_property("fit") == restored_widget.workspace.fit == fit
            assert restored_widget.fit_combo.currentData() == fit
            assert restored_widget.model is not None  # the loader's file, loaded again
            assert restored_widget.preprocessing.name == "symmetric"  # the preset saved
        finally:
            opened.shutdown()


def test_double_click_opens_the_full_widget_in_one_window(graph, qtbot):
    from qtpy import QtWidgets

    node = visualization_node(graph)

    graph.node_double_clicked.emit(node)

    window = node.visualization_widget.window()
    assert isinstance(window, QtWidgets.QDialog) and window.isVisible()
    window.close()
    assert node.open_widget() is window and window.isVisible()
    window.close()


def test_demo_graph_is_wired_on_the_demo_model(qtbot):
    graph = build_demo_graph()
    qtbot.addWidget(graph.widget)
    try:
        (node,) = graph.visualization_nodes()
        widget = node.visualization_widget
        demo = dv.demo_paths()
        assert widget.model is not None
        assert [layer.name for layer in widget.model.layers][-1] == "predictions"
        assert widget.image is not None and widget.image.source == str(demo["images"][0])
        assert widget.labels == dv.load_labels(demo["labels"])
        assert node.input(0).connected_ports()[0].node().NODE_NAME == "Model loader"
        assert node.input(1).connected_ports()[0].node().NODE_NAME == "Preprocessor"
    finally:
        graph.shutdown()


def test_main_opens_the_graph_window_and_returns_the_exit_code():
    """In a process of its own: once an application's event loop has ended, Qt ends every
    later nested event loop at once, which would break the other tests of this process."""
    code = textwrap.dedent("""
        import sys
        from qtpy import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        from dial_visualization.hosts.node_graph import main

        def quit_once_shown():  # main reads the demo's files first, processing events
            if any(w.isVisible() and w.windowTitle().startswith("dial-visualization: node")
                   for w in QtWidgets.QApplication.topLevelWidgets()):
                watching.stop()
                app.exit(7)

        watching = QtCore.QTimer()
        watching.timeout.connect(quit_once_shown)
        watching.start(50)
        sys.exit(main([]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 7, done.stderr[-2000:]  # the application's exit code
