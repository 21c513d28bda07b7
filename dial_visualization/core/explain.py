"""The one entry point that runs a registered method: notebook API, CLI and GUI use it.

A run is first made a :class:`RunRequest` — the method, what it explains and its
parameters, all checked against the model — so that a bad layer name, class or parameter
is refused in one line before any work starts (and before the CLI creates any file).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .context import Context, Target, node_type_name
from .errors import MethodNotApplicableError, ParameterError
from .handlers import NodeHandler
from .layers import LayerTree
from .models import check_output_index
from .registry import HandlerConfiguration, Method, NodeType
from .result import constant_map_warning, is_constant_map
from .session import RunRecord
from .tf_ops import device_scope


@dataclass(frozen=True)
class RunRequest:
    """One checked run: the method, the node it explains (with the node type's handler) and
    its parameter values. Made by :func:`request`; executed by :func:`execute`."""

    method: Method
    target: Target
    params: dict[str, Any] = field(default_factory=dict)
    handler: NodeHandler = field(default=None, compare=False)

    @property
    def independent_of_the_image(self) -> bool:
        """Whether the result depends on the model only (a layer's kernels)."""
        return self.target.node_type is NodeType.KERNEL

    def describe(self, labels: list[str] | None = None) -> str:
        """"Grad-CAM: class 3 (cat)": the method and its node, in words."""
        return f"{self.method.name}: {self.handler.describe(self.target, labels)}"

    def record(self) -> RunRecord:
        """The request as plain data (see :class:`~.session.RunRecord`)."""
        return RunRecord(self.method.id, self.target, dict(self.params))


def default_target(method: Method, layer: str | None, index: int | None) -> Target:
    """Prediction targets when the method takes them and no layer is named, else Output."""
    types = method.node_types
    if layer is None and NodeType.PREDICTION in types:
        return Target(NodeType.PREDICTION, None, index)
    if layer is None:
        raise MethodNotApplicableError(f"{method.id} needs a layer (layer=...)")
    node_type = NodeType.OUTPUT if NodeType.OUTPUT in types else next(iter(types))
    return Target(node_type, layer, index)


def request(method_id: str, model, target: Target | None = None,
            params: dict[str, Any] | None = None, *, layer: str | None = None,
            index: int | None = None, node_type: str | None = None, output_index: int = 0,
            registry: HandlerConfiguration | None = None) -> RunRequest:
    """The checked :class:`RunRequest` for ``method_id`` on ``model``.

    ``layer`` is the one name of a layer: the node's layer (a kernel or output node), or,
    for a method that declares a ``layer`` parameter (a class activation map), that
    parameter. ``index`` is the class, channel or filter; ``node_type`` overrides the
    default choice of node. ``registry`` defaults to :meth:`HandlerConfiguration.default`.
    """
    registry = registry or HandlerConfiguration.default()
    method = registry.get(method_id)
    params = dict(params or {})
    if method.layer_parameter() is not None and layer is not None:
        if params.get("layer", layer) != layer:
            raise ParameterError(f"two layers given: layer={layer!r} and {params['layer']!r}")
        params["layer"], layer = layer, None
    if target is None:
        index = _checked_index(index)
        target = (Target(registry.handler(node_type).node_type, layer, index) if node_type
                  else default_target(method, layer, index))
    handler = registry.handler(target.node_type)
    if target.node_type not in method.node_types:
        kinds = ", ".join(sorted(node_type_name(t) for t in method.node_types))
        raise MethodNotApplicableError(f"{method.name} works on {kinds} nodes, "
                                       f"not on {node_type_name(target.node_type)}")
    resolved = method.resolve_params(params)
    check_output_index(model, output_index)
    handler.check(model, target, output_index)
    layer_parameter = method.layer_parameter()
    if layer_parameter is not None and resolved["layer"]:
        _check_layer(LayerTree.of(model), resolved["layer"], spatial=layer_parameter.spatial)
    return RunRequest(method, target, resolved, handler)


def run(method_id: str, context: Context, target: Target | None = None,
        params: dict[str, Any] | None = None, *, layer: str | None = None,
        index: int | None = None, progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        registry: HandlerConfiguration | None = None):
    """Run ``method_id`` on ``context`` for ``target`` with checked ``params``."""
    checked = request(method_id, context.model, target, params, layer=layer, index=index,
                      output_index=context.output_index, registry=registry)
    return execute(checked, context, progress, should_stop)


def execute(checked: RunRequest, context: Context,
            progress: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None):
    """Run a checked request on ``context``; the result is :func:`stamp`-ed."""
    with device_scope(context.device):
        result = checked.method.run(context, checked.target, dict(checked.params),
                                    progress or (lambda f: None), should_stop or (lambda: False))
    return stamp(checked, context, result)


def stamp(checked: RunRequest, context: Context, result):
    """What the declaration and the request already say, on the ``result`` of running
    ``checked`` on ``context``: the method's id, its name before the title (a method's own
    title, if any, says what follows the name; else the node in words), the parameters, the
    node, the preprocessing of the image (with the reason it was chosen), and a warning on a
    constant heatmap. A result that is not finite is refused."""
    method = checked.method
    if not np.all(np.isfinite(result.data)):
        raise MethodNotApplicableError(
            f"{method.name} gave values that are not finite (NaN or infinity): the "
            "model's output is not finite here (are its weights or the input broken?)")
    result.method = method.id
    result.params = {**checked.params, **result.params}
    result.target = result.target or checked.target
    if not result.title.startswith(method.name):
        said = result.title or checked.handler.describe(result.target, context.labels)
        result.title = f"{method.name}: {said}"
    if result.kind == "heatmap" and not result.warnings and is_constant_map(result.data):
        result.warnings.append(constant_map_warning(method.name, result.data))
    if context.image is not None:
        result.info.setdefault("preprocessing", context.image.preprocessing)
        result.info.setdefault("preprocessing_reason", context.image.preprocessing_reason)
    return result


def _checked_index(index) -> int | None:
    """A class, channel or filter index is an int (True, 2.7 and "2" are refused); its range
    is checked against the model (a negative one too)."""
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise ParameterError(f"target: expected a class or channel index (an int), got {index!r}")
    return int(index)


def _check_layer(tree: LayerTree, path: str | None, spatial: bool = False):
    if not path or path not in tree:
        raise MethodNotApplicableError(f"model {tree.model.name!r} has no layer {path!r}")
    node = tree[path]
    if spatial and not node.is_spatial:
        raise MethodNotApplicableError(
            f"layer {path!r} has output shape {node.output_shapes[0] if node.output_shapes else '?'}"
            ", not a spatial (batch, height, width, channels) map: choose a convolutional layer")
    return node
