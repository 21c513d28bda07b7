"""Runs in progress: a row per queued or running run (description, progress, time left,
Cancel) and an indicator in the status bar, seen from every tab."""

from __future__ import annotations

from qtpy import QtCore, QtWidgets

from .worker import Job, RunQueue


def progress_text(job: Job) -> str:
    """"42%, about 12 s left" (the time once the pace is known)."""
    text = f"{job.fraction:.0%}"
    remaining = job.remaining_s()
    if remaining is not None:
        text += f", about {remaining:.0f} s left" if remaining < 120 else \
            f", about {remaining / 60:.0f} min left"
    return text


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

        def progressed(fraction):
            bar.setValue(int(fraction * 1000))
            label.setText(f"{job.description} ({progress_text(job)})")

        job.progress.connect(progressed)
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


class RunIndicator:
    """A label and a bar at the right of ``status_bar``: the running run, its progress and
    time left, how many wait; shown while ``queue`` is busy."""

    def __init__(self, status_bar: QtWidgets.QStatusBar, queue: RunQueue):
        self._queue = queue
        self.label = QtWidgets.QLabel()
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(120)
        status_bar.addPermanentWidget(self.label)
        status_bar.addPermanentWidget(self.bar)
        self._timer = QtCore.QTimer(self.label)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.refresh)
        queue.busy_changed.connect(self._busy)
        self._busy(False)

    def _busy(self, busy: bool) -> None:
        self.label.setVisible(busy)
        self.bar.setVisible(busy)
        if busy:
            self._timer.start()
            self.refresh()
        else:
            self._timer.stop()

    def refresh(self) -> None:
        jobs = self._queue.jobs()
        running = next((j for j in jobs if j.state == "running"), None)
        waiting = sum(1 for j in jobs if j.state == "queued")
        text = f"{running.description}: {progress_text(running)}" if running else "starting"
        self.label.setText(text + (f" (+{waiting} queued)" if waiting else ""))
        self.bar.setValue(int(running.fraction * 1000) if running else 0)
