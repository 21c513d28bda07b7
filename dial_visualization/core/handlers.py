"""Node-type handlers: what a Kernel, Output or Prediction node means, in one place.

A node of the layer tree is a :class:`~.context.Target` (node type, layer path, index). Its
handler owns everything that depends on the node type:

* :meth:`NodeHandler.check`: the layer exists and the index is one of its filters,
  channels or classes (:meth:`NodeHandler.count`);
* :meth:`NodeHandler.resolve`: what a node without index means when a method must pick
  one (a Prediction node's class is the image's top class);
* :meth:`NodeHandler.describe`: how the node reads in titles and messages;
* :meth:`NodeHandler.to_dict` / :meth:`NodeHandler.from_dict`: its one serialised form, used
  by drag-and-drop, saved sessions, Dial projects and the notebook export;
* :meth:`NodeHandler.default_node`: the node a method runs on when none is picked;
  ``preferred_methods``: the method a node runs when none is chosen.

The :class:`~.registry.HandlerConfiguration` holds one handler per node type (the three
built-ins, plus any a third party adds for a node type of its own) beside the methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .context import NodeType, Target, node_type_name
from .errors import MethodNotApplicableError, ParameterError
from .layers import LayerTree
from .models import class_count, check_output_index

if TYPE_CHECKING:
    import keras

    from .context import Context
    from .layers import LayerNode


class NodeHandler:
    """The meaning of the nodes of one type. Subclass it for a node type of your own: set
    ``node_type`` (kebab-case) and ``unit`` (what the index counts), and override
    :meth:`count` (and :meth:`resolve` when a node without index needs one picked)."""

    node_type: str = ""
    #: What the index counts, singular: "filter", "channel", "class".
    unit: str = "channel"
    #: The methods a node runs when none is chosen, in order of preference (the first one
    #: registered wins; else the first method registered for the node type).
    preferred_methods: tuple[str, ...] = ()

    def count(self, model: keras.Model, layer: str | None, output_index: int = 0) -> int:
        """How many indices the node's layer (or output) has."""
        raise NotImplementedError

    def check(self, model: keras.Model, target: Target, output_index: int = 0) -> None:
        """Refuse a layer the model lacks, or an index it does not have."""
        _node(LayerTree.of(model), target.layer)
        self._check_index(model, target, output_index)

    def resolve(self, target: Target, context: Context) -> Target:
        """``target`` with what it stands for made explicit (unchanged by default: a node
        without index means the whole layer)."""
        return target

    def describe(self, target: Target, labels: list[str] | None = None) -> str:
        """The node in words: "conv1", "conv1 channel 3"."""
        if target.index is None:
            return target.layer or self.node_type
        return f"{target.layer} {self.unit} {target.index}" if target.layer else \
            f"{self.unit} {target.index}"

    def default_node(self, tree: LayerTree) -> Target | None:
        """The node a method of this type runs on when none is picked (None: no such node)."""
        return None

    def to_dict(self, target: Target) -> dict[str, Any]:
        return {"node_type": node_type_name(target.node_type), "layer": target.layer,
                "index": target.index}

    def from_dict(self, data: dict[str, Any]) -> Target:
        index = data.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise ParameterError(f"a node's index is an int, not {index!r}")
        return Target(self.node_type, data.get("layer"), index)

    def _check_index(self, model, target: Target, output_index: int) -> None:
        if target.index is None:
            return
        count = self.count(model, target.layer, output_index)
        if not 0 <= target.index < count:
            where = f"layer {target.layer!r} has" if target.layer else "the output has"
            raise MethodNotApplicableError(
                f"{where} {count} {self.unit_plural}; {self.unit} {target.index} does not exist")

    @property
    def unit_plural(self) -> str:
        return "classes" if self.unit == "class" else f"{self.unit}s"


