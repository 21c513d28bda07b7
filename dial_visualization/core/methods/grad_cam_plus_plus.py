"""Grad-CAM++ (Chattopadhay et al. 2018, arXiv:1710.11063).

With g = d logit_c / d A_k and the exponential score of the paper's closed form,
alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3) (0 where the denominator is 0) and
w_k = sum_ij alpha_ij relu(g_ij); the map is ReLU(sum_k w_k A_k), upsampled to the input.
The paper's common factor exp(logit_c) is left out (as pytorch-grad-cam does): it scales
the whole map and changes nothing else. The map is 2-D by construction: there are no
colour channels to reduce.
"""

import numpy as np

from ..batch_explain import batched
from ..registry import NodeType, method
from ._cam import LAYER_PARAMETER, cam_results, layer_gradients, target_layer


def plus_plus_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """w_k for (h, w, K) activations and gradients: (K,); for a batch (N, h, w, K) of them,
    (N, K)."""
    gradients = gradients.astype(np.float64)
    grads_power_2 = gradients ** 2
    grads_power_3 = grads_power_2 * gradients
    sum_activations = activations.astype(np.float64).sum(axis=(-3, -2), keepdims=True)
    denominator = 2 * grads_power_2 + sum_activations * grads_power_3
    safe = np.where(denominator != 0, denominator, 1.0)
    alpha = np.where(denominator != 0, grads_power_2 / safe, 0.0)
    return (alpha * np.maximum(gradients, 0)).sum(axis=(-3, -2))


@method(
    id="grad-cam-plus-plus", name="Grad-CAM++", node_types={NodeType.PREDICTION},
    description="Grad-CAM with pixel-wise weights from higher-order gradients: better for "
                "several instances of the class and for small objects.",
    reference="Chattopadhay et al. 2018, Grad-CAM++: Improved Visual Explanations for Deep "
              "Convolutional Networks, arXiv:1710.11063",
    parameters=(LAYER_PARAMETER,),
    channel_reduction="none: a 2-D map by construction, ReLU of the weighted sum of the "
                      "layer's feature maps (Chattopadhay et al. 2018, section 3)",
)
def grad_cam_plus_plus(context, target, params, progress, should_stop):
    return grad_cam_plus_plus_batch([context], target, params, progress, should_stop)[0]


@batched(grad_cam_plus_plus)
def grad_cam_plus_plus_batch(contexts, target, params, progress, should_stop):
    """Grad-CAM++ of every context's image in one gradient call."""
    layer = target_layer(contexts[0].model, params["layer"])
    targets, activations, gradients = layer_gradients(contexts, target, layer, progress,
                                                            should_stop)
    return cam_results("Grad-CAM++", contexts, targets, layer, activations,
                       plus_plus_weights(activations, gradients))
