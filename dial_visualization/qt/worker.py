"""Runs work off the GUI thread: one worker thread, jobs queue in order, each cancellable.

A :class:`Job` runs on the worker and reports through Qt signals (queued to the GUI
thread): ``started``, ``progress(float)``, then exactly one of ``finished(outcome)``,
``failed(str)`` or ``cancelled()``, then ``ended``. ``cancel()`` sets the flag that the
work's ``should_stop`` returns; a method raises ``core.errors.Cancelled`` at its next
batch. A :class:`RunJob` executes a checked run request (its outcome is a ``Result``), a
:class:`TaskJob` any function of ``(progress, should_stop)``.
"""

from __future__ import annotations

import gc
import threading
import time

from qtpy import QtCore

from typing import Callable

from ..core import explain
from ..core.context import Context, Target
from ..core.errors import Cancelled, DialVisualizationError
from ..core.explain import RunRequest

#: Progress is forwarded to the GUI when it rose by at least this fraction (or reached 1).
PROGRESS_STEP = 0.005

_busy_queues = 0


def _hold_heap(busy: bool) -> None:
    """Keep full garbage collections short while any run is under way.

    With TensorFlow and Keras loaded, a full (generation 2) collection walks millions of
    objects and holds the GIL for 0.1-0.3 s; tracing on the worker makes enough garbage to
    start one there, and the GUI thread then stalls as long. While runs are under way the
    objects that existed before are frozen (``gc.freeze``: later collections skip them);
    when the last run ends they are unfrozen, so nothing is kept from the collector.
    """
    global _busy_queues
    _busy_queues += 1 if busy else -1
    if busy and _busy_queues == 1:
        gc.freeze()
    elif not busy and _busy_queues == 0:
        gc.unfreeze()


