"""The Dial-App plugin against the real Dial: dial-core 0.21a0, Dial's last release.

Everything runs through Dial's own entry points: its plugin manager (load and unload by
name, as dial-gui starts plugins from plugins.json, also for a wheel installed in Dial's
plugin folder), its node registry and factories, port connections between a plain
``dial_core`` node that outputs a model and ours, its project files (a ``.dial`` file is
the pickled project), its scene's node duplication, and its notebook generator, whose
notebook is executed.

Real or stand-in: all of ``dial_core`` is real and no stand-in is left. What is not tested
is Dial's window (dial-gui 0.11a0): its NodeEditorView fails on PySide2 5.13 with Python
3.11 (the newest PySide2 for it), so nothing here opens it, and nothing pretends to.

dial-core declares Python <= 3.8.3 and dependency-injector < 4, so it is installed apart:
``pip install --no-deps --ignore-requires-python -r .ci/dial-requirements.txt``. Without
it these tests skip, except where ``DV_REQUIRE_DIAL_CORE`` is set (CI sets it): there they
fail.
"""

import functools
import importlib.metadata
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Callable

import keras
import nbformat
import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
import dial_visualization.hosts.dial as dial_host
from builders import random_pixels, sequential_model
from wheel import build_wheel
from dial_visualization.qt.widget import ConvVisualizationWidget

INSTALL = "pip install --no-deps --ignore-requires-python -r .ci/dial-requirements.txt"
try:
    importlib.metadata.version("dial-core")
except importlib.metadata.PackageNotFoundError:
    if os.environ.get("DV_REQUIRE_DIAL_CORE"):
        raise RuntimeError(f"DV_REQUIRE_DIAL_CORE is set but dial-core is not installed: {INSTALL}")
    pytest.skip(f"dial-core is not installed ({INSTALL})", allow_module_level=True)

from dial_core.node_editor import InputPort, Node, NodeRegistrySingleton, Scene  # noqa: E402
from dial_core.notebook import (  # noqa: E402
    NodeCellsRegistrySingleton, NotebookProjectGeneratorFactory)
from dial_core.plugin import PluginManagerSingleton  # noqa: E402
from dial_core.project import ProjectManagerFactory  # noqa: E402
from tensorflow.keras.models import Model as TfKerasModel  # noqa: E402  (as Dial's nodes type it)

DIST = dial_host.DISTRIBUTION
#: An entry of Dial's plugins.json as a user writes it; Dial then reads the real version
#: and summary from the installed distribution.
PLUGINS_JSON = {DIST: {"version": "0", "summary": "typed in plugins.json", "active": True}}


def reset_dial():
    """Dial's registries and plugin manager are process-wide singletons: start afresh."""
    for singleton in (NodeRegistrySingleton, NodeCellsRegistrySingleton, PluginManagerSingleton):
        singleton.reset()


@pytest.fixture
def dial():
    """Dial as dial-gui starts it: its plugin manager made from plugins.json's content, and
    each active plugin loaded (here, this one, by name)."""
    reset_dial()
    manager = PluginManagerSingleton(json.loads(json.dumps(PLUGINS_JSON)))
    manager.load_plugin(DIST)
    yield manager
    if manager.installed_plugins[DIST].active:
        manager.unload_plugin(DIST)
    reset_dial()


@pytest.fixture
def keep(qtbot):
    """Widgets of nodes made during a test, closed after it (dialogs off)."""

    def keep(node):
        node.inner_widget.show_dialogs = False
        qtbot.addWidget(node.inner_widget)
        return node

    return keep


@pytest.fixture
def make_node(dial, keep):
    """Our node as Dial makes it: from the factory it registered under NODE_NAME."""
    return lambda: keep(NodeRegistrySingleton().get_node(dial_host.NODE_NAME))


