"""The one entry point that runs a registered algorithm: notebook API, CLI and GUI use it."""

from __future__ import annotations

from typing import Any, Callable

from .context import Context, Target
from .errors import MethodNotApplicableError
from .registry import HandlerConfiguration, NodeType
from .tf_ops import device_scope


def default_target(algorithm, layer: str | None, index: int | None) -> Target:
    """Prediction targets when the algorithm takes them and no layer is named, else Output."""
    types = algorithm.node_types
    if layer is None and NodeType.PREDICTION in types:
        return Target(NodeType.PREDICTION, None, index)
    if layer is None:
        raise MethodNotApplicableError(f"{algorithm.id} needs a layer (layer=...)")
    node_type = NodeType.OUTPUT if NodeType.OUTPUT in types else next(iter(types))
    return Target(node_type, layer, index)


def check_node_type(algorithm, target: Target) -> None:
    """Refuse a target whose node type the algorithm does not declare."""
    if target.node_type not in algorithm.node_types:
        kinds = ", ".join(sorted(t.value for t in algorithm.node_types))
        raise MethodNotApplicableError(
            f"{algorithm.name} works on {kinds} nodes, not on {target.node_type.value}")


def run(algorithm_id: str, context: Context, target: Target | None = None,
        params: dict[str, Any] | None = None, *, layer: str | None = None,
        index: int | None = None, progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        registry: HandlerConfiguration | None = None):
    """Run ``algorithm_id`` on ``context`` for ``target`` with checked ``params``."""
    algorithm = (registry or HandlerConfiguration.default()).get(algorithm_id)
    target = target or default_target(algorithm, layer, index)
    check_node_type(algorithm, target)
    resolved = algorithm.resolve_params(params)
    with device_scope(context.device):
        result = algorithm.run(context, target, resolved, progress or (lambda f: None),
                               should_stop or (lambda: False))
    result.params = {**resolved, **result.params}
    result.target = result.target or target
    if context.image is not None:
        result.info.setdefault("preprocessing", context.image.preprocessing)
    return result
