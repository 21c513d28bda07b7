"""How the widget tells the user what happened: a log line, the status bar, and for errors
a non-modal message box (unless ``show_dialogs`` is False); questions as Yes/No boxes."""

from __future__ import annotations

import time

from qtpy import QtCore, QtWidgets

from ..core.errors import DialVisualizationError
from .compat import yes_no_buttons


class MessagesMixin:
    """The messages of :class:`~.widget.ConvVisualizationWidget` (its ``log_view``,
    ``status_bar``, ``show_dialogs`` and ``error_reported`` signal)."""


    def log_message(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log_view.appendPlainText(f"{stamp}  {message}")

    def say(self, message: str) -> None:
        """What an action did, in the status bar and the log."""
        self.log_message(message)
        self.status_bar.showMessage(message, 8000)

    def report_error(self, message: str, title: str = "Error") -> None:
        """Log, status bar and (when dialogs are on) a non-modal message box."""
        self.log_message(f"ERROR: {message}")
        self.status_bar.showMessage(f"Error: {message}", 15000)
        self.error_reported.emit(message)
        if not self.show_dialogs:
            return
        self._message_boxes = [b for b in self._message_boxes if b.isVisible()]
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        box.setModal(False)
        box.show()
        self._message_boxes.append(box)

    def message_boxes(self) -> list[QtWidgets.QMessageBox]:
        """Error message boxes shown and still open."""
        return [b for b in self._message_boxes if b.isVisible()]

    def ask_confirmation(self, title: str, text: str) -> bool:
        """A Yes/No question; refused without asking when ``show_dialogs`` is False."""
        if not self.show_dialogs:
            self.log_message(f"{title}: refused (dialogs are off)")
            return False
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(self, title, text, yes_no_buttons(), buttons.No)
        return answer == buttons.Yes

    def _apply(self, change, *args, what: str = "", title: str = "Error") -> bool:
        """``change(*args)`` on the workspace; a refusal is reported (nothing changed)."""
        try:
            change(*args)
        except DialVisualizationError as error:
            self.report_error(f"{what}: {error}" if what else str(error), title)
            return False
        return True

    def _report_exception(self, error: Exception, prefix: str, title: str) -> None:
        """A refusal in its own words; anything else with its type, after ``prefix``."""
        if isinstance(error, DialVisualizationError):
            self.report_error(str(error), title)
        else:
            self.report_error(f"{prefix}{type(error).__name__}: {error}", title)
