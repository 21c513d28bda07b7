"""The Dial-App plugin against a stand-in of Dial's plugin interface (tests/hosts/fake_dial)."""

import importlib
import pickle
import sys
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
import dial_visualization.hosts.dial as dial_host
from builders import random_pixels, sequential_model
from dial_visualization.core.notebook import notebook_cells
from dial_visualization.qt.widget import ConvVisualizationWidget

FAKE_DIAL = Path(__file__).resolve().parent / "fake_dial"


def forget_dial():
    for name in [m for m in sys.modules if m == "dial_core" or m.startswith("dial_core.")]:
        del sys.modules[name]


@pytest.fixture
def dial(monkeypatch):
    """A fresh ``dial_core`` (empty registries) with the plugin loaded."""
    forget_dial()
    monkeypatch.syspath_prepend(str(FAKE_DIAL))
    import dial_core.node_editor
    import dial_core.notebook

    dv.load_plugin()
    yield dial_core
    dv.unload_plugin()
    forget_dial()


@pytest.fixture
def make_node(dial, qtbot):
    """Nodes made as Dial makes them: from the registered factory."""

    def make():
        node = dial.node_editor.NodeRegistrySingleton().get_node(dial_host.NODE_NAME)
        node.inner_widget.show_dialogs = False
        qtbot.addWidget(node.inner_widget)
        return node

    return make


@pytest.fixture
def files(tmp_path):
    model_path = tmp_path / "model.keras"
    sequential_model().save(model_path)
    image_path = tmp_path / "image.png"
    Image.fromarray(random_pixels()).save(image_path)
    labels_path = tmp_path / "labels.txt"
    labels_path.write_text("circle\nsquare\ntriangle\ncross\n")
    return model_path, image_path, labels_path


def source_node(dial, name, port_type, value):
    """A node with one output port generating ``value`` (as a Dial model loader would)."""
    node = dial.node_editor.Node(f"{name} source")
    node.add_output_port(name, port_type=port_type)
    node.outputs[name].set_generator_function(lambda: value)
    return node


def run_and_wait(qtbot, widget, method, target, params):
    with qtbot.waitSignal(widget.result_added, timeout=60000) as signal:
        widget.run_algorithm(method, target, params)
    return signal.args[0]


def test_nothing_from_dial_is_imported_until_the_plugin_is_loaded(monkeypatch):
    forget_dial()
    monkeypatch.syspath_prepend(str(FAKE_DIAL))
    importlib.reload(dial_host)
    assert not [m for m in sys.modules if m.startswith(("dial_core", "dial_gui"))]

    dv.load_plugin()
    from dial_core.node_editor import NodeRegistrySingleton

    assert dial_host.NODE_NAME == "Visualization/Convolutional Visualization"
    assert dial_host.NODE_NAME in NodeRegistrySingleton().nodes
    dv.unload_plugin()
    assert dial_host.NODE_NAME not in NodeRegistrySingleton().nodes
    forget_dial()


def test_registered_factory_makes_the_node_with_the_widget_and_typed_ports(dial, make_node):
    node = make_node()

    assert isinstance(node, dial.node_editor.Node)
    assert node.title == "Convolutional Visualization"
    assert isinstance(node.inner_widget, ConvVisualizationWidget)
    assert list(node.inputs) == ["Model", "Custom Preprocessor"]
    assert node.inputs["Model"].port_type is keras.Model
    assert node.inputs["Custom Preprocessor"].port_type is Callable
    assert node.outputs == {}
    assert make_node().inner_widget is not node.inner_widget


