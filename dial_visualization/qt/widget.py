"""``ConvVisualizationWidget``: open a model and an image, pick tree nodes, see the results.

The widget is a view over a Qt-free :class:`~dial_visualization.core.workspace.Workspace`
(the document: model, image, labels, preprocessing, output, device, parameters), as
napari's ``QtViewer`` over its ``ViewerModel``: it sends the user's actions to the
workspace and shows what its signals announce. The layout comes from
``ui/ConvVisualizer.ui`` (editable in Qt Designer), loaded at run time with
``qtpy.uic.loadUi``. The widget never computes: files are read and every run executed on a
worker thread (:mod:`.worker`), and each :class:`Result` is drawn on a canvas tile. Errors
become a line in the log, the status bar and (unless ``show_dialogs`` is False) a non-modal
message box; the widget stays usable.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from qtpy import QtCore, QtGui, QtWidgets
from qtpy.uic import loadUi

from ..core.images import InputImage
from ..core.preprocessing import Preprocessing
from ..core.registry import HandlerConfiguration
from ..core.session import Session
from ..core.workspace import Workspace
from .dataset_view import DatasetView
from .compact_toolbar import CompactRow
from .file_actions import FileActionsMixin
from .layer_filter import LayerFilters
from .layer_models import LayerTableModel, LayerTreeModel
from .messages import MessagesMixin
from .method_picker import MethodPicker
from .run_actions import RunActionsMixin
from .run_rows import RunIndicator, RunRows
from .summary import SummaryView
from .trust import TrustActions
from .worker import RunQueue


def _ui_file(name: str) -> Path:
    """A Designer file: from the installed data package ``dial_visualization.ui``, else from
    ``ui/`` at the top of a source checkout."""
    try:
        return Path(str(importlib.resources.files("dial_visualization.ui") / name))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "ui" / name


UI_FILE = _ui_file("ConvVisualizer.ui")


class ConvVisualizationWidget(RunActionsMixin, FileActionsMixin, MessagesMixin, QtWidgets.QWidget):
    """The convolutional-network visualisation widget (see the module docstring)."""

    model_changed = QtCore.Signal(object)
    result_added = QtCore.Signal(object)
    run_failed = QtCore.Signal(str)
    busy_changed = QtCore.Signal(bool)
    #: Every error reported to the user (log, status bar, message box), as one line.
    error_reported = QtCore.Signal(str)

    def __init__(self, parent=None, registry: HandlerConfiguration | None = None):
        super().__init__(parent)
        loadUi(str(UI_FILE), self)
        #: Show errors and confirmations as message boxes (tests and batch use set False:
        #: errors then go to the log and status bar only, and unsafe models are refused).
        self.show_dialogs = True
        #: Trace the model's functions on a thread of their own once an image is loaded, so
        #: that the first tile of each method comes as fast as later ones (the app sets it).
        self.warm_up_on_load = False
        self.registry = registry or HandlerConfiguration.default()
        self.workspace = Workspace(self.registry)
        self._generation = 0  # runs of an older document are not shown
        self._message_boxes: list[QtWidgets.QMessageBox] = []
        self._queue = RunQueue(self)
        self._queue.busy_changed.connect(self.busy_changed)
        self._run_rows = RunRows(self.runs_group)
        self._run_indicator = RunIndicator(self.status_bar, self._queue)
        self._cleared: list = []  # the tiles of the last cleared canvas (Ctrl+Z)
        self._tree_model = LayerTreeModel(registry=self.registry, parent=self)
        self._table_model = LayerTableModel(parent=self)
        self.layer_table.setModel(self._table_model)
        self.layer_table.verticalHeader().hide()
        self.layer_table.horizontalHeader().setStretchLastSection(True)
        self.layer_tree.setModel(self._tree_model)
        self.summary = SummaryView(self, self.workspace)
        self.dataset = DatasetView(self)  # the Dataset tab: a folder predicted
        self.tabs.addTab(self.dataset, "Dataset")
        self.layer_filters = LayerFilters(self)  # layer search over the tree and table
        self.compact_toolbar = CompactRow(self.canvas_panel, self.canvas_toolbar)  # 800 px
        self.method_picker = MethodPicker(self.method_combo, self.layer_tree)
        self.params_form.set_memory(self.workspace.parameters)
        self.summary_top_splitter.setSizes([720, 480])
        self.summary_splitter.setSizes([560, 160])
        self.visualisation_splitter.setSizes([360, 920])
        self.visualisation_splitter.setStretchFactor(1, 1)
        self.tree_splitter.setSizes([480, 260])
        self.canvas.set_columns(self.columns_spin.value())
        self._connect()

    # ================================================================== the document

    @property
    def model(self):
        """The Keras model shown, or None."""
        return self.workspace.model

    @property
    def image(self) -> InputImage | None:
        """The input image as loaded for the model, or None."""
        return self.workspace.image

    @property
    def preprocessing(self) -> Preprocessing:
        """The preprocessing of images for the model, and why it was chosen."""
        return self.workspace.preprocessing

    @property
    def labels(self) -> list[str] | None:
        return self.workspace.labels

    @property
    def output_index(self) -> int:
        """Which model output the Prediction node and the methods explain."""
        return self.workspace.output_index

    @property
    def busy(self) -> bool:
        """Whether runs are queued or running."""
        return self._queue.busy()

    def set_model(self, model, source: str = "", sha256: str = "") -> bool:
        """Show ``model`` (a ``keras.Model``; ``None`` clears), read from file ``source`` whose
        SHA-256 is ``sha256``. The canvas is cleared and the detected preprocessing
        preselected; the image, if any, is loaded again for the model."""
        return self._apply(self.workspace.set_model, model, source, sha256,
                           what="cannot show this model")

    def set_preprocessing(self, name_or_callable) -> bool:
        """A preset name (none, unit, symmetric, caffe, torch) or a function of float32 pixels
        in [0, 255]; the image is loaded again with it."""
        if not self._apply(self.workspace.set_preprocessing, name_or_callable):
            return False
        self._reload_image()
        return True

    def set_fit(self, fit: str) -> bool:
        """How an image of another aspect ratio meets the model's input: "stretch" (the
        default), "crop" (its centre) or "pad"; the image is loaded again with it."""
        if not self._apply(self.workspace.set_fit, fit):
            return False
        self._reload_image()
        return True

    def set_labels(self, labels: list[str] | None, source: str = "") -> bool:
        """Class names for the Prediction node and later results (None removes them). Names
        whose count is not the model's class count are refused (the current ones stay)."""
        if not self._apply(self.workspace.set_labels, labels or None, source,
                           title="Cannot use these labels"):
            return False
        if labels:
            self.log_message(f"labels: {len(labels)} class names "
                             f"({Path(source).name if source else 'given'})")
        return True

    def set_output_index(self, index: int) -> bool:
        """Explain output ``index`` of a multi-output model (its classes fill the tree)."""
        return self._apply(self.workspace.set_output_index, index)

    def device(self) -> str:
        return self.device_combo.currentData() or "auto"

    def session(self) -> Session:
        """The model, image and labels files, the preprocessing, and one RunRecord per tile."""
        return self.workspace.session([tile.record for tile in self.canvas.tiles() if tile.record])

    def remember_params(self, method_id: str, params: dict) -> dict:
        """Check and remember parameter values for a method (used by later runs)."""
        return self.params_form.remember(self.registry.get(method_id), params)

    def export_canvas(self, path) -> bool:
        """Save the canvas (all tiles as laid out) as a PNG."""
        if not self.canvas.tiles():
            self.report_error("the canvas is empty: run a method first")
            return False
        if not self.canvas.export_png(path):
            self.report_error(f"could not write {path}")
            return False
        self.say(f"canvas exported to {path}")
        return True

    def shutdown(self) -> None:
        """Cancel every run and wait for the worker (called when the widget closes)."""
        self._generation += 1
        self.workspace.stop_warm_up(wait_s=60)
        self._queue.shutdown()

    # ================================================================== following the workspace

    def _connect(self) -> None:
        workspace = self.workspace
        workspace.model_changed.connect(self._show_model)
        workspace.image_changed.connect(self._image_changed)
        workspace.labels_changed.connect(self._tree_labels)
        workspace.output_index_changed.connect(self._output_changed)
        workspace.noted.connect(self.log_message)
        self.open_model_button.clicked.connect(self.open_model_dialog)
        self.open_image_button.clicked.connect(self.open_image_dialog)
        self.open_labels_button.clicked.connect(self.open_labels_dialog)
        self.export_canvas_button.clicked.connect(self.export_canvas_dialog)
        self.clear_canvas_button.clicked.connect(self.clear_canvas)
        self.compare_button.clicked.connect(self.compare_methods)
        self.undo_shortcut = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Z"), self)
        self.undo_shortcut.activated.connect(self.undo_clear)
        self.layer_tree.run_method_requested.connect(self._run_indexes)
        self.run_button.clicked.connect(lambda: self._run_indexes(self.layer_tree.selected_nodes()))
        self.columns_spin.valueChanged.connect(self.canvas.set_columns)
        self.preprocessing_combo.activated.connect(self._preprocessing_chosen)
        self.fit_combo.activated.connect(lambda i: self.set_fit(self.fit_combo.itemData(i)))
        self.device_combo.currentIndexChanged.connect(
            lambda _: workspace.set_device(self.device()))
        self.output_combo.activated.connect(self.set_output_index)
        self.layer_tree.run_requested.connect(self._run_indexes)
        self.canvas.nodes_dropped.connect(self._run_nodes)
        self.canvas.files_dropped.connect(self.open_files)
        self.canvas.channel_requested.connect(self.run_record)
        self.canvas.tile_saved.connect(lambda path: self.say(f"saved {path}"))
        self.trust = TrustActions(self)  # a tile's Trust menu and the comparison's scores
        self.params_form.values_changed.connect(
            lambda method_id, values: self.status_bar.showMessage(
                f"{method_id}: {self.registry.get(method_id).changed_params(values)}"
                " (remembered)", 4000))

    def _show_model(self, model) -> None:
        """A new document: runs of the old one are cancelled and its tiles cleared."""
        self._generation += 1
        self._queue.cancel_all()
        self.clear_canvas()
        self._set_tree_models()
        if model is None:
            self.log_message("model cleared")
        else:
            source = self.workspace.model_source
            layers = sum(1 for _ in self.workspace.tree.walk())
            self.log_message(f"model {Path(source).name if source else model.name}: {layers} "
                             f"layers, {model.count_params():,} parameters, "
                             f"input {tuple(model.inputs[0].shape)}")
        self.model_changed.emit(model)
        if model is not None:
            self._reload_image()
            self.tabs.setCurrentWidget(self.visualisation_tab)

    def _output_changed(self, index: int) -> None:
        self._set_tree_models()
        self._rank_classes()
        self.log_message(f"explaining output {index}: {self.output_combo.currentText()}")

    def _tree_labels(self, labels) -> None:
        self._tree_model.set_labels(labels)

    def _set_tree_models(self) -> None:
        workspace = self.workspace
        old_tree, old_table = self._tree_model, self._table_model
        self._tree_model = LayerTreeModel(workspace.tree, workspace.class_count(),
                                          workspace.labels, self.registry, self)
        self._table_model = LayerTableModel(workspace.tree, self)
        self.layer_tree.setModel(self._tree_model)
        self.layer_table.setModel(self._table_model)
        self.layer_table.resizeColumnsToContents()
        self.layer_tree.selectionModel().currentChanged.connect(self._current_node_changed)
        self._tree_model.dataChanged.connect(
            lambda *_: self._current_node_changed(self.layer_tree.currentIndex()))
        self.params_form.set_layers(workspace.tree)
        self.params_form.set_method(None)
        self.method_label.setText("No method selected")
        if workspace.class_count():  # the classes are where most people start
            first = self._tree_model.index(0, 0)
            self.layer_tree.expand(first)
            self.layer_tree.setCurrentIndex(first)
        self.layer_filters.apply()
        old_tree.deleteLater()
        old_table.deleteLater()

    def _image_changed(self, image) -> None:
        if image is not None:
            if self.warm_up_on_load:
                self.workspace.warm_up_in_background()
            self._rank_classes()
            self._check_preprocessing()

    def _reload_image(self) -> None:
        if self.workspace.model is not None and self.workspace.image_source is not None:
            self.set_image(self.workspace.image_source)

    def _preprocessing_chosen(self, position: int) -> None:
        name = self.summary.chosen_preset(position)
        if name is not None:
            self.set_preprocessing(name)

    def _current_node_changed(self, index) -> None:
        self.method_picker.refresh()
        method_id = self._tree_model.method_id(index) if index.isValid() else None
        method = self.registry.all().get(method_id) if method_id else None
        if method is self.params_form.method():
            return
        self.params_form.set_method(method)
        if method is None:
            self.method_label.setText("No method for this node")
            return
        text = f"<b>{method.name}</b>"
        if method.description:
            text += f": {method.description}"
        self.method_label.setText(text)
        self.method_label.setToolTip(method.reference)

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)
