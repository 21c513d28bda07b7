"""``ConvVisualizationWidget``: open a model and an image, pick tree nodes, see the results.

The layout comes from ``ui/ConvVisualizer.ui`` (editable in Qt Designer), loaded at run time
with ``qtpy.uic.loadUi``. The widget never computes: every algorithm goes through
``core.explain.run`` on a worker thread (:mod:`.worker`) and its :class:`Result` is drawn by
``core.plotting`` on a canvas tile. Errors become a line in the log, the status bar and
(unless ``show_dialogs`` is False) a non-modal message box; the widget stays usable.
"""

from __future__ import annotations

import importlib.resources
import time
from pathlib import Path
from typing import Any

import numpy as np
from qtpy import QtCore, QtGui, QtWidgets
from qtpy.uic import loadUi

from ..core.context import Context, Target
from ..core.errors import DialVisualizationError, MethodNotApplicableError, UnsafeModelError
from ..core.explain import request
from ..core.images import InputImage, load_image
from ..core.layers import LayerTree
from ..core.labels import check_labels, load_labels
from ..core.models import MODEL_SUFFIXES, check_model, class_count, file_sha256, load_model
from ..core.preprocessing import PRESETS, Preprocessing, compare_presets, resolve
from ..core.registry import Algorithm, HandlerConfiguration, NodeType
from ..core.result import Result
from ..core.session import RunRecord, Session
from .compat import combine
from .layer_models import LayerTableModel, LayerTreeModel
from .worker import RunJob, RunQueue, TaskJob, in_background

def _ui_file(name: str) -> Path:
    """A Designer file: from the installed data package ``dial_visualization.ui``, else from
    ``ui/`` at the top of a source checkout."""
    try:
        return Path(str(importlib.resources.files("dial_visualization.ui") / name))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "ui" / name


UI_FILE = _ui_file("ConvVisualizer.ui")
IMAGE_VIEW_SIZE = 200
LABEL_SUFFIXES = (".txt", ".json")
_CUSTOM = "custom"