@pytest.fixture
def files(tmp_path):
    model_path = tmp_path / "model.keras"
    sequential_model().save(model_path)
    image_path = tmp_path / "image.png"
    Image.fromarray(random_pixels()).save(image_path)
    labels_path = tmp_path / "labels.txt"
    labels_path.write_text("circle\nsquare\ntriangle\ncross\n")
    return model_path, image_path, labels_path


def model_node(model_path):
    """A plain ``dial_core`` node whose output port "Model" gives the model in
    ``model_path``, typed as Dial's own model nodes type it; its generator pickles (it is
    saved in project files)."""
    node = Node("Model Loader")
    node.add_output_port("Model", port_type=TfKerasModel)
    node.outputs["Model"].set_generator_function(
        functools.partial(keras.saving.load_model, str(model_path)))
    return node


def file_node(make_node, files):
    """Our node with a model, image and labels from files (what a saved canvas reloads)."""
    model_path, image_path, labels_path = files
    node = make_node()
    node.inner_widget.load_model_file(model_path)
    node.inner_widget.set_image(str(image_path))
    node.inner_widget.set_labels(dv.load_labels(labels_path), source=str(labels_path))
    return node


def run_and_wait(qtbot, widget, method, target, params):
    with qtbot.waitSignal(widget.result_added, timeout=60000) as signal:
        widget.run_method(method, target, params)
    return signal.args[0]


def dial_errors(caplog):
    """What Dial logged as errors, in the fixtures' setup (the plugin loaded) and since."""
    return [r.getMessage() for r in caplog.get_records("setup") + caplog.records
            if r.name.startswith("dial_core") and r.levelno >= logging.ERROR]


def python(code, cwd, env=None, timeout=300):
    """Run ``code`` in a new interpreter of this venv, in ``cwd`` (not the source tree,
    which ``-c`` would put first on sys.path); its stdout's last line, as JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_of_dial_is_imported_until_the_plugin_is_loaded(tmp_path):
    imported = python(
        "import json, sys\n"
        "import dial_visualization, dial_visualization.hosts.dial\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "                        if m.split('.')[0] in ('dial_core', 'dial_gui'))))", tmp_path)
    assert imported == []


def test_dials_plugin_manager_loads_and_unloads_the_plugin_by_name(dial, caplog):
    plugin = dial.installed_plugins[DIST]

    assert plugin.active and plugin.module is dv
    assert dial_host.NODE_NAME in NodeRegistrySingleton().nodes
    node_class = dial_host._plugin_classes()[0]
    assert issubclass(node_class, Node)
    assert node_class in NodeCellsRegistrySingleton().transformers
    # Dial read the installed distribution's metadata (not plugins.json's), and logged no
    # error (which distribution that is depends on sys.path: the next test pins it)
    assert plugin.version == importlib.metadata.version(DIST)
    assert plugin.summary == importlib.metadata.metadata(DIST)["Summary"]
    assert dial_errors(caplog) == []

    dial.unload_plugin(DIST)

    assert dial_host.NODE_NAME not in NodeRegistrySingleton().nodes
    assert node_class not in NodeCellsRegistrySingleton().transformers
    assert not plugin.active and plugin.module is None
    # what dial-gui writes back to plugins.json on exit
    assert dial.to_dict() == {DIST: {"version": plugin.version, "summary": plugin.summary,
                                     "active": False}}
    dial.load_plugin(DIST)
    assert dial_host.NODE_NAME in NodeRegistrySingleton().nodes
    assert dial_errors(caplog) == []


DIAL_GUI_STARTUP = """
import json, logging, os, sys

errors = []
class Keep(logging.Handler):
    def emit(self, record):
        errors.append(f"{record.name}: {record.getMessage()}")
logging.getLogger().addHandler(Keep(logging.ERROR))

from qtpy import QtCore, QtWidgets
app = QtWidgets.QApplication([])
config = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.ConfigLocation)
plugins_directory = os.path.join(config, "dial", "plugins")
site_packages = os.path.join(plugins_directory, "site-packages")

