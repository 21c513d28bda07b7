"""A row of buttons that fits narrow windows: where the row is narrower than its buttons
with their full texts, the known buttons show short ones (their tooltips keep the whole
story) and the labels that only name the box beside them hide. Each widget of the row may
then shrink to its short size, so the window can be made as small as 800 pixels wide."""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

#: objectName: the short text; None hides the widget while the row is compact.
SHORT_TEXTS = {"method_picker_label": None, "run_button": "Run",
               "compare_button": "Compare", "columns_label": "Cols",
               "export_canvas_button": "Export…"}


class CompactRow(QtCore.QObject):
    """Follows the width of ``panel`` and makes the widgets of ``row`` (a box layout in it)
    compact when their full texts do not fit."""

    def __init__(self, panel: QtWidgets.QWidget, row: QtWidgets.QBoxLayout):
        super().__init__(panel)
        self.panel, self.row = panel, row
        self.compact = False
        self._full = {}
        for widget in self._widgets():
            name = widget.objectName()
            if name in SHORT_TEXTS:
                self._full[name] = widget.text()
                short = SHORT_TEXTS[name]
                # the narrowest it may be, from the start (the window's minimum)
                widget.setMinimumWidth(self._text_width(widget, short) if short else 1)
        panel.installEventFilter(self)

    def _widgets(self) -> list[QtWidgets.QWidget]:
        """The row's widgets in order (found by ``indexOf``: no ``itemAt``, whose layout item
        wrappers outlive the items and can stand for a later widget at the same address)."""
        row = self.row
        found = [child for child in self.panel.findChildren(QtWidgets.QWidget)
                 if row.indexOf(child) >= 0]
        return sorted(found, key=row.indexOf)

    @staticmethod
    def _text_width(widget, text: str) -> int:
        """The width ``widget`` needs to show ``text``."""
        full = widget.text()
        widget.setText(text)
        width = widget.sizeHint().width()
        widget.setText(full)
        return width

    def full_width(self) -> int:
        """The row's preferred width with every full text shown."""
        spacing = max(self.row.spacing(), 0)
        widths = []
        for widget in self._widgets():
            name = widget.objectName()
            if name in self._full:
                widths.append(self._text_width(widget, self._full[name]))
            elif not widget.isHidden():  # at its preferred width: nothing squeezed
                widths.append(max(widget.sizeHint().width(), widget.minimumWidth()))
        return sum(widths) + spacing * max(len(widths) - 1, 0)

    def update(self) -> None:
        margins = self.panel.layout().contentsMargins() if self.panel.layout() else None
        room = self.panel.width() - (margins.left() + margins.right() if margins else 0)
        compact = room < self.full_width()
        if compact == self.compact:
            return
        self.compact = compact
        for widget in self._widgets():
            name = widget.objectName()
            if name not in self._full:
                continue
            short = SHORT_TEXTS[name]
            if short is None:
                widget.setVisible(not compact)
            else:
                widget.setText(short if compact else self._full[name])

    def eventFilter(self, watched, event):
        if event.type() in (QtCore.QEvent.Type.Resize, QtCore.QEvent.Type.Show):
            self.update()
        return False
