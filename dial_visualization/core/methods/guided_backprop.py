"""Guided backpropagation (Springenberg et al. 2014, Striving for Simplicity, arXiv:1412.6806).

The input gradient, except that every ReLU passes a gradient back only where its forward
input is positive and the incoming gradient is positive (section 3.4, figure 1).

Other ReLU-like units (:func:`~dial_visualization.core.walker.relu_region`) follow the same
rule, "pass only where the unit is active and the signal positive", with active meaning
the region where the unit passes its input unchanged:

* clipped (``ReLU(max_value=6)``, ``relu6``): active on (0, 6); above 6 the unit is
  saturated and its plain gradient is 0 already;
* thresholded (``ReLU(threshold=t)``): active above t;
* leaky (``LeakyReLU``, ``leaky_relu``, ``PReLU``, ``ReLU(negative_slope=a)``): active
  above 0 only. The leaky part is cut as a ReLU's dead part is: a unit there does not fire
  (its output is at most a small multiple of its input), and guided backpropagation passes
  signal only through units that fire. Passing ``a`` times the gradient there would let
  every unit below its threshold add to the map, which then differs from the same network
  with plain ReLUs by a term of order ``a``.

The forward pass is the model's own. A model without any ReLU-like unit (EfficientNet's
swish, ConvNeXt's GELU) has no unit to guide: its guided gradient is the plain gradient by
definition, and the result says so (title, warning, ``info["guided_relus"]`` = 0).

The map reduces the colour channels as saliency does, max_c |guided gradient| (Simonyan
et al. 2013, section 3.1), since guided backpropagation only changes the backward rule of
that gradient. Springenberg et al. show the guided image itself, in colour: it stays
available per channel in ``Result.channels``.
"""

import tensorflow as tf

from ..batch_explain import batched
from ..registry import NodeType, method
from ..tf_ops import input_gradient_function
from ..walker import relu_units
from ..attribution import gradient_pass, heatmap_result
from .activations import constant_output_warning
from .saliency import REDUCTION

NO_RELU_WARNING = ("the model has no ReLU-like unit (ReLU, ReLU6, leaky or parametric ReLU) "
                   "for guided backpropagation to guide: this map is the plain gradient "
                   "(saliency)")


def guided_relu(x, output, region):
    """A ReLU-like unit's ``output`` at its input ``x``; backward, the incoming gradient
    where it is positive and ``x`` lies in ``region`` = (low, high), where the unit passes
    its input unchanged; 0 elsewhere."""
    low, high = region

    @tf.custom_gradient
    def unit(x):
        def backward(upstream):
            passes = (x > low) & (x < high) & (upstream > 0)
            return tf.where(passes, upstream, tf.zeros_like(upstream))

        return tf.stop_gradient(output), backward

    return unit(x)


def guided_gradient_function(model, *, layer=None, output_index=0, device="auto"):
    """``f(x, index) -> (scores, guided d score / d x, outputs)``; the model itself is left
    untouched."""
    return input_gradient_function(model, layer=layer, output_index=output_index,
                                   relu=guided_relu, relu_name="guided", device=device)


@method(
    id="guided-backprop", name="Guided backprop",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="Gradient of the class logit (or the channel's mean activation) in which "
                "every ReLU (also ReLU6, leaky) lets only positive gradients through, and only "
                "where it passes its input unchanged (not off, clipped or leaky).",
    reference="Springenberg et al. 2014, Striving for Simplicity: The All Convolutional Net, "
              "arXiv:1412.6806",
    channel_reduction="max over colour channels of |guided gradient|, as for saliency "
                      "(Simonyan et al. 2013, section 3.1); the colour guided image of "
                      "Springenberg et al. 2014 is kept per channel",
)
def guided_backprop(context, target, params, progress, should_stop):
    return guided_backprop_batch([context], target, params, progress, should_stop)[0]


@batched(guided_backprop)
def guided_backprop_batch(contexts, target, params, progress, should_stop):
    """Guided backprop of every context's image in one gradient call."""
    targets, (_, grads) = gradient_pass(contexts, target, guided_gradient_function)
    progress(1.0)
    units = relu_units(contexts[0].model)
    results = []
    for each, resolved, grad in zip(contexts, targets, grads):
        result = heatmap_result(each, resolved, grad,
                                detail="" if units else "no ReLU: the plain gradient",
                                reduction=REDUCTION, warnings=[] if units else [NO_RELU_WARNING],
                                guided_relus=units)
        if result.is_constant:
            why = constant_output_warning(each, resolved)
            result.warnings = [f"Guided backprop map is zero everywhere: {why}"] if why \
                else result.warnings
        results.append(result)
    return results
