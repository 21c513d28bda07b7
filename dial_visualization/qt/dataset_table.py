"""The Dataset tab's table: one row per image (thumbnail, file, true and predicted class,
probability, correct, loss; rows appended as a run goes), the filter that sorts it and
keeps the rows asked for (misclassified only, one class, a confidence range, one
confusion-matrix cell), and the confusion matrix."""

from __future__ import annotations

import math

import numpy as np
from qtpy import QtCore, QtGui, QtWidgets

from ..core.dataset import class_name, confusion_counts, correct, is_labelled
from .pixmaps import pixmap_from_array

THUMBNAIL_SIZE = 48
COLUMNS = ("", "File", "True class", "Predicted class", "Probability", "Correct", "Loss")
SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole
Qt = QtCore.Qt


def thumbnail(path: str, size: int = THUMBNAIL_SIZE) -> np.ndarray | None:
    """A small RGB copy of the image file (None if it cannot be read)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((size, size))
            return np.asarray(image)
    except (OSError, ValueError):
        return None


class DatasetTableModel(QtCore.QAbstractTableModel):
    """One row per image of a dataset run (``core.dataset`` items)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[dict] = []
        self.names: list[str] | None = None
        self._pixmaps: dict[int, object] = {}

    def set_items(self, items: list[dict], names) -> None:
        self.beginResetModel()
        self.items, self.names, self._pixmaps = list(items), names, {}
        self.endResetModel()

    def append_items(self, items: list[dict], names) -> None:
        """Rows added at the end (a batch of a run under way)."""
        if not items:
            return
        self.names = names
        start = len(self.items)
        self.beginInsertRows(QtCore.QModelIndex(), start, start + len(items) - 1)
        self.items.extend(items)
        self.endInsertRows()

    def rowCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def texts(self, row: int) -> list[str]:
        """The shown texts of a row, file to loss (as ``predictions.csv`` writes them)."""
        item, names = self.items[row], self.names
        ok = item["error"] is None
        right = correct(item)
        return [item["file"], class_name(item["true"], names),
                class_name(item["predicted"], names) if ok else "",
                f"{item['probability']:.6f}" if ok else "",
                "" if right is None else str(right),
                f"{item['loss']:.6f}" if is_labelled(item) else ""]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item, column = self.items[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole and column > 0:
            return self.texts(index.row())[column - 1]
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._pixmap(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            return item["error"] or item["path"]
        if role == SORT_ROLE:
            return self._sort_key(item, column)
        return None

    def _pixmap(self, row: int):
        if row not in self._pixmaps:
            pixels = self.items[row].get("thumbnail")
            self._pixmaps[row] = (None if pixels is None
                                  else pixmap_from_array(pixels, THUMBNAIL_SIZE))
        return self._pixmaps[row]

    def _sort_key(self, item: dict, column: int):
        if column == 0:
            return item["position"]
        if column == 1:
            return item["file"]
        if column in (2, 3):
            return class_name(item["true" if column == 2 else "predicted"], self.names)
        if column == 5:
            right = correct(item)
            return -1 if right is None else int(right)
        value = item["probability" if column == 4 else "loss"]
        return -1.0 if math.isnan(value) else value


class DatasetFilter(QtCore.QSortFilterProxyModel):
    """The table's sort (numbers as numbers) and filters: misclassified only, one class (its
    true class; without true classes, its predicted one), a confidence range, one (true,
    predicted) pair of the confusion matrix."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.misclassified_only = False
        self.class_index: int | None = None
        self.confidence = (0.0, 1.0)
        self.pair: tuple[int, int] | None = None

    def set_filters(self, **values) -> None:
        """Change any of ``misclassified_only``, ``class_index``, ``confidence``, ``pair``."""
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+ (invalidateFilter is deprecated)
            self.beginFilterChange()
        for key, value in values.items():
            if not hasattr(self, key):
                raise AttributeError(key)
            setattr(self, key, value)
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QtCore.QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent):
        item = self.sourceModel().items[row]
        if self.misclassified_only and correct(item) is not False:
            return False
        if self.class_index is not None:
            own = item["true"] if item["true"] >= 0 else item["predicted"]
            if own != self.class_index:
                return False
        if self.pair is not None and (item["true"], item["predicted"]) != self.pair:
            return False
        low, high = self.confidence
        if (low, high) != (0.0, 1.0):
            probability = item["probability"]
            if math.isnan(probability) or not low <= probability <= high:
                return False
        return True


class ConfusionMatrix(QtWidgets.QTableWidget):
    """Counts of (true, predicted) classes: rows true, columns predicted, the diagonal blue
    and the errors red, darker for more images."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[int] = []
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setToolTip("rows: true class, columns: predicted class; click a cell to show "
                        "its images")

    def fill(self, items: list[dict], names) -> None:
        """The counts of the labelled ``items`` (``core.dataset`` predictions)."""
        shown, counts = confusion_counts(items)
        self.classes = shown
        labels = [class_name(index, names) for index in shown]
        self.clear()
        self.setRowCount(len(shown))
        self.setColumnCount(len(shown))
        self.setVerticalHeaderLabels(labels)
        self.setHorizontalHeaderLabels(labels)
        top = max(int(counts.max()), 1) if counts.size else 1
        for (row, column), count in np.ndenumerate(counts):
            cell = QtWidgets.QTableWidgetItem(str(count))
            cell.setToolTip(f"true {labels[row]}, predicted {labels[column]}: {count} images")
            shade = 255 - int(150 * count / top)
            cell.setBackground(QtGui.QColor(shade, shade, 255) if row == column
                               else QtGui.QColor(255, shade, shade))
            self.setItem(row, column, cell)
        self.resizeColumnsToContents()

    def pair(self, row: int, column: int) -> tuple[int, int]:
        """The (true, predicted) class indices of a cell."""
        return self.classes[row], self.classes[column]
