"""Runs from the widget: queued on the worker with a progress row each, refused in one
message per reason, their results drawn as tiles; the class ranking and the preprocessing
check that follow an image; "Compare methods"; clearing the canvas and bringing it back."""

from __future__ import annotations

import time

import numpy as np
from qtpy import QtCore, QtWidgets

from ..core.context import NodeType, Target
from ..core.errors import DialVisualizationError
from ..core.explain import RunRequest
from ..core.result import Result
from ..core.session import RunRecord
from .layer_models import LayerTreeModel
from .method_picker import compared_methods
from .run_cost import RunCostMixin
from .worker import RunJob, TaskJob


class RunActionsMixin(RunCostMixin):
    """The runs of :class:`~.widget.ConvVisualizationWidget` (its ``workspace``, queue, run
    rows, canvas and messages)."""

    def run_method(self, method_id: str, target: Target,
                   params: dict | None = None) -> RunJob | None:
        """Queue a run; ``params`` None uses the values remembered for the method, a dict
        is taken over the declared defaults. Returns the queued job (None if refused)."""
        return self.run_record(RunRecord(method_id, target, params or {}), params is None)

    def run_record(self, record: RunRecord, remembered: bool = True) -> RunJob | None:
        """Queue a saved, dropped or picked run (no method: the node type's default; no
        parameters and ``remembered``: the values remembered for the method)."""
        jobs = self._run_records([record], remembered)
        return jobs[0] if jobs else None

    def compare_methods(self) -> list[RunJob]:
        """Every method that maps the input, on the selected classes (the top class if none
        is selected): one row of tiles per method, one column per class, on a cleared canvas
        (Ctrl+Z brings the old tiles back); then the maps' scores under the grid."""
        model = self._tree_model
        classes = [model.target(i) for i in self.layer_tree.selected_nodes()]
        classes = [t for t in classes if t is not None and t.node_type is NodeType.PREDICTION]
        classes = classes or [Target(NodeType.PREDICTION)]
        self.clear_canvas()
        self.columns_spin.setValue(len(classes))
        self.canvas.set_shared_scales(True)  # one colour scale per method (per row)
        jobs = self._run_records([RunRecord(method.id, target)
                                  for method in compared_methods(self.registry)
                                  for target in classes])
        self.trust.score_comparison(jobs)  # then deletion and insertion, under the grid
        return jobs

    def _run_records(self, records: list[RunRecord], remembered: bool = True) -> list[RunJob]:
        """Check every run, queue those that pass; runs refused for one reason are said in
        one message."""
        refused: dict[str, int] = {}
        checked_runs = []
        for record in records:
            try:
                if not remembered and record.method is not None:
                    checked = self.workspace.request(record.method, record.target, record.params)
                else:
                    checked = self.workspace.request_record(record)
            except DialVisualizationError as error:
                refused[str(error)] = refused.get(str(error), 0) + 1
                continue
            checked_runs.append(checked)
        if checked_runs and not self._confirm_cost(checked_runs):  # a long run: asked first
            checked_runs = []
        jobs = [self._submit(checked) for checked in checked_runs]
        for message, count in refused.items():
            self.report_error(f"{count} runs not started: {message}" if count > 1 else message,
                              "Cannot run")
            self.run_failed.emit(message)
        return jobs

    def _submit(self, checked: RunRequest) -> RunJob:
        job = RunJob(checked, self.workspace.context())
        generation = self._generation
        job.finished.connect(lambda result: self._run_finished(job, generation, result))
        job.failed.connect(lambda message: self._run_failed(job, generation, message))
        job.cancelled.connect(lambda: self.say(f"cancelled: {job.description}"))
        self._run_rows.add(job)
        self._queue.submit(job)
        self.status_bar.showMessage(f"queued {job.description}", 5000)
        return job

    def results(self) -> list[Result]:
        """The results on the canvas, in tile order."""
        return self.canvas.results()

    def clear_canvas(self) -> None:
        """Remove every tile; Ctrl+Z (:meth:`undo_clear`) brings them back."""
        tiles = [(t.result, t.record, t.title) for t in self.canvas.tiles()]
        if tiles:
            self._cleared = tiles
            self.say(f"canvas cleared: {len(tiles)} tiles (Ctrl+Z brings them back)")
        self.canvas.clear()

    def undo_clear(self) -> None:
        """Put back the tiles of the last cleared canvas, after those shown now."""
        tiles, self._cleared = self._cleared, []
        for result, record, title in tiles:
            self.canvas.add_result(result, record, title)
        self.say(f"{len(tiles)} tiles brought back" if tiles else "nothing to bring back")

    def jobs(self) -> list[RunJob]:
        """Runs queued or running, oldest first."""
        return self._queue.jobs()

    def run_row(self, job: RunJob) -> QtWidgets.QWidget | None:
        """The progress row of a queued or running job (its progress_bar, cancel_button)."""
        return self._run_rows.row(job)

    def wait_until_idle(self, timeout_s: float = 120.0) -> bool:
        """Process events until every queued run has ended (for scripts and the app)."""
        deadline = time.monotonic() + timeout_s
        app = QtWidgets.QApplication.instance()
        while self._queue.busy() and time.monotonic() < deadline:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        app.processEvents()
        return not self._queue.busy()

    def _rank_classes(self) -> None:
        """Sort the Prediction node's classes by score: the predictions method, on the worker."""
        self._tree_model.set_scores(None)
        if self.workspace.image is None or "predictions" not in self.registry.all():
            return
        checked = self.workspace.request("predictions", Target(NodeType.PREDICTION), {})
        job = RunJob(checked, self.workspace.context(), description="ranking classes")
        generation, tree_model = self._generation, self._tree_model
        job.finished.connect(lambda result: self._ranked(generation, tree_model, result))
        job.failed.connect(lambda message: self.log_message(f"class ranking failed: {message}"))
        self._queue.submit(job)
        self._time_model()  # then the model's time per image, for the estimate of long runs

    def _ranked(self, generation: int, tree_model: LayerTreeModel, result: Result) -> None:
        if generation != self._generation or tree_model is not self._tree_model:
            return
        tree_model.set_scores(result.data)
        # the tree's first class: the first of tied scores (its sort is stable), as argmax
        best, labels = int(np.argmax(np.ravel(result.data))), self.workspace.labels
        name = labels[best] if labels and best < len(labels) else best
        self.log_message(f"top prediction: {name} ({result.data[best]:.3f})")

    def _check_preprocessing(self) -> None:
        """Compare the presets on the image (on the worker); a preset that looks wrong is
        said in the summary, the status bar and the log, never switched."""
        image, check = self.workspace.image, self.workspace.check_preprocessing
        job = TaskJob(lambda progress, should_stop: check(), "checking the preprocessing")
        generation = self._generation
        job.finished.connect(lambda advice: self._preprocessing_checked(generation, image, advice))
        job.failed.connect(lambda message: self.log_message(
            f"preprocessing check failed: {message}"))
        self._queue.submit(job)

    def _preprocessing_checked(self, generation: int, image, advice) -> None:
        if (generation != self._generation or image is not self.workspace.image
                or not advice.message):
            return
        message = f"Warning: {advice.message}"
        self.summary.show_warning(message)
        self.status_bar.showMessage(message, 30000)
        self.log_message(message)

    def _run_indexes(self, indexes: list, method_id: str | None = None) -> None:
        """Run the nodes at ``indexes`` (their chosen method, or ``method_id``); a layer row
        runs its output (else its kernels); nothing runnable is said."""
        model, records = self._tree_model, []
        for index in indexes:
            nodes = [index] if model.target(index) is not None else model.node_children(index)
            nodes = [n for n in nodes if model.target(n).node_type is NodeType.OUTPUT] or nodes
            if nodes:
                records.append(RunRecord(method_id or model.method_id(nodes[0]),
                                         model.target(nodes[0])))
        if not records:
            self.say("select a class, a layer or one of its output or kernel nodes to run")
            return
        self._run_records(records)

    def _run_nodes(self, nodes: list) -> None:
        """Run (target, method id or None) pairs dropped on the canvas."""
        self._run_records([RunRecord(method_id, target) for target, method_id in nodes])

    def _run_finished(self, job: RunJob, generation: int, result: Result) -> None:
        if generation != self._generation:
            return
        details = job.request.method.changed_params(job.params)
        title = result.title + (f" · {details}" if details else "")
        # the node as run: a class picked as the top one is recorded by its index
        self.canvas.add_result(result, RunRecord(job.method_id, result.target, job.params), title)
        self.log_message(f"done: {title}")
        self.status_bar.showMessage(f"done: {title}", 5000)
        self.result_added.emit(result)

    def _run_failed(self, job: RunJob, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.report_error(f"{job.description}: {message}", "Run failed")
        self.run_failed.emit(message)
