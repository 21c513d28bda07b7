"""Guided backpropagation (Springenberg et al. 2014, Striving for Simplicity, arXiv:1412.6806).

The input gradient, except that every ReLU passes a gradient back only where both its
input and the incoming gradient are positive.

The map reduces the colour channels as saliency does, max_c |guided gradient| (Simonyan
et al. 2013, section 3.1), since guided backpropagation only changes the backward rule of
that gradient. Springenberg et al. show the guided image itself, in colour: it stays
available per channel in ``Result.channels``.
"""

import numpy as np
import tensorflow as tf

from ..registry import NodeType, algorithm
from ..tf_ops import input_gradient_function
from ._attribution import heatmap_result, resolve_objective
from .saliency import REDUCTION


@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward keeps the gradient only where ``x > 0`` and it is positive."""

    def backward(upstream):
        return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

    return tf.nn.relu(x), backward


def guided_gradient_function(model, *, layer=None, output_index=0, device="auto"):
    """``f(x, index) -> (scores, guided d score / d x)``; the model itself is left untouched."""
    return input_gradient_function(model, layer=layer, output_index=output_index,
                                   relu=guided_relu, relu_name="guided", device=device)


@algorithm(
    id="guided-backprop", name="Guided backpropagation",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="Gradient of the class logit (or the channel's mean activation) in which "
                "every ReLU lets only positive gradients through, at positive inputs.",
    reference="Springenberg et al. 2014, Striving for Simplicity: The All Convolutional Net, "
              "arXiv:1412.6806",
    channel_reduction="max over colour channels of |guided gradient|, as for saliency "
                      "(Simonyan et al. 2013, section 3.1); the colour guided image of "
                      "Springenberg et al. 2014 is kept per channel",
)
def guided_backprop(context, target, params, progress, should_stop):
    x, layer, index, target = resolve_objective(context, target)
    gradient = guided_gradient_function(context.model, layer=layer,
                                        output_index=context.output_index, device=context.device)
    _, grads = gradient(tf.constant(x), tf.constant([index]))
    progress(1.0)
    return heatmap_result("guided-backprop", "Guided backprop", context, target,
                          np.asarray(grads)[0], reduction=REDUCTION)
