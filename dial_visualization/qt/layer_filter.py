"""Layer search: a filter box over the layer tree and one over the layer table.

The tree is filtered by hiding rows (``QTreeView.setRowHidden``), not through a proxy model:
its model fetches children lazily, and the views and actions call the model's own methods
(``target``, ``methods``, ``index_for``) on the indexes they get. A layer row stays visible
when its name, type or path matches, or when a layer nested in it matches (its ancestors
stay, so that the match can be reached); the Prediction node always stays, and a matching
layer keeps its Kernel and Output nodes and its nested layers. The table hides the rows
whose name and type do not match. Every word typed must match (case ignored).
"""

from __future__ import annotations

from qtpy import QtCore, QtGui, QtWidgets

PLACEHOLDER = "Filter layers by name or type (Ctrl+F)"


def matches(text: str, words: list[str]) -> bool:
    """Whether every word occurs in ``text`` (case ignored); no words: True."""
    text = text.lower()
    return all(word in text for word in words)


def filter_words(text: str) -> list[str]:
    return [word.lower() for word in text.split()]


def filter_tree(view: QtWidgets.QTreeView, text: str) -> int:
    """Hide the layer rows of ``view`` that neither match ``text`` nor hold a match; expand
    the layers that hold a nested match. Returns how many layer rows match."""
    model = view.model()
    words = filter_words(text)
    if model is None or not hasattr(model, "item"):
        return 0

    def visit(parent: QtCore.QModelIndex) -> tuple[bool, int]:
        """(whether a layer under ``parent`` is shown, matching layers under it)."""
        shown_any, count = False, 0
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            item = model.item(index)
            if item.kind != "layer":  # Prediction, Kernel, Output and their children
                continue
            own = matches(f"{item.label} {item.layer or ''}", words)
            if own:
                _show_all(view, model, index)
                below = sum(1 for nested in _layers(model, index)
                            if matches(f"{nested.label} {nested.layer or ''}", words))
                shown, matched = True, 1 + below
            else:
                shown, matched = visit(index)
                if shown and words:
                    view.expand(index)
            view.setRowHidden(row, parent, not shown)
            shown_any, count = shown_any or shown, count + matched
        return shown_any, count

    return visit(QtCore.QModelIndex())[1]


def _layers(model, parent: QtCore.QModelIndex):
    """Every layer item below ``parent`` (nested models' layers)."""
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        item = model.item(index)
        if item.kind == "layer":
            yield item
            yield from _layers(model, index)


def _show_all(view, model, parent: QtCore.QModelIndex) -> None:
    """Unhide the layer rows below ``parent`` (hidden by an earlier filter)."""
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        if model.item(index).kind == "layer":
            view.setRowHidden(row, parent, False)
            _show_all(view, model, index)


def filter_table(view: QtWidgets.QTableView, text: str) -> int:
    """Hide the rows of the layer table whose name (column 1) and type (column 2) do not
    match ``text``; returns how many rows are shown."""
    model = view.model()
    words = filter_words(text)
    shown = 0
    for row in range(model.rowCount() if model is not None else 0):
        name = model.index(row, 1).data() or ""
        kind = model.index(row, 2).data() or ""
        visible = matches(f"{name} {kind}", words)
        view.setRowHidden(row, not visible)
        shown += visible
    return shown


def filter_box(tip: str) -> QtWidgets.QLineEdit:
    box = QtWidgets.QLineEdit()
    box.setPlaceholderText(PLACEHOLDER)
    box.setClearButtonEnabled(True)
    box.setToolTip(tip)
    return box


class LayerFilters:
    """The two filter boxes of the widget: ``tree_filter`` above ``layer_tree`` (in its
    splitter) and ``table_filter`` above ``layer_table``; they re-apply when a model is
    shown (the views get new models). Ctrl+F goes to the box of the tab shown."""

    def __init__(self, form):
        self.form = form
        self.tree_filter = filter_box("show the layers whose name, type or path holds every "
                                      "word typed, with the layers that contain them")
        self.table_filter = filter_box("show the layers whose name or type holds every word "
                                       "typed")
        tree, splitter = form.layer_tree, form.tree_splitter
        position = splitter.indexOf(tree)
        panel = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree_filter)
        layout.addWidget(tree)
        splitter.insertWidget(position, panel)
        table_layout = form.model_layout
        table_layout.insertWidget(table_layout.indexOf(form.layer_table), self.table_filter)
        self.tree_filter.textChanged.connect(lambda _: self.apply_tree())
        self.table_filter.textChanged.connect(lambda _: self.apply_table())
        self.shortcut = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+F"), form)
        self.shortcut.activated.connect(self.focus)

    def apply_tree(self) -> int:
        return filter_tree(self.form.layer_tree, self.tree_filter.text())

    def apply_table(self) -> int:
        return filter_table(self.form.layer_table, self.table_filter.text())

    def apply(self) -> None:
        """Both filters again (a new model: new rows)."""
        if self.tree_filter.text():
            self.apply_tree()
        if self.table_filter.text():
            self.apply_table()

    def focus(self) -> None:
        on_tree = self.form.tabs.currentWidget() is self.form.visualisation_tab
        box = self.tree_filter if on_tree else self.table_filter
        box.setFocus()
        box.selectAll()
