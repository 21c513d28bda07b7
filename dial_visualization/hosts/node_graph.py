"""NodeGraphQt host: the visualization as a node in a node graph (``dial-visualization graph``).

Nodes: "Model loader" (a model file path; outputs the loaded ``keras.Model``),
"Preprocessor" (a preset; outputs its name, or a function given with ``set_function``) and
"Convolutional Visualization" (inputs "Model" and "Preprocessing", a "fit" property;
double-click opens the full :class:`~dial_visualization.qt.widget.ConvVisualizationWidget`;
its face shows the latest result). NodeGraphQt draws and connects nodes but carries no
data: here a node that outputs something implements ``output_value(port_name)``, a node
that takes something implements ``receive(port_name, value)``; connecting hands the current
value over, disconnecting hands ``None``, and a changed property sends the new value on.
A saved graph (``serialize_session``) keeps the nodes' properties: the model file, the
preset, the fit; NodeGraphQt restores them without announcing them, so
:class:`VisualizationGraph` applies them once the nodes are back.

NodeGraphQt reaches Qt through ``Qt.py`` (PySide6, PyQt6, PySide2 or PyQt5, whichever
imports first); it is pointed at the binding ``qtpy`` uses so that both share one Qt.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import qtpy

os.environ.setdefault("QT_PREFERRED_BINDING", qtpy.API_NAME)

try:
    import Qt  # NodeGraphQt's Qt shim, imported after its binding is chosen
    from NodeGraphQt import BaseNode, NodeBaseWidget, NodeGraph
except ImportError as error:
    raise ImportError("the node graph needs NodeGraphQt: "
                      "pip install 'dial-visualization[graph]'") from error
from qtpy import QtCore, QtGui, QtWidgets  # noqa: E402

from ..core.demo import demo_paths  # noqa: E402
from ..core.errors import DialVisualizationError  # noqa: E402
from ..core.images import FITS  # noqa: E402
from ..core.labels import load_labels  # noqa: E402
from ..core.models import load_model  # noqa: E402
from ..core.preprocessing import PRESETS, resolve  # noqa: E402
from ..qt.pixmaps import pixmap_from_array  # noqa: E402
from ..qt.widget import ConvVisualizationWidget  # noqa: E402
from ..qt.worker import in_background  # noqa: E402

if Qt.__binding__ != qtpy.API_NAME:
    raise ImportError(f"NodeGraphQt uses {Qt.__binding__} but dial-visualization uses "
                      f"{qtpy.API_NAME}: set QT_API and QT_PREFERRED_BINDING to the same "
                      "binding before anything imports Qt")

IDENTIFIER = "dial_visualization"
PREVIEW_SIZE = 160


def send_outputs(node) -> None:
    """Hand each output port's current value to every input connected to it."""
    for out_port in node.output_ports():
        value = node.output_value(out_port.name())
        for in_port in out_port.connected_ports():
            receiver = in_port.node()
            if hasattr(receiver, "receive"):
                receiver.receive(in_port.name(), value)


class ModelLoaderNode(BaseNode):
    """A ``.keras``/``.h5`` file path property; outputs the loaded model (None on error)."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Model loader"

    def __init__(self):
        super().__init__()
        self.add_output("Model")
        self.add_text_input("path", "Model file", placeholder_text="model.keras or model.h5")
        self.keras_model = None
        #: Why the last path could not be loaded ("" when it could).
        self.error = ""
        self._reading = None  # the path being read (a newer one set meanwhile wins)

    def output_value(self, port_name: str):
        return self.keras_model

    def property_updated(self, name: str) -> None:
        if name == "path":
            self.reload()

    def reload(self) -> None:
        """Load the model at the "path" property (on a thread, the graph responsive
        meanwhile) and send it on; a path set while an earlier one is read replaces it."""
        path = self.get_property("path")
        self._reading = reading = object()
        model, error = None, ""
        if path:
            try:
                model = in_background(load_model, path)
            except DialVisualizationError as failure:
                error = str(failure)
        if self._reading is not reading:
            return  # a newer path was set while this one was read: its model is sent
        self.keras_model, self.error = model, error
        self.view.setToolTip(error or path)
        send_outputs(self)


class PreprocessorNode(BaseNode):
    """A preprocessing preset; outputs its name, or the function given to ``set_function``."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Preprocessor"

    def __init__(self):
        super().__init__()
        self.add_output("Preprocessing")
        presets = sorted(PRESETS, key=lambda name: name != "unit")  # "unit" first
        self.add_combo_menu("preset", "Preset", items=presets)
        self.function = None
        self._showing = False  # show_preset: the face follows, nothing is sent

    def show_preset(self, name: str) -> None:
        """Show ``name`` (the preset a connected widget uses: the one it detected for a new
        model, or one chosen in it) without sending it back."""
        if name not in PRESETS or self.function is not None or name == self.get_property(
                "preset"):
            return
        self._showing = True
        try:
            self.set_property("preset", name, push_undo=False)
        finally:
            self._showing = False

    def output_value(self, port_name: str):
        return self.function or self.get_property("preset")

    def set_function(self, function) -> None:
        """Output ``function`` (float32 pixels in [0, 255] -> model input) instead of a preset."""
        self.function = function
        send_outputs(self)

    def property_updated(self, name: str) -> None:
        if name == "preset" and not self._showing:
            self.function = None
            send_outputs(self)


