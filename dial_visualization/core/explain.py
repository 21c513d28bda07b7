"""The one entry point that runs a registered algorithm: notebook API, CLI and GUI use it.

A run is first made a :class:`RunRequest` — the algorithm, what it explains and its
parameters, all checked against the model — so that a bad layer name, class or parameter
is refused in one line before any work starts (and before the CLI creates any file).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .context import Context, Target
from .errors import MethodNotApplicableError, ParameterError
from .layers import LayerTree
from .models import check_output_index, class_count
from .registry import Algorithm, HandlerConfiguration, NodeType
from .tf_ops import device_scope


@dataclass(frozen=True)
class RunRequest:
    """One run: the algorithm, the node it explains and its checked parameter values."""

    algorithm: Algorithm
    target: Target
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def independent_of_the_image(self) -> bool:
        """Whether the result depends on the model only (a layer's kernels)."""
        return self.target.node_type is NodeType.KERNEL


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


def request(algorithm_id: str, model, target: Target | None = None,
            params: dict[str, Any] | None = None, *, layer: str | None = None,
            index: int | None = None, node_type: str | None = None, output_index: int = 0,
            registry: HandlerConfiguration | None = None) -> RunRequest:
    """The checked :class:`RunRequest` for ``algorithm_id`` on ``model``.

    ``layer`` is the one name of a layer: the node's layer (a kernel or output node), or,
    for an algorithm that declares a ``layer`` parameter (a class activation map), that
    parameter. ``index`` is the class, channel or filter; ``node_type`` overrides the
    default choice of node.
    """
    algorithm = (registry or HandlerConfiguration.default()).get(algorithm_id)
    params = dict(params or {})
    if algorithm.layer_parameter() is not None and layer is not None:
        if params.get("layer", layer) != layer:
            raise ParameterError(f"two layers given: layer={layer!r} and {params['layer']!r}")
        params["layer"], layer = layer, None
    if target is None:
        index = _checked_index(index)
        target = (Target(_checked_node_type(node_type), layer, index) if node_type
                  else default_target(algorithm, layer, index))
    check_node_type(algorithm, target)
    resolved = algorithm.resolve_params(params)
    check_output_index(model, output_index)
    _check_target(model, target, output_index)
    layer_parameter = algorithm.layer_parameter()
    if layer_parameter is not None and resolved["layer"]:
        _check_layer(LayerTree(model), resolved["layer"], spatial=layer_parameter.spatial)
    return RunRequest(algorithm, target, resolved)


def run(algorithm_id: str, context: Context, target: Target | None = None,
        params: dict[str, Any] | None = None, *, layer: str | None = None,
        index: int | None = None, progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        registry: HandlerConfiguration | None = None):
    """Run ``algorithm_id`` on ``context`` for ``target`` with checked ``params``."""
    checked = request(algorithm_id, context.model, target, params, layer=layer, index=index,
                      output_index=context.output_index, registry=registry)
    return execute(checked, context, progress, should_stop)


def execute(checked: RunRequest, context: Context,
            progress: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None):
    """Run a checked request on ``context``; the result records its parameters, target and
    the preprocessing of the image (with the reason it was chosen)."""
    with device_scope(context.device):
        result = checked.algorithm.run(context, checked.target, dict(checked.params),
                                       progress or (lambda f: None),
                                       should_stop or (lambda: False))
    if not np.all(np.isfinite(result.data)):
        raise MethodNotApplicableError(
            f"{checked.algorithm.name} gave values that are not finite (NaN or infinity): the "
            "model's output is not finite here (are its weights or the input broken?)")
    result.params = {**checked.params, **result.params}
    result.target = result.target or checked.target
    if context.image is not None:
        result.info.setdefault("preprocessing", context.image.preprocessing)
        result.info.setdefault("preprocessing_reason", context.image.preprocessing_reason)
    return result


def _checked_node_type(node_type) -> NodeType:
    try:
        return NodeType(node_type)
    except ValueError:
        kinds = ", ".join(t.value for t in NodeType)
        raise ParameterError(f"node_type: {node_type!r} is not one of {kinds}") from None


def _checked_index(index) -> int | None:
    """A class, channel or filter index is an int (True, 2.7 and "2" are refused); its range
    is checked against the model (a negative one too)."""
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise ParameterError(f"target: expected a class or channel index (an int), got {index!r}")
    return int(index)


def _check_target(model, target: Target, output_index: int) -> None:
    """The node's layer exists and its class, channel or filter index is in range."""
    if target.node_type is NodeType.PREDICTION:
        if target.index is not None:
            classes = class_count(model, output_index)
            if not 0 <= target.index < classes:
                raise MethodNotApplicableError(
                    f"class {target.index} does not exist: the output has {classes}")
        return
    node = _check_layer(LayerTree(model), target.layer)
    if target.index is None:
        return
    if target.node_type is NodeType.KERNEL:
        count, what = node.filters, "filters"
    else:
        count, what = node.channels or 0, "channels"
    if not 0 <= target.index < count:
        raise MethodNotApplicableError(
            f"layer {target.layer!r} has {count} {what}; {what[:-1]} {target.index} does not exist")


def _check_layer(tree: LayerTree, path: str | None, spatial: bool = False):
    if not path or path not in tree:
        raise MethodNotApplicableError(f"model {tree.model.name!r} has no layer {path!r}")
    node = tree[path]
    if spatial and not node.is_spatial:
        raise MethodNotApplicableError(
            f"layer {path!r} has output shape {node.output_shapes[0] if node.output_shapes else '?'}"
            ", not a spatial (batch, height, width, channels) map: choose a convolutional layer")
    return node
