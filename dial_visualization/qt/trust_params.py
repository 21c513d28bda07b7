"""The parameters of a Trust action (:mod:`.trust`): a form per metric, generated from the
metric's declaration by :class:`~.params_form.ParamsForm` as a method's is, filled with the
values remembered for the session. Edits stay in the dialog until "Run": it hands them over
to be checked (against the declared ranges, then the model and image), and either closes and
the action runs, or shows the refusal in one line and nothing runs. Cancel forgets them."""

from __future__ import annotations

from typing import Callable

from qtpy import QtCore, QtWidgets

from ..core.errors import ParameterError
from ..core.workspace import ParameterMemory
from .params_form import ParamsForm


class TrustParamsDialog(QtWidgets.QDialog):
    """Forms for ``metrics`` holding ``values`` (metric id -> values); Run calls
    ``run(values by metric id)``, which returns a refusal in one line or None (done)."""

    def __init__(self, title: str, metrics, values: dict[str, dict],
                 run: Callable[[dict[str, dict]], str | None], parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self._run = run
        self.forms: dict[str, ParamsForm] = {}
        layout = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        for metric in metrics:
            memory = ParameterMemory()  # the dialog's own: Cancel leaves the session's as is
            memory.remember(metric, values[metric.id])
            form = ParamsForm()
            form.set_memory(memory)
            form.set_method(metric)
            form.setToolTip(f"{metric.description}\n{metric.reference}")
            box = QtWidgets.QGroupBox(metric.name)
            QtWidgets.QVBoxLayout(box).addWidget(form)
            row.addWidget(box)
            self.forms[metric.id] = form
        layout.addLayout(row)
        self.message_label = QtWidgets.QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b00020")
        self.message_label.hide()
        layout.addWidget(self.message_label)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.run_button = buttons.addButton(
            "Run", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setWindowModality(QtCore.Qt.WindowModality.WindowModal)

    def values(self) -> dict[str, dict]:
        """The forms' values by metric id, each checked against its declaration."""
        return {metric_id: form.values() for metric_id, form in self.forms.items()}

    def refusal(self) -> str:
        """The last refusal shown ("" when none)."""
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def accept(self) -> None:
        """Run with the forms' values; a refusal stays in the dialog, which stays open."""
        try:
            refused = self._run(self.values())
        except ParameterError as error:
            refused = str(error)
        if refused:
            self.message_label.setText(refused)
            self.message_label.show()
            return
        super().accept()
