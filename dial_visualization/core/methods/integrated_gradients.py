"""Integrated gradients (Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep
Networks, arXiv:1703.01365).

The gradient of the class logit averaged along the straight line from a baseline to the
input (trapezoid rule, in the preprocessed space), times (input - baseline). ``steps``
counts the intervals of the rule: ``steps + 1`` points, both ends included (xplique's
``steps`` counts the points: its 50 are 49 intervals, whose map on a ReLU network differs
from 50's, see ``benchmarks/peers.py``). The attributions add up to F(input) - F(baseline)
(completeness, section 3, Proposition 1), up to the error of the rule: the completeness
error |sum - (F(input) - F(baseline))|, relative to |F(input) - F(baseline)|, is in the
title and ``info``, and above ``tolerance`` (5%, the paper's suggestion for choosing the
steps) a warning says so. With ``max_steps`` the steps double until the error is within
the tolerance: the grid of 2n intervals keeps the n + 1 points of n, so each doubling
evaluates only the n new midpoints.

On ReLU networks the gradient along the path jumps wherever a unit switches, and the error
falls slowly and unevenly with the steps (class 0, untrained ``keras.applications`` with
calibrated normalisation: ResNet50 56% at 64 steps, 16% at 512; EfficientNetB0 30%, 18%,
1.6% at 64, 128, 256; MobileNetV2 still 230% at 512). Higher-order or local rules do not
help against jumps: measured on six families (top class) at equal gradient evaluations,
Gauss-Legendre came close to the trapezoid rule only on DenseNet121 and was far worse on
the others (ResNet50 at 128 points: 24% against 11%; EfficientNetB0 at 64: 87% against
22%), and bisecting the intervals with the largest jumps was no better than halving all.

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
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, input_gradient_function
from ..attribution import batch_size_parameter, heatmap_result, keep_outputs
from ..batch_explain import batched, resolve_objectives

BASELINES = ("black", "white", "blur", "noise")
#: The map's reduction over colour channels (a key of ``CHANNEL_REDUCTIONS``).
REDUCTION = "sum"
DEFAULT_STEPS = 64
#: The completeness error allowed by default, relative to |F(input) - F(baseline)|.
DEFAULT_TOLERANCE = 0.05
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


def trapezoid_weights(steps: int) -> np.ndarray:
    """The trapezoid rule's weights of the ``steps + 1`` points k / steps, times ``steps``."""
    weights = np.ones(steps + 1)
    weights[[0, -1]] = 0.5
    return weights


def path_gradients(gradient, x, baseline, index, alphas: np.ndarray, weights: np.ndarray,
                   batch_size, progress=None, should_stop=None):
    """sum_k weights[k] * grad F(baseline + alphas[k] (input - baseline)) for each input of
    ``x`` (N, H, W, C), F at every point (N, K), and the model's outputs at each path's last
    point (N, classes; the outputs on the inputs where ``alphas`` ends at 1). ``baseline``
    is one (H, W, C) or one per input, ``index`` one class or one per input. The points of
    every input form one stream, built and evaluated ``batch_size`` at a time; each batch
    spans few inputs."""
    points = len(alphas)
    baselines = np.broadcast_to(baseline, x.shape)
    indices = np.broadcast_to(np.asarray(index, np.int32), (len(x),))
    summed = np.zeros(x.shape, np.float64)
    scores = np.zeros((len(x), points))
    last_outputs = None
    for batch in batches(len(x) * points, batch_size, progress, should_stop):
        sample, point = np.divmod(np.arange(batch.start, batch.stop), points)
        alpha = alphas[point].astype(np.float32)[:, np.newaxis, np.newaxis, np.newaxis]
        path = (1 - alpha) * baselines[sample] + alpha * x[sample]
        batch_scores, grads, outputs = gradient(tf.constant(path),
                                                tf.constant(indices[sample]))
        weighted = weights[point][:, np.newaxis, np.newaxis, np.newaxis] * np.asarray(grads)
        for each in np.unique(sample):  # np.add.at is 80x slower
            summed[each] += weighted[sample == each].sum(axis=0)
        scores[sample, point] = np.asarray(batch_scores)
        if last_outputs is None:
            last_outputs = np.zeros((len(x), outputs.shape[1]), np.float32)
        ends = point == points - 1
        last_outputs[sample[ends]] = np.asarray(outputs)[ends]
    return summed, scores, last_outputs


