"""How far a map can be trusted: faithfulness metrics and the sanity check, Qt-free.

One module per metric, each with its paper: :mod:`.deletion` and :mod:`.insertion`
(Petsiuk et al. 2018), :mod:`.mu_fidelity` (Bhatt et al. 2020), :mod:`.randomization`
(Adebayo et al. 2018). :func:`~.evaluation.evaluate` runs one on a method's map;
``dv.evaluate`` and the command line's ``evaluate`` use it.
"""

from __future__ import annotations

from .deletion import deletion
from .evaluation import Evaluation, Explanation, Metric, evaluate, explain_for, unknown_metric
from .insertion import insertion
from .mu_fidelity import mu_fidelity
from .randomization import model_randomization

#: Every metric, by id, in the order they are listed.
METRICS: dict[str, Metric] = {m.id: m for m in (deletion, insertion, mu_fidelity,
                                                model_randomization)}


def get_metric(metric_id: str) -> Metric:
    """The metric ``metric_id``; an unknown id is refused, the known ones named."""
    try:
        return METRICS[metric_id]
    except KeyError:
        raise unknown_metric(metric_id, METRICS) from None


class _MetricRegistry:
    """The metrics as the command line's ``--param`` parser reads a registry (``get``)."""

    get = staticmethod(get_metric)


METRIC_REGISTRY = _MetricRegistry()

__all__ = ["METRICS", "METRIC_REGISTRY", "Evaluation", "Explanation", "Metric", "evaluate",
           "explain_for", "get_metric"]
