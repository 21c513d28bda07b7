"""The Dataset tab: the model over a folder of images, the failures found and explained.

"Open folder..." predicts every image of a labelled folder (``core.dataset``: true classes
from the class subfolders, as ``image_dataset_from_directory`` reads them) on the widget's
worker, with a progress row and Cancel, into a table (thumbnail, file, true and predicted
class, probability, correct, loss) that grows a batch at a time as the run goes (a
cancelled run keeps the rows done), sorts and filters (misclassified only, one class, a
confidence range), beside a confusion matrix whose cells filter the table to one (true,
predicted) pair, and the embedding of the images (``embedding_view``: one point per
image, a click selects its row). Selecting one row makes its image the workspace image;
"Explain selected" and "Export report..." are :class:`~.dataset_reports.DatasetReports`.
"""

from __future__ import annotations

from pathlib import Path

from qtpy import QtCore, QtWidgets

from ..core import report
from ..core.dataset import class_name, dataset_rows, predict_batches, summary
from .dataset_reports import DatasetReports
from .dataset_table import THUMBNAIL_SIZE, ConfusionMatrix, DatasetFilter, \
    DatasetTableModel, thumbnail
from .embedding_view import EmbeddingView
from .worker import JobSlot, TaskJob

Qt = QtCore.Qt


class PredictionJob(TaskJob):
    """A dataset run: ``rows(list)`` carries each batch's predicted items to the GUI thread
    as soon as the batch is done; ``names`` (the class names) and ``total`` (the number of
    images) are known once the folder is read."""

    rows = QtCore.Signal(list)

    def __init__(self, function, description: str, names: list[str] | None, parent=None):
        super().__init__(function, description, parent)
        self.names = names
        self.total = 0


