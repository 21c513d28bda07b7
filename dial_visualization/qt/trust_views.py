"""What the Trust actions show (:mod:`.trust`): a tile's deletion and insertion curves and
its MuFidelity scatter in a panel under its map (drawn by ``core.metrics.drawing``), the
sanity check's strip of maps as a grid result (one cell per randomisation step, its
correlations in the cell's label), and the score table under a "Compare methods" grid, the
best map of each class marked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from qtpy import QtCore, QtGui, QtWidgets

from ..core.context import Target
from ..core.metrics import Evaluation
from ..core.metrics.drawing import axes_groups, draw_evaluations, ordered, score_text
from ..core.result import Result
from .figures import TileFigureCanvas

#: Height in pixels of each plot of the panel under a tile's map (the curves, the scatter).
CURVES_HEIGHT = 210
#: The mark of the best score of a class in the comparison's table.
BEST_MARK = "★"
#: Decimals of the comparison's scores; maps tied at this precision are all marked best.
DECIMALS = 3


def shown(score: float) -> float:
    """``score`` at the precision the table shows."""
    return round(float(score), DECIMALS)


def scores_text(evaluations: list[Evaluation]) -> str:
    """"Deletion AUC 0.0403 (lower is better) · Insertion AUC 1 (higher is better)"."""
    return " · ".join(score_text(e) for e in ordered(evaluations))


def set_trust_panel(tile, panel) -> None:
    """Show ``panel`` under ``tile``'s map in place of any before (None: none); the tile
    grows by the panel's height."""
    old, tile.trust_panel = tile.trust_panel, panel
    grow = (panel.maximumHeight() if panel is not None else 0) - \
        (old.maximumHeight() if old is not None else 0)
    if old is not None:
        old.hide()
        old.deleteLater()
    if panel is not None:
        tile.layout().insertWidget(2, panel)
    if tile.minimumHeight() == tile.maximumHeight() and grow:  # sized by the canvas
        tile.setFixedHeight(tile.maximumHeight() + grow)


def trust_evaluations(tile) -> list[Evaluation]:
    """The evaluations shown under ``tile``'s map (none without a panel)."""
    return list(tile.trust_panel.evaluations) if tile.trust_panel is not None else []


def show_evaluations(tile, evaluations: list[Evaluation]) -> None:
    """Add ``evaluations`` to those shown under ``tile``'s map (one of each metric: a new
    one replaces the old)."""
    new = {e.metric for e in evaluations}
    kept = [e for e in trust_evaluations(tile) if e.metric not in new]
    set_trust_panel(tile, TrustPanel(kept + list(evaluations), tile))


class TrustPanel(QtWidgets.QWidget):
    """A tile's evaluations under its map: their scores in words, a plot per
    ``core.metrics.drawing.axes_groups`` (the curves, the scatter), and a button that
    hides them; ``evaluations`` keeps the numbers."""

    def __init__(self, evaluations: list[Evaluation], tile, parent=None):
        super().__init__(parent)
        self.evaluations = ordered(evaluations)
        self._tile = tile
        self.setFixedHeight(CURVES_HEIGHT * len(axes_groups(self.evaluations)))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        row = QtWidgets.QHBoxLayout()
        self.scores_label = QtWidgets.QLabel(scores_text(self.evaluations))
        self.scores_label.setWordWrap(True)
        self.scores_label.setToolTip("\n".join(
            f"{e.info.get('metric_name', e.metric)}: {e.info.get('params')}"
            for e in self.evaluations))
        self.hide_button = QtWidgets.QToolButton()
        self.hide_button.setText("✕")
        self.hide_button.setAutoRaise(True)
        self.hide_button.setToolTip("hide the curves")
        self.hide_button.clicked.connect(lambda: set_trust_panel(self._tile, None))
        row.addWidget(self.scores_label, 1)
        row.addWidget(self.hide_button)
        layout.addLayout(row)
        self.figure = Figure(figsize=(4, 1.8 * len(axes_groups(self.evaluations))),
                             layout="constrained")
        self.figure_canvas = TileFigureCanvas(self.figure)
        layout.addWidget(self.figure_canvas, 1)
        draw_evaluations(self.evaluations, self.figure)
        self.figure_canvas.draw()


def step_label(row) -> str:
    """A cell's label: "original", or "step 2: ρ 0.41, |ρ| 0.52, SSIM 0.33"."""
    step, rho, rho_abs, ssim = row[:4]
    if step == 0:
        return "original"
    return f"step {int(step)}: ρ {rho:.2f}, |ρ| {rho_abs:.2f}, SSIM {ssim:.2f}"


