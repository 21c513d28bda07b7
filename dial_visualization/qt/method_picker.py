"""The "Method" combo beside "Run selected": the methods the current node offers, with the
one it runs selected; choosing one sets it for every selected node of that type. (The
tree's right-click menu and F2 are in :mod:`.layer_tree_view`.)"""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

from ..core.context import NodeType

#: Methods of class nodes that do not map the input, left out of "Compare methods".
NOT_MAPS_OF_THE_INPUT = ("predictions", "activation-maximization")


class MethodPicker:
    """Binds ``combo`` to the current node of ``view`` (a :class:`~.layer_tree_view.LayerTreeView`)."""

    def __init__(self, combo: QtWidgets.QComboBox, view):
        self.combo, self.view = combo, view
        combo.activated.connect(self._chosen)
        self.refresh()

    def refresh(self) -> None:
        """Show the current node's methods, its own selected (a layer row: none)."""
        combo, model, index = self.combo, self.view.model(), self.view.currentIndex()
        methods = model.methods(index) if model is not None and index.isValid() else []
        combo.blockSignals(True)
        combo.clear()
        for method in methods:
            combo.addItem(method.name, method.id)
            combo.setItemData(combo.count() - 1, method.description,
                              QtCore.Qt.ItemDataRole.ToolTipRole)
        if methods:
            combo.setCurrentIndex(max(combo.findData(model.method_id(index)), 0))
        else:
            combo.addItem("select a class, output or kernel node", None)
        combo.setEnabled(bool(methods))
        combo.blockSignals(False)

    def _chosen(self, position: int) -> None:
        method_id, model = self.combo.itemData(position), self.view.model()
        current = self.view.currentIndex().siblingAtColumn(0)
        target = model.target(current) if method_id else None
        if target is None:
            return
        same_type = [i for i in self.view.selected_nodes()
                     if model.target(i) is not None and model.target(i).node_type == target.node_type]
        for index in {(i.row(), i.internalId()): i for i in same_type + [current]}.values():
            model.setData(index.siblingAtColumn(1), method_id)


def compared_methods(registry) -> list:
    """The methods "Compare methods" runs on a class: every one that maps the input."""
    return [m for m in registry.for_node_type(NodeType.PREDICTION)
            if m.id not in NOT_MAPS_OF_THE_INPUT]
