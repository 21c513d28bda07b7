"""The canvas: a drop target for tree nodes that shows each :class:`Result` as a tile.

Tiles sit in a grid (side by side for comparison); each draws its result with
``core.plotting.draw`` into a matplotlib figure, with adjustable opacity and colour map, and
can be closed, opened large (with matplotlib's navigation toolbar), saved as PNG, ``.npy``
and, for results with frames (activation maximisation), played and saved as GIF.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from qtpy import QtCore, QtWidgets

from ..core.plotting import draw
from ..core.result import Result, file_stem
from ..core.session import RunRecord
from .layer_models import NODES_MIME_TYPE, nodes_from_mime

COLOUR_MAPS = ("default", "viridis", "jet", "RdBu_r", "coolwarm", "magma", "inferno", "gray")
FRAME_INTERVAL_MS = 120
TILE_MIN_WIDTH = 320
TILE_MIN_HEIGHT = 330


def _ask_save_path(parent, caption: str, name: str, file_filter: str) -> str | None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, caption, name, file_filter)
    return path or None


class ElidedLabel(QtWidgets.QLabel):
    """One line of text, cut with "…" where it is too wide; the whole text is ``full_text``."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self.full_text = text
        self.setMinimumWidth(40)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Preferred)
        self._elide()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full_text, QtCore.Qt.TextElideMode.ElideRight,
                                        max(self.width(), 40)))


class ResultDialog(QtWidgets.QDialog):
    """A result opened large: a matplotlib figure with zoom, pan and save."""

    def __init__(self, result: Result, cmap: str | None, alpha: float, title: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(False)
        self.resize(820, 680)
        self.figure = Figure(figsize=(8, 6.5), layout="constrained")
        self.figure_canvas = FigureCanvasQTAgg(self.figure)
        self.toolbar = NavigationToolbar2QT(self.figure_canvas, self)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.figure_canvas, 1)
        draw(result, self.figure, cmap=cmap, alpha=alpha)
        self.figure_canvas.draw()


