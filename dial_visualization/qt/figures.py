"""The matplotlib figures of the canvas: a tile's (the wheel scrolls the canvas), a result
opened large (zoom, pan and save), and a tile as exported (its map, and the evaluations
shown under it)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from qtpy import QtWidgets

from ..core.metrics.drawing import axes_groups, draw_evaluations
from ..core.plotting import draw
from ..core.result import Result

#: Inches of a tile's map in an exported figure, and of each plot of its evaluations.
EXPORT_MAP_SIZE = (5.0, 4.2)
EXPORT_PLOT_HEIGHT = 2.4


def export_height(evaluations) -> float:
    """Inches of a tile exported with ``evaluations`` under its map."""
    return EXPORT_MAP_SIZE[1] + EXPORT_PLOT_HEIGHT * len(axes_groups(evaluations))


def draw_tile(result: Result, style: dict, evaluations, figure) -> None:
    """``result`` in its ``style`` on ``figure`` (a Figure or SubFigure), and
    ``evaluations`` (the Trust panel's curves and scatter) under it when there are any."""
    if not evaluations:
        draw(result, figure, **style)
        return
    plots = len(axes_groups(evaluations))
    top, bottom = figure.subfigures(2, 1, height_ratios=[EXPORT_MAP_SIZE[1],
                                                         EXPORT_PLOT_HEIGHT * plots])
    draw(result, top, **style)
    draw_evaluations(evaluations, bottom)


def save_tile_png(result: Result, style: dict, evaluations, path) -> Path:
    """A tile as a PNG: ``result`` as ``Result.save_png`` writes it, with ``evaluations``
    under it when there are any."""
    if not evaluations:
        return result.save_png(path, **style)
    figure = Figure(figsize=(EXPORT_MAP_SIZE[0], export_height(evaluations)),
                    layout="constrained")
    draw_tile(result, style, evaluations, figure)
    figure.savefig(str(path), dpi=100, bbox_inches="tight", pad_inches=0.05)
    return Path(path)


class TileFigureCanvas(FigureCanvasQTAgg):
    """A tile's figure: the mouse wheel scrolls the canvas around it (tiles cover nearly all
    of the canvas), nothing in a tile zooms."""

    def wheelEvent(self, event):
        area = self.parentWidget()
        while area is not None and not isinstance(area, QtWidgets.QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()
        else:  # handed on explicitly: Qt propagates only spontaneous wheel events
            QtWidgets.QApplication.sendEvent(area.viewport(), event)


class ResultDialog(QtWidgets.QDialog):
    """A result opened large: a matplotlib figure with zoom, pan and save."""

    def __init__(self, result: Result, style: dict, title: str, parent=None):
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
        draw(result, self.figure, **style)
        self.figure_canvas.draw()
