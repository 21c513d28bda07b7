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
        """How many filters (kernel children) the layer has: one per output channel, the
        last axis of :meth:`kernel` (read from the variables' shapes, not their values)."""
        shapes = self.kernel_shapes
        if "pointwise_kernel" in shapes:
            return shapes["pointwise_kernel"][-1]
        if "kernel" not in shapes:
            return 0
        return int(np.prod(shapes["kernel"][-2:])) if _is_depthwise(self.layer) \
            else shapes["kernel"][-1]

    @property
    def kernel_shapes(self) -> dict[str, tuple]:
        """The shapes of the kernels the layer stores, by attribute (no values read)."""
        return {name: tuple(v.shape) for name, v in _kernel_variables(self.layer).items()}

    def kernels(self) -> dict[str, np.ndarray]:
        """The layer's kernels as it stores them, by attribute: ``kernel``, or a separable
        convolution's ``depthwise_kernel`` and ``pointwise_kernel``; {} without any."""
        return {name: np.asarray(variable.numpy())
                for name, variable in _kernel_variables(self.layer).items()}

    def kernel(self) -> np.ndarray | None:
        """The kernel with one filter per output channel on its last axis, as a plain
        convolution (or dense layer) would hold it; None without a kernel.

        * convolution, dense layer: the kernel itself; a grouped convolution's filter sees
          the input channels of its group only (:meth:`input_channels`);
        * depthwise convolution (kh, kw, C, M): (kh, kw, 1, C * M), output channel c * M + m
          being input channel c filtered by kernel[..., c, m];
        * separable convolution, depthwise D (kh, kw, C, M) then pointwise P (1, 1, C * M, F):
          K[..., c, f] = sum_m D[..., c, m] P[c * M + m, f], (kh, kw, C, F). The layer is the
          convolution with K (both are linear, and the 1x1 pointwise step changes neither
          strides nor padding), so K's filters are what each output channel applies.
        """
        kernels = self.kernels()
        if "pointwise_kernel" in kernels:
            depthwise, pointwise = kernels["depthwise_kernel"], kernels["pointwise_kernel"]
            channels, multiplier = depthwise.shape[-2:]
            mixing = pointwise.reshape(channels, multiplier, pointwise.shape[-1])
            return np.einsum("...cm,cmf->...cf", depthwise, mixing)
        if _is_depthwise(self.layer):
            return self.depthwise_kernels()
        return kernels.get("kernel")

    def depthwise_kernels(self) -> np.ndarray | None:
        """A depthwise or separable convolution's depthwise kernels (kh, kw, C, M) as
        (kh, kw, 1, C * M), in the order of the channels they make (c * M + m); None for
        other layers."""
        kernels = self.kernels()
        depthwise = kernels.get("depthwise_kernel",
                                kernels.get("kernel") if _is_depthwise(self.layer) else None)
        return None if depthwise is None else depthwise.reshape(*depthwise.shape[:-2], 1, -1)

    def input_channels(self, index: int) -> range:
        """The input channels that filter ``index`` of :meth:`kernel` sees: its group's in a
        grouped convolution, its one channel in a depthwise convolution, else all."""
        if _is_depthwise(self.layer):
            channel = index // self.layer.depth_multiplier
            return range(channel, channel + 1)
        seen = self.kernel().shape[-2]
        group = index // (self.filters // (getattr(self.layer, "groups", 1) or 1))
        return range(group * seen, (group + 1) * seen)

    def bias(self) -> np.ndarray | None:
        bias = getattr(self.layer, "bias", None) if self.has_bias else None
        return None if bias is None else np.asarray(bias.numpy())


#: Where layers keep their kernels: a convolution's, dense or depthwise layer's ``kernel``,
#: a separable convolution's two.
_KERNEL_ATTRIBUTES = ("kernel", "depthwise_kernel", "pointwise_kernel")


def _kernel_variables(layer: keras.Layer) -> dict:
    if isinstance(layer, keras.Model):
        return {}
    found = {name: getattr(layer, name, None) for name in _KERNEL_ATTRIBUTES}
    return {name: variable for name, variable in found.items() if variable is not None}


def _is_depthwise(layer: keras.Layer) -> bool:
    """A depthwise convolution: one ``kernel`` of (..., channels, depth multiplier)."""
    return hasattr(layer, "depth_multiplier") and getattr(layer, "kernel", None) is not None


def _node(layer: keras.Layer, prefix: str) -> LayerNode:
    path = prefix + layer.name
    bias = getattr(layer, "bias", None) if not isinstance(layer, keras.Model) else None
    node = LayerNode(
        path=path, name=layer.name, type=type(layer).__name__,
        input_shapes=_shapes(layer, "input"), output_shapes=_shapes(layer, "output"),
        params=layer.count_params() if layer.built else 0,
        activation=_activation_name(layer),
        has_kernel=bool(_kernel_variables(layer)), has_bias=bias is not None, layer=layer,
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

    @classmethod
    def of(cls, model: keras.Model) -> LayerTree:
        """The tree of ``model``, read once per built model (a built model's layers, shapes
        and parameter counts do not change; MobileNetV2's tree takes 5 ms to read, and a
        batched Grad-CAM asked for it four times a call)."""
        if not model.built:
            return cls(model)
        from .tf_ops import model_cache

        cache = model_cache(model)
        if "layer-tree" not in cache:
            cache["layer-tree"] = cls(model)
        return cache["layer-tree"]

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