class ResultTile(QtWidgets.QFrame):
    """One result on the canvas, with its controls."""

    close_requested = QtCore.Signal(object)

    def __init__(self, result: Result, record: RunRecord | None = None, title: str = "",
                 parent=None):
        super().__init__(parent)
        self.result = result
        self.record = record
        self.title = title or result.title
        self.alpha = 0.5
        self.cmap: str | None = None
        self.frame = None if result.frames is None else len(result.frames) - 1
        self.dialogs: list[ResultDialog] = []
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setMinimumSize(TILE_MIN_WIDTH, TILE_MIN_HEIGHT)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(self._make_header())
        self.figure = Figure(figsize=(4, 3.2), layout="constrained")
        self.figure_canvas = FigureCanvasQTAgg(self.figure)
        self.figure_canvas.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                                         QtWidgets.QSizePolicy.Policy.Expanding)
        self.figure_canvas.setMinimumHeight(200)
        layout.addWidget(self.figure_canvas, 1)
        layout.addLayout(self._make_style_controls())
        if self.frame is not None:
            layout.addLayout(self._make_frame_controls())
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(FRAME_INTERVAL_MS)
        self._timer.timeout.connect(self._next_frame)
        self.redraw()

    # ------------------------------------------------------------------ building

    def _button(self, text: str, tip: str, slot) -> QtWidgets.QToolButton:
        button = QtWidgets.QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: slot())
        return button

    def _make_header(self) -> QtWidgets.QHBoxLayout:
        header = QtWidgets.QHBoxLayout()
        self.title_label = ElidedLabel(self.title)
        self.title_label.setToolTip(self._params_tooltip())
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        header.addWidget(self.title_label, 1)
        self.enlarge_button = self._button("Enlarge", "open large, with zoom and pan",
                                           self.open_large)
        self.save_button = QtWidgets.QToolButton()
        self.save_button.setText("Save")
        self.save_button.setToolTip("save the tile as an image, its raw data, or its frames")
        self.save_button.setAutoRaise(True)
        self.save_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(self.save_button)
        self.png_action = menu.addAction("Image (PNG)…")
        self.png_action.triggered.connect(lambda *_: self.save_png())
        self.npy_action = menu.addAction("Raw data (NumPy .npy)…")
        self.npy_action.triggered.connect(lambda *_: self.save_npy())
        self.gif_action = None
        if self.frame is not None:
            self.gif_action = menu.addAction("Frames (animated GIF)…")
            self.gif_action.triggered.connect(lambda *_: self.save_gif())
        self.save_button.setMenu(menu)
        self.close_button = self._button("✕", "close this tile",
                                         lambda: self.close_requested.emit(self))
        for button in (self.enlarge_button, self.save_button, self.close_button):
            header.addWidget(button)
        return header

    def _make_style_controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(self.alpha * 100))
        self.opacity_slider.setToolTip("opacity of the map over the image")
        self.opacity_slider.valueChanged.connect(lambda v: self.set_alpha(v / 100))
        self.cmap_combo = QtWidgets.QComboBox()
        self.cmap_combo.addItems(COLOUR_MAPS)
        self.cmap_combo.setToolTip("colour map")
        self.cmap_combo.currentTextChanged.connect(
            lambda name: self.set_cmap(None if name == "default" else name))
        if self.result.kind == "heatmap" and self.result.background is not None:
            row.addWidget(QtWidgets.QLabel("Opacity"))
            row.addWidget(self.opacity_slider, 1)
        else:
            self.opacity_slider.hide()
            row.addStretch(1)
        if self.result.kind in ("heatmap", "grid") and not self.result.info.get("rgb"):
            row.addWidget(QtWidgets.QLabel("Colours"))
            row.addWidget(self.cmap_combo)
        else:
            self.cmap_combo.hide()
        return row

    def _make_frame_controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setText("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("play the optimisation frames")
        self.play_button.toggled.connect(self.play)
        self.frame_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.frame_slider.setRange(0, len(self.result.frames) - 1)
        self.frame_slider.setValue(self.frame)
        self.frame_slider.valueChanged.connect(self.show_frame)
        self.frame_label = QtWidgets.QLabel()
        row.addWidget(self.play_button)
        row.addWidget(self.frame_slider, 1)
        row.addWidget(self.frame_label)
        self._update_frame_label()
        return row

    def _params_tooltip(self) -> str:
        params = self.record.params if self.record else self.result.params
        lines = [self.result.title] + [f"{k} = {v!r}" for k, v in params.items()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ drawing

    def shown_result(self) -> Result:
        """The result as drawn now: the selected frame for animated results."""
        if self.frame is None:
            return self.result
        return dataclasses.replace(self.result, data=self.result.frames[self.frame])

    def redraw(self) -> None:
        draw(self.shown_result(), self.figure, cmap=self.cmap, alpha=self.alpha)
        for text in self.figure.texts:  # the result's title: wrapped, not cut, in a narrow tile
            text.set_wrap(True)
        self.figure_canvas.draw()

    def set_alpha(self, alpha: float) -> None:
        self.alpha = float(min(max(alpha, 0.0), 1.0))
        if self.opacity_slider.value() != round(self.alpha * 100):
            self.opacity_slider.setValue(round(self.alpha * 100))
        self.redraw()

    def set_cmap(self, cmap: str | None) -> None:
        self.cmap = cmap
        self.redraw()

    def show_frame(self, frame: int) -> None:
        if self.frame is None:
            return
        self.frame = int(min(max(frame, 0), len(self.result.frames) - 1))
        if self.frame_slider.value() != self.frame:
            self.frame_slider.setValue(self.frame)
            return  # the slider's signal comes back here
        self._update_frame_label()
        self.redraw()

    def play(self, playing: bool = True) -> None:
        if self.frame is None:
            return
        if playing:
            if self.frame >= len(self.result.frames) - 1:
                self.show_frame(0)
            self._timer.start()
        else:
            self._timer.stop()
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def _next_frame(self) -> None:
        if self.frame >= len(self.result.frames) - 1:
            self.play(False)
        else:
            self.show_frame(self.frame + 1)

    def _update_frame_label(self) -> None:
        """"k/N", then the frame's step and objective (one per optimised image) where the
        result records them (activation maximization)."""
        text = f"{self.frame + 1}/{len(self.result.frames)}"
        steps = self.result.info.get("frame_steps")
        objectives = self.result.info.get("objective_per_frame")
        if steps and objectives:
            values = objectives[self.frame]
            shown = ", ".join(f"{value:.3g}" for value in values[:4])
            text += f"  step {steps[self.frame]}: objective {shown}" + (
                ", ..." if len(values) > 4 else "")
        self.frame_label.setText(text)

    # ------------------------------------------------------------------ actions

    def open_large(self) -> ResultDialog:
        dialog = ResultDialog(self.shown_result(), self.cmap, self.alpha, self.title, self)
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]
        dialog.show()
        return dialog

    def save_png(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save tile as PNG", file_stem(self.title) + ".png",
                                      "PNG image (*.png)")
        if not path:
            return None
        return self.shown_result().save_png(path, cmap=self.cmap, alpha=self.alpha)

    def save_npy(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save raw data", file_stem(self.title) + ".npy",
                                      "NumPy array (*.npy)")
        return self.result.save_npy(path) if path else None

    def save_gif(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save frames as GIF", file_stem(self.title) + ".gif",
                                      "Animated GIF (*.gif)")
        return self.result.save_gif(path) if path else None

    def close_dialogs(self) -> None:
        for dialog in self.dialogs:
            dialog.close()
        self.dialogs = []


class CanvasWidget(QtWidgets.QWidget):
    """Drop tree nodes here: tiles in a grid of ``columns`` columns, in the order added."""

    #: [(Target, method id or None), ...] dropped from the layer tree.
    nodes_dropped = QtCore.Signal(list)
    #: [path, ...] of files dropped from outside (models, images, labels).
    files_dropped = QtCore.Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._tiles: list[ResultTile] = []
        self._columns = 2
        self._scroll = QtWidgets.QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._container = QtWidgets.QWidget()
        self._grid = QtWidgets.QGridLayout()
        self._grid.setSpacing(6)
        container_layout = QtWidgets.QVBoxLayout(self._container)
        container_layout.setContentsMargins(4, 4, 4, 4)
        self._hint = QtWidgets.QLabel(
            "Drag nodes from the layer tree here (or double-click a node, or select nodes "
            "and press Enter) to run the chosen method.")
        self._hint.setWordWrap(True)
        self._hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._hint.setEnabled(False)
        container_layout.addWidget(self._hint)
        container_layout.addLayout(self._grid)
        container_layout.addStretch(1)
        self._scroll.setWidget(self._container)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)
        self._scroll_timer = QtCore.QTimer(self)
        self._scroll_timer.setSingleShot(True)
        self._scroll_timer.setInterval(0)
        self._scroll_timer.timeout.connect(
            lambda: self._tiles and self._scroll.ensureWidgetVisible(self._tiles[-1]))

    # ------------------------------------------------------------------ tiles

    def tiles(self) -> list[ResultTile]:
        return list(self._tiles)

    def results(self) -> list[Result]:
        return [tile.result for tile in self._tiles]

    def add_result(self, result: Result, record: RunRecord | None = None,
                   title: str = "") -> ResultTile:
        tile = ResultTile(result, record, title, self._container)
        tile.close_requested.connect(self.remove_tile)
        self._tiles.append(tile)
        self._relayout()
        self._scroll_timer.start()  # once the layout has placed it
        return tile

    def remove_tile(self, tile: ResultTile) -> None:
        if tile not in self._tiles:
            return
        self._tiles.remove(tile)
        tile.close_dialogs()
        self._grid.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        self._relayout()

    def clear(self) -> None:
        for tile in list(self._tiles):
            self.remove_tile(tile)

    def set_columns(self, columns: int) -> None:
        self._columns = max(1, int(columns))
        self._relayout()

    def _relayout(self) -> None:
        for tile in self._tiles:
            self._grid.removeWidget(tile)
        for position, tile in enumerate(self._tiles):
            self._grid.addWidget(tile, position // self._columns, position % self._columns)
        for column in range(max(self._grid.columnCount(), self._columns)):
            used = column < self._columns
            self._grid.setColumnStretch(column, 1 if used else 0)
            self._grid.setColumnMinimumWidth(column, TILE_MIN_WIDTH if used else 0)
        self._hint.setVisible(not self._tiles)
        self._fit_tiles()

    def _fit_tiles(self) -> None:
        """Tiles about as tall as they are wide, so maps are not letterboxed."""
        width = self._scroll.viewport().width() - 8
        tile_width = max(TILE_MIN_WIDTH, width // self._columns - self._grid.spacing())
        height = int(min(max(tile_width * 0.85, TILE_MIN_HEIGHT), 900))
        for tile in self._tiles:
            tile.setFixedHeight(height)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._fit_tiles()

    def export_png(self, path: str | Path) -> bool:
        """Save all tiles, as laid out, as one PNG."""
        return self._container.grab().save(str(path), "PNG")

    # ------------------------------------------------------------------ drop target

    def _accepts(self, mime: QtCore.QMimeData) -> bool:
        return mime is not None and (mime.hasFormat(NODES_MIME_TYPE) or mime.hasUrls())

    def dragEnterEvent(self, event):
        if self._accepts(event.mimeData()):
            event.setDropAction(QtCore.Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        if self.handle_drop(event.mimeData()):
            event.setDropAction(QtCore.Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def handle_drop(self, mime: QtCore.QMimeData) -> bool:
        """Act on dropped mime data: tree nodes run, files open. True if anything was used."""
        nodes = nodes_from_mime(mime)
        if nodes:
            self.nodes_dropped.emit(nodes)
            return True
        if mime is not None and mime.hasUrls():
            paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
            if paths:
                self.files_dropped.emit(paths)
                return True
        return False

