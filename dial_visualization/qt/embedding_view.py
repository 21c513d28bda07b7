"""The embedding of a dataset run: one point per image, near the images a layer sees alike.

A panel of the Dataset tab. "Compute" runs ``core.embedding`` on the widget's worker (a
progress row with Cancel): the chosen layer's activations over the run's images, pooled
per image, projected by PCA, t-SNE or UMAP. The scatter is coloured by true or predicted
class (a legend names them), misclassified images crossed out; hovering a point shows its
thumbnail and file name, clicking it emits ``item_clicked`` (the Dataset tab selects its
row, which makes it the workspace image).
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy import QtCore, QtWidgets

from ..core import embedding
from ..core.dataset import class_name
from .dataset_table import THUMBNAIL_SIZE
from .pixmaps import pixmap_from_array
from .worker import JobSlot, TaskJob

#: How near (in pixels) the mouse must be to a point to hover or click it.
PICK_RADIUS = 8
PREVIEW_SIZE = 2 * THUMBNAIL_SIZE
#: The most classes the legend names.
LEGEND_CLASSES = 12


class EmbeddingView(QtWidgets.QWidget):
    """The embedding panel over the items of ``dataset`` (a :class:`~.dataset_view.
    DatasetView`) of ``widget`` (a :class:`~.widget.ConvVisualizationWidget`)."""

    #: The item (``core.dataset`` prediction) of a clicked point.
    item_clicked = QtCore.Signal(object)

    def __init__(self, widget, dataset, parent=None):
        super().__init__(parent)
        self.widget, self.dataset = widget, dataset
        self.result: embedding.Embedding | None = None
        self.items: list[dict] = []  # the item of each point
        self.hovered: dict | None = None
        self._build()
        widget.workspace.model_changed.connect(lambda _: self._fill_layers())

    def _build(self) -> None:
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setSizeAdjustPolicy(  # a long layer name never widens the tab
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setMinimumContentsLength(8)
        self.layer_combo.setToolTip("the layer whose output (averaged over its positions) "
                                    "places the images")
        self.method_combo = QtWidgets.QComboBox()
        for method, name in embedding.METHODS.items():
            self.method_combo.addItem(name, method)
        self.method_combo.setToolTip("PCA: instant; t-SNE and UMAP keep each image's "
                                     "neighbours together (pip install "
                                     "'dial-visualization[embedding]')")
        self.colour_combo = QtWidgets.QComboBox()
        self.colour_combo.addItem("True class", "true")
        self.colour_combo.addItem("Predicted class", "predicted")
        self.compute_button = QtWidgets.QPushButton("Compute")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.slot = JobSlot(self.cancel_button)
        controls = QtWidgets.QHBoxLayout()
        for each in (self.layer_combo, self.method_combo, self.colour_combo,
                     self.compute_button, self.cancel_button):
            controls.addWidget(each)
        controls.addStretch(1)

        self.figure = Figure(figsize=(4, 4), layout="constrained")
        self.axes = self.figure.add_subplot()
        self.figure_canvas = FigureCanvasQTAgg(self.figure)
        self.figure_canvas.setMinimumSize(160, 120)
        self.preview = QtWidgets.QLabel()
        self.preview.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.preview_label = QtWidgets.QLabel("Compute, then hover a point to see its image; "
                                              "click it to open the image.")
        self.preview_label.setWordWrap(True)
        self.preview_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                         QtWidgets.QSizePolicy.Policy.Preferred)
        below = QtWidgets.QHBoxLayout()
        below.addWidget(self.preview)
        below.addWidget(self.preview_label, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.figure_canvas, 1)
        layout.addLayout(below)

        self.compute_button.clicked.connect(lambda: self.compute())
        self.colour_combo.currentIndexChanged.connect(lambda _: self._draw())
        self.figure_canvas.mpl_connect("motion_notify_event", self._hovered)
        self.figure_canvas.mpl_connect("button_press_event", self._clicked)
        self._fill_layers()
        self._draw()

    def _fill_layers(self) -> None:
        """The model's layers, the layer before its classifier chosen."""
        model = self.widget.workspace.model
        self.layer_combo.clear()
        if model is None:
            return
        self.layer_combo.addItems(embedding.embeddable_layers(model))
        try:
            chosen = embedding.default_layer(model, self.widget.workspace.output_index)
        except embedding.EmbeddingError:
            return
        self.layer_combo.setCurrentText(chosen)

    # ------------------------------------------------------------------ computing

    def compute(self, layer: str | None = None, method: str | None = None) -> TaskJob | None:
        """The embedding of the dataset run's images on the worker (``layer`` and
        ``method`` default to the combos'). Returns the queued job, None when there is
        nothing to embed."""
        widget = self.widget
        items = [item for item in self.dataset.items if item["error"] is None]
        if not items:
            widget.report_error("open a folder first: there are no images to embed",
                                "Cannot compute the embedding")
            return None
        layer = layer or self.layer_combo.currentText()
        method = method or self.method_combo.currentData()
        self.cancel()
        workspace = widget.workspace
        context, load = workspace.context(), workspace.read_image
        sources, true = [item["path"] for item in items], [item["true"] for item in items]

        def work(progress, should_stop):
            return embedding.compute(context, sources, layer, method, load, true=true,
                                     progress=progress, should_stop=should_stop)

        job = TaskJob(work, f"{embedding.METHODS.get(method, method)} of {layer} over "
                            f"{len(items)} images")
        generation = widget._generation
        job.finished.connect(lambda result: self._computed(job, generation, items, result))
        job.failed.connect(lambda message: self.slot.end(job) or widget.report_error(
            message, "Cannot compute the embedding"))
        job.cancelled.connect(lambda: self.slot.end(job) or widget.say(
            f"cancelled: {job.description}"))
        return self.slot.start(job, widget)

    def cancel(self) -> None:
        self.slot.cancel()

    def _computed(self, job, generation: int, items: list[dict],
                  result: embedding.Embedding) -> None:
        self.slot.end(job)
        if generation != self.widget._generation:
            return  # another model's
        by_path = {item["path"]: item for item in items}
        self.result, self.items = result, [by_path[path] for path in result.sources]
        self.layer_combo.setCurrentText(result.layer)  # the combos say what is shown
        self.method_combo.setCurrentIndex(self.method_combo.findData(result.method))
        self._draw()
        for source, error in result.errors:
            self.widget.report_error(f"{source}: {error}", "Image left out")
        self.widget.say(f"{embedding.METHODS[result.method]} of {result.layer}: "
                        f"{len(self.items)} images")

    def clear(self) -> None:
        """No embedding (one under way is cancelled)."""
        self.cancel()
        self.result, self.items, self.hovered = None, [], None
        self.preview.clear()
        self._draw()

    # ------------------------------------------------------------------ drawing

    def classes(self) -> np.ndarray:
        """The class of each point, as the colour combo chooses (true or predicted)."""
        if self.result is None:
            return np.zeros(0, np.int64)
        return getattr(self.result, self.colour_combo.currentData())

    def _draw(self) -> None:
        axes = self.axes
        axes.clear()
        axes.set_xticks([])
        axes.set_yticks([])
        result = self.result
        if result is None:
            axes.text(0.5, 0.5, "no embedding yet", ha="center", va="center",
                      transform=axes.transAxes, color="grey")
            self.figure_canvas.draw_idle()
            return
        classes, points = self.classes(), result.points
        for index in np.unique(classes):  # a class keeps its colour, true or predicted
            shown = classes == index
            name = class_name(int(index), self.dataset.names) if index >= 0 else "no class"
            colour = f"C{index % 10}" if index >= 0 else "grey"
            axes.scatter(points[shown, 0], points[shown, 1], s=24, color=colour, label=name)
        wrong = (result.true >= 0) & (result.true != result.predicted)
        if wrong.any():
            axes.scatter(points[wrong, 0], points[wrong, 1], s=60, marker="x", color="black",
                         linewidths=1.2, label="misclassified")
        if len(np.unique(classes)) <= LEGEND_CLASSES:  # more: hovering names a point's class
            axes.legend(fontsize="small", loc="best")
        axes.set_title(f"{embedding.METHODS[result.method]} of {result.layer}",
                       fontsize="small")
        self.figure_canvas.draw_idle()

    # ------------------------------------------------------------------ pointing

    def point_at(self, x: float, y: float) -> int | None:
        """The index of the point nearest to the display position (x, y) in matplotlib's
        pixels, if within :data:`PICK_RADIUS` (None otherwise)."""
        if self.result is None or not len(self.items):
            return None
        shown = self.axes.transData.transform(self.result.points)
        distances = np.hypot(shown[:, 0] - x, shown[:, 1] - y)
        nearest = int(np.argmin(distances))
        ratio = self.figure_canvas.device_pixel_ratio
        return nearest if distances[nearest] <= PICK_RADIUS * ratio else None

    def position_of(self, index: int) -> QtCore.QPoint:
        """Where point ``index`` is on the canvas widget (for a mouse)."""
        x, y = self.axes.transData.transform(self.result.points[index])
        ratio = self.figure_canvas.device_pixel_ratio
        return QtCore.QPoint(round(x / ratio), round(self.figure_canvas.height() - y / ratio))

    def _hovered(self, event) -> None:
        index = self.point_at(event.x, event.y)
        item = None if index is None else self.items[index]
        if item is self.hovered:
            return
        self.hovered = item
        if item is None:
            self.preview.clear()
            self.figure_canvas.setToolTip("")
            return
        pixels = item.get("thumbnail")
        if pixels is not None:
            self.preview.setPixmap(pixmap_from_array(pixels, PREVIEW_SIZE))
        names = self.dataset.names
        said = (f"{item['file']}\ntrue {class_name(item['true'], names) or '–'}, "
                f"predicted {class_name(int(self.result.predicted[index]), names)}")
        self.preview_label.setText(said)
        self.figure_canvas.setToolTip(said)

    def _clicked(self, event) -> None:
        index = self.point_at(event.x, event.y)
        if index is not None:
            self.item_clicked.emit(self.items[index])
