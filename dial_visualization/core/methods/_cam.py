"""What the class-activation-map methods share: the target layer, weights -> map, upsampling.

A CAM method weighs the K feature maps A_k of one spatial layer and draws
ReLU(sum_k w_k A_k), upsampled bilinearly to the input's size; only the weights differ.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..context import Context, Target
from ..errors import Cancelled, MethodNotApplicableError
from ..inspect import LayerTree
from ..registry import Parameter
from ..result import Result
from ..tf_ops import layer_gradient_function
from ._attribution import heatmap_result, resolve_objective

LAYER_PARAMETER = Parameter(
    "layer", "layer", "",
    "the layer whose feature maps are weighted ('outer/inner' inside nested models); "
    "empty: the last layer whose output is still spatial", spatial=True)


def target_layer(model: keras.Model, name: str) -> str:
    """The path of the layer to explain: ``name``, or the last spatial one when empty."""
    tree = LayerTree(model)
    if not name:
        node = tree.last_spatial()
        if node is None:
            raise MethodNotApplicableError(
                f"model {model.name!r} has no layer with a spatial (height, width, channels) "
                "output: class activation maps need a convolutional layer")
        return node.path
    if name not in tree:
        raise MethodNotApplicableError(f"model {model.name!r} has no layer {name!r}")
    if not tree[name].is_spatial:
        raise MethodNotApplicableError(
            f"layer {name!r} has output shape {tree[name].output_shapes[0]}, not a spatial "
            "(batch, height, width, channels) map: choose a convolutional layer")
    return name


def layer_gradients(context: Context, target: Target, layer: str, progress, should_stop
                    ) -> tuple[Target, np.ndarray, np.ndarray]:
    """(target with its class, activations A (h, w, K), d logit / d A (h, w, K)) in one pass.

    The class score is taken before the final softmax/sigmoid, also where that is a layer
    of its own.
    """
    x, _, index, target = resolve_objective(context, target)
    if should_stop():
        raise Cancelled("cancelled")
    gradient = layer_gradient_function(context.model, layer, output_index=context.output_index,
                                       device=context.device)
    _, activations, gradients = gradient(tf.constant(x), tf.constant([index]))
    progress(1.0)
    return target, np.asarray(activations)[0], np.asarray(gradients)[0]


def weighted_map(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ReLU(sum_k weights[k] * activations[..., k]) for (h, w, K) activations: (h, w)."""
    return np.maximum(np.tensordot(activations, weights, axes=([-1], [0])), 0.0)


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) or (h, w, K) maps resized bilinearly (half-pixel centres) to ``size``."""
    stacked = maps[..., np.newaxis] if maps.ndim == 2 else maps
    resized = tf.image.resize(tf.constant(stacked[np.newaxis], tf.float32), size, "bilinear")
    resized = np.asarray(resized)[0]
    return resized[..., 0] if maps.ndim == 2 else resized


def cam_result(method: str, name: str, context: Context, target: Target, layer: str,
               activations: np.ndarray, weights: np.ndarray, **info) -> Result:
    """The weighted map of (h, w, K) ``activations``, upsampled to the input, as a heatmap."""
    size = context.image.array.shape[:2]
    heatmap = upsample(weighted_map(activations, weights), size)
    return heatmap_result(method, name, context, target, heatmap, detail=layer, layer=layer,
                          **info)
