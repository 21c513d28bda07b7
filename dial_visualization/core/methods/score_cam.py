"""Score-CAM (Wang et al. 2020, arXiv:1910.01279).

Each feature map A_k of the target layer is upsampled bilinearly to the input size and
min-max normalised to [0, 1]; the model then sees the input masked by it, x * mask, in
the model's input space (the preprocessed image, the paper's X o H_k). The weight w_k is
the model's output for the class on that masked input: the softmax probability for a
softmax classifier, as in the authors' code (the paper's "increase of confidence" with
the baseline score left out). Constant feature maps (a zero map included) would mask
nothing in particular: their weight is 0 and they are not evaluated. The map is
ReLU(sum_k w_k A_k) at the layer's resolution, upsampled to the input: 2-D by
construction, with no colour channels to reduce.

``top_n`` keeps only the N channels with the highest mean activation (the others weigh 0).
"""

import numpy as np
import tensorflow as tf

from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, layer_output_function, score_function, traced
from ..attribution import batch_size_parameter, resolve_objective
from ._cam import LAYER_PARAMETER, cam_result, target_layer


def evaluated_channels(activations: np.ndarray, top_n: int) -> np.ndarray:
    """Indices of the non-constant channels of (h, w, K) activations, the top_n by mean."""
    flat = activations.reshape(-1, activations.shape[-1])
    varying = np.flatnonzero(flat.max(axis=0) > flat.min(axis=0))
    by_mean = varying[np.argsort(-flat[:, varying].mean(axis=0), kind="stable")]
    return by_mean[:top_n] if top_n else by_mean


def masked_score_function(model, size: tuple[int, int], output_index: int, device: str):
    """``f(x (1, H, W, C), maps (h, w, B), index) -> (B,)``: the class probability (the
    model's output) of ``x`` times each map, upsampled to ``size`` and min-max normalised."""

    score = score_function(model, output_index=output_index, logits=False, device=device)

    def build():
        def f(x, maps, index):
            upsampled = tf.image.resize(tf.transpose(maps, (2, 0, 1))[..., tf.newaxis], size)
            low = tf.reduce_min(upsampled, axis=(1, 2, 3), keepdims=True)
            span = tf.reduce_max(upsampled, axis=(1, 2, 3), keepdims=True) - low
            return score(x * tf.math.divide_no_nan(upsampled - low, span), index)
        return f

    return traced(model, ("score-cam-masked", size, output_index, device), build)


@method(
    id="score-cam", name="Score-CAM", node_types={NodeType.PREDICTION},
    description="Feature maps of a convolutional layer weighted by the class probability of "
                "the input masked by each map: no gradients.",
    reference="Wang et al. 2020, Score-CAM: Score-Weighted Visual Explanations for "
              "Convolutional Neural Networks, arXiv:1910.01279",
    parameters=(
        LAYER_PARAMETER,
        Parameter("top_n", "int", 0, "evaluate only the N channels with the highest mean "
                  "activation (0: all)", 0, 100000),
        batch_size_parameter("masked images per model call"),
    ),
    channel_reduction="none: a 2-D map by construction, ReLU of the score-weighted sum of "
                      "the layer's feature maps (Wang et al. 2020, section 3)",
)
def score_cam(context, target, params, progress, should_stop):
    model = context.model
    layer = target_layer(model, params["layer"])
    x, _, index, target = resolve_objective(context, target)
    outputs = layer_output_function(model, (layer,), output_index=context.output_index,
                                    device=context.device)
    activations = np.asarray(outputs(tf.constant(x))[1][layer])[0]
    channels = evaluated_channels(activations, params["top_n"])
    score = masked_score_function(model, x.shape[1:3], context.output_index, context.device)
    batch_size = params["batch_size"] or auto_batch_size(model, with_gradient=False,
                                                           size=x.shape[1:3])
    weights = np.zeros(activations.shape[-1], np.float32)
    x, index = tf.constant(x), tf.constant([index])
    for part in batches(len(channels), batch_size, progress, should_stop):
        weights[channels[part]] = score(x, tf.constant(activations[..., channels[part]]), index)
    if not len(channels):
        progress(1.0)
    return cam_result("Score-CAM", context, target, layer, activations, weights,
                      channels=len(channels))
