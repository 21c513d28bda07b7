"""Qt flag arithmetic that works on every binding qtpy offers.

PySide2 5.13 on Python 3.10 and later cannot ``|`` two enum values (the operation fails, or
leaves a pending SystemError): there, values are combined as integers and wrapped in the
binding's flags class (``Qt.ItemFlags``, ``QAbstractItemView.EditTriggers``, ...).
"""

from __future__ import annotations

import functools
import operator

from qtpy import PYSIDE2


def combine(flags_class, *values):
    """``values[0] | values[1] | ...`` as a ``flags_class`` (used by PySide2 only)."""
    if PYSIDE2:
        return flags_class(functools.reduce(operator.or_, (int(v) for v in values), 0))
    return functools.reduce(operator.or_, values)


def yes_no_buttons():
    """The Yes and No buttons of a question box."""
    from qtpy import QtWidgets

    buttons = QtWidgets.QMessageBox.StandardButton
    return combine(getattr(QtWidgets.QMessageBox, "StandardButtons", None), buttons.Yes, buttons.No)