def integrated_gradients(model, x, baseline, index, steps: int = DEFAULT_STEPS,
                         batch_size: int = 0, *, output_index: int = 0, device: str = "auto",
                         progress=None, should_stop=None):
    """Integrated gradients of each input in ``x`` (N, H, W, C) for class ``index`` (one, or
    one per input).

    ``baseline`` is (H, W, C) or one per input, in the same (preprocessed) space as ``x``.
    The ``steps + 1`` points of each path are evaluated ``batch_size`` at a time (0:
    automatic). Returns (attributions (N, H, W, C), F(x) (N,), F(baseline) (N,)) with F the
    logit.
    """
    x = np.asarray(x, dtype=np.float32)
    baseline = np.asarray(baseline, dtype=np.float32)
    gradient = input_gradient_function(model, output_index=output_index, device=device)
    summed, scores, _ = path_gradients(
        gradient, x, baseline, index, np.arange(steps + 1) / steps, trapezoid_weights(steps),
        batch_size or auto_batch_size(model, size=x.shape[1:3]), progress, should_stop)
    attributions = _attributions(x, baseline, summed, steps).astype(np.float32)
    return attributions, scores[:, -1], scores[:, 0]


def refined_integrated_gradients(model, x, baselines, indices, steps: int, max_steps: int,
                                 tolerance: float, batch_size: int = 0, *,
                                 output_index: int = 0, device: str = "auto", progress=None,
                                 should_stop=None):
    """Integrated gradients of each input of ``x`` (N, H, W, C) from its baseline (N, H, W,
    C) for its class (``indices``, N), the steps doubled from ``steps`` while |completeness
    delta| > ``tolerance`` * |F(x) - F(baseline)| and the doubled count is at most
    ``max_steps``.

    The trapezoid rule on 2n intervals keeps the n + 1 points of n: a doubling evaluates
    only the n midpoints, of the inputs not yet within the tolerance (each input's steps
    are those it would take alone). Returns (attributions (N, H, W, C), F(x) (N,),
    F(baseline) (N,), steps used (N,), the model's outputs on ``x`` (N, classes)).
    """
    x = np.asarray(x, dtype=np.float32)
    baselines = np.asarray(baselines, dtype=np.float32)
    indices = np.asarray(indices, np.int32)
    gradient = input_gradient_function(model, output_index=output_index, device=device)
    batch_size = batch_size or auto_batch_size(model, size=x.shape[1:3])
    budget = len(x) * (max(steps, _doubled_up_to(steps, max_steps)) + 1)  # points, for progress
    done = len(x) * (steps + 1)
    summed, scores, outputs = path_gradients(
        gradient, x, baselines, indices, np.arange(steps + 1) / steps, trapezoid_weights(steps),
        batch_size, _within(progress, 0, done, budget), should_stop)
    score, baseline_score = scores[:, -1], scores[:, 0]
    change = score - baseline_score
    attributions = _attributions(x, baselines, summed, steps)
    used = np.full(len(x), steps)
    while 2 * steps <= max_steps:
        errors = np.abs(attributions.sum(axis=(1, 2, 3)) - change)
        pending = np.flatnonzero(errors > tolerance * np.abs(change))
        if not len(pending):
            break
        midpoints = (2 * np.arange(steps) + 1) / (2 * steps)
        more, _, _ = path_gradients(gradient, x[pending], baselines[pending], indices[pending],
                                    midpoints, np.ones(steps), batch_size,
                                    _within(progress, done, len(pending) * steps, budget),
                                    should_stop)
        summed[pending] += more
        steps, done = 2 * steps, done + len(pending) * steps
        used[pending] = steps
        attributions[pending] = _attributions(x[pending], baselines[pending], summed[pending],
                                              steps)
    if progress is not None and done < budget:  # converged before max_steps
        progress(1.0)
    return attributions.astype(np.float32), score, baseline_score, used, outputs


def _attributions(x, baseline, summed, steps: int) -> np.ndarray:
    """(input - baseline) times the trapezoid sum of the gradients over ``steps``."""
    return (x - baseline) * summed / steps


