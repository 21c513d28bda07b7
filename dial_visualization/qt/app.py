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
    """The widget, with a File menu."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from .widget import ConvVisualizationWidget

        self.setWindowTitle("dial-visualization")
        self.loaded_algorithms = []
        self.widget = ConvVisualizationWidget(self)
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
        self.load_algorithms_action = self._action(
            file_menu, "Load &algorithms…", self.load_algorithms, None)
        self.unload_algorithms_action = self._action(
            file_menu, "&Unload loaded algorithms", self.unload_algorithms, None)
        self.unload_algorithms_action.setEnabled(False)
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

    def load_algorithms(self) -> None:
        """Ask for a ``.py`` file, warn that its code will run, then load its algorithms."""
        from .widget import yes_no_buttons

        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load algorithms", "", "Python files (*.py)")
        if not path:
            return
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.warning(
            self, "Run this file's code?",
            f"Loading {Path(path).name} runs the Python code in it, with your permissions.\n"
            "Load it only if you trust it.", yes_no_buttons(), buttons.No)
        if answer == buttons.Yes:
            self.load_algorithms_from(path)

    def load_algorithms_from(self, path) -> list:
        """Register the algorithms of a ``.py`` file: they appear in the node menus at once."""
        from ..core.user_algorithms import load_algorithms_file

        try:
            algorithms = load_algorithms_file(path)
        except Exception as error:  # any error in the user's file is reported, not raised
            self.widget.report_error(f"{Path(path).name}: {error}", "Cannot load algorithms")
            return []
        self.loaded_algorithms += algorithms
        self.unload_algorithms_action.setEnabled(True)
        names = ", ".join(a.name for a in algorithms)
        self.widget.log_message(f"algorithms loaded from {Path(path).name}: {names}")
        self.statusBar().showMessage(f"loaded {len(algorithms)} algorithm(s)", 5000)
        return algorithms

    def unload_algorithms(self) -> None:
        """Remove every algorithm loaded from files (tiles already made stay)."""
        from ..core.user_algorithms import unload_algorithms

        unload_algorithms(self.loaded_algorithms)
        names = ", ".join(a.name for a in self.loaded_algorithms)
        self.loaded_algorithms = []
        self.unload_algorithms_action.setEnabled(False)
        self.widget.log_message(f"algorithms unloaded: {names}")

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
        self.widget.log_message(f"notebook written to {path}")
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


def _run_for_screenshot(widget, method: str) -> bool:
    """Run ``method`` on the top prediction (or the last spatial layer) and wait for it."""
    from ..core.context import Target
    from ..core.layers import LayerTree
    from ..core.registry import HandlerConfiguration, NodeType

    widget.wait_until_idle()
    try:
        algorithm = HandlerConfiguration.default().get(method)
    except Exception as error:
        widget.report_error(str(error))
        return False
    if widget.model is None:
        return False
    if NodeType.PREDICTION in algorithm.node_types:
        target = Target(NodeType.PREDICTION)
    else:
        tree = LayerTree(widget.model)
        node = tree.last_spatial()
        kind = NodeType.OUTPUT if NodeType.OUTPUT in algorithm.node_types else NodeType.KERNEL
        if kind is NodeType.KERNEL:
            node = next((n for n in tree.walk() if n.has_kernel), None)
        if node is None:
            return False
        target = Target(kind, node.path)
    failures = []
    widget.run_failed.connect(failures.append)
    if widget.run_algorithm(method, target) is None:
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
    window = MainWindow()
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
