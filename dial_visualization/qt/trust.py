"""How far a map can be trusted, in the app: the Trust menu of a tile that explains a class
("Deletion & insertion": the curves and scores under the map; "MuFidelity": its score and
the scatter of the map's sums against the score's drops under the map; "Sanity check": a
tile with the maps under cumulative model randomisation and their correlations), its
"Parameters" submenu (each action's metrics' parameters in a form, remembered per metric for
the session: :mod:`.trust_params`), and the scores under a "Compare methods" grid (deletion
and insertion of every map, the best of each class marked).

Everything is computed by ``core.metrics`` (the metric copies the model before randomising
it: the model shown is never changed) on the worker, as a :class:`~.worker.TaskJob` with a
progress row, the time left and Cancel like every run. Parameters are checked against the
model and image before the job is queued (a refusal is one line). A tile's metrics run the
tile's method, parameters and class (its ``RunRecord``) on the document as it is when
asked; the comparison's scores judge the maps it drew, on the document they were made on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qtpy import QtCore, QtWidgets

from ..core.context import Context, NodeType
from ..core.errors import DialVisualizationError
from ..core.explain import RunRequest
from ..core.metrics import Explanation, evaluate, explain_for, get_metric
from ..core.workspace import ParameterMemory
from .trust_params import TrustParamsDialog
from .trust_views import ScoreRow, ScoreTable, sanity_result, show_evaluations
from .worker import TaskJob

#: The Trust menu's actions: (text, metric ids, tooltip).
TRUST_ACTIONS = (
    ("Deletion && insertion", ("deletion", "insertion"),
     "remove (deletion) or reveal (insertion) the pixels in the map's order and follow the "
     "class score: the curves and their areas under the map"),
    ("MuFidelity", ("mu-fidelity",),
     "remove random subsets of the image: how well the map's sum over each subset follows "
     "the drop of the class score (their correlation, and the scatter, under the map)"),
    ("Sanity check (randomise the model)", ("model-randomization",),
     "make the map again on a copy of the model whose layers are re-initialised from the "
     "top down: a new tile with the maps and their correlations with this one"),
)
#: The metrics' parameters in the app, over their declared defaults: the sanity check's
#: strip has at most 6 steps (a model with more layers randomises several per step).
DEFAULT_PARAMS = {"model-randomization": {"steps": 6}}
#: The metrics scored under a comparison.
COMPARISON_METRICS = ("deletion", "insertion")


def explains_a_class(tile) -> bool:
    """Whether ``tile`` shows a map over the input of a class score, made by a method the
    metrics can run again (its RunRecord names it)."""
    record, result = tile.record, tile.result
    return (result.kind == "heatmap" and record is not None and record.method is not None
            and record.target.node_type is NodeType.PREDICTION
            and result.background is not None
            and result.data.shape == result.background.shape[:2])


def trust_button(tile) -> QtWidgets.QToolButton:
    """The tile's Trust button; its actions emit ``tile.trust_requested(tile, metric ids)``,
    those of its Parameters submenu ``tile.trust_parameters_requested(tile, metric ids)``."""
    button = QtWidgets.QToolButton()
    button.setText("Trust")
    button.setToolTip("how far this map can be trusted: deletion and insertion curves, "
                      "MuFidelity, the sanity check")
    button.setAutoRaise(True)
    button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QtWidgets.QMenu(button)
    parameters = QtWidgets.QMenu("Parameters", menu)
    tile.trust_actions, tile.trust_parameter_actions = {}, {}
    for text, metric_ids, tip in TRUST_ACTIONS:
        action = menu.addAction(text)
        action.setToolTip(tip)
        action.triggered.connect(lambda *_, ids=metric_ids: tile.trust_requested.emit(
            tile, list(ids)))
        tile.trust_actions[metric_ids[0]] = action
        action = parameters.addAction(f"{text.split(' (')[0]}…")
        action.setToolTip(f"set the parameters of {text.split(' (')[0].lower()}, then run it")
        action.triggered.connect(lambda *_, ids=metric_ids:
                                 tile.trust_parameters_requested.emit(tile, list(ids)))
        tile.trust_parameter_actions[metric_ids[0]] = action
    menu.addSeparator()
    menu.addMenu(parameters)
    button.setMenu(menu)
    return button


@dataclass
class _Comparison:
    """The maps a comparison waits for: (method id, class index or None) each."""

    generation: int
    context: Context
    expected: list
    results: list = field(default_factory=list)


@dataclass
class _Check:
    """A tile's map to check, all checked before any work: the tile's run, the metrics,
    their values by metric id, the document's context."""

    checked: RunRequest
    metrics: list
    params: dict
    context: Context


