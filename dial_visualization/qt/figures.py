"""The matplotlib figures of the canvas: a tile's (the wheel scrolls the canvas) and a
result opened large (zoom, pan and save)."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from qtpy import QtWidgets

from ..core.plotting import draw
from ..core.result import Result


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
