"""Deconvnet (Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks,
arXiv:1311.2901, section 2.1).

The signal goes back from the class logit (or a layer's mean channel activation) to the
input as the gradient does, through the transposed filters and the max-pooling switches,
except at the ReLUs: the deconvnet "passes the reconstructed signal through a ReLU", so a
ReLU passes back the positive part of the incoming signal whatever its forward input was.
It is the third backward rule for a ReLU beside the gradient's (where the forward input is
positive) and guided backpropagation's (both; Springenberg et al. 2014, figure 1).
Clipped and leaky ReLUs (ReLU6, LeakyReLU, PReLU) take the same rule: only the sign of the
incoming signal counts.

The map reduces the colour channels as saliency does, max_c |.| (Simonyan et al. 2013,
section 3.1); Zeiler & Fergus show the reconstruction itself in colour, kept per channel
in ``Result.channels``.
"""

import tensorflow as tf

from ..attribution import gradient_pass, heatmap_result
from ..registry import NodeType, method
from ..tf_ops import input_gradient_function
from ..walker import relu_units
from .guided_backprop import NO_RELU_WARNING
from .saliency import REDUCTION


def deconvnet_relu(x, output, region):
    """A ReLU-like unit's ``output``; backward, the positive part of the incoming signal."""

    @tf.custom_gradient
    def unit(x):
        def backward(upstream):
            return tf.nn.relu(upstream)

        return tf.stop_gradient(output), backward

    return unit(x)


def deconvnet_gradient_function(model, *, layer=None, output_index=0, device="auto"):
    """``f(x, index) -> (scores, deconvnet signal at x, outputs)``; the model is left
    untouched."""
    return input_gradient_function(model, layer=layer, output_index=output_index,
                                   relu=deconvnet_relu, relu_name="deconvnet", device=device)


@method(
    id="deconvnet", name="Deconvnet",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="The class logit (or the channel's mean activation) projected back to the "
                "pixels through the transposed filters, every ReLU passing back the positive "
                "part of the signal.",
    reference="Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks, "
              "arXiv:1311.2901",
    channel_reduction="max over colour channels of |reconstruction|, as for saliency "
                      "(Simonyan et al. 2013, section 3.1); the colour reconstruction of "
                      "Zeiler & Fergus 2014 is kept per channel",
)
def deconvnet(context, target, params, progress, should_stop):
    (target,), (_, signal) = gradient_pass([context], target, deconvnet_gradient_function)
    progress(1.0)
    units = relu_units(context.model)
    warning = NO_RELU_WARNING.replace("guided backpropagation to guide", "the deconvnet rule")
    return heatmap_result(context, target, signal[0],
                          detail="" if units else "no ReLU: the plain gradient",
                          reduction=REDUCTION, warnings=[] if units else [warning],
                          relus=units)
