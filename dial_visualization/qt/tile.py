"""One result on the canvas: a :class:`ResultTile` draws its :class:`Result` with
``core.plotting.draw`` into a matplotlib figure, with its style controls (opacity, grey or
colour image, clipping percentile, colour map), pages of a large grid (a click on a cell
asks for that channel as its own tile), and can be closed, opened large (with matplotlib's
navigation toolbar), saved as PNG, ``.npy`` and, for results with frames (activation
maximisation), played and saved as GIF. A map of a class has a Trust menu (:mod:`.trust`);
what it measured is shown under the map (``trust_panel``) and saved with it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from matplotlib.figure import Figure
from qtpy import QtCore, QtWidgets

from ..core.plotting import DEFAULT_CLIP, Scale, draw, page_count, score_text
from ..core.registry import NodeType
from ..core.result import Result, file_stem
from ..core.session import RunRecord
from .figures import ResultDialog, TileFigureCanvas, save_tile_png
from .trust import explains_a_class, trust_button
from .trust_views import trust_evaluations

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


class ResultTile(QtWidgets.QFrame):
    """One result on the canvas, with its controls."""

    close_requested = QtCore.Signal(object)
    #: RunRecord of one channel (filter) of this tile's grid, clicked to open as its own tile.
    channel_requested = QtCore.Signal(object)
    #: (this tile, [metric id, ...]) chosen in its Trust menu (a map of a class, see .trust).
    trust_requested = QtCore.Signal(object, object)
    #: (this tile, [metric id, ...]) whose parameters are asked for in its Trust menu.
    trust_parameters_requested = QtCore.Signal(object, object)
    #: The path of a file the tile wrote (PNG, .npy, GIF).
    saved = QtCore.Signal(str)

    def __init__(self, result: Result, record: RunRecord | None = None, title: str = "",
                 parent=None):
        super().__init__(parent)
        self.result = result
        self.record = record
        self.title = title or result.title
        self.alpha = 0.5
        self.cmap: str | None = None
        self.background = "grey"
        self.clip = DEFAULT_CLIP
        self.shared_scale: Scale | None = None
        self.page = 0
        self.frame = None if result.frames is None else len(result.frames) - 1
        self.dialogs: list[ResultDialog] = []
        self.trust_panel = None  # its curves under the map (.trust_views.set_trust_panel)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setMinimumSize(TILE_MIN_WIDTH, TILE_MIN_HEIGHT)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(self._make_header())
        self.figure = Figure(figsize=(4, 3.2), layout="constrained")
        self.figure_canvas = TileFigureCanvas(self.figure)
        self.figure_canvas.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                                         QtWidgets.QSizePolicy.Policy.Expanding)
        self.figure_canvas.setMinimumHeight(200)
        self.figure_canvas.mpl_connect("button_press_event", self._clicked)
        if self.opens_cells():
            self.figure_canvas.setToolTip("click a cell to open it as its own tile")
        layout.addWidget(self.figure_canvas, 1)
        layout.addLayout(self._make_style_controls())
        if page_count(result) > 1:
            layout.addLayout(self._make_page_controls())
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
        self.title_label = ElidedLabel(self.title + score_text(self.result))
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
        self.trust_button = trust_button(self) if explains_a_class(self) else None
        for button in (self.trust_button, self.enlarge_button, self.save_button,
                       self.close_button):
            if button is not None:
                header.addWidget(button)
        return header

    def _make_style_controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        heatmap = self.result.kind == "heatmap"
        self.opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(self.alpha * 100))
        self.opacity_slider.setToolTip("opacity of the map over the image")
        self.opacity_slider.valueChanged.connect(lambda v: self.set_alpha(v / 100))
        self.colour_check = QtWidgets.QCheckBox("Colour image")
        self.colour_check.setToolTip("the map over the input in its colours (else over a "
                                     "greyscale copy, so the map's colours are the only ones)")
        self.colour_check.toggled.connect(
            lambda on: self.set_background("colour" if on else "grey"))
        self.clip_spin = QtWidgets.QDoubleSpinBox()
        self.clip_spin.setRange(50.0, 100.0)
        self.clip_spin.setSingleStep(0.5)
        self.clip_spin.setDecimals(1)
        self.clip_spin.setValue(self.clip)
        self.clip_spin.setToolTip("colours span this percentile of |value|; larger values "
                                  "take the end colour (100: the largest value)")
        self.clip_spin.valueChanged.connect(self.set_clip)
        self.cmap_combo = QtWidgets.QComboBox()
        self.cmap_combo.addItems(COLOUR_MAPS)
        self.cmap_combo.setToolTip("colour map")
        self.cmap_combo.currentTextChanged.connect(
            lambda name: self.set_cmap(None if name == "default" else name))
        if heatmap and self.result.background is not None:
            row.addWidget(QtWidgets.QLabel("Opacity"))
            row.addWidget(self.opacity_slider, 1)
            if self.result.background.shape[-1] == 3:
                row.addWidget(self.colour_check)
            else:
                self.colour_check.hide()
        else:
            self.opacity_slider.hide()
            self.colour_check.hide()
            row.addStretch(1)
        if heatmap:
            row.addWidget(QtWidgets.QLabel("Clip"))
            row.addWidget(self.clip_spin)
        else:
            self.clip_spin.hide()
        if self.result.kind in ("heatmap", "grid") and not self.result.info.get("rgb"):
            row.addWidget(self.cmap_combo)
        else:
            self.cmap_combo.hide()
        return row

    def _make_page_controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.previous_button = self._button("◀", "previous page of cells",
                                            lambda: self.show_page(self.page - 1))
        self.next_button = self._button("▶", "next page of cells",
                                        lambda: self.show_page(self.page + 1))
        self.page_label = QtWidgets.QLabel()
        row.addStretch(1)
        row.addWidget(self.previous_button)
        row.addWidget(self.page_label)
        row.addWidget(self.next_button)
        row.addStretch(1)
        self._update_page_controls()
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

    def style(self) -> dict:
        """``core.plotting.draw``'s options as this tile draws its result now."""
        return {"cmap": self.cmap, "alpha": self.alpha, "background": self.background,
                "clip": self.clip, "scale": self.shared_scale, "page": self.page}

    def redraw(self) -> None:
        draw(self.shown_result(), self.figure, **self.style())
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

    def set_background(self, background: str) -> None:
        """``"grey"`` (the default), ``"colour"`` or ``"none"`` under a heatmap."""
        self.background = background
        if self.colour_check.isChecked() != (background == "colour"):
            self.colour_check.setChecked(background == "colour")
        self.redraw()

    def set_clip(self, clip: float) -> None:
        """The percentile of |value| the colours span (ignored while a shared scale is set:
        the canvas computes that one)."""
        self.clip = float(clip)
        if abs(self.clip_spin.value() - self.clip) > 1e-9:
            self.clip_spin.setValue(self.clip)
        self.redraw()

    def set_shared_scale(self, scale: Scale | None) -> None:
        """Draw with ``scale`` (shared with other tiles) instead of the map's own."""
        if scale == self.shared_scale:
            return
        self.shared_scale = scale
        self.clip_spin.setEnabled(scale is None)
        self.redraw()

    def show_page(self, page: int) -> None:
        self.page = int(min(max(page, 0), page_count(self.result) - 1))
        self._update_page_controls()
        self.redraw()

    def _update_page_controls(self) -> None:
        pages = page_count(self.result)
        self.page_label.setText(f"page {self.page + 1}/{pages}")
        self.previous_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < pages - 1)

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
        self.play_button.setText("Pause" if playing else "Play")

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def _next_frame(self) -> None:
        if self.frame >= len(self.result.frames) - 1:
            self.play(False)
        else:
            self.show_frame(self.frame + 1)

    def _update_frame_label(self) -> None:
        """The frame's optimisation step and objective (one per optimised image) where the
        result records them (activation maximization), else "k/N"; "k/N" in the tooltip."""
        position = f"frame {self.frame + 1}/{len(self.result.frames)}"
        steps = self.result.info.get("frame_steps")
        objectives = self.result.info.get("objective_per_frame")
        if steps and objectives and len(steps) == len(self.result.frames):
            values = objectives[self.frame]
            shown = ", ".join(f"{value:.3g}" for value in values[:4])
            text = f"step {steps[self.frame]}: objective {shown}" + (
                ", ..." if len(values) > 4 else "")
        else:
            text = f"{self.frame + 1}/{len(self.result.frames)}"
        self.frame_label.setText(text)
        self.frame_label.setToolTip(position)

    # ------------------------------------------------------------------ cells

    def opens_cells(self) -> bool:
        """Whether a click on a cell of this grid opens that channel (filter): a grid of a
        whole layer's channels or filters, run from a node."""
        target = self.record.target if self.record else None
        return (self.result.kind == "grid" and self.frame is None and target is not None
                and target.index is None and len(self.result.data) > 1
                and target.node_type in (NodeType.OUTPUT, NodeType.KERNEL)
                and self.result.info.get("channels") is None)

    def cell_record(self, cell: int) -> RunRecord:
        """The run of cell ``cell``'s channel (a kernel shown one input channel per column:
        the filter of its row) with this tile's method and parameters."""
        columns = self.result.info.get("grid_columns")
        index = cell // columns if columns else cell
        return RunRecord(self.record.method, dataclasses.replace(self.record.target, index=index),
                         dict(self.record.params))

    def _clicked(self, event) -> None:
        gid = event.inaxes.get_gid() if event.inaxes is not None else None
        if gid and gid.startswith("cell ") and self.opens_cells():
            self.channel_requested.emit(self.cell_record(int(gid.split()[1])))

    # ------------------------------------------------------------------ actions

    def open_large(self) -> ResultDialog:
        dialog = ResultDialog(self.shown_result(), self.style(), self.title, self)
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]
        dialog.show()
        return dialog

    def save_png(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save tile as PNG", file_stem(self.title) + ".png",
                                      "PNG image (*.png)")
        return self._saved(path and save_tile_png(self.shown_result(), self.style(),
                                                  trust_evaluations(self), path))

    def save_npy(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save raw data", file_stem(self.title) + ".npy",
                                      "NumPy array (*.npy)")
        return self._saved(path and self.result.save_npy(path))

    def save_gif(self, path: str | Path | None = None) -> Path | None:
        path = path or _ask_save_path(self, "Save frames as GIF", file_stem(self.title) + ".gif",
                                      "Animated GIF (*.gif)")
        return self._saved(path and self.result.save_gif(path))

    def _saved(self, path) -> Path | None:
        if path:
            self.saved.emit(str(path))
        return path or None

    def close_dialogs(self) -> None:
        for dialog in self.dialogs:
            dialog.close()
        self.dialogs = []
