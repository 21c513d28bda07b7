"""The Dataset tab: the model over a folder of images, the failures found and explained.

"Open folder..." predicts every image of a labelled folder (``core.dataset``: true classes
from the class subfolders, as ``image_dataset_from_directory`` reads them) on the widget's
worker, with a progress row and Cancel, into a table (thumbnail, file, true and predicted
class, probability, correct, loss) that sorts and filters (misclassified only, one class, a
confidence range), beside a confusion matrix whose cells filter the table to one (true,
predicted) pair. Selecting one row makes its image the workspace image; "Explain selected"
runs the method of the Method box on each selected image, one tile per image.
"Export report..." writes one self-contained HTML file (``core.report``): the dataset run
with its worst images mapped, or (its menu) the canvas's tiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy import QtCore, QtGui, QtWidgets

from ..core import report
from ..core.context import NodeType, Target
from ..core.dataset import class_name, confusion_counts, dataset_rows, predict_rows, summary, \
    worst
from ..core.errors import DialVisualizationError
from .dataset_table import THUMBNAIL_SIZE, DatasetFilter, DatasetTableModel, thumbnail
from .worker import TaskJob

Qt = QtCore.Qt


class DatasetView(QtWidgets.QWidget):
    """The Dataset tab of ``widget`` (a :class:`~.widget.ConvVisualizationWidget`)."""

    #: The items of a finished dataset run.
    dataset_loaded = QtCore.Signal(list)

    def __init__(self, widget, parent=None):
        super().__init__(parent)
        self.widget = widget
        self.folder: Path | None = None
        self.items: list[dict] = []
        self.names: list[str] | None = None
        self._job: TaskJob | None = None
        self._matrix_classes: list[int] = []
        self.model = DatasetTableModel(self)
        self.proxy = DatasetFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        # another model's predictions would be stale: a new model clears the table
        widget.workspace.model_changed.connect(lambda _: self.clear())

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.open_button = QtWidgets.QPushButton("Open folder…")
        self.open_button.setToolTip("predict every image of a folder of class subfolders "
                                    "(as keras.utils.image_dataset_from_directory reads it)")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.explain_button = QtWidgets.QPushButton("Explain selected")
        self.explain_button.setToolTip("run the method of the Method box on each selected "
                                       "image: one tile per image")
        self.report_button = QtWidgets.QToolButton()
        self.report_button.setText("Export report…")
        self.report_button.setToolTip("one self-contained HTML file: the dataset run (the "
                                      "summary, the confusion matrix, the worst images with "
                                      "their maps, the table) or the canvas's tiles")
        self.report_button.setPopupMode(
            QtWidgets.QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QtWidgets.QMenu(self.report_button)
        self.dataset_report_action = menu.addAction("Dataset run…")
        self.canvas_report_action = menu.addAction("Canvas tiles…")
        self.dataset_report_action.triggered.connect(lambda: self.export_report_dialog())
        self.canvas_report_action.triggered.connect(lambda: self.export_canvas_report_dialog())
        self.report_button.setMenu(menu)
        self.worst_spin = QtWidgets.QSpinBox()
        self.worst_spin.setRange(0, 100)
        self.worst_spin.setValue(report.WORST_COUNT)
        self.worst_spin.setPrefix("worst ")
        self.worst_spin.setToolTip("how many of the worst images (highest loss) the report maps")
        self.summary_label = QtWidgets.QLabel("Open a folder of images (class subfolders) "
                                              "to predict them all.")
        self.summary_label.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        for each in (self.open_button, self.cancel_button):
            top.addWidget(each)
        top.addStretch(1)
        for each in (self.explain_button, self.worst_spin, self.report_button):
            top.addWidget(each)

        self.misclassified_check = QtWidgets.QCheckBox("Misclassified only")
        self.class_combo = QtWidgets.QComboBox()
        self.class_combo.addItem("All classes", None)
        self.low_spin, self.high_spin = QtWidgets.QDoubleSpinBox(), QtWidgets.QDoubleSpinBox()
        for spin, value in ((self.low_spin, 0.0), (self.high_spin, 1.0)):
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setDecimals(3)
            spin.setValue(value)
        self.show_all_button = QtWidgets.QPushButton("Show all")
        self.shown_label = QtWidgets.QLabel("")
        for label in (self.summary_label, self.shown_label):  # never widen the window
            label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                QtWidgets.QSizePolicy.Policy.Preferred)
        filters = QtWidgets.QHBoxLayout()
        filters.addWidget(self.misclassified_check)
        filters.addWidget(QtWidgets.QLabel("Class"))
        filters.addWidget(self.class_combo)
        filters.addWidget(QtWidgets.QLabel("Probability"))
        filters.addWidget(self.low_spin)
        filters.addWidget(QtWidgets.QLabel("–"))
        filters.addWidget(self.high_spin)
        filters.addWidget(self.show_all_button)
        filters.addWidget(self.shown_label, 1)

        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(
            QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIZE + 4)
        self.table.setIconSize(QtCore.QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.table.horizontalHeader().setStretchLastSection(True)

        self.matrix = QtWidgets.QTableWidget()
        self.matrix.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setToolTip("rows: true class, columns: predicted class; click a cell to "
                               "show its images")
        matrix_box = QtWidgets.QGroupBox("Confusion matrix (true × predicted)")
        QtWidgets.QVBoxLayout(matrix_box).addWidget(self.matrix)
        splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(matrix_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)

        self.open_button.clicked.connect(self.open_folder_dialog)
        self.cancel_button.clicked.connect(self.cancel)
        self.explain_button.clicked.connect(self.explain_selected)
        self.report_button.clicked.connect(self.export_report_dialog)
        self.misclassified_check.toggled.connect(
            lambda on: self._filter(misclassified_only=bool(on)))
        self.class_combo.currentIndexChanged.connect(
            lambda _: self._filter(class_index=self.class_combo.currentData()))
        self.low_spin.valueChanged.connect(self._confidence_changed)
        self.high_spin.valueChanged.connect(self._confidence_changed)
        self.show_all_button.clicked.connect(self.show_all)
        self.matrix.cellClicked.connect(self.matrix_cell_clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    # ------------------------------------------------------------------ a dataset run

    def open_folder_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> TaskJob | None:
        """Predict every image of ``folder`` on the worker; the table fills when done.
        Returns the queued job (None when no model is open)."""
        widget, workspace = self.widget, self.widget.workspace
        if workspace.model is None:
            widget.report_error("open a model first", "Cannot open the folder")
            return None
        self.cancel()
        folder = Path(folder)
        context, load = workspace.context(), workspace.read_image
        labels, class_count = workspace.labels, workspace.class_count()

        def work(progress, should_stop):
            rows, classes = dataset_rows(folder, labels, class_count)
            items = []
            for item in predict_rows(context, rows, load, progress=progress,
                                     should_stop=should_stop):
                item["thumbnail"] = thumbnail(item["path"])
                items.append(item)
            progress(1.0)
            return items, labels or classes

        job = TaskJob(work, f"predicting the images of {folder.name}")
        generation = widget._generation
        job.finished.connect(lambda outcome: self._predicted(job, generation, folder, *outcome))
        job.failed.connect(lambda message: self._ended(job) or widget.report_error(
            f"{folder.name}: {message}", "Cannot predict the folder"))
        job.cancelled.connect(lambda: self._ended(job) or widget.say(
            f"cancelled: {job.description}"))
        self._job = job
        self.cancel_button.setEnabled(True)
        self.summary_label.setText(f"{folder}: predicting…")
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _ended(self, job) -> None:
        if job is self._job:
            self._job = None
            self.cancel_button.setEnabled(False)

    def _predicted(self, job, generation: int, folder: Path, items: list[dict], names) -> None:
        self._ended(job)
        if generation != self.widget._generation:
            return  # the model changed meanwhile
        self.set_items(items, names, folder)
        self.widget.log_message(f"{folder.name}: {self.summary_text()}")

    def set_items(self, items: list[dict], names, folder: Path | None = None) -> None:
        """Show a dataset run: the table, the class filter, the confusion matrix."""
        self.folder, self.items, self.names = folder, list(items), names
        self.model.set_items(self.items, names)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        used = sorted({item["true"] if item["true"] >= 0 else item["predicted"]
                       for item in self.items if item["error"] is None or item["true"] >= 0})
        for index in used:
            if index >= 0:
                self.class_combo.addItem(class_name(index, names), index)
        self.class_combo.blockSignals(False)
        self._fill_matrix()
        self.show_all()
        self.summary_label.setText(f"{folder}: {self.summary_text()}" if folder
                                   else self.summary_text())
        self.table.resizeColumnsToContents()
        self.dataset_loaded.emit(self.items)

    def clear(self) -> None:
        """No dataset run: an empty table and matrix (a run under way is cancelled)."""
        self.cancel()
        if self.items:
            self.set_items([], None)
            self.summary_label.setText("Open a folder of images (class subfolders) to "
                                       "predict them all.")

    def summary_text(self) -> str:
        return summary(self.items, sum(item["error"] is not None for item in self.items))

    def _fill_matrix(self) -> None:
        shown, counts = confusion_counts(self.items)
        self._matrix_classes = shown
        labels = [class_name(index, self.names) for index in shown]
        self.matrix.clear()
        self.matrix.setRowCount(len(shown))
        self.matrix.setColumnCount(len(shown))
        self.matrix.setVerticalHeaderLabels(labels)
        self.matrix.setHorizontalHeaderLabels(labels)
        top = max(int(counts.max()), 1) if counts.size else 1
        for (row, column), count in np.ndenumerate(counts):
            cell = QtWidgets.QTableWidgetItem(str(count))
            cell.setToolTip(f"true {labels[row]}, predicted {labels[column]}: {count} images")
            shade = 255 - int(150 * count / top)
            cell.setBackground(QtGui.QColor(shade, shade, 255) if row == column
                               else QtGui.QColor(255, shade, shade))
            self.matrix.setItem(row, column, cell)
        self.matrix.resizeColumnsToContents()

    # ------------------------------------------------------------------ filters

    def _filter(self, **values) -> None:
        self.proxy.set_filters(**values)
        self.shown_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} shown")

    def _confidence_changed(self, _=None) -> None:
        self._filter(confidence=(self.low_spin.value(), self.high_spin.value()))

    def show_all(self) -> None:
        """Every row: no filter."""
        for control, value in ((self.misclassified_check, False),):
            control.blockSignals(True)
            control.setChecked(value)
            control.blockSignals(False)
        for spin, value in ((self.low_spin, 0.0), (self.high_spin, 1.0)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.class_combo.blockSignals(True)
        self.class_combo.setCurrentIndex(0)
        self.class_combo.blockSignals(False)
        self.matrix.clearSelection()
        self._filter(misclassified_only=False, class_index=None, confidence=(0.0, 1.0),
                     pair=None)

    def matrix_cell_clicked(self, row: int, column: int) -> None:
        """Show the images of one (true, predicted) pair only."""
        pair = (self._matrix_classes[row], self._matrix_classes[column])
        self._filter(pair=pair)
        self.widget.status_bar.showMessage(
            f"true {class_name(pair[0], self.names)}, predicted "
            f"{class_name(pair[1], self.names)}: {self.proxy.rowCount()} images", 5000)

    def shown_items(self) -> list[dict]:
        """The items of the rows shown, in the table's order."""
        return [self.model.items[self.proxy.mapToSource(self.proxy.index(row, 0)).row()]
                for row in range(self.proxy.rowCount())]

    def selected_items(self) -> list[dict]:
        """The items of the selected rows, in the table's order."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.items[self.proxy.mapToSource(self.proxy.index(row, 0)).row()]
                for row in rows]

    def select_rows(self, rows: list[int]) -> None:
        """Select these rows of the table as shown."""
        selection = QtCore.QItemSelection()
        last = self.proxy.columnCount() - 1
        for row in rows:  # whole rows (no flags combined: PySide2 5.13 cannot or them)
            selection.select(self.proxy.index(row, 0), self.proxy.index(row, last))
        self.table.selectionModel().select(
            selection, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _selection_changed(self, *_) -> None:
        items = self.selected_items()
        if len(items) == 1 and items[0]["error"] is None:
            self.widget.set_image(items[0]["path"])

    # ------------------------------------------------------------------ explaining

    def chosen_request(self, fallback: str | None = None):
        """The checked run of the Method box's method on the current node of the tree (the
        top class when that is a class node or nothing); ``fallback`` when that method does
        not map the input of a class (for the report)."""
        widget = self.widget
        method_id = widget.method_combo.currentData()
        tree = widget._tree_model
        index = widget.layer_tree.currentIndex()
        target = tree.target(index) if index.isValid() else None
        if fallback is not None:
            method = widget.registry.all().get(method_id) if method_id else None
            if method is None or NodeType.PREDICTION not in method.node_types \
                    or method_id in ("predictions", "activation-maximization"):
                method_id = fallback
            if target is None or target.node_type is not NodeType.PREDICTION:
                target = Target(NodeType.PREDICTION)
        if method_id is None:
            raise DialVisualizationError("choose a method in the Method box (select a class, "
                                         "output or kernel node)")
        return widget.workspace.request(method_id, target or Target(NodeType.PREDICTION))

    def explain_selected(self) -> TaskJob | None:
        """The Method box's method on each selected image: one tile per image on a cleared
        canvas, as many columns as images (Ctrl+Z brings the old tiles back)."""
        widget = self.widget
        items = [item for item in self.selected_items() if item["error"] is None]
        if not items:
            widget.say("select one or more images (rows) of the table first")
            return None
        try:
            checked = self.chosen_request()
        except DialVisualizationError as error:
            widget.report_error(str(error), "Cannot explain")
            return None
        workspace = widget.workspace
        context, load = workspace.context(), workspace.read_image

        def work(progress, should_stop):
            return report.explain_items(checked, context, items, load, progress=progress,
                                        should_stop=should_stop)

        job = TaskJob(work, f"{checked.method.name} on {len(items)} images")
        generation = widget._generation
        job.finished.connect(lambda explained: self._explained(generation, explained))
        job.failed.connect(lambda message: widget.report_error(message, "Run failed"))
        job.cancelled.connect(lambda: widget.say(f"cancelled: {job.description}"))
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def _explained(self, generation: int, explained) -> None:
        widget = self.widget
        if generation != widget._generation:
            return
        widget.clear_canvas()
        widget.columns_spin.setValue(len(explained))
        for each in explained:
            if each.result is None:
                widget.report_error(f"{each.item['file']}: {each.error}", "Run failed")
                continue
            title = f"{Path(each.item['file']).name} · {each.result.title}"
            widget.canvas.add_result(each.result, None, title)
            widget.result_added.emit(each.result)
        widget.tabs.setCurrentWidget(widget.visualisation_tab)
        widget.say(f"explained {len(explained)} images")

    # ------------------------------------------------------------------ reports

    def export_report_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export report", "report.html",
                                                        "HTML file (*.html)")
        if path:
            self.export_report(path)

    def export_report(self, path, count: int | None = None) -> TaskJob | None:
        """Write the dataset run's HTML report to ``path``: its worst ``count`` images
        (default: the spin box's) mapped with the Method box's method (Grad-CAM when it
        does not map a class) on the worker. Returns the queued job."""
        widget = self.widget
        if not self.items:
            widget.report_error("open a folder first: there is no dataset run to report",
                                "Cannot export")
            return None
        try:
            checked = self.chosen_request(fallback=report.DEFAULT_METHOD)
        except DialVisualizationError as error:
            widget.report_error(str(error), "Cannot export")
            return None
        workspace = widget.workspace
        context, load = workspace.context(), workspace.read_image
        items, names, folder = self.items, self.names, self.folder
        count = self.worst_spin.value() if count is None else count
        preprocessing = workspace.preprocessing
        parameters = {"model": workspace.model_source or workspace.model.name,
                      "images": str(folder or ""), "labels": workspace.labels_source,
                      "preprocessing": f"{preprocessing.name} ({preprocessing.reason})",
                      "output index": str(workspace.output_index),
                      "map": checked.describe(workspace.labels),
                      "map parameters": ", ".join(f"{k}={v!r}"
                                                  for k, v in checked.params.items())}
        title = f"Predictions on {folder.name}" if folder else "Dataset report"

        def work(progress, should_stop):
            explained = report.explain_items(checked, context, worst(items, count), load,
                                             progress=progress, should_stop=should_stop)
            return report.write(path, report.dataset_report(items, names, explained,
                                                            parameters, title))

        job = TaskJob(work, f"report of {len(items)} images")
        job.finished.connect(lambda written: widget.say(f"report written to {written}"))
        job.failed.connect(lambda message: widget.report_error(message, "Cannot export"))
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def export_canvas_report_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export canvas report",
                                                        "canvas.html", "HTML file (*.html)")
        if path:
            self.export_canvas_report(path)

    def export_canvas_report(self, path) -> bool:
        """Write the canvas's tiles (each drawn in its style) as one HTML file."""
        widget = self.widget
        tiles = widget.canvas.tiles()
        if not tiles:
            widget.report_error("the canvas is empty: run a method first", "Cannot export")
            return False
        workspace = widget.workspace
        source = workspace.image_source
        parameters = {"model": workspace.model_source or "",
                      "image": str(source) if isinstance(source, (str, Path)) else "",
                      "preprocessing": workspace.preprocessing.name}
        try:
            report.write(path, report.canvas_report(
                [(tile.shown_result(), tile.style(), tile.title) for tile in tiles],
                parameters))
        except OSError as error:
            widget.report_error(f"could not write {path}: {error}", "Cannot export")
            return False
        widget.say(f"canvas report written to {path}")
        return True
