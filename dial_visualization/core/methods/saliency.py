"""Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2013, Deep Inside
Convolutional Networks, arXiv:1312.6034).

The gradient w of the class logit (or of a channel's mean activation) with respect to the
input pixels. The map is the paper's M_ij = max_c |w_(i,j,c)| (section 3.1): how strongly
the most sensitive colour channel of each pixel moves the score, whatever the sign. The
signed gradient per channel stays on the result (``Result.channels``).
"""

from ..batch_explain import batched
from ..registry import NodeType, method
from ..tf_ops import input_gradient_function
from ..attribution import gradient_pass, heatmap_result

#: The map's reduction over colour channels (a key of ``CHANNEL_REDUCTIONS``).
REDUCTION = "max-abs"


@method(
    id="saliency", name="Saliency",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="Gradient of the class logit (or the channel's mean activation) "
                "with respect to the input pixels.",
    reference="Simonyan et al. 2013, Deep Inside Convolutional Networks, arXiv:1312.6034",
    channel_reduction="max over colour channels of |gradient| (Simonyan et al. 2013, "
                      "section 3.1)",
)
def saliency(context, target, params, progress, should_stop):
    return saliency_batch([context], target, params, progress, should_stop)[0]


@batched(saliency)
def saliency_batch(contexts, target, params, progress, should_stop):
    """Saliency of every context's image in one gradient call."""
    targets, (_, grads) = gradient_pass(contexts, target, input_gradient_function)
    progress(1.0)
    return [heatmap_result(each, resolved, grad, reduction=REDUCTION)
            for each, resolved, grad in zip(contexts, targets, grads)]