def _doubled_up_to(steps: int, max_steps: int) -> int:
    """The most steps that doubling ``steps`` reaches without passing ``max_steps``."""
    while 2 * steps <= max_steps:
        steps *= 2
    return steps


def _within(progress, done: int, size: int, total: int):
    """Report a part's own progress (0..1) as progress over ``total`` points."""
    if progress is None:
        return None
    return lambda fraction: progress((done + fraction * size) / total)


@method(
    id="integrated-gradients", name="Integrated gradients",
    node_types={NodeType.PREDICTION},
    description="Gradients of the class logit averaged along the straight path from a "
                "baseline image to the input, times (input - baseline).",
    reference="Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks, "
              "arXiv:1703.01365",
    parameters=(
        Parameter("steps", "int", DEFAULT_STEPS, "intervals on the path (trapezoid rule); "
                  "with max_steps, the first try", 1, 4096),
        Parameter("baseline", "choice", "black",
                  "the reference image: black (0), white (255), blurred input, or noise",
                  choices=BASELINES),
        Parameter("tolerance", "float", DEFAULT_TOLERANCE,
                  "completeness error allowed, as a fraction of |F(input) - F(baseline)|: "
                  "a larger one is warned about (or, with max_steps, met by more steps)",
                  0.0, 1.0),
        Parameter("max_steps", "int", 0, "0: exactly `steps`; else double the steps until "
                  "the completeness error is within tolerance, up to this many", 0, 65536),
        batch_size_parameter("path points per gradient call"),
    ),
    channel_reduction="sum over colour channels, so that the map adds up to "
                      "F(input) - F(baseline) (completeness, Sundararajan et al. 2017, "
                      "section 3)",
)
def integrated_gradients_method(context, target, params, progress, should_stop):
    return integrated_gradients_batch([context], target, params, progress, should_stop)[0]


@batched(integrated_gradients_method)
def integrated_gradients_batch(contexts, target, params, progress, should_stop):
    """Integrated gradients of every context's image: the path points of all the images
    in one stream of gradient calls, each image from its own baseline for its own class."""
    context = contexts[0]
    x, _, indices, targets = resolve_objectives(contexts, target)
    baselines = np.stack([baseline_input(each.image, params["baseline"]) for each in contexts])
    attributions, scores, baseline_scores, steps_used, outputs = refined_integrated_gradients(
        context.model, x, baselines, indices, params["steps"], params["max_steps"],
        params["tolerance"], params["batch_size"], output_index=context.output_index,
        device=context.device, progress=progress, should_stop=should_stop)
    keep_outputs(contexts, outputs)  # the path's last point is the image itself
    return [_result(*each, params) for each in zip(
        contexts, targets, attributions, scores, baseline_scores, steps_used)]


def _result(context, target, attribution, score, baseline_score, steps, params):
    """One image's map, with its completeness error in the title and ``info``."""
    steps = int(steps)
    change = score - baseline_score
    delta = float(attribution.sum(dtype=np.float64) - change)
    error = abs(delta) / abs(change) if change else (0.0 if delta == 0 else np.inf)
    return heatmap_result(
        context, target, attribution,
        detail=f"{params['baseline']} baseline, {steps} steps, completeness error {error:.1%}",
        reduction=REDUCTION,
        warnings=completeness_warnings(delta, change, error, steps, params),
        completeness_delta=delta, completeness_error=error, steps_used=steps,
        score=float(score), baseline_score=float(baseline_score))


def completeness_warnings(delta: float, change: float, error: float, steps: int,
                          params: dict) -> list[str]:
    """A warning when the attributions miss F(input) - F(baseline) by more than the
    tolerance (an integral that ``steps`` points approximate too coarsely)."""
    if error <= params["tolerance"]:
        return []
    advice = ("max_steps reached" if params["max_steps"] else
              "raise steps, or set max_steps to add steps until the tolerance is met")
    return [f"the attributions add up to {change + delta:.4g}, not to F(input) - F(baseline) "
            f"= {change:.4g}: completeness error {error:.0%} at {steps} steps, above the "
            f"tolerance {params['tolerance']:.0%}; {advice}"]