class KernelHandler(NodeHandler):
    """A layer's kernels (weights); the index is one filter."""

    node_type = NodeType.KERNEL
    unit = "filter"
    preferred_methods = ("weights",)

    def count(self, model, layer, output_index=0) -> int:
        return _node(LayerTree.of(model), layer).filters

    def default_node(self, tree: LayerTree) -> Target | None:
        node = next((n for n in tree.walk() if n.has_kernel), None)
        return None if node is None else Target(self.node_type, node.path)


class OutputHandler(NodeHandler):
    """A layer's output (activations); the index is one channel."""

    node_type = NodeType.OUTPUT
    unit = "channel"
    preferred_methods = ("activations",)

    def count(self, model, layer, output_index=0) -> int:
        return _node(LayerTree.of(model), layer).channels or 0

    def default_node(self, tree: LayerTree) -> Target | None:
        node = tree.last_spatial()
        return None if node is None else Target(self.node_type, node.path)


class PredictionHandler(NodeHandler):
    """A class score of the explained output; no index means the image's top class."""

    node_type = NodeType.PREDICTION
    unit = "class"
    #: A class node explains by default: a class activation map, not the bar chart of scores.
    preferred_methods = ("grad-cam", "saliency")

    def count(self, model, layer=None, output_index=0) -> int:
        return class_count(model, output_index)

    def check(self, model, target: Target, output_index: int = 0) -> None:
        check_output_index(model, output_index)
        self._check_index(model, target, output_index)

    def resolve(self, target: Target, context: Context) -> Target:
        """The class explained: the given one, else the top class on the image (class 0 when
        there is no image, for methods that need none)."""
        return self.resolve_many(target, [context])[0]

    def resolve_many(self, target: Target, contexts: list[Context]) -> list[Target]:
        """:meth:`resolve` for each context's image (one model, output and device), with one
        forward pass over the batch."""
        if target.index is not None:
            return [target] * len(contexts)
        if contexts[0].image is None:
            return [Target(self.node_type, None, 0)] * len(contexts)
        if not all(context.has_outputs for context in contexts):
            from .batch_explain import model_outputs

            x = np.stack([context.image.array for context in contexts])
            for context, row in zip(contexts, model_outputs(contexts[0], x)):
                context.remember_outputs(row)
        return [Target(self.node_type, None, int(np.argmax(context.outputs())))
                for context in contexts]

    def describe(self, target: Target, labels: list[str] | None = None) -> str:
        if target.index is None:
            return "top class"
        if labels and 0 <= target.index < len(labels):
            return f"class {target.index} ({labels[target.index]})"
        return f"class {target.index}"

    def default_node(self, tree: LayerTree) -> Target:
        return Target(self.node_type)

    def from_dict(self, data: dict[str, Any]) -> Target:
        return super().from_dict({**data, "layer": None})


BUILTIN_HANDLERS: dict[str, NodeHandler] = {
    handler.node_type: handler
    for handler in (KernelHandler(), OutputHandler(), PredictionHandler())}


def builtin_handler(node_type) -> NodeHandler:
    """The handler of a built-in node type (custom ones live in a HandlerConfiguration)."""
    return BUILTIN_HANDLERS[NodeType(node_type)]


def handler_of(target: Target) -> NodeHandler:
    """The built-in handler of ``target``, or a generic one for a custom node type (for
    words and serialised forms; a registry's own handler checks and resolves)."""
    if isinstance(target.node_type, NodeType):
        return builtin_handler(target.node_type)
    generic = NodeHandler()
    generic.node_type = target.node_type
    return generic


def handler_of_dict(data: dict[str, Any]) -> NodeHandler:
    """The handler that reads ``data``, a node as :meth:`NodeHandler.to_dict` wrote it."""
    return handler_of(Target(data["node_type"]))


def _node(tree: LayerTree, path: str | None) -> LayerNode:
    if not path or path not in tree:
        raise MethodNotApplicableError(f"model {tree.model.name!r} has no layer {path!r}")
    return tree[path]