class _PreviewWidget(NodeBaseWidget):
    """The node face's picture of the latest result."""

    def __init__(self, parent=None):
        super().__init__(parent, name="preview", label="")
        self.picture = QtWidgets.QLabel("no result yet")
        self.picture.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("color: #a0a0a0")
        self.set_custom_widget(self.picture)

    def get_value(self):
        return ""

    def set_value(self, value):
        """The picture is not a saved property: nothing to restore."""

    def show_result(self, result) -> None:
        self.picture.setPixmap(pixmap_from_array(render(result), PREVIEW_SIZE))

    def clear(self) -> None:
        self.picture.clear()
        self.picture.setText("no result yet")


def render(result, size: int = PREVIEW_SIZE) -> np.ndarray:
    """``result`` drawn as by ``Result.plot``, as uint8 RGBA pixels about ``size`` wide."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 50
    figure = Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    result.plot(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


class ConvVisualizationNode(BaseNode):
    """Inputs "Model" and "Preprocessing" feed the widget, the "fit" property is its fit
    (each follows the other); double-click opens it."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Convolutional Visualization"

    def __init__(self):
        super().__init__()
        self.add_input("Model")
        self.add_input("Preprocessing")
        self.add_combo_menu("fit", "Fit", items=list(FITS))
        self.visualization_widget = ConvVisualizationWidget()
        self.preview = _PreviewWidget(self.view)
        self.add_custom_widget(self.preview, tab="Preview")
        self.visualization_widget.result_added.connect(self.preview.show_result)
        self.visualization_widget.model_changed.connect(lambda model: self.preview.clear())
        self.visualization_widget.workspace.preprocessing_changed.connect(self._show_preset)
        self.visualization_widget.workspace.fit_changed.connect(
            lambda fit: self.set_property("fit", fit, push_undo=False))
        self._dialog = None
        self.view.setToolTip("double-click to open the visualization")

    def receive(self, port_name: str, value: Any) -> None:
        widget = self.visualization_widget
        if port_name == "Model":
            widget.set_model(value)
        elif port_name == "Preprocessing":
            if value is None:  # unplugged: back to what the model expects
                value = resolve(None, widget.model).name
            if value != widget.preprocessing.name:  # the same preset: no second load
                widget.set_preprocessing(value)

    def property_updated(self, name: str) -> None:
        fit = self.get_property("fit")
        if name == "fit" and fit != self.visualization_widget.workspace.fit:
            self.visualization_widget.set_fit(fit)

    def _show_preset(self, preprocessing) -> None:
        """The Preprocessor wired in shows the widget's preset (detected for a new model)."""
        for out_port in self.get_input("Preprocessing").connected_ports():
            source = out_port.node()
            if hasattr(source, "show_preset"):
                source.show_preset(preprocessing.name)

    def on_input_connected(self, in_port, out_port):
        source = out_port.node()
        if hasattr(source, "output_value"):
            self.receive(in_port.name(), source.output_value(out_port.name()))

    def on_input_disconnected(self, in_port, out_port):
        self.receive(in_port.name(), None)

    def open_widget(self) -> QtWidgets.QDialog:
        """The full widget in a non-modal window (made on first use), kept above the graph's.

        The window is not a child of the graph's widget: NodeGraphQt's style sheet (light
        text on its dark grey, for every QWidget) would cascade into it and leave what it
        does not style (a table's alternate rows, the tabs' names) light on light. It has
        the application's palette, as the app's own window."""
        if self._dialog is None:
            self._dialog = QtWidgets.QDialog()
            self._dialog.setWindowTitle(self.name())
            layout = QtWidgets.QVBoxLayout(self._dialog)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(self.visualization_widget)
            self._dialog.resize(1280, 800)
            self._dialog.winId()  # its native window, to be kept above the graph's
            graph_window = self.graph.widget.window().windowHandle() if self.graph else None
            if graph_window is not None:
                self._dialog.windowHandle().setTransientParent(graph_window)
        self._dialog.show()
        self._dialog.raise_()
        return self._dialog


