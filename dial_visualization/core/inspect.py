"""A pure-Python tree of a model's layers (nested models are children), read lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import keras
import numpy as np

PATH_SEPARATOR = "/"
#: Layers that pool their input's positions: class activation maps look before them.
_POOLING = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
            keras.layers.GlobalMaxPooling2D, keras.layers.GlobalAveragePooling2D)


def _shapes(layer: keras.Layer, attribute: str) -> list[tuple]:
    """Input or output shapes from the layer's first call in a graph (Keras 3 has no output_shape)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    tensors = nodes[0].input_tensors if attribute == "input" else nodes[0].outputs
    return [tuple(t.shape) for t in keras.tree.flatten(tensors)]


def _activation_name(layer: keras.Layer) -> str | None:
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__)


@dataclass
class LayerNode:
    """One layer: what the layer table and tree show; kernels and biases read on demand."""

    path: str
    name: str
    type: str
    input_shapes: list[tuple]
    output_shapes: list[tuple]
    params: int
    activation: str | None
    has_kernel: bool
    has_bias: bool
    layer: keras.Layer = field(repr=False, compare=False)
    children: list[LayerNode] = field(default_factory=list)

    @property
    def is_spatial(self) -> bool:
        """Whether the (first) output is a 4-D (batch, height, width, channels) map."""
        return bool(self.output_shapes) and len(self.output_shapes[0]) == 4

    @property
    def has_spatial_extent(self) -> bool:
        """Whether the output is a spatial map of more than one position (height x width
        > 1; an unknown size counts, as it is set by the input)."""
        if not self.is_spatial:
            return False
        height, width = self.output_shapes[0][1:3]
        return height is None or width is None or height * width > 1

    @property
    def is_pooling(self) -> bool:
        return isinstance(self.layer, _POOLING)

    @property
    def channels(self) -> int | None:
        """Last-axis size of the first output: channels, units or classes."""
        return self.output_shapes[0][-1] if self.output_shapes else None

    @property
    def filters(self) -> int:
        """How many filters (kernel children) the layer has: the kernel's last axis."""
        return self.kernel().shape[-1] if self.has_kernel else 0

    def kernel(self) -> np.ndarray | None:
        kernel = getattr(self.layer, "kernel", None) if self.has_kernel else None
        return None if kernel is None else keras.ops.convert_to_numpy(kernel)

    def bias(self) -> np.ndarray | None:
        bias = getattr(self.layer, "bias", None) if self.has_bias else None
        return None if bias is None else keras.ops.convert_to_numpy(bias)


def _node(layer: keras.Layer, prefix: str) -> LayerNode:
    path = prefix + layer.name
    kernel = getattr(layer, "kernel", None) if not isinstance(layer, keras.Model) else None
    bias = getattr(layer, "bias", None) if not isinstance(layer, keras.Model) else None
    node = LayerNode(
        path=path, name=layer.name, type=type(layer).__name__,
        input_shapes=_shapes(layer, "input"), output_shapes=_shapes(layer, "output"),
        params=layer.count_params() if layer.built else 0,
        activation=_activation_name(layer),
        has_kernel=kernel is not None, has_bias=bias is not None, layer=layer,
    )
    if isinstance(layer, keras.Model):
        node.children = [_node(child, path + PATH_SEPARATOR) for child in _sublayers(layer)]
    return node


def _sublayers(model: keras.Model) -> list[keras.Layer]:
    """The layers in order, with the input layer that Keras' summary shows for functional models.

    Plain ``keras.ops`` calls in a functional graph (``Operation``, not ``Layer``) are left out:
    they have no parameters and cannot be addressed by ``model.get_layer``.
    """
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    operations = getattr(model, "operations", model.layers)
    return [operation for operation in operations if isinstance(operation, keras.Layer)]


class LayerTree:
    """Every layer of a model as :class:`LayerNode` trees, addressable by path."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.roots = [_node(layer, "") for layer in _sublayers(model)]
        self._by_path = {node.path: node for node in self.walk()}

    def walk(self) -> Iterator[LayerNode]:
        """Depth-first, parents before their children."""
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def __getitem__(self, path: str) -> LayerNode:
        try:
            return self._by_path[path]
        except KeyError:
            raise KeyError(f"model {self.model.name!r} has no layer {path!r}") from None

    def __contains__(self, path: str) -> bool:
        return path in self._by_path

    def last_spatial(self) -> LayerNode | None:
        """The last layer whose output is still spatial, searching inside nested models."""
        spatial = [n for n in self.walk() if n.is_spatial and not n.children
                   and n.type != "InputLayer"]
        return spatial[-1] if spatial else None

    def last_feature_map(self) -> LayerNode | None:
        """Where a class activation map looks by default: the last layer whose output is a
        map with real spatial extent (see :attr:`LayerNode.has_spatial_extent`) and that is
        not a pooling layer, searching inside nested models.

        The last spatial layer is no feature map on many classifiers: a 1x1 map after
        global pooling (MobileNet's ``conv_preds``, the classifier written as a
        convolution; MobileNetV3's ``logits``), whose class activation map is a constant,
        or a pooling step (VGG16's ``block5_pool``) instead of the last convolution
        (``block5_conv3``), which Grad-CAM (Selvaraju et al. 2017) explains.
        """
        maps = [n for n in self.walk() if n.has_spatial_extent and not n.is_pooling
                and not n.children and n.type != "InputLayer"]
        return maps[-1] if maps else None

    def table(self) -> list[dict]:
        """One row per layer (nested ones included), as the CLI and the layer table show it."""
        return [
            {"path": n.path, "type": n.type,
             "input": ", ".join(map(str, n.input_shapes)),
             "output": ", ".join(map(str, n.output_shapes)),
             "params": n.params, "activation": n.activation or ""}
            for n in self.walk()
        ]
