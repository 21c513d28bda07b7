"""SmoothGrad (Smilkov et al. 2017, SmoothGrad: removing noise by adding noise,
arXiv:1706.03825).

The average of a gradient attribution (saliency, guided backprop or integrated gradients)
over noisy copies of the input (section 3); the noise's standard deviation is a fraction
of the input's value range.

The per-channel attributions are averaged over the copies, then reduced over the colour
channels as the base method reduces its own: max |.| for saliency and guided backprop,
the sum for integrated gradients. The averaged per-channel attributions stay on the
result (``Result.channels``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import MethodNotApplicableError
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, input_gradient_function
from ..attribution import batch_size_parameter, heatmap_result, resolve_objective
from .guided_backprop import REDUCTION as GUIDED_BACKPROP_REDUCTION
from .guided_backprop import guided_gradient_function
from .integrated_gradients import REDUCTION as INTEGRATED_GRADIENTS_REDUCTION
from .integrated_gradients import DEFAULT_STEPS, baseline_input, integrated_gradients
from .saliency import REDUCTION as SALIENCY_REDUCTION

#: Each base method and its reduction over colour channels.
BASE_REDUCTIONS = {"saliency": SALIENCY_REDUCTION,
                   "guided-backprop": GUIDED_BACKPROP_REDUCTION,
                   "integrated-gradients": INTEGRATED_GRADIENTS_REDUCTION}
BASES = tuple(BASE_REDUCTIONS)
#: Noisy inputs per integrated-gradients call, which batches their path points itself.
INPUTS_PER_IG_CALL = 16


def noise_std(x: np.ndarray, noise: float) -> float:
    """The noise's standard deviation: ``noise`` times the value range of ``x``."""
    return noise * float(np.max(x) - np.min(x))


def noisy_copies(x: np.ndarray, samples: range, std: float, seed: int) -> np.ndarray:
    """``x`` plus Gaussian noise, one copy per sample number; copy ``i`` depends only on
    (``seed``, ``i``), so batching does not change the samples."""
    x = np.asarray(x, np.float32)
    return np.stack([x + np.float32(std) * np.random.default_rng([seed, i]).standard_normal(
        x.shape, dtype=np.float32) for i in samples])


def _base_attribution(base, context, layer, index, batch_size, should_stop):
    """``attribute(noisy copies, progress) -> their attributions (n, H, W, C)``."""
    model, output_index, device = context.model, context.output_index, context.device
    if base == "integrated-gradients":
        baseline = baseline_input(context.image, "black")

        def attribute(noisy, progress):
            return integrated_gradients(model, noisy, baseline, index, DEFAULT_STEPS, batch_size,
                                        output_index=output_index, device=device,
                                        progress=progress, should_stop=should_stop)[0]
        return attribute

    gradient_function = (guided_gradient_function if base == "guided-backprop"
                         else input_gradient_function)
    gradient = gradient_function(model, layer=layer, output_index=output_index, device=device)

    def attribute(noisy, progress):
        grads = np.asarray(gradient(tf.constant(noisy), tf.constant([index]))[1])
        progress(1.0)
        return grads
    return attribute


def _within(progress, done: int, size: int, total: int):
    """Report a chunk's own progress (0..1) as overall progress."""
    return lambda fraction: progress((done + fraction * size) / total)


@method(
    id="smoothgrad", name="SmoothGrad",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="A gradient attribution averaged over noisy copies of the input, which "
                "removes much of its visual noise.",
    reference="Smilkov et al. 2017, SmoothGrad: removing noise by adding noise, "
              "arXiv:1706.03825",
    parameters=(
        Parameter("base", "choice", "saliency", "the attribution that is averaged",
                  choices=BASES),
        Parameter("samples", "int", 32, "noisy copies of the input", 1, 1024),
        Parameter("noise", "float", 0.15,
                  "noise standard deviation as a fraction of the input's value range", 0, 1),
        Parameter("seed", "int", 0, "random seed of the noise", 0, 2**31 - 1),
        batch_size_parameter("inputs per gradient call"),
    ),
    channel_reduction="the base method's reduction of the per-channel attributions "
                      "averaged over the noisy copies (Smilkov et al. 2017, section 3): "
                      "max |.| for saliency and guided backprop, the sum for integrated "
                      "gradients",
)
def smoothgrad(context, target, params, progress, should_stop):
    base, samples = params["base"], params["samples"]
    if base == "integrated-gradients" and target.node_type is not NodeType.PREDICTION:
        raise MethodNotApplicableError(
            "SmoothGrad over integrated gradients explains classes, not layer outputs")
    x, layer, index, target = resolve_objective(context, target)
    batch_size = params["batch_size"] or auto_batch_size(context.model, size=x.shape[1:3])
    attribute = _base_attribution(base, context, layer, index, batch_size, should_stop)
    std = noise_std(x, params["noise"])
    total = np.zeros(x.shape[1:], np.float64)
    per_chunk = INPUTS_PER_IG_CALL if base == "integrated-gradients" else batch_size
    for chunk in batches(samples, per_chunk, should_stop=should_stop):
        noisy = noisy_copies(x[0], range(chunk.start, chunk.stop), std, params["seed"])
        size = chunk.stop - chunk.start
        total += attribute(noisy, _within(progress, chunk.start, size, samples)).sum(axis=0)
    return heatmap_result(
        context, target, total / samples,
        detail=f"{base}, {samples} samples, noise {params['noise']:g}",
        reduction=BASE_REDUCTIONS[base], noise_std=std)
