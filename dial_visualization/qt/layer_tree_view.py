"""The layer tree view: drag nodes onto the canvas; double-click or Enter runs them; F2 opens
the method of the current node, and a right-click offers "Run <method>" for each method that
applies (on a layer row: those of its output and kernels)."""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

from .compat import combine
from .delegates import MethodDelegate

Key = QtCore.Qt.Key


class LayerTreeView(QtWidgets.QTreeView):
    """Drag nodes from here onto the canvas; double-click or Enter runs the selected nodes."""

    #: The column-0 indexes of the nodes to run.
    run_requested = QtCore.Signal(list)
    #: (column-0 indexes, method id): run that method on those nodes (the context menu).
    run_method_requested = QtCore.Signal(list, str)

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
        if event.key() == Key.Key_F2 and not editing and self.currentIndex().isValid():
            self.edit_method(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def edit_method(self, index) -> None:
        """Open the method chooser of ``index``'s row (its Method cell)."""
        cell = index.siblingAtColumn(1)
        if self.model().methods(cell):
            self.setCurrentIndex(cell)
            self.edit(cell)

    def node_menu(self, index) -> QtWidgets.QMenu | None:
        """The right-click menu of ``index``: "Run <method>" for each method of the node (on
        a layer row, of its output and kernel nodes); None where there is none."""
        model = self.model()
        index = index.siblingAtColumn(0)
        nodes = [index] if model.target(index) is not None else model.node_children(index)
        menu = QtWidgets.QMenu(self)
        for node in nodes:
            methods = model.methods(node)
            if len(nodes) > 1 and methods:
                menu.addSection(model.data(node))
            for method in methods:
                action = menu.addAction(f"Run {method.name}")
                action.setToolTip(method.description)
                action.triggered.connect(
                    lambda *_, node=node, method_id=method.id: self._run_from_menu(node, method_id))
        if model.target(index) is not None and model.methods(index):
            menu.addSeparator()
            menu.addAction("Choose the method… (F2)").triggered.connect(
                lambda *_: self.edit_method(index))
        return menu if menu.actions() else None

    def contextMenuEvent(self, event):
        index = self.indexAt(event.pos())
        menu = self.node_menu(index) if index.isValid() else None
        if menu is not None:
            run = getattr(menu, "exec", None) or menu.exec_  # PySide2 has exec_ only
            run(event.globalPos())

    def _run_from_menu(self, node, method_id: str) -> None:
        """The selected nodes of the clicked node's type, or the clicked node alone."""
        model = self.model()
        node_type = model.target(node).node_type
        selected = [i for i in self.selected_nodes()
                    if model.target(i) is not None and model.target(i).node_type == node_type]
        self.run_method_requested.emit(selected if node in selected else [node], method_id)

    def _request(self, indexes: list) -> None:
        model = self.model()
        runnable = [i for i in indexes if i.isValid() and model.target(i) is not None]
        if runnable:
            self.run_requested.emit(runnable)
