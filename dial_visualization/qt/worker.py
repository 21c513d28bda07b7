"""Runs algorithms off the GUI thread: one worker thread, runs queue in order, each cancellable.

A :class:`RunJob` calls ``core.explain.run`` on the worker and reports through Qt signals
(queued to the GUI thread): ``started``, ``progress(float)``, then exactly one of
``finished(Result)``, ``failed(str)`` or ``cancelled()``, then ``ended``. ``cancel()`` sets the
flag that the algorithm's ``should_stop`` returns; it raises ``core.errors.Cancelled`` at its
next batch.
"""

from __future__ import annotations

import gc
import threading

from qtpy import QtCore

from ..core import explain
from ..core.context import Context, Target
from ..core.errors import Cancelled, DialVisualizationError
from ..core.registry import HandlerConfiguration

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


class RunJob(QtCore.QObject):
    """One queued algorithm run and its signals."""

    started = QtCore.Signal()
    progress = QtCore.Signal(float)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()
    ended = QtCore.Signal()

    def __init__(self, algorithm_id: str, context: Context, target: Target, params: dict,
                 *, description: str = "", internal: bool = False,
                 registry: HandlerConfiguration | None = None, parent=None):
        super().__init__(parent)
        self.algorithm_id = algorithm_id
        self.context = context
        self.target = target
        self.params = dict(params)
        self.description = description or f"{algorithm_id}: {target.describe(context.labels)}"
        self.internal = internal
        self.state = "queued"
        self._registry = registry
        self._stop = threading.Event()
        self._reported = -1.0

    def cancel(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def execute(self) -> None:
        """Run the algorithm (on the worker thread) and emit the outcome."""
        if self._stop.is_set():
            self._end("cancelled")
            return
        self.state = "running"
        self.started.emit()
        try:
            result = explain.run(self.algorithm_id, self.context, self.target, self.params,
                                 progress=self._report, should_stop=self.should_stop,
                                 registry=self._registry)
        except Cancelled:
            self._end("cancelled")
        except DialVisualizationError as error:
            self._end("failed", str(error))
        except Exception as error:  # a third-party algorithm must not take the app down
            self._end("failed", f"{self.algorithm_id} failed: {type(error).__name__}: {error}")
        else:
            if self._stop.is_set():  # asked to stop while an uninterruptible step ran
                self._end("cancelled")
            else:
                self._end("finished", result)

    def _report(self, fraction: float) -> None:
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


class _Runnable(QtCore.QRunnable):
    def __init__(self, job: RunJob):
        super().__init__()
        self.setAutoDelete(False)
        self.job = job

    def run(self):
        self.job.execute()


class RunQueue(QtCore.QObject):
    """A single worker thread; submitted jobs run one after the other."""

    busy_changed = QtCore.Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._jobs: list[RunJob] = []
        # Kept alive until the pool is idle: the pool touches a runnable after its run().
        self._runnables: list[_Runnable] = []
        app = QtCore.QCoreApplication.instance()
        if app is not None:  # never keep a quitting app waiting for a long run
            app.aboutToQuit.connect(self.cancel_all)

    def submit(self, job: RunJob) -> RunJob:
        if self._pool.activeThreadCount() == 0:
            self._runnables = [r for r in self._runnables if r.job in self._jobs]
        self._jobs.append(job)
        runnable = _Runnable(job)
        self._runnables.append(runnable)
        job.ended.connect(lambda: self._ended(job))
        self._pool.start(runnable)
        if len(self._jobs) == 1:
            _hold_heap(True)
            self.busy_changed.emit(True)
        return job

    def jobs(self) -> list[RunJob]:
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

    def _ended(self, job: RunJob) -> None:
        if job not in self._jobs:
            return
        self._jobs.remove(job)
        if not self._jobs:
            _hold_heap(False)
            self.busy_changed.emit(False)


def in_background(function, *args, poll_ms: int = 20, **kwargs):
    """``function(*args, **kwargs)`` on a thread, while the GUI's event loop keeps running.

    For short heavy work whose caller needs the result at once (loading a model file):
    the window keeps painting and answering timers meanwhile. Returns the result, or raises
    the function's error in the calling thread.
    """
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=work, name="dial-visualization-load", daemon=True)
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
    thread.start()
    timer.start(poll_ms)
    if thread.is_alive():
        (loop.exec if hasattr(loop, "exec") else loop.exec_)()
    timer.stop()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