# dial_gui.utils.initialization.__plugins_initialization (dial-gui 0.11a0), verbatim but
# for its log lines and its try/except ModuleNotFoundError around plugin.load() (here any
# exception fails the test); dial-gui made its QApplication (with PySide2) before it:
import pkg_resources
from dial_core.plugin import PluginManagerSingleton
sys.path.append(site_packages)
pkg_resources.working_set.add_entry(site_packages)
with open(os.path.join(plugins_directory, "plugins.json")) as plugins_file:
    plugins_manager = PluginManagerSingleton(json.load(plugins_file))
for plugin in plugins_manager.installed_plugins.values():
    if plugin.active:
        plugin.load()

from dial_core.node_editor import NodeRegistrySingleton
import dial_visualization.hosts.dial as host
node = NodeRegistrySingleton().get_node(host.NODE_NAME)
loaded = {"module": plugin.module.__file__,
          "metadata": pkg_resources.require(plugin.name)[0].egg_info,
          "version": plugin.version,
          "summary": plugin.summary, "node": type(node).__name__,
          "bases": [c.__module__ + "." + c.__name__ for c in type(node).__mro__],
          "widget": type(node.inner_widget).__name__, "inputs": list(node.inputs)}
plugins_manager.unload_plugin(plugin.name)
loaded["unloaded"] = host.NODE_NAME not in NodeRegistrySingleton().nodes
loaded["errors"] = errors
print(json.dumps(loaded))
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("install", ["wheel in Dial's plugin folder", "this venv's install"])
def test_the_installed_plugin_loads_as_dial_gui_starts_it(install, tmp_path):
    """dial-gui's startup code, in a new interpreter, loads the plugins that plugins.json
    marks active, with ``<config>/dial/plugins/site-packages`` (beside plugins.json) added
    to the path: there the wheel is installed with pip's ``--target``, and that folder is
    also put first (PYTHONPATH), so that the venv's own install of the project is hidden as
    it is in a Dial install that has the plugin in its folder only. Dial reads the version
    and summary from the distribution's metadata, which a wheel has as ``.dist-info``."""
    plugins_directory = tmp_path / "config" / "dial" / "plugins"
    site_packages = plugins_directory / "site-packages"
    site_packages.mkdir(parents=True)
    (plugins_directory / "plugins.json").write_text(json.dumps(PLUGINS_JSON))
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "QT_QPA_PLATFORM": "offscreen"}
    if install.startswith("wheel"):
        wheel = build_wheel(tmp_path)
        subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                        "install", "--no-deps", "--no-index", "--target", str(site_packages),
                        str(wheel)], check=True, timeout=300)
        env["PYTHONPATH"] = str(site_packages)

    loaded = python(DIAL_GUI_STARTUP, tmp_path, env=env)

    expected = site_packages if install.startswith("wheel") else Path(dv.__file__).parent
    assert Path(loaded["module"]).is_relative_to(expected)
    assert loaded["metadata"].endswith(".dist-info" if install.startswith("wheel")
                                       else (".dist-info", ".egg-info"))
    assert loaded["version"] == dv.__version__ == importlib.metadata.version(DIST)
    assert loaded["summary"] == importlib.metadata.metadata(DIST)["Summary"]
    assert loaded["errors"] == []
    assert loaded["node"] == "ConvVisualizationNode"
    assert "dial_core.node_editor.node.Node" in loaded["bases"]
    assert loaded["widget"] == "ConvVisualizationWidget"
    assert loaded["inputs"] == ["Model", "Custom Preprocessor"]
    assert loaded["unloaded"]


