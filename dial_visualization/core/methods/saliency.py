"""Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2013, arXiv:1312.6034)."""

import numpy as np
import tensorflow as tf

from ..registry import NodeType, algorithm
from ..tf_ops import input_gradient_function
from ._attribution import heatmap_result, resolve_objective


@algorithm(
    id="saliency", name="Saliency (gradient)",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="Gradient of the class logit (or the channel's mean activation) "
                "with respect to the input pixels.",
    reference="Simonyan et al. 2013, Deep Inside Convolutional Networks, arXiv:1312.6034",
)
def saliency(context, target, params, progress, should_stop):
    x, layer, index, target = resolve_objective(context, target)
    gradient = input_gradient_function(context.model, layer=layer, output_index=context.output_index,
                                       device=context.device)
    _, grads = gradient(tf.constant(x), tf.constant([index]))
    progress(1.0)
    return heatmap_result("saliency", "Saliency", context, target, np.asarray(grads)[0])
