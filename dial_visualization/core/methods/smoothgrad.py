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
from ..attribution import batch_size_parameter, heatmap_result
from ..batch_explain import batched, resolve_objectives
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


def _base_attribution(base, contexts, layer, batch_size, should_stop):
    """``attribute(noisy copies, their images' positions, indices, progress) -> their
    attributions (n, H, W, C)``."""
    context = contexts[0]
    model, output_index, device = context.model, context.output_index, context.device
    if base == "integrated-gradients":
        baselines = np.stack([baseline_input(each.image, "black") for each in contexts])

        def attribute(noisy, images, indices, progress):
            return integrated_gradients(model, noisy, baselines[images], indices, DEFAULT_STEPS,
                                        batch_size, output_index=output_index, device=device,
                                        progress=progress, should_stop=should_stop)[0]
        return attribute

    gradient_function = (guided_gradient_function if base == "guided-backprop"
                         else input_gradient_function)
    gradient = gradient_function(model, layer=layer, output_index=output_index, device=device)

    def attribute(noisy, images, indices, progress):
        grads = np.asarray(gradient(tf.constant(noisy), tf.constant(indices))[1])
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
    return smoothgrad_batch([context], target, params, progress, should_stop)[0]


@batched(smoothgrad)
def smoothgrad_batch(contexts, target, params, progress, should_stop):
    """SmoothGrad of every context's image: the noisy copies of all the images in one
    stream of gradient calls, each copy for its own image's class."""
    base, samples = params["base"], params["samples"]
    if base == "integrated-gradients" and target.node_type is not NodeType.PREDICTION:
        raise MethodNotApplicableError(
            "SmoothGrad over integrated gradients explains classes, not layer outputs")
    x, layer, indices, targets = resolve_objectives(contexts, target)
    batch_size = params["batch_size"] or auto_batch_size(contexts[0].model, size=x.shape[1:3])
    attribute = _base_attribution(base, contexts, layer, batch_size, should_stop)
    stds = [noise_std(each, params["noise"]) for each in x]
    totals = np.zeros(x.shape, np.float64)
    count = len(x) * samples
    per_chunk = INPUTS_PER_IG_CALL if base == "integrated-gradients" else batch_size
    for chunk in batches(count, per_chunk, should_stop=should_stop):
        images, numbers = np.divmod(np.arange(chunk.start, chunk.stop), samples)
        noisy = np.concatenate([noisy_copies(x[i], range(n, n + 1), stds[i], params["seed"])
                                for i, n in zip(images, numbers)])
        size = chunk.stop - chunk.start
        attributions = attribute(noisy, images, indices[images],
                                 _within(progress, chunk.start, size, count))
        for each in np.unique(images):
            totals[each] += attributions[images == each].sum(axis=0)
    return [heatmap_result(each, resolved, total / samples,
                           detail=f"{base}, {samples} samples, noise {params['noise']:g}",
                           reduction=BASE_REDUCTIONS[base], noise_std=std)
            for each, resolved, total, std in zip(contexts, targets, totals, stds)]