class TrustActions(QtCore.QObject):
    """The metrics of :class:`~.widget.ConvVisualizationWidget`: it answers its canvas's
    ``trust_requested`` (run) and ``trust_parameters_requested`` (the dialog), and scores
    its comparisons."""

    def __init__(self, widget):
        super().__init__(widget)
        self._widget = widget
        #: The metrics' parameters for the session (not forgotten with the model).
        self.memory = ParameterMemory()
        for metric_id, values in DEFAULT_PARAMS.items():
            self.memory.remember(get_metric(metric_id), values)
        self.dialog: TrustParamsDialog | None = None  # the parameters' dialog shown last
        self._comparison: _Comparison | None = None  # a comparison whose maps are coming
        widget.canvas.trust_requested.connect(self.request)
        widget.canvas.trust_parameters_requested.connect(self.ask)
        widget.result_added.connect(self._collect)
        widget._queue.busy_changed.connect(self._idle)

    @property
    def score_table(self) -> ScoreTable | None:
        """The scores under the comparison's grid (None when none is shown)."""
        footer = self._widget.canvas.footer
        return footer if isinstance(footer, ScoreTable) else None

    def params_of(self, metric_id: str) -> dict:
        """The values the Trust actions use for ``metric_id`` (every parameter)."""
        return self.memory.remembered(get_metric(metric_id))

    def remember_params(self, metric_id: str, values: dict) -> dict:
        """Check ``values`` over those remembered for ``metric_id`` (ParameterError if one
        is out of its range) and keep them; returns every value."""
        return self.memory.remember(get_metric(metric_id), values)

    def _metrics(self, metric_ids, context, values=None):
        """The metrics and their values (``values`` by metric id, else those remembered),
        checked against ``context``'s model and image."""
        metrics = [get_metric(m) for m in metric_ids]
        values = values or {}
        return metrics, {m.id: m.checked_params(context, values.get(m.id, self.params_of(m.id)))
                         for m in metrics}

    def _queue(self, job: TaskJob, shown, failure: str) -> TaskJob:
        widget, generation = self._widget, self._widget._generation
        job.finished.connect(lambda outcome: generation == widget._generation and shown(outcome))
        job.failed.connect(lambda message: generation == widget._generation and
                           widget.report_error(f"{job.description}: {message}", failure))
        job.cancelled.connect(lambda: widget.say(f"cancelled: {job.description}"))
        widget._run_rows.add(job)
        widget._queue.submit(job)
        widget.status_bar.showMessage(f"queued {job.description}", 5000)
        return job

    def ask(self, tile, metric_ids) -> TrustParamsDialog:
        """The parameters of ``metric_ids`` in a dialog, filled with the values remembered;
        its Run checks them, remembers them and runs the metrics on ``tile``'s map."""
        if self.dialog is not None:
            self.dialog.close()
        metrics = [get_metric(m) for m in metric_ids]
        self.dialog = TrustParamsDialog(
            f"Parameters: {' and '.join(m.name for m in metrics)} of {tile.title}", metrics,
            {m.id: self.params_of(m.id) for m in metrics},
            lambda values: self._run_asked(tile, metric_ids, values), self._widget)
        self.dialog.open()
        return self.dialog

    def _run_asked(self, tile, metric_ids, values) -> str | None:
        """Run with the dialog's ``values``; the refusal in one line (None: queued)."""
        try:
            check = self._prepare(tile, metric_ids, values)
        except DialVisualizationError as error:
            return str(error)
        for metric_id, chosen in check.params.items():
            self.remember_params(metric_id, chosen)
        self._submit(tile, check)
        return None

    def _prepare(self, tile, metric_ids, values=None) -> _Check:
        """All that a check of ``tile``'s map needs, or DialVisualizationError."""
        if not explains_a_class(tile):
            raise DialVisualizationError("the metrics judge a method's map of a class score "
                                         "over the input")
        record = tile.record
        checked = self._widget.workspace.request(record.method, record.target, record.params)
        context = self._widget.workspace.context()
        context.require_image()
        return _Check(checked, *self._metrics(metric_ids, context, values), context)

    def request(self, tile, metric_ids) -> TaskJob | None:
        """Run ``metric_ids`` (with their remembered values) on the map of ``tile``'s run
        (its method, parameters and class) on the document as it is now; the outcome is
        shown with the tile (deletion, insertion, MuFidelity) or as a new tile (the sanity
        check). Returns the queued job (None if refused)."""
        try:
            check = self._prepare(tile, metric_ids)
        except DialVisualizationError as error:
            self._widget.report_error(str(error), "Cannot check this map")
            return None
        return self._submit(tile, check)

    def _submit(self, tile, check: _Check) -> TaskJob:
        checked, metrics, params, context = (check.checked, check.metrics, check.params,
                                             check.context)

        def work(progress, should_stop):
            explanation = explain_for(checked, context, progress=lambda f: progress(0.2 * f),
                                      should_stop=should_stop)
            evaluations = []
            for number, metric in enumerate(metrics):
                share = lambda f, n=number: progress(0.2 + 0.8 * (n + f) / len(metrics))  # noqa
                evaluations.append(evaluate(metric, context, explanation=explanation,
                                            params=params[metric.id], progress=share,
                                            should_stop=should_stop))
            return evaluations

        what = "sanity check" if "model-randomization" in params else \
            " and ".join(m.name.lower() for m in metrics)
        title, target = tile.title, tile.record.target  # kept should the tile be closed
        job = TaskJob(work, f"{what} of {title}")
        return self._queue(job, lambda evaluations: self._show(tile, title, target,
                                                               evaluations), "Check failed")

    def _show(self, tile, title: str, target, evaluations) -> None:
        widget = self._widget
        under = [e for e in evaluations if e.metric != "model-randomization"]
        for evaluation in evaluations:
            if evaluation.metric == "model-randomization":
                result = sanity_result(evaluation, title, target)
                widget.canvas.add_result(result, None, result.title)
                widget.say(f"done: {result.title}")
        if under:
            if not any(shown is tile for shown in widget.canvas.tiles()):
                widget.say(f"{title}: the tile was closed before its curves were ready")
                return
            show_evaluations(tile, under)
            widget.say(f"{title}: {tile.trust_panel.scores_label.text()}")

    # ------------------------------------------------------------------ comparisons

    def score_comparison(self, jobs) -> None:
        """Score the maps of a comparison's runs ``jobs`` once the queue is idle (deletion
        and insertion on the worker, the document they were made on) and show the table
        under the grid. The maps are taken as the widget shows them (``result_added``,
        connected before any run starts, so a fast run is never missed)."""
        widget = self._widget
        self._comparison = None
        if jobs:
            self._comparison = _Comparison(
                widget._generation, widget.workspace.context(),
                [(job.request.method.id, job.request.target.index) for job in jobs])

    def _collect(self, result) -> None:
        comparison = self._comparison
        if comparison is None:
            return
        for number, (method, index) in enumerate(comparison.expected):
            if result.method == method and index in (None, result.target.index):
                del comparison.expected[number]
                comparison.results.append(result)
                return

    def _idle(self, busy: bool) -> None:
        comparison = self._comparison
        if busy or comparison is None:
            return
        self._comparison = None
        if comparison.generation == self._widget._generation and comparison.results:
            self._score(comparison.context, comparison.results)

    def _score(self, context, results) -> TaskJob | None:
        """Deletion and insertion of each map of ``results`` over the input of ``context``;
        each metric calls the model in batches of its perturbed inputs."""
        try:
            metrics, params = self._metrics(COMPARISON_METRICS, context)
        except DialVisualizationError as error:
            self._widget.report_error(f"the maps compared are not scored: {error}",
                                      "Cannot score")
            return None
        shape = context.require_image().array.shape[:2]
        maps = [r for r in results if r.kind == "heatmap" and r.data.shape == shape]
        if not maps:
            return None
        names = {r.method: self._widget.registry.get(r.method).name for r in maps}

        def work(progress, should_stop):
            rows, total = [], len(maps) * len(metrics)
            for number, result in enumerate(maps):
                explanation = Explanation(result.data, result.target, None, result.method)
                scores = []
                for k, metric in enumerate(metrics):
                    done = number * len(metrics) + k
                    scores.append(evaluate(
                        metric, context, explanation=explanation, params=params[metric.id],
                        should_stop=should_stop,
                        progress=lambda f, d=done: progress((d + f) / total)))
                rows.append(ScoreRow(result.method, names[result.method], result.target,
                                     *scores))
            return rows

        job = TaskJob(work, f"scoring the {len(maps)} maps compared (deletion, insertion)")
        return self._queue(job, self._show_scores, "Scoring failed")

    def _show_scores(self, rows) -> None:
        widget = self._widget
        widget.canvas.set_footer(ScoreTable(rows, widget.workspace.labels))
        widget.say(f"scored {len(rows)} maps: deletion (lower is better) and insertion "
                   "(higher is better), the best of each class marked")
