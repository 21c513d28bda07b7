"""Thin Qt item models over ``core.inspect.LayerTree``: the layer table and the layer tree.

The tree has, per layer, a Kernel node (layers with kernels: one child per filter) and an
Output node (one child per channel), nested models as children of their layer, and a
top-level Prediction node (one child per class, sorted by score once scores are known).
Filter, channel and class children are created lazily (``canFetchMore``/``fetchMore``), so
a 1000-class model or a 512-filter layer opens at once.
"""

from __future__ import annotations

import json

import numpy as np
from qtpy import PYSIDE2, QtCore

from ..core.context import Target
from ..core.errors import DialVisualizationError
from ..core.layers import LayerNode, LayerTree
from ..core.registry import HandlerConfiguration, NodeType
from ..core.session import RunRecord
from .compat import combine

#: The MIME type of dragged tree nodes: a JSON list of {node_type, layer, index, method}.
NODES_MIME_TYPE = "application/x-dial-visualization-nodes"
#: How many lazy children one ``fetchMore`` adds.
FETCH_CHUNK = 256

DisplayRole = QtCore.Qt.ItemDataRole.DisplayRole
EditRole = QtCore.Qt.ItemDataRole.EditRole
ToolTipRole = QtCore.Qt.ItemDataRole.ToolTipRole
TextAlignmentRole = QtCore.Qt.ItemDataRole.TextAlignmentRole
ItemFlag = QtCore.Qt.ItemFlag
Horizontal = QtCore.Qt.Orientation.Horizontal
_RIGHT_ALIGNED = combine(QtCore.Qt.Alignment if PYSIDE2 else None,
                         QtCore.Qt.AlignmentFlag.AlignRight, QtCore.Qt.AlignmentFlag.AlignVCenter)


def format_shapes(shapes: list[tuple]) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in shape) + ")" for shape in shapes)


class LayerTableModel(QtCore.QAbstractTableModel):
    """One row per layer (nested layers included): index, name, type, shapes, params, activation."""

    HEADERS = ("#", "Name", "Type", "Input shape", "Output shape", "Params", "Activation")

    def __init__(self, tree: LayerTree | None = None, parent=None):
        super().__init__(parent)
        self._nodes: list[LayerNode] = list(tree.walk()) if tree is not None else []

    def rowCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self._nodes)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index, role=DisplayRole):
        if not index.isValid():
            return None
        node = self._nodes[index.row()]
        column = index.column()
        if role == DisplayRole:
            return (str(index.row()), node.path, node.type, format_shapes(node.input_shapes),
                    format_shapes(node.output_shapes), f"{node.params:,}",
                    node.activation or "")[column]
        if role == TextAlignmentRole and column == 5:
            return _RIGHT_ALIGNED
        return None

    def headerData(self, section, orientation, role=DisplayRole):
        if role == DisplayRole and orientation == Horizontal and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None


class TreeItem:
    """One row of the layer tree; ``kind`` says which (layer, kernel, output, prediction,
    filter, channel, class)."""

    _NODE_TYPES = {"kernel": NodeType.KERNEL, "filter": NodeType.KERNEL,
                   "output": NodeType.OUTPUT, "channel": NodeType.OUTPUT,
                   "prediction": NodeType.PREDICTION, "class": NodeType.PREDICTION}

    def __init__(self, kind: str, parent: TreeItem | None, label: str = "",
                 layer: str | None = None, index: int | None = None, total: int = 0,
                 tooltip: str = ""):
        self.kind = kind
        self.parent = parent
        self.label = label
        self.layer = layer
        self.index = index
        self.total = total  # children when all are fetched (lazy groups)
        self.tooltip = tooltip
        self.children: list[TreeItem] = []
        self.method_id: str | None = None
        self.row = 0

    @property
    def node_type(self) -> NodeType | None:
        return self._NODE_TYPES.get(self.kind)

    def add(self, child: TreeItem) -> TreeItem:
        child.row = len(self.children)
        self.children.append(child)
        return child

    def expected_children(self) -> int:
        return max(self.total, len(self.children))


