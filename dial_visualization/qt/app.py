"""The standalone app: a main window around :class:`ConvVisualizationWidget`.

``main(["--model", m, "--image", i, "--labels", l])`` preloads files; with none of them it
opens the built-in demo model and its first image. ``--screenshot PATH`` renders the window
offscreen (after a result of each ``--run METHOD`` on the top prediction, if asked), saves
it as a PNG and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qtpy import QtGui, QtWidgets

WINDOW_SIZE = (1400, 900)


class MainWindow(QtWidgets.QMainWindow):
    """The widget (over its workspace, with ``registry``: by default the shared one), with a
    File menu."""

    def __init__(self, parent=None, registry=None):
        super().__init__(parent)
        from .widget import ConvVisualizationWidget

        self.setWindowTitle("dial-visualization")
        self.loaded_methods = []
        self.widget = ConvVisualizationWidget(self, registry)
        self.widget.warm_up_on_load = True
        self.setCentralWidget(self.widget)
        self.resize(*WINDOW_SIZE)
        self._build_menu()
        self.widget.model_changed.connect(self._update_title)

    def _build_menu(self) -> None:
        keys = QtGui.QKeySequence.StandardKey
        # kept as an attribute: PySide2 would otherwise delete the menu with the wrapper
        self.file_menu = file_menu = self.menuBar().addMenu("&File")
        self.open_model_action = self._action(
            file_menu, "Open &model…", self.widget.open_model_dialog, keys.Open, "Ctrl+O")
        self.open_image_action = self._action(
            file_menu, "Open &image…", self.widget.open_image_dialog, "Ctrl+I")
        self.open_labels_action = self._action(
            file_menu, "Open &labels…", self.widget.open_labels_dialog, "Ctrl+L")
        file_menu.addSeparator()
        self.export_canvas_action = self._action(
            file_menu, "&Export canvas…", self.widget.export_canvas_dialog, keys.Save, "Ctrl+S")
        self.export_notebook_action = self._action(
            file_menu, "Export canvas as &notebook…", self.export_notebook, "Ctrl+Shift+S")
        self.load_methods_action = self._action(
            file_menu, "Load &methods…", self.load_methods, None)
        self.unload_methods_action = self._action(
            file_menu, "&Unload loaded methods", self.unload_methods, None)
        self.unload_methods_action.setEnabled(False)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, keys.Quit, "Ctrl+Q")

    def _action(self, menu, text, slot, shortcut, fallback=None):
        """A menu entry; ``fallback`` where the platform has no standard key for it."""
        action = menu.addAction(text)
        action.triggered.connect(lambda *_: slot())
        if shortcut is not None:
            sequence = QtGui.QKeySequence(shortcut)
            action.setShortcut(sequence if not sequence.isEmpty() or not fallback
                               else QtGui.QKeySequence(fallback))
        return action

    def _update_title(self, model) -> None:
        name = "" if model is None else f" — {model.name}"
        self.setWindowTitle(f"dial-visualization{name}")

    def load_methods(self) -> None:
        """Ask for a ``.py`` file, warn that its code will run, then load its methods."""
        from .compat import yes_no_buttons

        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load methods", "", "Python files (*.py)")
        if not path:
            return
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.warning(
            self, "Run this file's code?",
            f"Loading {Path(path).name} runs the Python code in it, with your permissions.\n"
            "Load it only if you trust it.", yes_no_buttons(), buttons.No)
        if answer == buttons.Yes:
            self.load_methods_from(path)

    def load_methods_from(self, path) -> list:
        """Register the methods of a ``.py`` file: they appear in the node menus at once."""
        from ..core.user_methods import load_methods_file

        try:
            methods = load_methods_file(path, self.widget.registry)
        except Exception as error:  # any error in the user's file is reported, not raised
            self.widget.report_error(f"{Path(path).name}: {error}", "Cannot load methods")
            return []
        self.loaded_methods += methods
        self.unload_methods_action.setEnabled(True)
        names = ", ".join(a.name for a in methods)
        self.widget.say(f"methods loaded from {Path(path).name}: {names}")
        return methods

    def unload_methods(self) -> None:
        """Remove every method loaded from files (tiles already made stay)."""
        from ..core.user_methods import unload_methods

        unload_methods(self.loaded_methods, self.widget.registry)
        names = ", ".join(a.name for a in self.loaded_methods)
        self.loaded_methods = []
        self.unload_methods_action.setEnabled(False)
        self.widget.log_message(f"methods unloaded: {names}")

    def export_notebook(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export canvas as notebook", "canvas.ipynb", "Jupyter notebook (*.ipynb)")
        if path:
            self.export_notebook_to(path)

    def export_notebook_to(self, path) -> bool:
        """Write a notebook whose cells reproduce every tile with the notebook API."""
        from ..core.notebook import write_notebook

        try:
            write_notebook(self.widget.session(), path)
        except Exception as error:  # e.g. nbformat missing, a model that came from no file
            self.widget.report_error(f"cannot write the notebook: {error}", "Export failed")
            return False
        self.widget.say(f"notebook written to {path}")
        return True

    def closeEvent(self, event):
        self.widget.shutdown()
        super().closeEvent(event)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dial-visualization app",
        description="The desktop app. Without --model it opens the built-in demo.")
    parser.add_argument("--model", help="a Keras model file (.keras, .h5)")
    parser.add_argument("--image", help="an image file")
    parser.add_argument("--labels", help="class names: a text file (one per line) or JSON")
    parser.add_argument("--preprocessing", help="none, unit, symmetric, caffe or torch")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="render the window offscreen, save it as PNG and exit")
    parser.add_argument("--run", metavar="METHOD", action="append", default=[],
                        help="with --screenshot: first run METHOD on the top prediction "
                             "(repeatable: one tile each)")
    return parser


def _preload(window: MainWindow, options) -> bool:
    """Open the files asked for, or the demo; False if something could not be opened."""
    from ..core.demo import demo_paths

    widget = window.widget
    demo = demo_paths()
    model = options.model or (str(demo["model"]) if demo["model"].is_file() else None)
    image = options.image or (None if options.model or not demo["images"]
                              else str(demo["images"][0]))
    labels = options.labels or (None if options.model or not demo["labels"].is_file()
                                else str(demo["labels"]))
    ok = True
    if labels:
        ok &= widget.load_labels_file(labels)
    if model:
        ok &= widget.load_model_file(model)
    if options.preprocessing:
        ok &= widget.set_preprocessing(options.preprocessing)
    if image:
        ok &= widget.set_image(image)
    return ok


def _run_for_screenshot(widget, method_id: str) -> bool:
    """Run ``method_id`` on its default node (the top prediction, else the last spatial
    layer's output, else the first layer with a kernel) and wait for it."""
    from ..core.context import NodeType

    widget.wait_until_idle()
    try:
        method = widget.registry.get(method_id)
    except Exception as error:
        widget.report_error(str(error))
        return False
    if widget.model is None:
        return False
    order = [NodeType.PREDICTION, NodeType.OUTPUT, NodeType.KERNEL]
    node_types = sorted(method.node_types, key=lambda t: order.index(t) if t in order else 3)
    handler = widget.registry.handler(node_types[0])
    target = handler.default_node(widget.workspace.tree)
    if target is None:
        widget.report_error(f"{method.name}: the model has no {handler.node_type} node to run on")
        return False
    failures = []
    widget.run_failed.connect(failures.append)
    if widget.run_method(method_id, target) is None:
        return False
    widget.wait_until_idle(timeout_s=600)
    return not failures


def main(argv=None) -> int:
    """Open the app (see the module docstring); returns the exit status."""
    options = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if options.run and not options.screenshot:
        _parser().error("--run needs --screenshot")
    if options.screenshot and not QtWidgets.QApplication.instance():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from ..core.registry import HandlerConfiguration

    window = MainWindow(registry=HandlerConfiguration.with_builtins())  # the app's own
    if options.screenshot:  # no one to read a message box: errors go to stderr
        window.widget.show_dialogs = False
        window.widget.error_reported.connect(lambda message: print(f"error: {message}",
                                                                   file=sys.stderr))
    window.show()
    ok = _preload(window, options)
    if not options.screenshot:
        return app.exec()
    for method in options.run:
        ok &= _run_for_screenshot(window.widget, method)
    window.widget.wait_until_idle()
    for _ in range(3):
        app.processEvents()
    saved = window.grab().save(options.screenshot, "PNG")
    window.close()
    window.deleteLater()
    app.processEvents()
    return 0 if saved and ok else 1