def test_dials_factories_make_the_node_with_the_widget_and_typed_ports(dial, keep):
    registry = NodeRegistrySingleton()
    node = keep(registry.get_node(dial_host.NODE_NAME))
    # the factory Dial's notebook cells instantiate a node class with
    again = keep(registry.get_factory_for(type(node))())

    for made in (node, again):
        assert isinstance(made, Node) and made.title == "Convolutional Visualization"
        assert isinstance(made.inner_widget, ConvVisualizationWidget)
        assert list(made.inputs) == ["Model", "Custom Preprocessor"]
        assert all(type(port) is InputPort for port in made.inputs.values())
        assert made.inputs["Model"].port_type is keras.Model is TfKerasModel
        assert made.inputs["Custom Preprocessor"].port_type is Callable
        assert made.outputs == {}
    assert again.inner_widget is not node.inner_widget


def test_a_dial_node_that_outputs_a_model_feeds_the_widget_through_the_port(
        dial, make_node, files, qtbot):
    model_path, _, _ = files
    node = make_node()
    node.inner_widget.set_image(random_pixels())
    source = model_node(model_path)

    with qtbot.waitSignal(node.inner_widget.model_changed) as changed:
        source.outputs["Model"].connect_to(node.inputs["Model"])

    model = changed.args[0]
    assert node.inner_widget.model is model and model.name == "sequential_cnn"
    assert node.connected_input_nodes() == [source]
    result = run_and_wait(qtbot, node.inner_widget, "predictions", dv.Target("prediction"), {})
    np.testing.assert_allclose(result.data, model(node.inner_widget.image.batch()).numpy()[0],
                               rtol=1e-5)

    other = tmp_model(model_path.parent, seed=5)
    source.outputs["Model"].set_generator_function(
        functools.partial(keras.saving.load_model, str(other)))
    with qtbot.waitSignal(node.inner_widget.model_changed):
        source.outputs["Model"].send()  # how a Dial node pushes a new value downstream
    assert node.inner_widget.model is not model and node.inner_widget.results() == []


def tmp_model(folder, seed):
    path = Path(folder) / f"model_{seed}.keras"
    sequential_model(seed=seed).save(path)
    return path


def test_custom_preprocessor_port_sets_the_widget_preprocessing(dial, make_node):
    node = make_node()
    pixels = random_pixels()
    node.inner_widget.set_model(sequential_model())
    node.inner_widget.set_image(pixels)

    def halve(x):
        return x / 2

    source = Node("Preprocessor")
    source.add_output_port("Preprocessor", port_type=Callable)
    source.outputs["Preprocessor"].set_generator_function(lambda: halve)
    source.outputs["Preprocessor"].connect_to(node.inputs["Custom Preprocessor"])

    assert node.inner_widget.image.preprocessing == "halve"
    np.testing.assert_allclose(node.inner_widget.image.array, pixels / 2)


def test_a_dial_project_file_restores_the_canvases_and_the_connection(
        dial, make_node, keep, files, tmp_path, qtbot):
    model_path, _, _ = files
    from_file = file_node(make_node, files)
    widget = from_file.inner_widget
    first = run_and_wait(qtbot, widget, "predictions", dv.Target("prediction"), {"top_k": 2})
    second = run_and_wait(qtbot, widget, "saliency", dv.Target("output", "conv2", 1), {})
    source, from_port = model_node(model_path), make_node()
    source.outputs["Model"].connect_to(from_port.inputs["Model"])
    manager = ProjectManagerFactory()
    for node in (source, from_file, from_port):
        manager.active.scene.add_node(node)
    manager.save_project_as(manager.active, str(tmp_path / "projects"))
    path = Path(manager.active.file_path)
    assert path.suffix == ".dial" and path.is_file()

    # Dial started again: fresh registries, the plugin loaded by its manager, then File > Open
    dial.unload_plugin(DIST)
    reset_dial()
    PluginManagerSingleton(json.loads(json.dumps(PLUGINS_JSON))).load_plugin(DIST)
    opened = ProjectManagerFactory().open_project(str(path))

    loaded_source, loaded_file, loaded_port = opened.scene.nodes
    for node in (loaded_file, loaded_port):
        keep(node)
        assert type(node) is type(from_file) and node.parent is opened.scene
    assert loaded_file.inner_widget.wait_until_idle(60)
    assert loaded_file.inner_widget.session() == widget.session()
    assert len(widget.session().runs) == 2
    for before, after in zip([first, second], loaded_file.inner_widget.results()):
        np.testing.assert_allclose(after.data, before.data, rtol=1e-5)
    # The connection is in the file; Dial does not resend values on opening, the source does
    assert loaded_port.inputs["Model"].port_connected_to is loaded_source.outputs["Model"]
    assert loaded_port.inner_widget.model is None
    with qtbot.waitSignal(loaded_port.inner_widget.model_changed):
        loaded_source.outputs["Model"].send()
    assert loaded_port.inner_widget.model.name == "sequential_cnn"
    assert from_port.inner_widget.model is not loaded_port.inner_widget.model


