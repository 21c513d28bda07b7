"""What every metric shares: its declaration (:class:`Metric`), the map it judges
(:class:`Explanation`), what it answers (:class:`Evaluation`), and :func:`evaluate`, the one
entry point that the notebook API (``dv.evaluate``) and the command line use.

A metric judges the map of any registered method, a third party's included: the method is
run through the registry as every run is (``core.explain.request`` / ``execute``), for a
class score (a Prediction node), and the metric then perturbs the input (deletion,
insertion, MuFidelity) or the model (randomisation) and calls the model in batches, with
progress and cancelling like the methods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..context import Context, Target, node_type_name
from ..errors import MethodNotApplicableError, ParameterError, RegistryError
from ..explain import RunRequest, execute
from ..registry import NodeType, Parameter


@dataclass(frozen=True)
class Metric:
    """A metric: ``run(context, explanation, params, progress, should_stop) -> Evaluation``.

    ``higher_is_better`` says which way its score points (None: neither, it is read as a
    whole); ``needs_method``: it re-runs the method (on a randomised model), so a map given
    as is cannot be judged; ``check(context, params)`` raises :class:`ParameterError` for
    values that are in range but that this model or image rules out (None: none are).
    """

    id: str
    name: str
    run: Callable = field(compare=False)
    description: str = ""
    reference: str = ""
    parameters: tuple[Parameter, ...] = ()
    higher_is_better: bool | None = True
    score_name: str = ""
    needs_method: bool = False
    check: Callable | None = field(default=None, compare=False)

    def resolve_params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``params``, each checked; unknown names are refused."""
        params = dict(params or {})
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(f"metric {self.id} has no parameter {', '.join(unknown)}"
                                 f" (it takes: {', '.join(known) or 'none'})")
        return {name: p.coerce(params.get(name, p.default)) for name, p in known.items()}

    def checked_params(self, context: Context,
                       params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`resolve_params`, then the values checked against ``context``'s model and
        image (before any work: a refusal is one line)."""
        resolved = self.resolve_params(params)
        if self.check is not None:
            self.check(context, resolved)
        return resolved


def metric(*, id: str, name: str, description: str = "", reference: str = "",
           parameters=(), higher_is_better: bool | None = True, score_name: str = "",
           needs_method: bool = False, check: Callable | None = None):
    """Decorator turning a run function into a :class:`Metric`."""

    def wrap(run: Callable) -> Metric:
        return Metric(id=id, name=name, run=run, description=description, reference=reference,
                      parameters=tuple(parameters), higher_is_better=higher_is_better,
                      score_name=score_name, needs_method=needs_method, check=check)

    return wrap


@dataclass
class Evaluation:
    """A metric's answer for one map: its ``score``, its ``curve`` (rows of points, one column
    per name in ``columns``), and what else it measured (``info``)."""

    metric: str
    method: str
    score: float
    curve: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    #: Which way the score points (None: neither); from the metric's declaration.
    higher_is_better: bool | None = None

    def __post_init__(self):
        self.curve = np.asarray(self.curve, dtype=np.float64)
        self.score = float(self.score)

    def plot(self, figure=None):
        """The curve on a matplotlib figure (a new one by default); returns the figure."""
        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=(5, 4), layout="constrained")
        axes = figure.add_subplot()
        x, series = self.curve[:, 0], self.curve[:, 1:]
        if self.info.get("curve_kind") == "scatter":
            axes.scatter(x, series[:, 0], s=10)
        else:
            for column, values in zip(self.columns[1:], series.T):
                axes.plot(x, values, marker="." if len(x) <= 40 else None, label=column)
            if series.shape[1] > 1:
                axes.legend()
        axes.set_xlabel(self.columns[0] if self.columns else "")
        if len(self.columns) == 2:
            axes.set_ylabel(self.columns[1])
        better = {True: ", higher is better", False: ", lower is better"}.get(
            self.higher_is_better, "")
        axes.set_title(f"{self.info.get('metric_name', self.metric)} of {self.method}: "
                       f"{self.score:.3g}{better}", fontsize=9)
        return figure

    def save_png(self, path) -> Any:
        from pathlib import Path

        from matplotlib.figure import Figure

        figure = Figure(figsize=(5, 4), layout="constrained")
        self.plot(figure)
        figure.savefig(path, dpi=100)
        return Path(path)


@dataclass
class Explanation:
    """The map a metric judges (H, W), the class it explains, and the checked run that made
    it (None for a map given as is), which :meth:`again` repeats on another model."""

    map: np.ndarray
    target: Target
    request: RunRequest | None = None
    method: str = "map"

    def again(self, context: Context, progress=None, should_stop=None) -> np.ndarray:
        """The method's map for the same class on ``context`` (another model, a randomised
        clone)."""
        if self.request is None:
            raise MethodNotApplicableError("a map given as is cannot be made again on another "
                                           "model: name the method that made it")
        checked = dataclasses.replace(self.request, target=self.target)
        return _heatmap(execute(checked, context, progress, should_stop), context, self.method)


def explain_for(checked: RunRequest | None, context: Context, given_map=None,
                target: Target | None = None, progress=None, should_stop=None) -> Explanation:
    """The map of ``checked`` on ``context``, or ``given_map`` as it is, explaining the class
    of ``target`` (a Prediction node; default: the top class)."""
    from ..attribution import resolve_objective

    if checked is not None:
        if checked.target.node_type is not NodeType.PREDICTION:
            raise MethodNotApplicableError(
                "the metrics judge maps of a class score, not of a "
                f"{node_type_name(checked.target.node_type)} node")
        result = execute(checked, context, progress, should_stop)
        return Explanation(_heatmap(result, context, checked.method.name), result.target,
                           checked, checked.method.id)
    image = context.require_image()
    given = np.asarray(given_map, dtype=np.float32)
    if given.shape != image.array.shape[:2]:
        raise MethodNotApplicableError(f"the map has shape {given.shape}, the image the model "
                                       f"sees {image.array.shape[:2]}")
    if not np.all(np.isfinite(given)):
        raise MethodNotApplicableError("the map has values that are not finite")
    _, _, _, target = resolve_objective(context, target or Target(NodeType.PREDICTION))
    return Explanation(given, target)


def _heatmap(result, context: Context, name: str) -> np.ndarray:
    shape = context.require_image().array.shape[:2]
    if result.kind != "heatmap" or result.data.shape != shape:
        raise MethodNotApplicableError(
            f"{name} gives a {result.kind} of shape {result.data.shape}, not a map over the "
            f"input {shape}: the metrics judge maps over the input")
    return np.asarray(result.data, np.float32)


def evaluate(metric: Metric, context: Context, checked: RunRequest | None = None, *,
             given_map=None, target: Target | None = None,
             params: Mapping[str, Any] | None = None,
             explanation: Explanation | None = None, progress=None,
             should_stop=None) -> Evaluation:
    """Run ``metric`` (checked ``params``) on the map of ``checked`` (or ``given_map`` for the
    class of ``target``, or an ``explanation`` already made) for the image of ``context``."""
    progress = progress or (lambda fraction: None)
    should_stop = should_stop or (lambda: False)
    resolved = metric.checked_params(context, params)
    if metric.needs_method and checked is None and (explanation is None
                                                    or explanation.request is None):
        raise MethodNotApplicableError(f"{metric.name} re-runs the method on a randomised "
                                       "model: name the method, not a map")
    share = 0.0 if explanation is not None else 0.2
    if explanation is None:
        explanation = explain_for(checked, context, given_map, target,
                                  lambda f: progress(share * f), should_stop)
    evaluation = metric.run(context, explanation, resolved,
                            lambda f: progress(share + (1 - share) * f), should_stop)
    evaluation.method = explanation.method
    evaluation.higher_is_better = metric.higher_is_better
    evaluation.info.setdefault("metric_name", metric.name)
    evaluation.info.setdefault("class", explanation.target.index)
    evaluation.info.setdefault("params", resolved)
    return evaluation


def unknown_metric(metric_id: str, known) -> RegistryError:
    return RegistryError(f"unknown metric {metric_id!r} (known: {', '.join(sorted(known))})")