class VisualizationGraph(NodeGraph):
    """A NodeGraph with the three nodes registered and their data flow wired."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.register_nodes([ModelLoaderNode, PreprocessorNode, ConvVisualizationNode])
        self.property_changed.connect(self._property_changed)
        self.node_double_clicked.connect(self._double_clicked)
        self.get_context_menu("graph").add_command("Quit", lambda *_: self.quit(), "Ctrl+Q")
        self.quit_shortcut = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Q"), self.widget)
        self.quit_shortcut.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        self.quit_shortcut.activated.connect(self.quit)

    def _deserialize(self, data, *args, **kwargs):
        """NodeGraphQt's one way in for saved, imported and pasted nodes: it sets their
        properties without ``property_changed``, so they are applied here: the fit, then the
        model files loaded (a new model has its preprocessing detected), then the presets
        saved sent again over the detected ones."""
        nodes = super()._deserialize(data, *args, **kwargs)
        for node in nodes:
            if isinstance(node, ConvVisualizationNode):
                node.property_updated("fit")
        presets = {node: node.get_property("preset") for node in nodes
                   if isinstance(node, PreprocessorNode)}
        for node in nodes:
            if isinstance(node, ModelLoaderNode):
                node.reload()
        for node, preset in presets.items():
            if node.get_property("preset") != preset:
                node.set_property("preset", preset, push_undo=False)
            else:
                send_outputs(node)
        return nodes

    def quit(self) -> None:
        """Stop the runs and close the graph window and the visualization windows (the
        application ends with its last window)."""
        self.shutdown()
        for node in self.visualization_nodes():
            if node._dialog is not None:
                node._dialog.close()
        self.widget.close()

    def visualization_nodes(self) -> list[ConvVisualizationNode]:
        return [n for n in self.all_nodes() if isinstance(n, ConvVisualizationNode)]

    def shutdown(self) -> None:
        """Stop every widget's runs (when the window closes)."""
        for node in self.visualization_nodes():
            node.visualization_widget.shutdown()

    @staticmethod
    def _property_changed(node, name, value):
        if hasattr(node, "property_updated"):
            node.property_updated(name)

    @staticmethod
    def _double_clicked(node):
        if isinstance(node, ConvVisualizationNode):
            node.open_widget()


def build_demo_graph(graph: VisualizationGraph | None = None) -> VisualizationGraph:
    """Model loader (the demo model) and Preprocessor, wired into a visualization node that
    has the first demo image and the demo labels."""
    graph = graph or VisualizationGraph()
    demo = demo_paths()
    loader = graph.create_node(ModelLoaderNode.type_, pos=[-420, -80])
    preprocessor = graph.create_node(PreprocessorNode.type_, pos=[-420, 120])
    visualization = graph.create_node(ConvVisualizationNode.type_, pos=[0, 0])
    widget = visualization.visualization_widget
    widget.set_labels(load_labels(demo["labels"]), source=str(demo["labels"]))
    widget.set_image(str(demo["images"][0]))
    loader.set_property("path", str(demo["model"]))
    loader.set_output(0, visualization.input(0))
    preprocessor.set_output(0, visualization.input(1))
    graph.clear_selection()  # so that fitting the view frames every node
    graph.clear_undo_stack()
    return graph


def main(argv: list[str] | None = None, screenshot: str | None = None) -> int:
    """Open the demo graph in a window; returns the application's exit code. With
    ``screenshot``, render the window offscreen to that PNG and exit (0 when saved)."""
    argv = list(sys.argv if argv is None else argv)
    if screenshot and not QtWidgets.QApplication.instance():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv)
    graph = build_demo_graph()
    window = graph.widget
    window.setWindowTitle("dial-visualization: node graph (double-click a visualization node)")
    window.resize(1100, 700)
    window.show()
    if screenshot:
        app.processEvents()
        graph.fit_to_selection()
        for node in graph.visualization_nodes():
            node.visualization_widget.wait_until_idle()
        app.processEvents()
        saved = window.grab().save(screenshot, "PNG")
        graph.shutdown()
        window.close()
        return 0 if saved else 1
    QtCore.QTimer.singleShot(0, graph.fit_to_selection)  # once the view has its size
    app.aboutToQuit.connect(graph.shutdown)
    return app.exec()


__all__ = ["ConvVisualizationNode", "ModelLoaderNode", "PreprocessorNode",
           "VisualizationGraph", "build_demo_graph", "main", "send_outputs"]