def test_dials_duplicate_makes_nodes_with_the_same_canvas_and_connections(
        dial, make_node, keep, files, qtbot):
    model_path, _, _ = files
    from_file = file_node(make_node, files)
    run_and_wait(qtbot, from_file.inner_widget, "saliency", dv.Target("prediction", None, 2), {})
    source, from_port = model_node(model_path), make_node()
    source.outputs["Model"].connect_to(from_port.inputs["Model"])
    scene = Scene()
    for node in (source, from_file, from_port):
        scene.add_node(node)

    file_copy, = scene.duplicate_nodes([from_file])
    source_copy, port_copy = scene.duplicate_nodes([source, from_port])

    for copy, node in ((file_copy, from_file), (port_copy, from_port)):
        keep(copy)
        assert type(copy) is type(node) and copy.inner_widget is not node.inner_widget
        assert copy in scene.nodes and copy.parent is scene
    assert file_copy.inner_widget.wait_until_idle(60)
    assert file_copy.inner_widget.session() == from_file.inner_widget.session()
    np.testing.assert_allclose(file_copy.inner_widget.results()[0].data,
                               from_file.inner_widget.results()[0].data, rtol=1e-5)
    # the copies are connected to each other, and the model came through the new connection
    assert port_copy.inputs["Model"].port_connected_to is source_copy.outputs["Model"]
    assert from_port.inputs["Model"].port_connected_to is source.outputs["Model"]
    assert port_copy.inner_widget.model is not None
    assert port_copy.inner_widget.model is not from_port.inner_widget.model


