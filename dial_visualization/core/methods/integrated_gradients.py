"""Integrated gradients (Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep
Networks, arXiv:1703.01365).

The gradient of the class logit averaged along the straight line from a baseline to the
input (trapezoid rule, in the preprocessed space), times (input - baseline). The
attributions add up to F(input) - F(baseline) (completeness, section 3, Proposition 1);
the run reports how far off that sum is.

The map is the sum of the attributions over the colour channels, so that it keeps
completeness: its pixels add up to the change of the score. The per-channel attributions
stay on the result (``Result.channels``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from PIL import Image, ImageFilter

from ..errors import MethodNotApplicableError
from ..preprocessing import PRESETS
from ..registry import NodeType, Parameter, algorithm
from ..tf_ops import auto_batch_size, batches, input_gradient_function
from ._attribution import batch_size_parameter, heatmap_result, resolve_objective

BASELINES = ("black", "white", "blur", "noise")
#: The map's reduction over colour channels (a key of ``CHANNEL_REDUCTIONS``).
REDUCTION = "sum"
DEFAULT_STEPS = 64
_NOISE_SEED = 0


def baseline_input(image, choice: str) -> np.ndarray:
    """The baseline ``choice`` for ``image``, preprocessed like the image: (H, W, C) float32.

    black/white are pixel values 0/255 before preprocessing, blur a Gaussian-blurred copy
    of the image, noise uniform pixels in [0, 255] from a fixed seed.
    """
    preprocess = image.preprocess or PRESETS.get(image.preprocessing)
    if preprocess is None:
        raise MethodNotApplicableError(
            f"a {choice} baseline needs the image's preprocessing, {image.preprocessing!r}")
    return np.asarray(preprocess(_baseline_pixels(image.resized, choice)), dtype=np.float32)


def _baseline_pixels(resized: np.ndarray, choice: str) -> np.ndarray:
    if choice == "black":
        return np.zeros(resized.shape, np.float32)
    if choice == "white":
        return np.full(resized.shape, 255.0, np.float32)
    if choice == "noise":
        return np.random.default_rng(_NOISE_SEED).uniform(0, 255, resized.shape).astype(np.float32)
    if choice == "blur":
        picture = Image.fromarray(resized.squeeze(-1) if resized.shape[-1] == 1 else resized)
        radius = max(resized.shape[:2]) / 16
        blurred = picture.filter(ImageFilter.GaussianBlur(radius))
        return np.asarray(blurred, dtype=np.float32).reshape(resized.shape)
    raise MethodNotApplicableError(f"unknown baseline {choice!r} (choose {', '.join(BASELINES)})")


def integrated_gradients(model, x, baseline, index: int, steps: int = DEFAULT_STEPS,
                         batch_size: int = 0, *, output_index: int = 0, device: str = "auto",
                         progress=None, should_stop=None):
    """Integrated gradients of each input in ``x`` (N, H, W, C) for class ``index``.

    ``baseline`` is (H, W, C), in the same (preprocessed) space as ``x``. The ``steps + 1``
    points of each path are evaluated ``batch_size`` at a time (0: automatic), built batch
    by batch. Returns (attributions (N, H, W, C), F(x) (N,), F(baseline)) with F the logit.
    """
    x = np.asarray(x, dtype=np.float32)
    baseline = np.asarray(baseline, dtype=np.float32)
    points = steps + 1
    weights = np.ones(points)
    weights[[0, -1]] = 0.5
    gradient = input_gradient_function(model, output_index=output_index, device=device)
    summed = np.zeros(x.shape, np.float64)
    input_scores = np.zeros(len(x))
    baseline_score = None
    for batch in batches(len(x) * points, batch_size or auto_batch_size(model), progress,
                         should_stop):
        sample, step = np.divmod(np.arange(batch.start, batch.stop), points)
        alpha = (step / steps).astype(np.float32)[:, np.newaxis, np.newaxis, np.newaxis]
        path = (1 - alpha) * baseline + alpha * x[sample]
        scores, grads = gradient(tf.constant(path), tf.constant([index]))
        scores = np.asarray(scores)
        weighted = weights[step][:, np.newaxis, np.newaxis, np.newaxis] * np.asarray(grads)
        for each in np.unique(sample):  # a batch spans few inputs; np.add.at is 80x slower
            summed[each] += weighted[sample == each].sum(axis=0)
        input_scores[sample[step == steps]] = scores[step == steps]
        if np.any(step == 0):
            baseline_score = float(scores[step == 0][0])
    attributions = (x - baseline) * summed / steps
    return attributions.astype(np.float32), input_scores, baseline_score


@algorithm(
    id="integrated-gradients", name="Integrated gradients",
    node_types={NodeType.PREDICTION},
    description="Gradients of the class logit averaged along the straight path from a "
                "baseline image to the input, times (input - baseline).",
    reference="Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks, "
              "arXiv:1703.01365",
    parameters=(
        Parameter("steps", "int", DEFAULT_STEPS, "intervals on the path (trapezoid rule)",
                  1, 4096),
        Parameter("baseline", "choice", "black",
                  "the reference image: black (0), white (255), blurred input, or noise",
                  choices=BASELINES),
        batch_size_parameter("path points per gradient call"),
    ),
    channel_reduction="sum over colour channels, so that the map adds up to "
                      "F(input) - F(baseline) (completeness, Sundararajan et al. 2017, "
                      "section 3)",
)
def integrated_gradients_method(context, target, params, progress, should_stop):
    x, _, index, target = resolve_objective(context, target)
    baseline = baseline_input(context.image, params["baseline"])
    attributions, input_scores, baseline_score = integrated_gradients(
        context.model, x, baseline, index, params["steps"], params["batch_size"],
        output_index=context.output_index, device=context.device, progress=progress,
        should_stop=should_stop)
    attribution = attributions[0]
    score = float(input_scores[0])
    delta = float(attribution.sum(dtype=np.float64) - (score - baseline_score))
    return heatmap_result(
        "integrated-gradients", "Integrated gradients", context, target, attribution,
        detail=f"{params['baseline']} baseline, {params['steps']} steps", reduction=REDUCTION,
        completeness_delta=delta, score=score, baseline_score=baseline_score)
