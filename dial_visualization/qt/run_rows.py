"""The rows of queued and running runs: a description, a progress bar, a Cancel button."""

from __future__ import annotations

from qtpy import QtWidgets

from .worker import Job


class RunRows:
    """One row per job in ``group`` (a box with a layout, hidden while no run is queued)."""

    def __init__(self, group: QtWidgets.QWidget):
        self._group = group
        self._rows: dict[int, QtWidgets.QWidget] = {}
        group.hide()

    def add(self, job: Job) -> QtWidgets.QWidget:
        """A row that follows ``job`` until it ends."""
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QtWidgets.QLabel(f"{job.description} (queued)")
        label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                            QtWidgets.QSizePolicy.Policy.Preferred)
        bar = QtWidgets.QProgressBar()
        bar.setRange(0, 1000)
        bar.setMinimumWidth(160)
        bar.setMaximumWidth(320)
        cancel = QtWidgets.QPushButton("Cancel")
        cancel.setToolTip("stop this run after its current batch")
        layout.addWidget(label, 1)
        layout.addWidget(bar)
        layout.addWidget(cancel)
        row.progress_bar, row.cancel_button = bar, cancel

        def cancelled_by_user():
            job.cancel()
            cancel.setEnabled(False)
            label.setText(f"{job.description} (cancelling…)")

        cancel.clicked.connect(cancelled_by_user)
        job.started.connect(lambda: label.setText(job.description))
        job.progress.connect(lambda fraction: bar.setValue(int(fraction * 1000)))
        job.ended.connect(lambda: self._remove(job))
        self._rows[id(job)] = row
        self._group.layout().addWidget(row)
        self._group.show()
        return row

    def row(self, job: Job) -> QtWidgets.QWidget | None:
        """The row of a queued or running job (its ``progress_bar``, ``cancel_button``)."""
        return self._rows.get(id(job))

    def _remove(self, job: Job) -> None:
        row = self._rows.pop(id(job), None)
        if row is not None:
            row.hide()
            row.deleteLater()
        if not self._rows:
            self._group.hide()