class Job(QtCore.QObject):
    """Work queued on the worker, and its signals; subclasses say what the work is."""

    started = QtCore.Signal()
    progress = QtCore.Signal(float)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()
    ended = QtCore.Signal()

    def __init__(self, description: str, parent=None):
        super().__init__(parent)
        self.description = description
        self.state = "queued"
        self._stop = threading.Event()
        self._reported = -1.0
        #: When the work started (``time.monotonic()``), None while queued.
        self.started_at: float | None = None

    @property
    def name(self) -> str:
        """What the work is called in a message about an unexpected failure."""
        return self.description

    @property
    def fraction(self) -> float:
        """The work done, as last reported (0 before any report)."""
        return max(self._reported, 0.0)

    def remaining_s(self) -> float | None:
        """Seconds left at the pace so far; None before the pace is known (under 2 s run or
        under 2% done)."""
        if self.started_at is None:
            return None
        elapsed, done = time.monotonic() - self.started_at, self.fraction
        if elapsed < 2.0 or done < 0.02 or done >= 1.0:
            return None
        return elapsed * (1.0 - done) / done

    def cancel(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def work(self):
        """The work itself, on the worker thread; returns what ``finished`` carries."""
        raise NotImplementedError

    def execute(self) -> None:
        """Do the work (on the worker thread) and emit the outcome."""
        if self._stop.is_set():
            self._end("cancelled")
            return
        self.state = "running"
        self.started_at = time.monotonic()
        self.started.emit()
        try:
            outcome = self.work()
        except Cancelled:
            self._end("cancelled")
        except DialVisualizationError as error:
            self._end("failed", str(error))
        except Exception as error:  # a third-party method must not take the app down
            self._end("failed", f"{self.name} failed: {type(error).__name__}: {error}")
        else:
            if self._stop.is_set():  # asked to stop while an uninterruptible step ran
                self._end("cancelled")
            else:
                self._end("finished", outcome)

    def report(self, fraction: float) -> None:
        """The ``progress`` callback given to the work: forwards meaningful changes."""
        fraction = float(min(max(fraction, 0.0), 1.0))
        if fraction >= 1.0 or fraction - self._reported >= PROGRESS_STEP:
            self._reported = fraction
            self.progress.emit(fraction)

    def _end(self, state: str, payload=None) -> None:
        self.state = state
        if state == "finished":
            self.finished.emit(payload)
        elif state == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.ended.emit()


class RunJob(Job):
    """One checked method run (:class:`~dial_visualization.core.explain.RunRequest`)."""

    def __init__(self, request: RunRequest, context: Context, *, description: str = "",
                 parent=None):
        super().__init__(description or request.describe(context.labels), parent)
        self.request = request
        self.context = context

    @property
    def method_id(self) -> str:
        return self.request.method.id

    @property
    def name(self) -> str:
        return self.method_id

    @property
    def target(self) -> Target:
        return self.request.target

    @property
    def params(self) -> dict:
        return dict(self.request.params)

    def work(self):
        return explain.execute(self.request, self.context, progress=self.report,
                               should_stop=self.should_stop)


class TaskJob(Job):
    """A function of ``(progress, should_stop)`` run on the worker (reading a file,
    checking an image against the model)."""

    def __init__(self, function: Callable, description: str, parent=None):
        super().__init__(description, parent)
        self._function = function

    def work(self):
        return self._function(self.report, self.should_stop)


class JobSlot:
    """A panel's one job at a time and its Cancel button, enabled while the job runs."""

    def __init__(self, cancel_button):
        self.job: Job | None = None
        self.cancel_button = cancel_button
        cancel_button.setEnabled(False)
        cancel_button.clicked.connect(self.cancel)

    def start(self, job: Job, widget) -> Job:
        """Run ``job`` on ``widget``'s worker, with a progress row."""
        self.job = job
        self.cancel_button.setEnabled(True)
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def end(self, job: Job) -> None:
        """``job`` ended: the slot is free if it was its job."""
        if job is self.job:
            self.job = None
            self.cancel_button.setEnabled(False)


class _Runnable(QtCore.QRunnable):
    def __init__(self, job: Job):
        super().__init__()
        self.setAutoDelete(False)
        self.job = job

    def run(self):
        self.job.execute()
        self.job = None  # the pool keeps the runnable a while; its model is free to go


class RunQueue(QtCore.QObject):
    """A single worker thread; submitted jobs run one after the other."""

    busy_changed = QtCore.Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._jobs: list[Job] = []
        # Kept alive until the pool is idle: the pool touches a runnable after its run().
        self._runnables: list[_Runnable] = []
        app = QtCore.QCoreApplication.instance()
        if app is not None:  # never keep a quitting app waiting for a long run
            app.aboutToQuit.connect(self.cancel_all)

    def submit(self, job: Job) -> Job:
        if self._pool.activeThreadCount() == 0:
            self._runnables = [r for r in self._runnables if r.job is not None]
        self._jobs.append(job)
        runnable = _Runnable(job)
        self._runnables.append(runnable)
        job.ended.connect(lambda: self._ended(job))
        self._pool.start(runnable)
        if len(self._jobs) == 1:
            _hold_heap(True)
            self.busy_changed.emit(True)
        return job

    def jobs(self) -> list[Job]:
        """Jobs queued or running, oldest first."""
        return list(self._jobs)

    def busy(self) -> bool:
        return bool(self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the worker to stop."""
        self.cancel_all()
        stopped = self._pool.waitForDone(timeout_ms)
        if stopped:
            for job in list(self._jobs):
                self._ended(job)
        return stopped

    def _ended(self, job: Job) -> None:
        if job not in self._jobs:
            return
        self._jobs.remove(job)
        # The slots connected to a job's signals often hold the job (and its model): the
        # cycle runs through Qt's connections, which Python's collector cannot see.
        # Deleting the QObject drops them; the Python object keeps its plain attributes.
        job.deleteLater()
        if not self._jobs:
            _hold_heap(False)
            self.busy_changed.emit(False)


def in_background(function, *args, poll_ms: int = 10, **kwargs):
    """``function(*args, **kwargs)`` on a thread, while the GUI's events keep being processed.

    For short heavy work whose caller needs the result at once (reading a model, an image,
    a labels file): the window keeps painting and answering timers meanwhile. Returns the
    result, or raises the function's error in the calling thread. Events are processed in
    a loop of its own rather than a nested ``QEventLoop``, which Qt ends at once after the
    application's own loop has ended (and which a quit during the work would end early).
    """
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=work, name="dial-visualization-read", daemon=True)
    thread.start()
    application = QtCore.QCoreApplication.instance()
    while thread.is_alive():
        if application is not None:
            application.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, poll_ms)
        thread.join(poll_ms / 1000)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