class DatasetView(DatasetReports, QtWidgets.QWidget):
    """The Dataset tab of ``widget`` (a :class:`~.widget.ConvVisualizationWidget`)."""

    #: The items of a finished dataset run.
    dataset_loaded = QtCore.Signal(list)

    #: Images predicted per batch of a dataset run (0: the size measured on the model).
    batch_size = 0

    def __init__(self, widget, parent=None):
        super().__init__(parent)
        self.widget = widget
        self.folder: Path | None = None
        self.names: list[str] | None = None
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
        self.slot = JobSlot(self.cancel_button)
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

        self.matrix = ConfusionMatrix()
        matrix_box = QtWidgets.QGroupBox("Confusion matrix (true × predicted)")
        QtWidgets.QVBoxLayout(matrix_box).addWidget(self.matrix)
        self.embedding = EmbeddingView(self.widget, self)
        self.side_tabs = QtWidgets.QTabWidget()
        self.side_tabs.addTab(matrix_box, "Confusion matrix")
        self.side_tabs.addTab(self.embedding, "Embedding")
        splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)

        self.open_button.clicked.connect(self.open_folder_dialog)
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
        self.embedding.item_clicked.connect(self.show_item)

    # ------------------------------------------------------------------ a dataset run

    def open_folder_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> PredictionJob | None:
        """Predict every image of ``folder`` on the worker; the table fills a batch at a
        time. Returns the queued job (None when no model is open)."""
        widget, workspace = self.widget, self.widget.workspace
        if workspace.model is None:
            widget.report_error("open a model first", "Cannot open the folder")
            return None
        self.clear()
        folder = Path(folder)
        context, load = workspace.context(), workspace.read_image
        labels, class_count = workspace.labels, workspace.class_count()
        batch_size = self.batch_size

        def work(progress, should_stop):
            rows, classes = dataset_rows(folder, labels, class_count)
            job.names = labels or classes
            job.total = len(rows)
            for items in predict_batches(context, rows, load, batch_size=batch_size,
                                         progress=progress, should_stop=should_stop):
                for item in items:
                    item["thumbnail"] = thumbnail(item["path"])
                job.rows.emit(items)
            progress(1.0)
            return job.names

        job = PredictionJob(work, f"predicting the images of {folder.name}", labels)
        generation = widget._generation
        job.rows.connect(lambda items: self._rows_arrived(job, generation, folder, items))
        job.finished.connect(lambda names: self._predicted(job, generation, folder))
        job.failed.connect(lambda message: self._failed(job, generation, folder, message))
        job.cancelled.connect(lambda: self._cancelled(job, generation, folder))
        self.folder = folder
        self.summary_label.setText(f"{folder}: predicting…")
        return self.slot.start(job, widget)

    def cancel(self) -> None:
        self.slot.cancel()

    def _rows_arrived(self, job, generation: int, folder: Path, items: list[dict]) -> None:
        """One batch of a run: its rows appended, the count done said (the matrix and the
        class filter follow at the end: a thousand classes make a million cells)."""
        if job is not self.slot.job or generation != self.widget._generation:
            return  # a run replaced, or of another model
        self.names = job.names
        self.model.append_items(items, job.names)
        self._filter()
        self.summary_label.setText(f"{folder}: predicting… {len(self.items)} of "
                                   f"{job.total} images done")

    def _predicted(self, job, generation: int, folder: Path) -> None:
        self.slot.end(job)
        if generation != self.widget._generation:
            return  # the model changed meanwhile
        self._run_shown(folder)
        self.widget.log_message(f"{folder.name}: {self.summary_text()}")

    def _stopped(self, job, generation: int, folder: Path) -> bool:
        """A run ended early: the rows done are kept and shown. Whether it is the run
        shown."""
        current = job is self.slot.job and generation == self.widget._generation
        self.slot.end(job)
        if current:
            self._run_shown(folder)
        return current

    def _failed(self, job, generation: int, folder: Path, message: str) -> None:
        self._stopped(job, generation, folder)
        self.widget.report_error(f"{folder.name}: {message}", "Cannot predict the folder")

    def _cancelled(self, job, generation: int, folder: Path) -> None:
        """A cancelled run keeps the rows done, and says how many."""
        if not self._stopped(job, generation, folder):
            return
        done = f"cancelled after {len(self.items)} of {job.total} images"
        self.summary_label.setText(f"{folder}: {done}: {self.summary_text()}")
        self.widget.say(f"cancelled: {job.description} ({done})")

    @property
    def items(self) -> list[dict]:
        """The dataset run's items (``core.dataset`` predictions), in the run's order."""
        return self.model.items

    def set_items(self, items: list[dict], names, folder: Path | None = None) -> None:
        """Show a dataset run: the table, the class filter, the confusion matrix."""
        self.folder, self.names = folder, names
        self.model.set_items(items, names)
        self._run_shown(folder)

    def _run_shown(self, folder: Path | None) -> None:
        """The rest of a run's view once its rows are in: the class filter, the matrix, the
        summary; ``dataset_loaded`` said."""
        names = self.names
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        used = sorted({item["true"] if item["true"] >= 0 else item["predicted"]
                       for item in self.items if item["error"] is None or item["true"] >= 0})
        for index in used:
            if index >= 0:
                self.class_combo.addItem(class_name(index, names), index)
        self.class_combo.blockSignals(False)
        self.matrix.fill(self.items, self.names)
        self.show_all()
        self.summary_label.setText(f"{folder}: {self.summary_text()}" if folder
                                   else self.summary_text())
        self.table.resizeColumnsToContents()
        self.dataset_loaded.emit(self.items)

    def clear(self) -> None:
        """No dataset run: an empty table, matrix and embedding (a run under way is
        cancelled)."""
        self.cancel()
        self.slot.end(self.slot.job)
        self.embedding.clear()
        if self.items:
            self.set_items([], None)
            self.summary_label.setText("Open a folder of images (class subfolders) to "
                                       "predict them all.")

    def summary_text(self) -> str:
        return summary(self.items, sum(item["error"] is not None for item in self.items))

    # ------------------------------------------------------------------ filters

    def _filter(self, **values) -> None:
        if values:
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
        pair = self.matrix.pair(row, column)
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

    def show_item(self, item: dict) -> None:
        """Select the row of ``item`` (every row shown if a filter hides it), scrolled into
        view: its image becomes the workspace image."""
        row = next((i for i, each in enumerate(self.model.items) if each is item), None)
        if row is None:
            return  # of a run no longer shown
        source = self.model.index(row, 0)
        if not self.proxy.mapFromSource(source).isValid():
            self.show_all()
        row = self.proxy.mapFromSource(source).row()
        self.select_rows([row])
        self.table.scrollTo(self.proxy.index(row, 0))

    def _selection_changed(self, *_) -> None:
        items = self.selected_items()
        if len(items) == 1 and items[0]["error"] is None:
            self.widget.set_image(items[0]["path"])
