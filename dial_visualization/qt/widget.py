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
import time
from pathlib import Path
from typing import Any

from qtpy import QtCore, QtWidgets
from qtpy.uic import loadUi

from ..core.context import NodeType, Target
from ..core.errors import DialVisualizationError
from ..core.explain import RunRequest
from ..core.images import InputImage
from ..core.preprocessing import Preprocessing
from ..core.registry import HandlerConfiguration, Method
from ..core.result import Result
from ..core.session import RunRecord, Session
from ..core.workspace import Workspace
from .file_actions import FileActionsMixin
from .layer_models import LayerTableModel, LayerTreeModel
from .messages import MessagesMixin
from .run_rows import RunRows
from .summary import SummaryView
from .worker import RunJob, RunQueue, TaskJob


def _ui_file(name: str) -> Path:
    """A Designer file: from the installed data package ``dial_visualization.ui``, else from
    ``ui/`` at the top of a source checkout."""
    try:
        return Path(str(importlib.resources.files("dial_visualization.ui") / name))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "ui" / name


UI_FILE = _ui_file("ConvVisualizer.ui")


def key_params(method: Method | None, params: dict[str, Any]) -> str:
    """``name=value`` for the parameters that differ from the declared defaults."""
    if method is None:
        return ""
    changed = [f"{p.name}={params[p.name]}" for p in method.parameters
               if p.name in params and params[p.name] != p.default]
    return ", ".join(changed)


