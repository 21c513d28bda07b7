"""Gradient x input (Shrikumar, Greenside, Shcherbina & Kundaje 2016, Not Just a Black Box:
Learning Important Features Through Propagating Activation Differences, arXiv:1605.01713;
Ancona, Ceolini, Oztireli & Gross 2018, arXiv:1711.06104).

The input times the gradient of the class logit (or of a layer's mean channel activation)
with respect to it: a first-order estimate of each pixel's contribution to that score, in
the model's input space (the preprocessed image). For a model linear in its input with no
bias, the attributions add up to the score exactly.

The map is the sum over the colour channels, the per-pixel first-order term; the
per-channel products stay on the result (``Result.channels``).
"""

from ..attribution import gradient_pass, heatmap_result
from ..registry import NodeType, method
from ..tf_ops import input_gradient_function

#: The map's reduction over colour channels (a key of ``CHANNEL_REDUCTIONS``).
REDUCTION = "sum"


@method(
    id="gradient-x-input", name="Gradient x input",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="The input pixels times the gradient of the class logit (or the channel's "
                "mean activation) with respect to them.",
    reference="Shrikumar et al. 2016, Not Just a Black Box, arXiv:1605.01713",
    channel_reduction="sum over colour channels, the first-order Taylor term of each pixel "
                      "(Shrikumar et al. 2016, section 2; Ancona et al. 2018, section 2.2)",
)
def gradient_x_input(context, target, params, progress, should_stop):
    (target,), (_, grads) = gradient_pass([context], target, input_gradient_function)
    progress(1.0)
    return heatmap_result(context, target, grads[0] * context.image.array, reduction=REDUCTION)
