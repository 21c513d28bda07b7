"""The delegate of the layer tree's method column: the methods a node offers, as a combo box."""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

from .layer_models import EditRole


class MethodDelegate(QtWidgets.QStyledItemDelegate):
    """A combo box of the methods the registry lists for the node's type."""

    def createEditor(self, parent, option, index):
        combo = QtWidgets.QComboBox(parent)
        for method in index.model().methods(index):
            combo.addItem(method.name, method.id)
            combo.setItemData(combo.count() - 1, method.description,
                              QtCore.Qt.ItemDataRole.ToolTipRole)
        combo.currentIndexChanged.connect(lambda _: self.commitData.emit(combo))
        return combo

    def setEditorData(self, editor, index):
        position = editor.findData(index.model().data(index, EditRole))
        if position >= 0 and position != editor.currentIndex():
            editor.blockSignals(True)
            editor.setCurrentIndex(position)
            editor.blockSignals(False)

    def setModelData(self, editor, model, index):
        if editor.currentData() is not None:
            model.setData(index, editor.currentData(), EditRole)