class ConvVisualizationWidget(FileActionsMixin, MessagesMixin, QtWidgets.QWidget):
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
        self.registry = registry or HandlerConfiguration.default()
        self.workspace = Workspace(self.registry)
        self._generation = 0  # runs of an older document are not shown
        self._message_boxes: list[QtWidgets.QMessageBox] = []
        self._queue = RunQueue(self)
        self._queue.busy_changed.connect(self.busy_changed)
        self._run_rows = RunRows(self.runs_group)
        self._tree_model = LayerTreeModel(registry=self.registry, parent=self)
        self._table_model = LayerTableModel(parent=self)
        self.layer_table.setModel(self._table_model)
        self.layer_table.verticalHeader().hide()
        self.layer_table.horizontalHeader().setStretchLastSection(True)
        self.layer_tree.setModel(self._tree_model)
        self.summary = SummaryView(self, self.workspace)
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

    # ================================================================== runs

    def run_method(self, method_id: str, target: Target,
                   params: dict | None = None) -> RunJob | None:
        """Queue a run; ``params`` None uses the values remembered for the method, a dict
        is taken over the declared defaults. Returns the queued job (None if refused)."""
        return self.run_record(RunRecord(method_id, target, params or {}), params is None)

    def run_record(self, record: RunRecord, remembered: bool = True) -> RunJob | None:
        """Queue a saved, dropped or picked run (no method: the node's first; no parameters
        and ``remembered``: the values remembered for the method)."""
        try:
            if not remembered and record.method is not None:
                checked = self.workspace.request(record.method, record.target, record.params)
            else:
                checked = self.workspace.request_record(record)
        except DialVisualizationError as error:
            self.report_error(str(error), "Cannot run")
            self.run_failed.emit(str(error))
            return None
        return self._submit(checked)

    def _submit(self, checked: RunRequest) -> RunJob:
        job = RunJob(checked, self.workspace.context())
        generation = self._generation
        job.finished.connect(lambda result: self._run_finished(job, generation, result))
        job.failed.connect(lambda message: self._run_failed(job, generation, message))
        job.cancelled.connect(lambda: self.log_message(f"cancelled: {job.description}"))
        self._run_rows.add(job)
        self._queue.submit(job)
        self.status_bar.showMessage(f"queued {job.description}", 5000)
        return job

    def results(self) -> list[Result]:
        """The results on the canvas, in tile order."""
        return self.canvas.results()

    def clear_canvas(self) -> None:
        self.canvas.clear()

    def jobs(self) -> list[RunJob]:
        """Runs queued or running, oldest first."""
        return self._queue.jobs()

    def run_row(self, job: RunJob) -> QtWidgets.QWidget | None:
        """The progress row of a queued or running job (its progress_bar, cancel_button)."""
        return self._run_rows.row(job)

    def wait_until_idle(self, timeout_s: float = 120.0) -> bool:
        """Process events until every queued run has ended (for scripts and the app)."""
        deadline = time.monotonic() + timeout_s
        app = QtWidgets.QApplication.instance()
        while self._queue.busy() and time.monotonic() < deadline:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        app.processEvents()
        return not self._queue.busy()

    def export_canvas(self, path) -> bool:
        """Save the canvas (all tiles as laid out) as a PNG."""
        if not self.canvas.export_png(path):
            self.report_error(f"could not write {path}")
            return False
        self.log_message(f"canvas exported to {path}")
        return True

    def shutdown(self) -> None:
        """Cancel every run and wait for the worker (called when the widget closes)."""
        self._generation += 1
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
        self.run_button.clicked.connect(lambda: self._run_indexes(self.layer_tree.selected_nodes()))
        self.columns_spin.valueChanged.connect(self.canvas.set_columns)
        self.preprocessing_combo.activated.connect(self._preprocessing_chosen)
        self.device_combo.currentIndexChanged.connect(
            lambda _: workspace.set_device(self.device()))
        self.output_combo.activated.connect(self.set_output_index)
        self.layer_tree.run_requested.connect(self._run_indexes)
        self.canvas.nodes_dropped.connect(self._run_nodes)
        self.canvas.files_dropped.connect(self.open_files)
        self.params_form.values_changed.connect(
            lambda method_id, values: self.status_bar.showMessage(
                f"{method_id}: {key_params(self.registry.get(method_id), values)}"
                " (remembered)", 4000))

    def _show_model(self, model) -> None:
        """A new document: runs of the old one are cancelled and its tiles cleared."""
        self._generation += 1
        self._queue.cancel_all()
        self.canvas.clear()
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
        self.params_form.set_method(None)
        self.method_label.setText("No method selected")
        if workspace.class_count():  # the classes are where most people start
            first = self._tree_model.index(0, 0)
            self.layer_tree.expand(first)
            self.layer_tree.setCurrentIndex(first)
        old_tree.deleteLater()
        old_table.deleteLater()

    def _image_changed(self, image) -> None:
        if image is not None:
            self._rank_classes()
            self._check_preprocessing()

    def _reload_image(self) -> None:
        if self.workspace.model is not None and self.workspace.image_source is not None:
            self.set_image(self.workspace.image_source)

    def _preprocessing_chosen(self, position: int) -> None:
        name = self.summary.chosen_preset(position)
        if name is not None:
            self.set_preprocessing(name)

    def _rank_classes(self) -> None:
        """Sort the Prediction node's classes by score: the predictions method, on the worker."""
        self._tree_model.set_scores(None)
        if self.workspace.image is None or "predictions" not in self.registry.all():
            return
        checked = self.workspace.request("predictions", Target(NodeType.PREDICTION), {})
        job = RunJob(checked, self.workspace.context(), description="ranking classes")
        generation, tree_model = self._generation, self._tree_model
        job.finished.connect(lambda result: self._ranked(generation, tree_model, result))
        job.failed.connect(lambda message: self.log_message(f"class ranking failed: {message}"))
        self._queue.submit(job)

    def _ranked(self, generation: int, tree_model: LayerTreeModel, result: Result) -> None:
        if generation != self._generation or tree_model is not self._tree_model:
            return
        tree_model.set_scores(result.data)
        best, labels = result.info["ranking"][0], self.workspace.labels
        name = labels[best] if labels and best < len(labels) else best
        self.log_message(f"top prediction: {name} ({result.data[best]:.3f})")

    def _check_preprocessing(self) -> None:
        """Compare the presets on the image (on the worker); a preset that looks wrong is
        said in the summary, the status bar and the log, never switched."""
        image, check = self.workspace.image, self.workspace.check_preprocessing
        job = TaskJob(lambda progress, should_stop: check(), "checking the preprocessing")
        generation = self._generation
        job.finished.connect(lambda advice: self._preprocessing_checked(generation, image, advice))
        job.failed.connect(lambda message: self.log_message(
            f"preprocessing check failed: {message}"))
        self._queue.submit(job)

    def _preprocessing_checked(self, generation: int, image, advice) -> None:
        if (generation != self._generation or image is not self.workspace.image
                or not advice.message):
            return
        message = f"Warning: {advice.message}"
        self.summary.show_warning(message)
        self.status_bar.showMessage(message, 30000)
        self.log_message(message)

    def _run_indexes(self, indexes: list) -> None:
        model = self._tree_model
        self._run_nodes([(model.target(i), model.method_id(i)) for i in indexes
                         if model.target(i) is not None])

    def _run_nodes(self, nodes: list) -> None:
        for target, method_id in nodes:
            self.run_record(RunRecord(method_id, target))

    def _run_finished(self, job: RunJob, generation: int, result: Result) -> None:
        if generation != self._generation:
            return
        details = key_params(job.request.method, job.params)
        title = result.title + (f" · {details}" if details else "")
        # the node as run: a class picked as the top one is recorded by its index
        self.canvas.add_result(result, RunRecord(job.method_id, result.target, job.params), title)
        self.log_message(f"done: {title}")
        self.status_bar.showMessage(f"done: {title}", 5000)
        self.result_added.emit(result)

    def _run_failed(self, job: RunJob, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.report_error(f"{job.description}: {message}", "Run failed")
        self.run_failed.emit(message)

    def _current_node_changed(self, index) -> None:
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
