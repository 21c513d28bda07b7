"""The layer tree view: drag nodes onto the canvas; double-click or Enter runs them."""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

from .compat import combine
from .delegates import MethodDelegate

Key = QtCore.Qt.Key


class LayerTreeView(QtWidgets.QTreeView):
    """Drag nodes from here onto the canvas; double-click or Enter runs the selected nodes."""

    #: The column-0 indexes of the nodes to run.
    run_requested = QtCore.Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(QtCore.Qt.DropAction.CopyAction)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setExpandsOnDoubleClick(False)
        self.setUniformRowHeights(True)
        triggers = QtWidgets.QAbstractItemView.EditTrigger
        self.setEditTriggers(combine(getattr(QtWidgets.QAbstractItemView, "EditTriggers", None),
                                     triggers.SelectedClicked, triggers.EditKeyPressed))
        self.delegate = MethodDelegate(self)
        self.setItemDelegateForColumn(1, self.delegate)
        self.doubleClicked.connect(lambda index: self._request([index.siblingAtColumn(0)]))

    def setModel(self, model):
        super().setModel(model)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

    def selected_nodes(self) -> list:
        if self.selectionModel() is None:
            return []
        return self.selectionModel().selectedRows(0)

    def keyPressEvent(self, event):
        editing = self.state() == QtWidgets.QAbstractItemView.State.EditingState
        if event.key() in (Key.Key_Return, Key.Key_Enter) and not editing:
            self._request(self.selected_nodes())
            event.accept()
            return
        super().keyPressEvent(event)

    def _request(self, indexes: list) -> None:
        model = self.model()
        runnable = [i for i in indexes if i.isValid() and model.target(i) is not None]
        if runnable:
            self.run_requested.emit(runnable)