def sanity_result(evaluation: Evaluation, source_title: str, target: Target) -> Result:
    """The sanity check as a grid result: the original map, then the map after each
    randomisation step, each cell labelled with its correlations with the original; the
    evaluation's curve, columns, score and layers are kept in ``info``."""
    maps = np.asarray(evaluation.info["maps"], np.float32)
    labels = [step_label(row) for row in evaluation.curve]
    layers = evaluation.info["layers"]
    last = layers[-1] if layers else ""
    which = "every layer is" if not evaluation.info.get("params", {}).get("layers") else \
        f"the top {len(layers)} layers are"
    return Result(
        method="model-randomization",
        title=(f"Sanity check of {source_title}: rank correlation |ρ| {evaluation.score:.2f} "
               f"once {which} random (lower is better)"),
        kind="grid", data=maps, target=target,
        params=dict(evaluation.info.get("params", {})),
        info={"channels": labels, "grid_columns": min(len(maps), 4),
              "curve": evaluation.curve, "columns": evaluation.columns,
              "score": evaluation.score, "layers": list(evaluation.info["layers"]),
              "randomized_at_step": evaluation.info["randomized_at_step"],
              "last_layer_randomized": last})


@dataclass
class ScoreRow:
    """One map of a comparison: its method, the class it explains and its two scores."""

    method: str
    method_name: str
    target: Target
    deletion: Evaluation
    insertion: Evaluation


class ScoreTable(QtWidgets.QTableWidget):
    """The comparison's scores: a row per method, a deletion and an insertion column per
    class; the best of each column (lowest deletion, highest insertion) bold and marked."""

    def __init__(self, rows: list[ScoreRow], labels: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.rows = list(rows)
        self.classes: list[int] = []
        for row in self.rows:
            if row.target.index not in self.classes:
                self.classes.append(row.target.index)
        methods: list[str] = []
        names: dict[str, str] = {}
        for row in self.rows:
            if row.method not in methods:
                methods.append(row.method)
                names[row.method] = row.method_name
        self.methods = methods
        self.setRowCount(len(methods))
        self.setColumnCount(2 * len(self.classes))
        self.setVerticalHeaderLabels([names[m] for m in methods])
        headers = []
        for index in self.classes:
            name = labels[index] if labels and index is not None and index < len(labels) \
                else f"class {index}"
            headers += [f"{name}: deletion ↓", f"{name}: insertion ↑"]
        self.setHorizontalHeaderLabels(headers)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setToolTip("area under each curve of the map's pixels removed (deletion: lower is "
                        f"better) or revealed (insertion: higher is better); {BEST_MARK} the "
                        "best map of each class")
        self._fill()
        self.resizeColumnsToContents()
        height = self.horizontalHeader().height() + 4 + sum(
            self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(min(height + self.frameWidth() * 2, 420))

    def best(self) -> dict[tuple[int, str], list[str]]:
        """(class, "deletion" or "insertion") -> the methods whose maps score best (those
        tied at the precision shown, :data:`DECIMALS`, all)."""
        chosen = {}
        for index in self.classes:
            rows = [r for r in self.rows if r.target.index == index]
            for kind, pick in (("deletion", min), ("insertion", max)):
                if rows:
                    best = shown(pick(getattr(r, kind).score for r in rows))
                    chosen[(index, kind)] = [r.method for r in rows
                                             if shown(getattr(r, kind).score) == best]
        return chosen

    def _fill(self) -> None:
        best = self.best()
        for row in self.rows:
            line = self.methods.index(row.method)
            column = 2 * self.classes.index(row.target.index)
            for offset, kind in enumerate(("deletion", "insertion")):
                score = getattr(row, kind).score
                marked = row.method in best.get((row.target.index, kind), ())
                item = QtWidgets.QTableWidgetItem(
                    f"{score:.{DECIMALS}f}" + (f" {BEST_MARK}" if marked else ""))
                item.setData(QtCore.Qt.ItemDataRole.UserRole, score)
                if marked:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setBackground(QtGui.QBrush(QtGui.QColor(200, 235, 200)))
                self.setItem(line, column + offset, item)

    def score(self, method: str, index: int, kind: str) -> float:
        """The score shown for ``method``'s map of class ``index`` (``kind``: deletion or
        insertion)."""
        item = self.item(self.methods.index(method), 2 * self.classes.index(index)
                         + ("deletion", "insertion").index(kind))
        return float(item.data(QtCore.Qt.ItemDataRole.UserRole))

    def is_marked(self, method: str, index: int, kind: str) -> bool:
        item = self.item(self.methods.index(method), 2 * self.classes.index(index)
                         + ("deletion", "insertion").index(kind))
        return item.text().endswith(BEST_MARK)
