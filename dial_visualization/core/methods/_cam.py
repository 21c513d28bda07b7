"""What the class-activation-map methods share: the target layer, weights -> map, upsampling,
and why a map came out constant.

A CAM method weighs the K feature maps A_k of one spatial layer and draws
ReLU(sum_k w_k A_k), upsampled bilinearly to the input's size; only the weights differ.
The map is 2-D by construction: it has no colour channels to reduce.

The automatic layer is the last feature map with real spatial extent that is not a pooling
layer (:meth:`~dial_visualization.core.inspect.LayerTree.last_feature_map`): the last
convolution or activation before the network pools its positions away, as Grad-CAM
(Selvaraju et al. 2017) uses. A map that comes out constant (a 1x1 layer, no positive
evidence) carries a warning that says why.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..context import Context, Target
from ..errors import Cancelled, MethodNotApplicableError
from ..layers import LayerTree
from ..registry import Parameter
from ..result import Result, is_constant_map
from ..tf_ops import layer_gradient_function
from ..attribution import gradient_pass, heatmap_result

LAYER_PARAMETER = Parameter(
    "layer", "layer", "",
    "the layer whose feature maps are weighted ('outer/inner' inside nested models); "
    "empty: the last feature map larger than 1x1 before the network pools it", spatial=True)


def target_layer(model: keras.Model, name: str) -> str:
    """The path of the layer to explain: ``name``, or the last feature map when empty."""
    tree = LayerTree.of(model)
    if not name:
        node = tree.last_feature_map()
        if node is None:
            raise MethodNotApplicableError(
                f"model {model.name!r} has no layer with a spatial (height, width, channels) "
                "output larger than 1x1: class activation maps need a convolutional layer")
        return node.path
    if name not in tree:
        raise MethodNotApplicableError(f"model {model.name!r} has no layer {name!r}")
    if not tree[name].is_spatial:
        raise MethodNotApplicableError(
            f"layer {name!r} has output shape {tree[name].output_shapes[0]}, not a spatial "
            "(batch, height, width, channels) map: choose a convolutional layer")
    return name


def layer_gradients(contexts: list[Context], target: Target, cam_layer: str, progress,
                    should_stop) -> tuple[list[Target], np.ndarray, np.ndarray]:
    """For every context's image, in one pass: (targets with their classes, activations A
    (N, h, w, K), d score / d A (N, h, w, K)). The class score is taken before the final
    softmax/sigmoid, also where that is a layer of its own."""
    if should_stop():
        raise Cancelled("cancelled")

    def make_function(model, *, layer, output_index, device):  # layer: None, a class score
        return layer_gradient_function(model, cam_layer, output_index=output_index,
                                       device=device)

    targets, (_, activations, gradients) = gradient_pass(contexts, target, make_function)
    progress(1.0)
    return targets, activations, gradients


def weighted_sum(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_k weights[k] * activations[..., k] for (h, w, K) activations: (h, w)."""
    return np.tensordot(activations, weights, axes=([-1], [0]))


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w), (h, w, K) or a batch (N, h, w, K) of maps resized bilinearly (half-pixel
    centres) to ``size``."""
    stacked = maps[..., np.newaxis] if maps.ndim == 2 else maps
    batch = stacked if stacked.ndim == 4 else stacked[np.newaxis]
    resized = np.asarray(tf.image.resize(tf.constant(batch, tf.float32), size, "bilinear"))
    resized = resized if stacked.ndim == 4 else resized[0]
    return resized[..., 0] if maps.ndim == 2 else resized


def constant_map_warnings(name: str, layer: str, activations: np.ndarray,
                          weights: np.ndarray) -> list[str]:
    """Why the map ReLU(sum_k w_k A_k) of ``layer``'s (h, w, K) ``activations`` is constant,
    in plain words; [] when it is not.

    Told apart here: a 1x1 layer; a layer whose every channel is constant over its
    positions; and for a map that is zero everywhere, every weight 0 (no gradient reaches
    the layer: e.g. its ReLU is off), no weight positive (the layer sees only evidence
    against the class), or positive weights meeting negative activations: a layer before
    its activation, whose maps are mostly negative, weighed by Grad-CAM++'s or Score-CAM's
    weights, which are never negative.
    """
    weighted = weighted_sum(activations, weights)
    if not is_constant_map(np.maximum(weighted, 0.0)):
        return []
    if weighted.size == 1:
        return [f"{name} map is constant: layer '{layer}' has a 1x1 output, one value per "
                "channel for the whole image; choose a layer whose output is larger than 1x1"]
    flat = activations.reshape(-1, activations.shape[-1])
    if np.all(flat.max(axis=0) == flat.min(axis=0)):
        return [f"{name} map is constant: every channel of layer '{layer}' has the same value "
                "at every position for this image (as after a pooling over its whole map); "
                "choose another layer"]
    if np.any(weighted > 0):
        return [f"{name} map is constant: the weighted sum of layer '{layer}' has the same "
                "value at every position"]
    if not np.any(weights):
        return [f"{name} map is zero everywhere: every channel of layer '{layer}' has weight "
                "0 for this class; choose another layer"]
    if not np.any(weights > 0):
        return [f"{name} map is zero everywhere: no channel of layer '{layer}' has positive "
                "evidence for this class (the weighted sum is negative everywhere); choose "
                "a layer after its activation"]
    counted = weights > 0
    negative = float(np.mean(activations[..., counted] < 0))
    if np.any(weights < 0):
        advice = "choose a layer after its activation" if negative > 0.5 else "choose another layer"
        return [f"{name} map is zero everywhere: the weighted sum of layer '{layer}' is "
                f"negative at every position ({np.count_nonzero(counted)} of {weights.size} "
                f"channels have positive weight, and {negative:.1%} of their activations are "
                f"negative); {advice}"]
    return [f"{name} map is zero everywhere: {negative:.1%} of the activations of layer "
            f"'{layer}' are negative in the channels that count for this class (as before an "
            "activation), and no channel has a negative weight, so the weighted sum is "
            "negative everywhere; choose a layer after its activation"]


def cam_result(name: str, context: Context, target: Target, layer: str,
               activations: np.ndarray, weights: np.ndarray, **info) -> Result:
    """The map ReLU(weighted sum) of (h, w, K) ``activations``, upsampled to the input, as a
    heatmap; warnings say why when it is constant (``name``: the method's, in them)."""
    return cam_results(name, [context], [target], layer, activations[np.newaxis],
                       weights[np.newaxis], **info)[0]


def cam_results(name: str, contexts: list[Context], targets: list[Target], layer: str,
                activations: np.ndarray, weights: np.ndarray, **info) -> list[Result]:
    """:func:`cam_result` for (N, h, w, K) ``activations`` and (N, K) ``weights`` of images
    of one size: the weighted sums and their upsampling done once for the batch."""
    weighted = np.matmul(activations, weights[:, np.newaxis, :, np.newaxis])[..., 0]
    heatmaps = upsample(np.maximum(weighted, 0.0)[..., np.newaxis],
                        contexts[0].image.array.shape[:2])[..., 0]
    return [heatmap_result(context, target, heatmap, detail=layer, layer=layer,
                           warnings=constant_map_warnings(name, layer, maps, each), **info)
            for context, target, heatmap, maps, each in zip(contexts, targets, heatmaps,
                                                             activations, weights)]