@pytest.fixture
def kernel_of_this_python(tmp_path, monkeypatch):
    """A "python3" kernelspec that starts this interpreter (the venv), found first. Dial's
    notebook starts with ``%pip install dial-core``: pip is kept off the network and off
    dial-core's declared dependencies (dependency-injector < 4), so the cell only finds
    the installed dial-core."""
    kernel_dir = tmp_path / "jupyter" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python",
        "env": {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
                "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "python3"


@pytest.mark.timeout(600)
def test_dials_notebook_of_a_project_executes_and_redoes_the_tiles(
        dial, make_node, files, tmp_path, qtbot, kernel_of_this_python):
    from nbclient import NotebookClient

    model_path, image_path, labels_path = files
    from_file = file_node(make_node, files)
    runs = [("predictions", dv.Target("prediction"), {"top_k": 3}),
            ("saliency", dv.Target("output", "conv2", 1), {})]
    for method, target, params in runs:
        run_and_wait(qtbot, from_file.inner_widget, method, target, params)
    source, from_port = model_node(model_path), make_node()
    source.outputs["Model"].connect_to(from_port.inputs["Model"])
    manager = ProjectManagerFactory()
    for node in (source, from_file, from_port):
        manager.active.scene.add_node(node)

    generator = NotebookProjectGeneratorFactory(project=manager.active)
    generator.save_notebook_as(str(tmp_path / "project.ipynb"))
    notebook = nbformat.read(str(tmp_path / "project.ipynb"), as_version=4)
    nbformat.validate(notebook)

    titles = [i for i, cell in enumerate(notebook.cells)
              if cell.source == "## Convolutional Visualization (ConvVisualizationNode)"]
    assert len(titles) == 2
    bodies = [notebook.cells[i + 1:i + 4] for i in titles]
    by_file = next(b for b in bodies if b[0].source.startswith("# Convolutional visualization"))
    by_port = next(b for b in bodies if b is not by_file)
    assert f"dv.load_model({str(model_path)!r})" in by_file[1].source
    assert "Not exported" in by_port[0].source and "not loaded from a file" in by_port[0].source
    # only our nodes have cells (the source has no NodeCells): Dial's instantiation and
    # input-variable cells, which cannot run, are left out; Dial's %pip cell comes first
    assert not any("NodeRegistrySingleton" in cell.source or "Input variables" in cell.source
                   for cell in notebook.cells)
    assert notebook.cells[0].source == "# External packages\n%pip install dial-core"

    saved = tmp_path / "results.npz"
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"import numpy as np\nnp.savez({str(saved)!r}, *[r.data for r in results])"))
    NotebookClient(notebook, timeout=300, kernel_name=kernel_of_this_python,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    model = dv.load_model(model_path)
    image = dv.load_image(str(image_path), model,
                          preprocessing=from_file.inner_widget.preprocessing.name)
    with np.load(saved) as arrays:
        produced = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    assert len(produced) == len(runs)
    for array, (method, target, params) in zip(produced, runs):
        expected = dv.explain(model, image, method, layer=target.layer, target=target.index,
                              node_type=target.node_type, labels=str(labels_path), **params)
        np.testing.assert_allclose(array, expected.data, rtol=1e-5, atol=1e-6)


def test_a_node_pickles_alone_and_keeps_its_ports(dial, make_node, files, qtbot):
    node = file_node(make_node, files)
    restored = pickle.loads(pickle.dumps(node))
    restored.inner_widget.show_dialogs = False
    qtbot.addWidget(restored.inner_widget)

    assert restored.inner_widget.wait_until_idle(60)
    assert restored.inner_widget.session() == node.inner_widget.session()
    other_model = sequential_model(seed=5)
    restored.inputs["Model"].process_input(other_model)
    assert restored.inner_widget.model is other_model and node.inner_widget.model is not other_model


def test_a_saved_node_keeps_its_fit_and_an_older_project_opens_with_the_default(
        make_node, keep, files, tmp_path, qtbot):
    model_path, _, _ = files
    wide = tmp_path / "wide.png"
    Image.fromarray(random_pixels(size=24)[:16]).save(wide)  # 24x16, the model takes 16x16
    node = make_node()
    widget = node.inner_widget
    assert widget.load_model_file(model_path)
    assert widget.set_fit("crop") and widget.set_image(str(wide))
    assert widget.session().fit == "crop"

    restored = keep(pickle.loads(pickle.dumps(node)))
    assert restored.inner_widget.wait_until_idle(60)
    assert restored.inner_widget.workspace.fit == "crop"
    assert restored.inner_widget.fit_combo.currentData() == "crop"
    np.testing.assert_array_equal(restored.inner_widget.image.resized, widget.image.resized)

    older = widget.session()  # as a project saved before sessions had a fit
    del older.__dict__["fit"]
    older = pickle.loads(pickle.dumps(older))
    assert older.fit == "stretch"
    opened = keep(dial_host.restore_node(older))
    assert opened.inner_widget.wait_until_idle(60)
    assert opened.inner_widget.workspace.fit == "stretch"
    stretched = dv.load_image(str(wide), widget.model, preprocessing="unit")
    np.testing.assert_array_equal(opened.inner_widget.image.resized, stretched.resized)
    assert not np.array_equal(stretched.resized, widget.image.resized)