class LayerTreeModel(QtCore.QAbstractItemModel):
    """The layer tree: column 0 the node, column 1 its chosen method (editable)."""

    HEADERS = ("Node", "Method")

    def __init__(self, tree: LayerTree | None = None, class_count: int = 0,
                 labels: list[str] | None = None, registry: HandlerConfiguration | None = None,
                 parent=None):
        super().__init__(parent)
        self._registry = registry or HandlerConfiguration.default()  # a test's own tree
        self._labels = list(labels) if labels else None
        self._scores: np.ndarray | None = None
        self._ranking: list[int] | None = None  # class indices, best first
        self._root = TreeItem("root", None)
        self._prediction: TreeItem | None = None
        if tree is None:
            return
        if class_count:
            self._prediction = self._root.add(TreeItem(
                "prediction", self._root, f"Prediction ({class_count} classes)",
                total=class_count, tooltip="the model's class scores; one child per class"))
        for node in tree.roots:
            if node.type != "InputLayer":
                self._add_layer(self._root, node)

    # ------------------------------------------------------------------ building

    def _add_layer(self, parent: TreeItem, node: LayerNode) -> None:
        shape = format_shapes(node.output_shapes)
        item = parent.add(TreeItem(
            "layer", parent, f"{node.name} ({node.type})", layer=node.path,
            tooltip=f"{node.path}: {node.type}, output {shape}, {node.params:,} parameters"))
        if node.has_kernel and node.filters:
            shapes = ", ".join(f"{name} {shape}" for name, shape in node.kernel_shapes.items())
            item.add(TreeItem("kernel", item, f"Kernel ({node.filters} filters)",
                              layer=node.path, total=node.filters, tooltip=shapes))
        channels = node.channels if node.output_shapes else None
        if channels:
            item.add(TreeItem("output", item, f"Output ({channels} channels)", layer=node.path,
                              total=int(channels), tooltip=f"output {shape}"))
        for child in node.children:
            if child.type != "InputLayer":
                self._add_layer(item, child)

    def _make_child(self, group: TreeItem, position: int) -> TreeItem:
        if group.kind == "kernel":
            return TreeItem("filter", group, f"filter {position}", group.layer, position)
        if group.kind == "output":
            return TreeItem("channel", group, f"channel {position}", group.layer, position)
        class_index = self._class_at(position)
        return TreeItem("class", group, self._class_label(class_index), None, class_index)

    def _class_at(self, position: int) -> int:
        return self._ranking[position] if self._ranking else position

    def _class_label(self, class_index: int) -> str:
        name = (self._labels[class_index] if self._labels and class_index < len(self._labels)
                else None)
        text = f"{class_index}: {name}" if name else f"class {class_index}"
        if self._scores is not None and class_index < len(self._scores):
            text += f"  ({self._scores[class_index]:.3f})"
        return text

    # ------------------------------------------------------------------ predictions

    def set_scores(self, scores) -> None:
        """Sort the class children by ``scores`` (highest first) and show them."""
        self._scores = None if scores is None else np.asarray(scores, dtype=np.float32).ravel()
        known = self._scores is not None and self._prediction is not None \
            and len(self._scores) == self._prediction.total
        self._ranking = np.argsort(-self._scores, kind="stable").tolist() if known else None
        self._rebuild_classes()

    def set_labels(self, labels: list[str] | None) -> None:
        self._labels = list(labels) if labels else None
        self._rebuild_classes()

    def _rebuild_classes(self) -> None:
        group = self._prediction
        if group is None:
            return
        fetched = len(group.children)
        parent = self.createIndex(group.row, 0, group)
        if fetched:
            self.beginRemoveRows(parent, 0, fetched - 1)
            group.children.clear()
            self.endRemoveRows()
            self._fetch(group, parent, max(fetched, FETCH_CHUNK))

    # ------------------------------------------------------------------ lookup

    def item(self, index: QtCore.QModelIndex) -> TreeItem:
        return index.internalPointer() if index.isValid() else self._root

    def target(self, index: QtCore.QModelIndex) -> Target | None:
        """The :class:`Target` a node stands for (``None`` for layer rows)."""
        item = self.item(index)
        if item.node_type is None:
            return None
        whole = item.kind in ("kernel", "output", "prediction")
        return Target(item.node_type, item.layer, None if whole else item.index)

    def node_children(self, index: QtCore.QModelIndex) -> list[QtCore.QModelIndex]:
        """A layer row's own nodes (its kernel and output), as column-0 indexes."""
        item = self.item(index)
        return [self.createIndex(child.row, 0, child) for child in item.children
                if child.kind in ("kernel", "output")]

    def methods(self, index: QtCore.QModelIndex) -> list:
        """The registered methods this node offers (queried live: later plugins appear)."""
        node_type = self.item(index).node_type
        if node_type is None:
            return []
        return self._registry.for_node_type(node_type)

    def method_id(self, index: QtCore.QModelIndex) -> str | None:
        """The chosen method: the node's own, else its group's, else the node type's
        default (for a class: an explanation, not the scores)."""
        offered = [a.id for a in self.methods(index)]
        item = self.item(index)
        while item is not None and item.kind != "root":
            if item.method_id in offered:
                return item.method_id
            item = item.parent
        return self._registry.default_method(self.item(index).node_type).id if offered else None

    def index_for(self, target: Target) -> QtCore.QModelIndex:
        """The index of ``target``'s node (fetching lazy children as needed), or invalid."""
        if target.node_type is NodeType.PREDICTION:
            group = self._prediction
        else:
            layer_item = self._find_layer(self._root, target.layer)
            kind = "kernel" if target.node_type is NodeType.KERNEL else "output"
            group = next((c for c in layer_item.children if c.kind == kind), None) \
                if layer_item else None
        if group is None:
            return QtCore.QModelIndex()
        parent = self.createIndex(group.row, 0, group)
        if target.index is None:
            return parent
        while self.canFetchMore(parent):
            found = next((c for c in group.children if c.index == target.index), None)
            if found:
                break
            self.fetchMore(parent)
        found = next((c for c in group.children if c.index == target.index), None)
        return self.createIndex(found.row, 0, found) if found else QtCore.QModelIndex()

    def _find_layer(self, item: TreeItem, path: str | None) -> TreeItem | None:
        for child in item.children:
            if child.kind != "layer":
                continue
            if child.layer == path:
                return child
            found = self._find_layer(child, path)
            if found:
                return found
        return None

    # ------------------------------------------------------------------ Qt model interface

    def index(self, row, column, parent=QtCore.QModelIndex()):
        if not self.hasIndex(row, column, parent):
            return QtCore.QModelIndex()
        return self.createIndex(row, column, self.item(parent).children[row])

    def parent(self, index=None):
        if index is None:  # QObject.parent()
            return super().parent()
        if not index.isValid():
            return QtCore.QModelIndex()
        parent = index.internalPointer().parent
        if parent is None or parent is self._root:
            return QtCore.QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent=QtCore.QModelIndex()):
        if parent.column() > 0:
            return 0
        return len(self.item(parent).children)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return len(self.HEADERS)

    def hasChildren(self, parent=QtCore.QModelIndex()):
        if parent.column() > 0:
            return False
        return self.item(parent).expected_children() > 0

    def canFetchMore(self, parent):
        if parent.column() > 0:
            return False
        item = self.item(parent)
        return len(item.children) < item.total

    def fetchMore(self, parent):
        if parent.column() > 0:
            return
        self._fetch(self.item(parent), parent, FETCH_CHUNK)

    def _fetch(self, item: TreeItem, parent: QtCore.QModelIndex, count: int) -> None:
        start = len(item.children)
        end = min(start + count, item.total)
        if end <= start:
            return
        self.beginInsertRows(parent, start, end - 1)
        for position in range(start, end):
            item.add(self._make_child(item, position))
        self.endInsertRows()

    def data(self, index, role=DisplayRole):
        if not index.isValid():
            return None
        item = index.internalPointer()
        if index.column() == 0:
            if role in (DisplayRole, EditRole):
                return item.label
            if role == ToolTipRole:
                return item.tooltip or None
            return None
        if item.node_type is None:
            return None
        method_id = self.method_id(index)
        if role == EditRole:
            return method_id
        method = next((a for a in self.methods(index) if a.id == method_id), None)
        if role == DisplayRole:
            return method.name if method else ""
        if role == ToolTipRole and method:
            return f"{method.name}: {method.description}".strip(": ")
        return None

    def setData(self, index, value, role=EditRole):
        if not index.isValid() or index.column() != 1 or role != EditRole:
            return False
        if value not in [a.id for a in self.methods(index)]:
            return False
        self.item(index).method_id = value
        self.dataChanged.emit(index, index)
        return True

    def flags(self, index):
        flags_class = QtCore.Qt.ItemFlags if PYSIDE2 else None
        if not index.isValid():
            return combine(flags_class, ItemFlag.NoItemFlags)
        item = index.internalPointer()
        flags = [ItemFlag.ItemIsEnabled, ItemFlag.ItemIsSelectable]
        if item.node_type is not None:
            flags.append(ItemFlag.ItemIsDragEnabled)
            if index.column() == 1:
                flags.append(ItemFlag.ItemIsEditable)
        return combine(flags_class, *flags)

    def headerData(self, section, orientation, role=DisplayRole):
        if role == DisplayRole and orientation == Horizontal and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    # ------------------------------------------------------------------ drag and drop

    def mimeTypes(self):
        return [NODES_MIME_TYPE]

    def supportedDragActions(self):
        return QtCore.Qt.DropAction.CopyAction

    def mimeData(self, indexes):
        nodes, seen = [], set()
        for index in indexes:
            item = self.item(index)
            target = self.target(index)
            if target is None or id(item) in seen:
                continue
            seen.add(id(item))
            nodes.append(RunRecord(self.method_id(index), target).to_dict())
        mime = QtCore.QMimeData()
        mime.setData(NODES_MIME_TYPE, QtCore.QByteArray(json.dumps(nodes).encode("utf-8")))
        return mime


def nodes_from_mime(mime: QtCore.QMimeData) -> list[tuple[Target, str | None]]:
    """(target, method id) for each node in mime data made by :meth:`LayerTreeModel.mimeData`."""
    if mime is None or not mime.hasFormat(NODES_MIME_TYPE):
        return []
    raw = bytes(mime.data(NODES_MIME_TYPE).data())
    try:
        records = [RunRecord.from_dict(node) for node in json.loads(raw.decode("utf-8"))]
    except (ValueError, TypeError, DialVisualizationError):
        return []
    return [(record.target, record.method) for record in records]
