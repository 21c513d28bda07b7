"""The canvas: a drop target for tree nodes that shows each :class:`Result` as a tile.

Tiles (:mod:`.tile`) sit in a grid (side by side for comparison). "Same scale per method"
draws every heatmap of one method on one colour scale, computed from all of them
(``core.plotting.shared_scale``), so that a class's weak map looks weak beside the winner's.
The export is a matplotlib figure of the tiles as drawn (titles, colour bars, captions, the
Trust panel's curves under a map), with tight margins, not a screen grab of the controls.
The canvas keeps the Trust panels of the tiles it last cleared: a tile of the same result
added again (Ctrl+Z) shows its panel again.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from qtpy import QtCore, QtWidgets

from ..core.plotting import shared_scale
from ..core.result import Result
from ..core.session import RunRecord
from .figures import EXPORT_MAP_SIZE, ResultDialog, draw_tile, export_height
from .layer_models import NODES_MIME_TYPE, nodes_from_mime
from .tile import COLOUR_MAPS, TILE_MIN_HEIGHT, TILE_MIN_WIDTH, ElidedLabel, ResultTile
from .trust_views import show_evaluations, trust_evaluations

__all__ = ["COLOUR_MAPS", "TILE_MIN_HEIGHT", "TILE_MIN_WIDTH", "CanvasWidget", "ElidedLabel",
           "ResultDialog", "ResultTile"]


class CanvasWidget(QtWidgets.QWidget):
    """Drop tree nodes here: tiles in a grid of ``columns`` columns, in the order added."""

    #: [(Target, method id or None), ...] dropped from the layer tree.
    nodes_dropped = QtCore.Signal(list)
    #: [path, ...] of files dropped from outside (models, images, labels).
    files_dropped = QtCore.Signal(list)
    #: RunRecord of one channel (filter), clicked in a tile's grid to open as its own tile.
    channel_requested = QtCore.Signal(object)
    #: (tile, [metric id, ...]) chosen in a tile's Trust menu.
    trust_requested = QtCore.Signal(object, object)
    #: (tile, [metric id, ...]) whose parameters are asked for in a tile's Trust menu.
    trust_parameters_requested = QtCore.Signal(object, object)
    #: The path of a file a tile wrote.
    tile_saved = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._tiles: list[ResultTile] = []
        self._columns = 2
        self._shown_columns = 2  # as many as fit the width (shown_columns)
        #: A widget under the tiles (the comparison's scores), or None.
        self.footer: QtWidgets.QWidget | None = None
        #: (result, evaluations under its map) of the tiles last cleared that had some.
        self._cleared_panels: list[tuple[Result, list]] = []
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
        self.shared_scale_check = QtWidgets.QCheckBox("Same scale per method")
        self.shared_scale_check.setToolTip(
            "draw every map of one method on one colour scale, from all of its tiles, so that "
            "a weak map looks weak beside a strong one (else each map fills its own scale)")
        self.shared_scale_check.toggled.connect(lambda _: self.update_scales())
        container_layout.addLayout(self._grid)
        container_layout.addStretch(1)
        self._scroll.setWidget(self._container)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.shared_scale_check, 0, QtCore.Qt.AlignmentFlag.AlignRight)
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
        tile.channel_requested.connect(self.channel_requested)
        tile.trust_requested.connect(self.trust_requested)
        tile.trust_parameters_requested.connect(self.trust_parameters_requested)
        tile.saved.connect(self.tile_saved)
        self._tiles.append(tile)
        for number, (cleared, evaluations) in enumerate(self._cleared_panels):
            if cleared is result:  # brought back: its panel with it
                del self._cleared_panels[number]
                show_evaluations(tile, evaluations)
                break
        self._relayout()
        self.update_scales()
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
        self.update_scales()

    def clear(self) -> None:
        """Remove every tile and the footer; the tiles' Trust panels are kept for their
        results should they be added again (those of the last clear that removed tiles)."""
        if self._tiles:
            self._cleared_panels = [(t.result, trust_evaluations(t)) for t in self._tiles
                                    if t.trust_panel is not None]
        for tile in list(self._tiles):
            self.remove_tile(tile)
        self.set_footer(None)

    def set_footer(self, widget: QtWidgets.QWidget | None) -> None:
        """Show ``widget`` under the tiles in place of any before (None: nothing)."""
        if self.footer is not None:
            self.footer.hide()
            self.footer.deleteLater()
        self.footer = widget
        if widget is not None:
            self._container.layout().insertWidget(2, widget)  # after the grid

    def shared_scales(self) -> bool:
        return self.shared_scale_check.isChecked()

    def set_shared_scales(self, shared: bool) -> None:
        self.shared_scale_check.setChecked(bool(shared))

    def update_scales(self) -> None:
        """Give each heatmap tile the scale shared by its method's tiles, or its own."""
        shared = self.shared_scale_check.isChecked()
        by_method: dict[str, list[ResultTile]] = {}
        for tile in self._tiles:
            if tile.result.kind == "heatmap":
                by_method.setdefault(tile.result.method, []).append(tile)
        for tiles in by_method.values():
            scale = shared_scale([t.shown_result() for t in tiles]) \
                if shared and len(tiles) > 1 else None
            for tile in tiles:
                tile.set_shared_scale(scale)

    def set_columns(self, columns: int) -> None:
        self._columns = max(1, int(columns))
        self._relayout()

    def shown_columns(self) -> int:
        """The columns the tiles are laid out in: the chosen number at most, fewer where the
        canvas is too narrow for them (all while it is not shown)."""
        if not self.isVisible():
            return self._columns
        scroll, spacing = self._scroll, self._grid.spacing()
        width = (scroll.width() - 2 * scroll.frameWidth() - 8  # the container's margins
                 - scroll.verticalScrollBar().sizeHint().width())  # shown or not: no flicker
        return max(1, min(self._columns, (width + spacing) // (TILE_MIN_WIDTH + spacing)))

    def _relayout(self) -> None:
        columns = self._shown_columns = self.shown_columns()
        for tile in self._tiles:
            self._grid.removeWidget(tile)
        for position, tile in enumerate(self._tiles):
            self._grid.addWidget(tile, position // columns, position % columns)
        for column in range(max(self._grid.columnCount(), self._columns)):
            used = column < columns
            self._grid.setColumnStretch(column, 1 if used else 0)
            self._grid.setColumnMinimumWidth(column, TILE_MIN_WIDTH if used else 0)
        self._hint.setVisible(not self._tiles)
        self._fit_tiles()

    def _fit_tiles(self) -> None:
        """Tiles about as tall as they are wide, so maps are not letterboxed."""
        width = self._scroll.viewport().width() - 8
        tile_width = max(TILE_MIN_WIDTH, width // self._shown_columns - self._grid.spacing())
        height = int(min(max(tile_width * 0.85, TILE_MIN_HEIGHT), 900))
        for tile in self._tiles:
            panel = tile.trust_panel  # the map's curves, under it
            tile.setFixedHeight(height + (panel.maximumHeight() if panel is not None else 0))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._follow_width()

    def showEvent(self, event):
        super().showEvent(event)
        self._follow_width()  # resized while another tab was shown

    def _follow_width(self) -> None:
        if self.shown_columns() != self._shown_columns:
            self._relayout()
        else:
            self._fit_tiles()

    def export_figure(self) -> Figure | None:
        """A matplotlib figure of the tiles as drawn (each in its style, in the canvas's
        columns, with the evaluations under its map); None when there are none."""
        if not self._tiles:
            return None
        columns = min(self._columns, len(self._tiles))
        rows = -(-len(self._tiles) // columns)
        shown = [trust_evaluations(t) for t in self._tiles]
        heights = [max(export_height(e) for e in shown[row * columns:(row + 1) * columns])
                   for row in range(rows)]
        figure = Figure(figsize=(EXPORT_MAP_SIZE[0] * columns, sum(heights)),
                        layout="constrained")
        grid = figure.subfigures(rows, columns, squeeze=False, height_ratios=heights)
        for number, (tile, evaluations) in enumerate(zip(self._tiles, shown)):
            draw_tile(tile.shown_result(), tile.style(), evaluations,
                      grid[number // columns, number % columns])
        return figure

    def export_png(self, path: str | Path, dpi: int = 100) -> bool:
        """Save all tiles as one PNG figure with tight margins; False when there are no
        tiles or the file cannot be written."""
        figure = self.export_figure()
        if figure is None:
            return False
        try:
            figure.savefig(str(path), dpi=dpi, format="png", bbox_inches="tight",
                           pad_inches=0.05)
        except OSError:
            return False
        return True

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

