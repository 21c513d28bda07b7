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
Over many images, one pass gives the layer's maps of every image, and the masked inputs of
all the images form one stream of model calls, each image's score for its own class.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, layer_output_function, score_function, traced
from ..attribution import batch_size_parameter
from ..batch_explain import batched, resolve_objectives
from ._cam import LAYER_PARAMETER, cam_result, target_layer


def evaluated_channels(activations: np.ndarray, top_n: int) -> np.ndarray:
    """Indices of the non-constant channels of (h, w, K) activations, the top_n by mean."""
    flat = activations.reshape(-1, activations.shape[-1])
    varying = np.flatnonzero(flat.max(axis=0) > flat.min(axis=0))
    by_mean = varying[np.argsort(-flat[:, varying].mean(axis=0), kind="stable")]
    return by_mean[:top_n] if top_n else by_mean


def masked_score_function(model, size: tuple[int, int], output_index: int, device: str):
    """``f(x (N, H, W, C), image (B,), maps (B, h, w), index (B,)) -> (B,)``: the class
    probability (the model's output) of each ``x[image]`` times its map, upsampled to
    ``size`` and min-max normalised, for class ``index``."""

    score = score_function(model, output_index=output_index, logits=False, device=device)

    def build():
        def f(x, image, maps, index):
            upsampled = tf.image.resize(maps[..., tf.newaxis], size)
            low = tf.reduce_min(upsampled, axis=(1, 2, 3), keepdims=True)
            span = tf.reduce_max(upsampled, axis=(1, 2, 3), keepdims=True) - low
            masks = tf.math.divide_no_nan(upsampled - low, span)
            return score(tf.gather(x, image) * masks, index)
        return f

    return traced(model, ("score-cam-masked", size, output_index, device), build,
                  batch_free=True)


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
    return score_cam_batch([context], target, params, progress, should_stop)[0]


@batched(score_cam)
def score_cam_batch(contexts, target, params, progress, should_stop):
    """Score-CAM of every context's image: the layer's maps of all the images in one pass,
    then their masked inputs in one stream of model calls, each image's score for its own
    class."""
    context = contexts[0]
    model = context.model
    layer = target_layer(model, params["layer"])
    x, _, indices, targets = resolve_objectives(contexts, target)
    outputs = layer_output_function(model, (layer,), output_index=context.output_index,
                                    device=context.device)
    activations = np.asarray(outputs(tf.constant(x))[1][layer])
    channels = [evaluated_channels(each, params["top_n"]) for each in activations]
    images = np.concatenate([np.full(len(each), i) for i, each in enumerate(channels)])
    streamed = np.concatenate(channels)
    score = masked_score_function(model, x.shape[1:3], context.output_index, context.device)
    batch_size = params["batch_size"] or auto_batch_size(model, with_gradient=False,
                                                           size=x.shape[1:3])
    weights = np.zeros((len(x), activations.shape[-1]), np.float32)
    x = tf.constant(x)
    for part in batches(len(streamed), batch_size, progress, should_stop):
        image, channel = images[part], streamed[part]
        weights[image, channel] = score(
            x, tf.constant(image, tf.int32), tf.constant(activations[image, :, :, channel]),
            tf.constant(indices[image]))
    if not len(streamed):
        progress(1.0)
    return [cam_result("Score-CAM", each, resolved, layer, maps, weight, channels=len(kept))
            for each, resolved, maps, weight, kept in zip(contexts, targets, activations,
                                                          weights, channels)]