def test_model_connected_to_the_port_reaches_the_widget_and_runs(dial, make_node, qtbot):
    node = make_node()
    model = sequential_model()
    pixels = random_pixels()
    node.inner_widget.set_image(pixels)

    with qtbot.waitSignal(node.inner_widget.model_changed) as changed:
        source_node(dial, "Model", keras.Model, model).outputs["Model"].connect_to(
            node.inputs["Model"])

    assert changed.args == [model] and node.inner_widget.model is model
    result = run_and_wait(qtbot, node.inner_widget, "predictions", dv.Target("prediction"), {})
    expected = model(node.inner_widget.image.batch()).numpy()[0]
    np.testing.assert_allclose(result.data, expected, rtol=1e-5)


def test_custom_preprocessor_port_sets_the_widget_preprocessing(dial, make_node):
    node = make_node()
    pixels = random_pixels()
    node.inner_widget.set_model(sequential_model())
    node.inner_widget.set_image(pixels)

    def halve(x):
        return x / 2

    source_node(dial, "Preprocessor", Callable, halve).outputs["Preprocessor"].connect_to(
        node.inputs["Custom Preprocessor"])

    assert node.inner_widget.image.preprocessing == "halve"
    np.testing.assert_allclose(node.inner_widget.image.array, pixels / 2)


def test_pickled_node_restores_its_canvas_and_its_ports(dial, make_node, files, qtbot):
    model_path, image_path, labels_path = files
    node = make_node()
    widget = node.inner_widget
    widget.load_model_file(model_path)
    widget.set_image(str(image_path))
    widget.set_labels(dv.load_labels(labels_path), source=str(labels_path))
    first = run_and_wait(qtbot, widget, "predictions", dv.Target("prediction"), {"top_k": 2})
    second = run_and_wait(qtbot, widget, "saliency", dv.Target("output", "conv2", 1), {})

    restored = pickle.loads(pickle.dumps(node))
    restored.inner_widget.show_dialogs = False
    qtbot.addWidget(restored.inner_widget)
    assert restored.inner_widget.wait_until_idle(60)

    assert type(restored) is type(node) and restored.inner_widget is not widget
    assert restored.inner_widget.session() == widget.session()
    assert len(widget.session().runs) == 2
    for before, after in zip([first, second], restored.inner_widget.results()):
        np.testing.assert_allclose(after.data, before.data, rtol=1e-5)
    other_model = sequential_model(seed=5)
    restored.inputs["Model"].process_input(other_model)
    assert restored.inner_widget.model is other_model and widget.model is not other_model


def test_notebook_cells_are_the_canvas_as_code(dial, make_node, files, qtbot):
    model_path, image_path, _ = files
    node = make_node()
    node.inner_widget.load_model_file(model_path)
    node.inner_widget.set_image(str(image_path))
    run_and_wait(qtbot, node.inner_widget, "saliency", dv.Target("prediction", None, 2), {})

    transformer = dial.notebook.NodeCellsRegistrySingleton().create_transformer_from(node)
    cells = transformer.cells()

    expected = notebook_cells(node.inner_widget.session())
    assert cells[0].cell_type == "markdown" and "Convolutional Visualization" in cells[0].source
    assert [(c.cell_type, c.source) for c in cells[1:]] == expected
    assert f"dv.load_model({str(model_path)!r})" in cells[2].source
    assert "'saliency'" in cells[3].source and "target=2" in cells[3].source


def test_a_model_from_the_port_exports_an_explanation_instead_of_code(dial, make_node):
    node = make_node()
    source_node(dial, "Model", keras.Model, sequential_model()).outputs["Model"].connect_to(
        node.inputs["Model"])

    transformer = dial.notebook.NodeCellsRegistrySingleton().create_transformer_from(node)
    body = transformer.cells()[1:]

    assert [c.cell_type for c in body] == ["markdown"]
    assert "not loaded from a file" in body[0].source


def test_unloading_removes_the_node_and_its_transformer(dial):
    node_class = dial_host._plugin_classes()[0]
    dv.unload_plugin()
    assert dial_host.NODE_NAME not in dial.node_editor.NodeRegistrySingleton().nodes
    assert node_class not in dial.notebook.NodeCellsRegistrySingleton().transformers
    dv.load_plugin()
