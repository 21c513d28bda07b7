"""A form generated from a method's ``parameters`` declaration, its values remembered per method
(in the workspace's memory, which forgets them when the model changes). A metric
(``core.metrics.Metric``) declares its parameters alike, and the Trust actions' dialog
(:mod:`.trust_params`) shows it in the same form.

int and float become spin boxes with the declared range, choices a combo box, bools a check
box and strings a line edit; each parameter's help is its tooltip. Values are checked with
``Parameter.coerce``: an invalid value raises :class:`ParameterError` and changes nothing.
"""

from __future__ import annotations

from typing import Any

from qtpy import QtCore, QtWidgets

from ..core.errors import ParameterError
from ..core.registry import Method, Parameter
from ..core.workspace import ParameterMemory

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
    """Editors for one method's parameters; the values of every method are remembered."""

    #: (method id, checked values) whenever the shown values change.
    values_changed = QtCore.Signal(str, dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._method: Method | None = None
        self._editors: dict[str, QtWidgets.QWidget] = {}
        self._memory = ParameterMemory()
        self._layers: list[tuple[str, bool]] = []  # (path, spatial) of the model's layers
        self._layout = QtWidgets.QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._show_message("Select a node to see its method's parameters.")

    # ------------------------------------------------------------------ public

    def method(self) -> Method | None:
        return self._method

    def set_memory(self, memory: ParameterMemory) -> None:
        """Remember values in ``memory`` (the workspace's, which forgets them with the model)."""
        self._memory = memory
        self.set_method(self._method)

    def set_layers(self, tree) -> None:
        """The layers a ``layer`` parameter offers: the model's (a LayerTree; None: none)."""
        self._layers = [] if tree is None else [
            (node.path, node.is_spatial) for node in tree.walk()
            if not node.children and node.type != "InputLayer"]
        self.set_method(self._method)

    def editor(self, name: str) -> QtWidgets.QWidget:
        return self._editors[name]

    def set_method(self, method: Method | None) -> None:
        """Show ``method``'s parameters, filled with its remembered values."""
        self._method = method
        self._clear()
        self._editors = {}
        if method is None:
            self._show_message("Select a node to see its method's parameters.")
            return
        if not method.parameters:
            self._show_message(f"{method.name} has no parameters.")
            return
        values = self.remembered(method)
        for parameter in method.parameters:
            editor = self._make_editor(parameter)
            editor.setToolTip(_describe(parameter))
            self._editors[parameter.name] = editor
            label = QtWidgets.QLabel(parameter.name.replace("_", " "))
            label.setToolTip(editor.toolTip())
            self._layout.addRow(label, editor)
        self._fill(values)

    def remembered(self, method: Method) -> dict[str, Any]:
        """The values last used for ``method`` (its defaults at first), all checked."""
        return self._memory.remembered(method)

    def remember(self, method: Method, values: dict[str, Any]) -> dict[str, Any]:
        """Check ``values`` (raising ParameterError if one is invalid) and keep them."""
        resolved = self._memory.remember(method, values)
        if self._method is not None and self._method.id == method.id:
            self._fill(resolved)
        return resolved

    def values(self) -> dict[str, Any]:
        """The editors' values, checked against the declaration."""
        if self._method is None:
            return {}
        read = {p.name: self._read(p) for p in self._method.parameters}
        return self._method.resolve_params(read)

    def set_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Put ``values`` into the editors of the shown method (refused if invalid)."""
        if self._method is None:
            raise ValueError("no method is shown")
        return self.remember(self._method, values)

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
        elif parameter.kind == "layer":  # the model's layers (spatial ones where asked)
            editor = QtWidgets.QComboBox()
            editor.addItem("automatic", "")
            for path, spatial in self._layers:
                if spatial or not parameter.spatial:
                    editor.addItem(path, path)
            editor.currentIndexChanged.connect(self._edited)
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
        if parameter.kind == "layer":
            return editor.currentData()
        return editor.text()

    def _fill(self, values: dict[str, Any]) -> None:
        for parameter in self._method.parameters if self._method else ():
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
            elif parameter.kind == "layer":
                if editor.findData(value) < 0:  # a layer this model does not list
                    editor.addItem(value, value)
                editor.setCurrentIndex(editor.findData(value))
            else:
                editor.setText(str(value))
            editor.blockSignals(False)

    def _edited(self, *_):
        method = self._method
        if method is None:
            return
        try:
            values = self.values()
        except ParameterError:  # the editors' ranges make this rare; keep the last good values
            return
        self._memory.remember(method, values)
        self.values_changed.emit(method.id, values)

    # ------------------------------------------------------------------ layout

    def _clear(self) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)

    def _show_message(self, text: str) -> None:
        message = QtWidgets.QLabel(text)
        message.setWordWrap(True)
        message.setEnabled(False)
        self._layout.addRow(message)
