"""A form generated from an algorithm's ``parameters`` declaration, remembered per algorithm.

int and float become spin boxes with the declared range, choices a combo box, bools a check
box and strings a line edit; each parameter's help is its tooltip. Values are checked with
``Parameter.coerce``: an invalid value raises :class:`ParameterError` and changes nothing.
"""

from __future__ import annotations

from typing import Any

from qtpy import QtCore, QtWidgets

from ..core.errors import ParameterError
from ..core.registry import Algorithm, Parameter

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12


def _decimals(*values) -> int:
    """Enough decimals to show each of ``values`` exactly (2 at least, 8 at most)."""
    needed = 2
    for value in values:
        if value is None:
            continue
        text = f"{float(value):.8f}".rstrip("0")
        needed = max(needed, len(text.split(".")[1]) if "." in text else 0)
    return min(needed, 8)


def _describe(parameter: Parameter) -> str:
    limits = []
    if parameter.minimum is not None:
        limits.append(f"min {parameter.minimum:g}")
    if parameter.maximum is not None:
        limits.append(f"max {parameter.maximum:g}")
    extra = f" ({', '.join(limits)})" if limits else ""
    return f"{parameter.help}{extra}; default {parameter.default!r}".lstrip("; ")


class ParamsForm(QtWidgets.QWidget):
    """Editors for one algorithm's parameters; the values of every algorithm are remembered."""

    #: (algorithm id, checked values) whenever the shown values change.
    values_changed = QtCore.Signal(str, dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._algorithm: Algorithm | None = None
        self._editors: dict[str, QtWidgets.QWidget] = {}
        self._remembered: dict[str, dict[str, Any]] = {}
        self._layout = QtWidgets.QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._show_message("Select a node to see its algorithm's parameters.")

    # ------------------------------------------------------------------ public

    def algorithm(self) -> Algorithm | None:
        return self._algorithm

    def editor(self, name: str) -> QtWidgets.QWidget:
        return self._editors[name]

    def set_algorithm(self, algorithm: Algorithm | None) -> None:
        """Show ``algorithm``'s parameters, filled with its remembered values."""
        self._algorithm = algorithm
        self._clear()
        self._editors = {}
        if algorithm is None:
            self._show_message("Select a node to see its algorithm's parameters.")
            return
        if not algorithm.parameters:
            self._show_message(f"{algorithm.name} has no parameters.")
            return
        values = self.remembered(algorithm)
        for parameter in algorithm.parameters:
            editor = self._make_editor(parameter)
            editor.setToolTip(_describe(parameter))
            self._editors[parameter.name] = editor
            label = QtWidgets.QLabel(parameter.name.replace("_", " "))
            label.setToolTip(editor.toolTip())
            self._layout.addRow(label, editor)
        self._fill(values)

    def remembered(self, algorithm: Algorithm) -> dict[str, Any]:
        """The values last used for ``algorithm`` (its defaults at first), all checked."""
        return algorithm.resolve_params(self._remembered.get(algorithm.id))

    def remember(self, algorithm: Algorithm, values: dict[str, Any]) -> dict[str, Any]:
        """Check ``values`` (raising ParameterError if one is invalid) and keep them."""
        resolved = algorithm.resolve_params({**self._remembered.get(algorithm.id, {}), **values})
        self._remembered[algorithm.id] = resolved
        if self._algorithm is not None and self._algorithm.id == algorithm.id:
            self._fill(resolved)
        return resolved

    def values(self) -> dict[str, Any]:
        """The editors' values, checked against the declaration."""
        if self._algorithm is None:
            return {}
        read = {p.name: self._read(p) for p in self._algorithm.parameters}
        return self._algorithm.resolve_params(read)

    def set_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Put ``values`` into the editors of the shown algorithm (refused if invalid)."""
        if self._algorithm is None:
            raise ValueError("no algorithm is shown")
        return self.remember(self._algorithm, values)

    # ------------------------------------------------------------------ editors

    def _make_editor(self, parameter: Parameter) -> QtWidgets.QWidget:
        if parameter.kind == "int":
            editor = QtWidgets.QSpinBox()
            low = -_INT_LIMIT if parameter.minimum is None else parameter.minimum
            high = _INT_LIMIT if parameter.maximum is None else parameter.maximum
            editor.setRange(int(max(low, -_INT_LIMIT)), int(min(high, _INT_LIMIT)))
            editor.valueChanged.connect(self._edited)
        elif parameter.kind == "float":
            editor = QtWidgets.QDoubleSpinBox()
            editor.setDecimals(_decimals(parameter.default, parameter.minimum))
            editor.setRange(-_FLOAT_LIMIT if parameter.minimum is None else parameter.minimum,
                            _FLOAT_LIMIT if parameter.maximum is None else parameter.maximum)
            if hasattr(editor, "setStepType"):
                editor.setStepType(
                    QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            editor.valueChanged.connect(self._edited)
        elif parameter.kind == "choice":
            editor = QtWidgets.QComboBox()
            for position, choice in enumerate(parameter.choices):
                editor.addItem(str(choice), position)
            editor.currentIndexChanged.connect(self._edited)
        elif parameter.kind == "bool":
            editor = QtWidgets.QCheckBox()
            editor.toggled.connect(self._edited)
        else:
            editor = QtWidgets.QLineEdit()
            editor.setPlaceholderText("(empty)")
            editor.editingFinished.connect(self._edited)
        editor.setObjectName(f"param_{parameter.name}")
        return editor

    def _read(self, parameter: Parameter) -> Any:
        editor = self._editors[parameter.name]
        if parameter.kind in ("int", "float"):
            return editor.value()
        if parameter.kind == "choice":
            return parameter.choices[editor.currentData()]
        if parameter.kind == "bool":
            return editor.isChecked()
        return editor.text()

    def _fill(self, values: dict[str, Any]) -> None:
        for parameter in self._algorithm.parameters if self._algorithm else ():
            editor = self._editors.get(parameter.name)
            if editor is None:
                continue
            value = values[parameter.name]
            editor.blockSignals(True)
            if parameter.kind == "float":
                editor.setDecimals(max(editor.decimals(), _decimals(value)))
            if parameter.kind in ("int", "float"):
                editor.setValue(value)
            elif parameter.kind == "choice":
                editor.setCurrentIndex(list(parameter.choices).index(value))
            elif parameter.kind == "bool":
                editor.setChecked(bool(value))
            else:
                editor.setText(str(value))
            editor.blockSignals(False)

    def _edited(self, *_):
        algorithm = self._algorithm
        if algorithm is None:
            return
        try:
            values = self.values()
        except ParameterError:  # the editors' ranges make this rare; keep the last good values
            return
        self._remembered[algorithm.id] = values
        self.values_changed.emit(algorithm.id, values)

    # ------------------------------------------------------------------ layout

    def _clear(self) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)

    def _show_message(self, text: str) -> None:
        message = QtWidgets.QLabel(text)
        message.setWordWrap(True)
        message.setEnabled(False)
        self._layout.addRow(message)
