"""The Dataset tab's actions on images of a dataset run: "Explain selected" (the Method
box's method on each selected image, one tile per image) and "Export report..." (one
self-contained HTML file of the run with its worst images mapped, or of the canvas's
tiles, by ``core.report``)."""

from __future__ import annotations

from pathlib import Path

from qtpy import QtWidgets

from ..core import report
from ..core.context import NodeType, Target
from ..core.dataset import worst
from ..core.errors import DialVisualizationError
from .worker import TaskJob


class DatasetReports:
    """What :class:`~.dataset_view.DatasetView` does with its rows: explain them, report
    them (a mixin: uses its ``widget``, ``items``, ``names``, ``folder``,
    ``selected_items()`` and ``worst_spin``)."""

    # ------------------------------------------------------------------ explaining

    def chosen_request(self, fallback: str | None = None):
        """The checked run of the Method box's method on the current node of the tree (the
        top class when that is a class node or nothing); ``fallback`` when that method does
        not map the input of a class (for the report)."""
        widget = self.widget
        method_id = widget.method_combo.currentData()
        tree = widget._tree_model
        index = widget.layer_tree.currentIndex()
        target = tree.target(index) if index.isValid() else None
        if fallback is not None:
            method = widget.registry.all().get(method_id) if method_id else None
            if method is None or NodeType.PREDICTION not in method.node_types \
                    or method_id in ("predictions", "activation-maximization"):
                method_id = fallback
            if target is None or target.node_type is not NodeType.PREDICTION:
                target = Target(NodeType.PREDICTION)
        if method_id is None:
            raise DialVisualizationError("choose a method in the Method box (select a class, "
                                         "output or kernel node)")
        return widget.workspace.request(method_id, target or Target(NodeType.PREDICTION))

    def explain_selected(self) -> TaskJob | None:
        """The Method box's method on each selected image: one tile per image on a cleared
        canvas, as many columns as images (Ctrl+Z brings the old tiles back)."""
        widget = self.widget
        items = [item for item in self.selected_items() if item["error"] is None]
        if not items:
            widget.say("select one or more images (rows) of the table first")
            return None
        try:
            checked = self.chosen_request()
        except DialVisualizationError as error:
            widget.report_error(str(error), "Cannot explain")
            return None
        workspace = widget.workspace
        context, load = workspace.context(), workspace.read_image

        def work(progress, should_stop):
            return report.explain_items(checked, context, items, load, progress=progress,
                                        should_stop=should_stop)

        job = TaskJob(work, f"{checked.method.name} on {len(items)} images")
        generation = widget._generation
        job.finished.connect(lambda explained: self._explained(generation, explained))
        job.failed.connect(lambda message: widget.report_error(message, "Run failed"))
        job.cancelled.connect(lambda: widget.say(f"cancelled: {job.description}"))
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def _explained(self, generation: int, explained) -> None:
        widget = self.widget
        if generation != widget._generation:
            return
        widget.clear_canvas()
        widget.columns_spin.setValue(len(explained))
        for each in explained:
            if each.result is None:
                widget.report_error(f"{each.item['file']}: {each.error}", "Run failed")
                continue
            title = f"{Path(each.item['file']).name} · {each.result.title}"
            widget.canvas.add_result(each.result, None, title)
            widget.result_added.emit(each.result)
        widget.tabs.setCurrentWidget(widget.visualisation_tab)
        widget.say(f"explained {len(explained)} images")

    # ------------------------------------------------------------------ reports

    def export_report_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export report", "report.html",
                                                        "HTML file (*.html)")
        if path:
            self.export_report(path)

    def export_report(self, path, count: int | None = None) -> TaskJob | None:
        """Write the dataset run's HTML report to ``path``: its worst ``count`` images
        (default: the spin box's) mapped with the Method box's method (Grad-CAM when it
        does not map a class) on the worker. Returns the queued job."""
        widget = self.widget
        if not self.items:
            widget.report_error("open a folder first: there is no dataset run to report",
                                "Cannot export")
            return None
        try:
            checked = self.chosen_request(fallback=report.DEFAULT_METHOD)
        except DialVisualizationError as error:
            widget.report_error(str(error), "Cannot export")
            return None
        workspace = widget.workspace
        context, load = workspace.context(), workspace.read_image
        items, names, folder = self.items, self.names, self.folder
        count = self.worst_spin.value() if count is None else count
        preprocessing = workspace.preprocessing
        parameters = {"model": workspace.model_source or workspace.model.name,
                      "images": str(folder or ""), "labels": workspace.labels_source,
                      "preprocessing": f"{preprocessing.name} ({preprocessing.reason})",
                      "output index": str(workspace.output_index),
                      "map": checked.describe(workspace.labels),
                      "map parameters": ", ".join(f"{k}={v!r}"
                                                  for k, v in checked.params.items())}
        title = f"Predictions on {folder.name}" if folder else "Dataset report"

        def work(progress, should_stop):
            explained = report.explain_items(checked, context, worst(items, count), load,
                                             progress=progress, should_stop=should_stop)
            return report.write(path, report.dataset_report(items, names, explained,
                                                            parameters, title))

        job = TaskJob(work, f"report of {len(items)} images")
        job.finished.connect(lambda written: widget.say(f"report written to {written}"))
        job.failed.connect(lambda message: widget.report_error(message, "Cannot export"))
        widget._run_rows.add(job)
        widget._queue.submit(job)
        return job

    def export_canvas_report_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export canvas report",
                                                        "canvas.html", "HTML file (*.html)")
        if path:
            self.export_canvas_report(path)

    def export_canvas_report(self, path) -> bool:
        """Write the canvas's tiles (each drawn in its style) as one HTML file."""
        widget = self.widget
        tiles = widget.canvas.tiles()
        if not tiles:
            widget.report_error("the canvas is empty: run a method first", "Cannot export")
            return False
        workspace = widget.workspace
        source = workspace.image_source
        parameters = {"model": workspace.model_source or "",
                      "image": str(source) if isinstance(source, (str, Path)) else "",
                      "preprocessing": workspace.preprocessing.name}
        try:
            report.write(path, report.canvas_report(
                [(tile.shown_result(), tile.style(), tile.title) for tile in tiles],
                parameters))
        except OSError as error:
            widget.report_error(f"could not write {path}: {error}", "Cannot export")
            return False
        widget.say(f"canvas report written to {path}")
        return True
