"""Grad-CAM (Selvaraju et al. 2017, arXiv:1610.02391).

The weight of feature map A_k is the spatial mean of d logit_c / d A_k; the map is
ReLU(sum_k w_k A_k) at the target layer's resolution, upsampled bilinearly to the input
(section 3). It is 2-D by construction: there are no colour channels to reduce.
"""

from ..batch_explain import batched
from ..registry import NodeType, method
from ._cam import LAYER_PARAMETER, cam_results, layer_gradients, target_layer


@method(
    id="grad-cam", name="Grad-CAM", node_types={NodeType.PREDICTION},
    description="Feature maps of a convolutional layer weighted by the mean gradient of the "
                "class logit: where the layer sees evidence for the class.",
    reference="Selvaraju et al. 2017, Grad-CAM: Visual Explanations from Deep Networks via "
              "Gradient-based Localization, arXiv:1610.02391",
    parameters=(LAYER_PARAMETER,),
    channel_reduction="none: a 2-D map by construction, ReLU of the gradient-weighted sum "
                      "of the layer's feature maps (Selvaraju et al. 2017, section 3)",
)
def grad_cam(context, target, params, progress, should_stop):
    return grad_cam_batch([context], target, params, progress, should_stop)[0]


@batched(grad_cam)
def grad_cam_batch(contexts, target, params, progress, should_stop):
    """Grad-CAM of every context's image in one gradient call."""
    layer = target_layer(contexts[0].model, params["layer"])
    targets, activations, gradients = layer_gradients(contexts, target, layer, progress,
                                                            should_stop)
    return cam_results("Grad-CAM", contexts, targets, layer, activations,
                       gradients.mean(axis=(1, 2)))