def pixmap_from_array(pixels, size: int, smooth: bool = True) -> QtGui.QPixmap:
    """A QPixmap of uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) pixels, fit into size²."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = np.ascontiguousarray(pixels[..., 0])
    height, width = pixels.shape[:2]
    formats = {1: QtGui.QImage.Format.Format_Grayscale8, 3: QtGui.QImage.Format.Format_RGB888,
               4: QtGui.QImage.Format.Format_RGBA8888}
    data = pixels.tobytes()
    image = QtGui.QImage(data, width, height, pixels.strides[0],
                         formats[1 if pixels.ndim == 2 else pixels.shape[-1]]).copy()
    mode = (QtCore.Qt.TransformationMode.SmoothTransformation if smooth
            else QtCore.Qt.TransformationMode.FastTransformation)
    return QtGui.QPixmap.fromImage(image).scaled(
        size, size, QtCore.Qt.AspectRatioMode.KeepAspectRatio, mode)


def yes_no_buttons():
    buttons = QtWidgets.QMessageBox.StandardButton
    return combine(getattr(QtWidgets.QMessageBox, "StandardButtons", None), buttons.Yes, buttons.No)


def key_params(algorithm: Algorithm | None, params: dict[str, Any]) -> str:
    """``name=value`` for the parameters that differ from the declared defaults."""
    if algorithm is None:
        return ""
    changed = [f"{p.name}={params[p.name]}" for p in algorithm.parameters
               if p.name in params and params[p.name] != p.default]
    return ", ".join(changed)


class ConvVisualizationWidget(QtWidgets.QWidget):
    """The convolutional-network visualisation widget (see the module docstring)."""

    model_changed = QtCore.Signal(object)
    result_added = QtCore.Signal(object)
    run_failed = QtCore.Signal(str)
    busy_changed = QtCore.Signal(bool)
    #: Every error reported to the user (log, status bar, message box), as one line.
    error_reported = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        loadUi(str(UI_FILE), self)
        #: Show errors and confirmations as message boxes (tests and batch use set False:
        #: errors then go to the log and status bar only, and unsafe models are refused).
        self.show_dialogs = True
        self.registry: HandlerConfiguration | None = None  # None: the default registry
        self._model = None
        self._model_source = ""
        self._image: InputImage | None = None
        self._image_source = None
        self._labels: list[str] | None = None
        self._labels_source = ""
        self._preprocessing: Preprocessing = resolve(None)
        self._output_index = 0
        self._generation = 0
        self._message_boxes: list[QtWidgets.QMessageBox] = []
        self._run_rows: dict[int, QtWidgets.QWidget] = {}
        self._queue = RunQueue(self)
        self._queue.busy_changed.connect(self.busy_changed)
        self._tree_model = LayerTreeModel(parent=self)
        self._table_model = LayerTableModel(parent=self)
        self._setup_views()
        self._connect()

    # ================================================================== public interface

    @property
    def model(self):
        """The Keras model shown, or None."""
        return self._model

    @property
    def image(self) -> InputImage | None:
        """The input image as loaded for the model, or None."""
        return self._image

    @property
    def preprocessing(self) -> Preprocessing:
        """The preprocessing of images for the model, and why it was chosen."""
        return self._preprocessing

    @property
    def labels(self) -> list[str] | None:
        return self._labels

    @property
    def output_index(self) -> int:
        """Which model output the Prediction node and the methods explain."""
        return self._output_index

    @property
    def busy(self) -> bool:
        """Whether runs are queued or running."""
        return self._queue.busy()

    def set_model(self, model, source: str = "", sha256: str = "") -> bool:
        """Show ``model`` (a ``keras.Model``; ``None`` clears), read from file ``source`` whose
        SHA-256 is ``sha256``. The canvas is cleared and the detected preprocessing
        preselected; the image, if any, is reloaded for the model."""
        if model is not None:
            try:
                check_model(model)
                tree = LayerTree(model)
            except DialVisualizationError as error:
                self.report_error(f"cannot show this model: {error}")
                return False
            except Exception as error:  # an exotic model the inspector cannot read
                self.report_error(f"cannot show this model: {type(error).__name__}: {error}")
                return False
        self._generation += 1
        self._queue.cancel_all()
        self.canvas.clear()
        self._model = model
        self._model_source = str(source) if model is not None else ""
        if model is None:
            self._fill_outputs(None)
            self._set_tree_models(None, 0)
            self._image = None
            self._show_image()
            self.model_path_label.setText("No model loaded")
            self.model_checksum_label.setText("")
            self.log_message("model cleared")
            self.model_changed.emit(None)
            return True
        self._output_index = 0
        self._fill_outputs(model)
        self._drop_labels_of_another_model()
        self._set_tree_models(tree, self._class_count())
        self._select_preprocessing(resolve(None, model))
        name = Path(self._model_source).name if self._model_source else model.name
        self.model_path_label.setText(name)
        self.model_path_label.setToolTip(self._model_source or model.name)
        self.model_checksum_label.setText(f"SHA-256 {sha256}" if sha256 else
                                          "in memory: no file to check")
        layers = sum(1 for _ in tree.walk())
        self.log_message(f"model {name}: {layers} layers, {model.count_params():,} parameters, "
                  f"input {tuple(model.inputs[0].shape)}")
        self.model_changed.emit(model)
        if self._image_source is not None:
            self._load_image(self._image_source)
        self.tabs.setCurrentWidget(self.visualisation_tab)
        return True

    def load_model_file(self, path) -> bool:
        """Load a model file; a model that needs unsafe deserialisation is loaded only after
        the user confirms it."""
        path = str(path)
        try:
            try:
                model, digest = self._read_model(path)
            except UnsafeModelError as error:
                question = (f"{error}\n\nLoading it runs code stored in the file. "
                            "Load it anyway?")
                if not self.ask_confirmation("Untrusted model", question):
                    self.log_message(f"{Path(path).name} not loaded (not confirmed)")
                    self.status_bar.showMessage(f"{Path(path).name} not loaded", 10000)
                    return False
                model, digest = self._read_model(path, trusted=True)
        except DialVisualizationError as error:
            self.report_error(str(error), "Cannot open model")
            return False
        except Exception as error:
            self.report_error(f"{Path(path).name}: {type(error).__name__}: {error}",
                              "Cannot open model")
            return False
        return self.set_model(model, path, digest)

    def _read_model(self, path: str, trusted: bool = False):
        """(model, SHA-256 of its file), read on a thread (see :meth:`_read_file`)."""
        return self._read_file(lambda: (load_model(path, trusted=trusted), file_sha256(path)))

    def _read_file(self, function, *args, **kwargs):
        """``function(*args, **kwargs)`` (reading a file) on a thread: the window keeps
        painting meanwhile, and takes no input until it is done."""
        self.setEnabled(False)
        try:
            with _wait_cursor():
                return in_background(function, *args, **kwargs)
        finally:
            self.setEnabled(True)

    def set_image(self, path_or_array) -> bool:
        """Load an image (path, array or Pillow image) for the model; kept if none is set yet."""
        if self._model is None:
            self._image_source = path_or_array
            self.log_message("image kept: it is loaded for the model once one is open")
            return True
        return self._load_image(path_or_array)

    def set_preprocessing(self, name_or_callable) -> bool:
        """A preset name (none, unit, symmetric, caffe, torch) or a function of float32 pixels
        in [0, 255]; the image is reloaded with it."""
        try:
            preprocessing = resolve(name_or_callable)
        except DialVisualizationError as error:
            self.report_error(str(error))
            return False
        self._select_preprocessing(preprocessing)
        self._reload_image()
        return True

    def set_labels(self, labels: list[str] | None, source: str = "") -> bool:
        """Class names for the Prediction node and later results (None removes them). Names
        whose count is not the model's class count are refused (the current ones stay)."""
        if labels and self._model is not None:
            try:
                check_labels(labels, self._class_count(), Path(source).name if source else "")
            except DialVisualizationError as error:
                self.report_error(str(error), "Cannot use these labels")
                return False
        self._labels = list(labels) if labels else None
        self._labels_source = str(source) if labels else ""
        self._tree_model.set_labels(self._labels)
        if self._labels:
            where = Path(self._labels_source).name if self._labels_source else "given"
            self.labels_path_label.setText(f"{where} ({len(self._labels)} classes)")
            self.log_message(f"labels: {len(self._labels)} class names ({where})")
        else:
            self.labels_path_label.setText("No labels")
        return True

    def set_output_index(self, index: int) -> bool:
        """Explain output ``index`` of a multi-output model (its classes fill the tree)."""
        if self._model is None or not 0 <= index < len(self._model.outputs):
            self.report_error(f"the model has no output {index}")
            return False
        if index != self._output_index:
            self._output_index = index
            self.output_combo.setCurrentIndex(index)
            self._drop_labels_of_another_model()
            self._set_tree_models(LayerTree(self._model), self._class_count())
            self._rank_classes()
            self.log_message(f"explaining output {index}: {self.output_combo.currentText()}")
        return True

    def load_labels_file(self, path) -> bool:
        try:
            labels = self._read_file(load_labels, path)
        except DialVisualizationError as error:
            self.report_error(str(error), "Cannot open labels")
            return False
        return self.set_labels(labels, str(path))

    def run_algorithm(self, algorithm_id: str, target: Target,
                      params: dict | None = None) -> RunJob | None:
        """Queue a run; ``params`` None uses the values remembered for the algorithm, a dict
        is taken over the declared defaults. Returns the queued job (None if refused)."""
        try:
            algorithm = self._registry().get(algorithm_id)
            if self._model is None:
                raise MethodNotApplicableError("open a model first")
            values = self.params_form.remembered(algorithm) if params is None else params
            checked = request(algorithm_id, self._model, target, values,
                              output_index=self._output_index, registry=self._registry())
        except DialVisualizationError as error:
            self.report_error(str(error), "Cannot run")
            self.run_failed.emit(str(error))
            return None
        job = RunJob(checked, self._context())
        generation = self._generation
        job.finished.connect(lambda result: self._run_finished(job, generation, result))
        job.failed.connect(lambda message: self._run_failed(job, generation, message))
        job.cancelled.connect(lambda: self.log_message(f"cancelled: {job.description}"))
        self._add_run_row(job)
        self._queue.submit(job)
        self.status_bar.showMessage(f"queued {job.description}", 5000)
        return job

    def results(self) -> list[Result]:
        """The results on the canvas, in tile order."""
        return self.canvas.results()

    def clear_canvas(self) -> None:
        self.canvas.clear()

    def session(self) -> Session:
        """The model, image and labels files, the preprocessing, and one RunRecord per tile."""
        image_path = self._image_source if isinstance(self._image_source, (str, Path)) else None
        return Session(model_path=self._model_source,
                       image_path=str(image_path) if image_path else None,
                       preprocessing=self._preprocessing.name,
                       preprocessing_reason=self._preprocessing.reason,
                       labels_path=self._labels_source or None,
                       output_index=self._output_index,
                       runs=[tile.record for tile in self.canvas.tiles() if tile.record])

    def jobs(self) -> list[RunJob]:
        """Runs queued or running, oldest first."""
        return self._queue.jobs()

    def wait_until_idle(self, timeout_s: float = 120.0) -> bool:
        """Process events until every queued run has ended (for scripts and the app)."""
        deadline = time.monotonic() + timeout_s
        app = QtWidgets.QApplication.instance()
        while self._queue.busy() and time.monotonic() < deadline:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        app.processEvents()
        return not self._queue.busy()

    def remember_params(self, algorithm_id: str, params: dict) -> dict:
        """Check and remember parameter values for an algorithm (used by later runs)."""
        return self.params_form.remember(self._registry().get(algorithm_id), params)

    def device(self) -> str:
        return self.device_combo.currentData() or "auto"

    def export_canvas(self, path) -> bool:
        """Save the canvas (all tiles as laid out) as a PNG."""
        if not self.canvas.export_png(path):
            self.report_error(f"could not write {path}")
            return False
        self.log_message(f"canvas exported to {path}")
        return True

    def open_files(self, paths: list[str]) -> None:
        """Open dropped files: models, labels files, or images, by their suffix."""
        for path in paths:
            suffix = Path(path).suffix.lower()
            if suffix in MODEL_SUFFIXES:
                self.load_model_file(path)
            elif suffix in LABEL_SUFFIXES:
                self.load_labels_file(path)
            else:
                self.set_image(path)

    def ask_confirmation(self, title: str, text: str) -> bool:
        """A Yes/No question; refused without asking when ``show_dialogs`` is False."""
        if not self.show_dialogs:
            self.log_message(f"{title}: refused (dialogs are off)")
            return False
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(
            self, title, text, yes_no_buttons(), buttons.No)
        return answer == buttons.Yes

    def shutdown(self) -> None:
        """Cancel every run and wait for the worker (called when the widget closes)."""
        self._generation += 1
        self._queue.shutdown()

    # ------------------------------------------------------------------ dialogs (slots)

    def open_model_dialog(self) -> None:
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open model", "", f"Keras models ({suffixes});;All files (*)")
        if path:
            self.load_model_file(path)

    def open_image_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open image", "",
            "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)")
        if path:
            self.set_image(path)

    def open_labels_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open class names", "", "Labels (*.txt *.json);;All files (*)")
        if path:
            self.load_labels_file(path)

    def export_canvas_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export canvas", "canvas.png",
                                                        "PNG image (*.png)")
        if path:
            self.export_canvas(path)

    # ================================================================== setup

    def _setup_views(self) -> None:
        self.layer_table.setModel(self._table_model)
        self.layer_table.verticalHeader().hide()
        self.layer_table.horizontalHeader().setStretchLastSection(True)
        self.layer_tree.setModel(self._tree_model)
        for name in PRESETS:
            self.preprocessing_combo.addItem(name, name)
        self._select_preprocessing(self._preprocessing)
        self.preprocessing_warning_label.hide()
        from ..core.tf_ops import gpu_available

        self.device_combo.addItem("Automatic", "auto")
        if gpu_available():
            self.device_combo.addItem("GPU", "gpu")
            self.device_combo.addItem("CPU", "cpu")
        else:
            self.device_label.hide()
            self.device_combo.hide()
        for view in (self.image_original_view, self.image_model_view):
            view.setFixedSize(IMAGE_VIEW_SIZE + 4, IMAGE_VIEW_SIZE + 4)
        self.runs_group.hide()
        self.summary_top_splitter.setSizes([720, 480])
        self.summary_splitter.setSizes([560, 160])
        self.visualisation_splitter.setSizes([360, 920])
        self.visualisation_splitter.setStretchFactor(1, 1)
        self.tree_splitter.setSizes([480, 260])
        self.canvas.set_columns(self.columns_spin.value())

    def _connect(self) -> None:
        self.open_model_button.clicked.connect(self.open_model_dialog)
        self.open_image_button.clicked.connect(self.open_image_dialog)
        self.open_labels_button.clicked.connect(self.open_labels_dialog)
        self.export_canvas_button.clicked.connect(self.export_canvas_dialog)
        self.clear_canvas_button.clicked.connect(self.clear_canvas)
        self.run_button.clicked.connect(lambda: self._run_indexes(self.layer_tree.selected_nodes()))
        self.columns_spin.valueChanged.connect(self.canvas.set_columns)
        self.preprocessing_combo.activated.connect(self._preprocessing_chosen)
        self.output_combo.activated.connect(self.set_output_index)
        self.layer_tree.run_requested.connect(self._run_indexes)
        self.canvas.nodes_dropped.connect(self._run_nodes)
        self.canvas.files_dropped.connect(self.open_files)
        self.params_form.values_changed.connect(
            lambda algorithm_id, values: self.status_bar.showMessage(
                f"{algorithm_id}: {key_params(self._registry().get(algorithm_id), values)}"
                " (remembered)", 4000))

    def _set_tree_models(self, tree: LayerTree | None, class_count: int) -> None:
        old_tree, old_table = self._tree_model, self._table_model
        self._tree_model = LayerTreeModel(tree, class_count, self._labels, self.registry, self)
        self._table_model = LayerTableModel(tree, self)
        self.layer_tree.setModel(self._tree_model)
        self.layer_table.setModel(self._table_model)
        self.layer_table.resizeColumnsToContents()
        self.layer_tree.selectionModel().currentChanged.connect(self._current_node_changed)
        self._tree_model.dataChanged.connect(
            lambda *_: self._current_node_changed(self.layer_tree.currentIndex()))
        self.params_form.set_algorithm(None)
        self.algorithm_label.setText("No algorithm selected")
        if class_count:  # the classes are where most people start
            first = self._tree_model.index(0, 0)
            self.layer_tree.expand(first)
            self.layer_tree.setCurrentIndex(first)
        old_tree.deleteLater()
        old_table.deleteLater()

    # ================================================================== state

    def _registry(self) -> HandlerConfiguration:
        return self.registry or HandlerConfiguration.default()

    def _class_count(self) -> int:
        return class_count(self._model, self._output_index)

    def _drop_labels_of_another_model(self) -> None:
        """Class names that do not fit the model's (or output's) class count are dropped:
        they belong to another model."""
        if self._labels and len(self._labels) != self._class_count():
            dropped = len(self._labels)
            self.set_labels(None)
            self.log_message(f"class names dropped: {dropped} names, but the model's output "
                             f"scores {self._class_count()} classes")

    def _fill_outputs(self, model) -> None:
        """One entry per model output; the row is shown only when there is a choice."""
        self.output_combo.clear()
        outputs = model.outputs if model is not None else []
        for position, tensor in enumerate(outputs):
            layer = tensor._keras_history[0].name
            self.output_combo.addItem(f"{position}: {layer} {tuple(tensor.shape)}", position)
        self.output_label.setVisible(len(outputs) > 1)
        self.output_combo.setVisible(len(outputs) > 1)

    def _context(self) -> Context:
        return Context(model=self._model, image=self._image, output_index=self._output_index,
                       labels=list(self._labels) if self._labels else None,
                       device=self.device())

    def _select_preprocessing(self, preprocessing: Preprocessing) -> None:
        """Make ``preprocessing`` current; its combo entry says why it was chosen."""
        self._preprocessing = preprocessing
        combo = self.preprocessing_combo
        custom = combo.findData(_CUSTOM)
        if preprocessing.name not in PRESETS and custom < 0:
            combo.addItem("", _CUSTOM)
        elif preprocessing.name in PRESETS and custom >= 0:
            combo.removeItem(custom)
        for position in range(combo.count()):
            name = combo.itemData(position)
            current = name == preprocessing.name or (name == _CUSTOM
                                                     and preprocessing.name not in PRESETS)
            text = f"custom: {preprocessing.name}" if name == _CUSTOM else name
            combo.setItemText(position, f"{text} ({preprocessing.reason})" if current else text)
            if current:
                combo.setCurrentIndex(position)
        combo.setToolTip(f"How pixels are scaled before they enter the model: "
                         f"{preprocessing.name}, {preprocessing.reason}")

    def _preprocessing_chosen(self, position: int) -> None:
        name = self.preprocessing_combo.itemData(position)
        if name != _CUSTOM and name != self._preprocessing.name:
            self.set_preprocessing(name)

    def _load_image(self, source) -> bool:
        try:
            image = self._read_file(load_image, source, self._model, self._preprocessing)
        except DialVisualizationError as error:
            self.report_error(str(error), "Cannot open image")
            return False
        except Exception as error:
            self.report_error(f"cannot load the image: {type(error).__name__}: {error}",
                              "Cannot open image")
            return False
        self._image, self._image_source = image, source
        self._show_image()
        original, resized = image.original.shape, image.resized.shape
        self.log_message(f"image {image.name}: {original[1]}×{original[0]} → "
                         f"{resized[1]}×{resized[0]}×{resized[2]}, "
                         f"preprocessing {image.preprocessing} ({image.preprocessing_reason})")
        self._rank_classes()
        self._check_preprocessing()
        return True

    def _reload_image(self) -> None:
        if self._model is not None and self._image_source is not None:
            self._load_image(self._image_source)

    def _show_image(self) -> None:
        image = self._image
        if image is None:
            for view in (self.image_original_view, self.image_model_view):
                view.clear()
            self.image_path_label.setText("No image loaded")
            self.image_info_label.setText("")
            self.preprocessing_warning_label.hide()
            return
        self.image_original_view.setPixmap(pixmap_from_array(image.original, IMAGE_VIEW_SIZE))
        self.image_model_view.setPixmap(
            pixmap_from_array(image.resized, IMAGE_VIEW_SIZE, smooth=False))
        self.image_path_label.setText(image.name)
        self.image_path_label.setToolTip(image.source)
        low, high = float(np.min(image.array)), float(np.max(image.array))
        self.image_info_label.setText(
            f"{image.original.shape[1]}×{image.original.shape[0]} as loaded; "
            f"{image.resized.shape[1]}×{image.resized.shape[0]}×{image.resized.shape[2]} "
            f"for the model ({image.size_reason}); preprocessing {image.preprocessing} "
            f"({image.preprocessing_reason}): values {low:.3g} to {high:.3g}")

    def _rank_classes(self) -> None:
        """Sort the Prediction node's classes by score: the predictions algorithm, on the worker."""
        self._tree_model.set_scores(None)
        registry = self._registry()
        if self._image is None or "predictions" not in registry.all():
            return
        checked = request("predictions", self._model, Target(NodeType.PREDICTION),
                          output_index=self._output_index, registry=registry)
        job = RunJob(checked, self._context(), description="ranking classes")
        generation, tree_model = self._generation, self._tree_model
        job.finished.connect(lambda result: self._ranked(generation, tree_model, result))
        job.failed.connect(lambda message: self.log_message(f"class ranking failed: {message}"))
        self._queue.submit(job)

    def _ranked(self, generation: int, tree_model: LayerTreeModel, result: Result) -> None:
        if generation != self._generation or tree_model is not self._tree_model:
            return
        tree_model.set_scores(result.data)
        ranking = result.info.get("ranking") or []
        if ranking:
            best = ranking[0]
            name = self._labels[best] if self._labels and best < len(self._labels) else best
            self.log_message(f"top prediction: {name} ({result.data[best]:.3f})")

    def _check_preprocessing(self) -> None:
        """Compare the presets on the image (on the worker); a preset that looks wrong is
        said in the summary, the status bar and the log, never switched."""
        self.preprocessing_warning_label.hide()
        model, image, labels = self._model, self._image, self._labels
        output_index, device = self._output_index, self.device()
        preprocessing = self._preprocessing

        def check(progress, should_stop):
            return compare_presets(model, image.resized, preprocessing,
                                   output_index=output_index, labels=labels, device=device)

        job = TaskJob(check, "checking the preprocessing")
        generation = self._generation
        job.finished.connect(lambda advice: self._preprocessing_checked(generation, image, advice))
        job.failed.connect(lambda message: self.log_message(
            f"preprocessing check failed: {message}"))
        self._queue.submit(job)

    def _preprocessing_checked(self, generation: int, image, advice) -> None:
        if generation != self._generation or image is not self._image or not advice.message:
            return
        message = f"Warning: {advice.message}"
        self.preprocessing_warning_label.setText(message)
        self.preprocessing_warning_label.show()
        self.status_bar.showMessage(message, 30000)
        self.log_message(message)

    # ================================================================== runs

    def _run_indexes(self, indexes: list) -> None:
        model = self._tree_model
        self._run_nodes([(model.target(i), model.algorithm_id(i)) for i in indexes
                         if model.target(i) is not None])

    def _run_nodes(self, nodes: list) -> None:
        for target, algorithm_id in nodes:
            if algorithm_id is None:
                offered = self._registry().for_node_type(target.node_type)
                if not offered:
                    self.report_error(f"no algorithm handles {target.node_type.value} nodes")
                    continue
                algorithm_id = offered[0].id
            self.run_algorithm(algorithm_id, target)

    def _run_finished(self, job: RunJob, generation: int, result: Result) -> None:
        if generation != self._generation:
            return
        registry = self._registry()
        algorithm = registry.all().get(job.algorithm_id)
        target = result.target or job.target
        record = RunRecord(method=job.algorithm_id, node_type=target.node_type.value,
                           layer=target.layer, index=target.index, params=dict(job.params))
        name = algorithm.name if algorithm else job.algorithm_id
        title = f"{name} · {target.describe(job.context.labels)}"
        details = key_params(algorithm, job.params)
        if details:
            title += f" · {details}"
        self.canvas.add_result(result, record, title)
        self.log_message(f"done: {title}")
        self.status_bar.showMessage(f"done: {title}", 5000)
        self.result_added.emit(result)

    def _run_failed(self, job: RunJob, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.report_error(f"{job.description}: {message}", "Run failed")
        self.run_failed.emit(message)

    def _add_run_row(self, job: RunJob) -> None:
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QtWidgets.QLabel(f"{job.description} (queued)")
        label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                            QtWidgets.QSizePolicy.Policy.Preferred)
        bar = QtWidgets.QProgressBar()
        bar.setRange(0, 1000)
        bar.setMinimumWidth(160)
        bar.setMaximumWidth(320)
        cancel = QtWidgets.QPushButton("Cancel")
        cancel.setToolTip("stop this run after its current batch")
        layout.addWidget(label, 1)
        layout.addWidget(bar)
        layout.addWidget(cancel)
        row.progress_bar, row.cancel_button = bar, cancel

        def cancelled_by_user():
            job.cancel()
            cancel.setEnabled(False)
            label.setText(f"{job.description} (cancelling…)")

        cancel.clicked.connect(cancelled_by_user)
        job.started.connect(lambda: label.setText(job.description))
        job.progress.connect(lambda fraction: bar.setValue(int(fraction * 1000)))
        job.ended.connect(lambda: self._remove_run_row(job))
        self._run_rows[id(job)] = row
        self.runs_group.layout().addWidget(row)
        self.runs_group.show()

    def run_row(self, job: RunJob) -> QtWidgets.QWidget | None:
        """The progress row of a queued or running job (its progress_bar, cancel_button)."""
        return self._run_rows.get(id(job))

    def _remove_run_row(self, job: RunJob) -> None:
        row = self._run_rows.pop(id(job), None)
        if row is not None:
            row.hide()
            row.deleteLater()
        if not self._run_rows:
            self.runs_group.hide()

    def _current_node_changed(self, index) -> None:
        algorithm_id = self._tree_model.algorithm_id(index) if index.isValid() else None
        algorithm = self._registry().all().get(algorithm_id) if algorithm_id else None
        if algorithm is self.params_form.algorithm():
            return
        self.params_form.set_algorithm(algorithm)
        if algorithm is None:
            self.algorithm_label.setText("No algorithm for this node")
            return
        text = f"<b>{algorithm.name}</b>"
        if algorithm.description:
            text += f": {algorithm.description}"
        self.algorithm_label.setText(text)
        self.algorithm_label.setToolTip(algorithm.reference)

    # ================================================================== messages

    def log_message(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log_view.appendPlainText(f"{stamp}  {message}")

    def report_error(self, message: str, title: str = "Error") -> None:
        """Log, status bar and (when dialogs are on) a non-modal message box."""
        self.log_message(f"ERROR: {message}")
        self.status_bar.showMessage(f"Error: {message}", 15000)
        self.error_reported.emit(message)
        if not self.show_dialogs:
            return
        self._message_boxes = [b for b in self._message_boxes if b.isVisible()]
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        box.setModal(False)
        box.show()
        self._message_boxes.append(box)

    def message_boxes(self) -> list[QtWidgets.QMessageBox]:
        """Error message boxes shown and still open."""
        return [b for b in self._message_boxes if b.isVisible()]

    # ================================================================== Qt events

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_files(paths)

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)


class _wait_cursor:
    def __enter__(self):
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)

    def __exit__(self, *exc):
        QtWidgets.QApplication.restoreOverrideCursor()
        return False
