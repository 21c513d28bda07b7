"""Activation maximization: the input that most excites a channel or a class, by gradient
ascent from noise (Erhan, Bengio, Courville & Vincent 2009, "Visualizing Higher-Layer
Features of a Deep Network").

Parameterisation and regularisation follow Olah, Mordvintsev & Schubert 2017, "Feature
Visualization" (Distill; the Lucid library): a decorrelated-colour Fourier image, and
optional random jitter and rescaling every step (transformation robustness), blur, total
variation and L2 penalties. Adam ascends ``objective - penalties``; several channels are
optimised together as one batch, each from its own noise seeded by ``(seed, channel)``.

The objective of the image at every recorded frame is kept (``info["objective_per_frame"]``
at ``info["frame_steps"]``), and the result warns when an objective ended below its start
or never moved (a unit whose gradient is zero at the start image).

Defaults: Lucid's learning rate 0.05 with 4-pixel jitter and 5% rescaling let the
objective of the image fall over the first steps on many ``keras.applications`` families
(random weights, calibrated normalisation, 96-128 pixels; after 8 steps ResNet50's top
logit 3.19 -> 3.12, MobileNetV2's 1.46 -> 1.42; NASNetMobile's 1.25 -> 0.31 after 64):
the ascent maximises the objective of shifted and rescaled copies, not of the image
itself, and 0.05 overshoots early (without the transformations ResNet50 still dips for 2
steps, InceptionV3 for 8). At 0.01 without them, the class logit and a channel of the last
feature map rise on all 14 families from step 2 on (step 1 dips on two of the 28 targets,
by at most 6%), except ResNet50V2, whose gradient is exactly zero at the grey start image
(the result says so). The price is a slower climb: after 256 steps ResNet50's logit is 69
against 859, NASNetMobile's 44 against 64, VGG16's 1.64 against 1.30.
Transformation robustness stays one parameter away (``jitter``, ``scale``).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from ..attribution import ALL_CHANNELS
from ..context import Context, Target
from ..errors import Cancelled, MethodNotApplicableError, ParameterError
from ..handlers import builtin_handler
from ..layers import LayerTree
from ..models import input_shape
from ..preprocessing import PRESETS, resolve
from ..registry import NodeType, Parameter, method
from ..result import Result
from ..tf_ops import objective, traced
from ..walker import forward, get_layer, select
from ._image_parameterization import PARAMETERIZATIONS
from ._transformation_robustness import jitter_and_scale, random_transforms, total_variation

ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-8

#: Steps run in one traced call last about this long (by the last measured step time), so
#: that a cancel waits at most about this long while few steps pay a Python round trip.
CHUNK_SECONDS = 0.25

#: The parameters that weigh a regulariser: 0 turns it off.
REGULARIZERS = ("total_variation", "l2", "blur")

#: Image size for models that accept any size, when ``size`` is 0.
FREE_MODEL_SIZE = 128

#: The largest weight of a penalty. A penalty is at most 2 (total variation of a [0, 1]
#: image) and a logit tens: a weight of 1000 already leaves the objective no say, and
#: larger ones only bring the ascent nearer to overflowing float32 (NaN images).
MAX_PENALTY_WEIGHT = 1000.0

#: A step cannot be interrupted: a cancel waits for the one running. Sizes whose step is
#: estimated to take longer than this are refused (see :func:`_check_step_time`), rather
#: than capped: a smaller image than asked for would be a silent change.
MAX_STEP_SECONDS = 2.0


@method(
    id="activation-maximization", name="Activation maximization",
    node_types={NodeType.OUTPUT, NodeType.PREDICTION},
    description="Gradient ascent from noise to the image that most activates a channel "
                "(or the mean of a layer's channels) or a class logit.",
    reference="Erhan et al. 2009, Visualizing Higher-Layer Features of a Deep Network; "
              "Olah et al. 2017, Feature Visualization, Distill",
    parameters=(
        Parameter("steps", "int", 256, "gradient ascent iterations", 1, 10000),
        Parameter("learning_rate", "float", 0.01, "Adam's step size", 1e-5, 10.0),
        Parameter("size", "int", 0, "image size to optimise; 0 = the model's input size "
                  "(only models that accept any size take another)", 0, 4096),
        Parameter("seed", "int", 0, "random seed of the initial noise and the jitter", 0,
                  2 ** 31 - 1),
        Parameter("jitter", "int", 0, "random shift of the image each step, in pixels", 0, 256),
        Parameter("scale", "float", 0.0, "random rescale each step by up to this fraction",
                  0.0, 0.5),
        Parameter("blur", "float", 0.0, "Gaussian blur (sigma, pixels) after every step; "
                  "0 = off", 0.0, 32.0),
        Parameter("total_variation", "float", 0.0, "weight of the total variation penalty "
                  "(mean absolute neighbour difference of the [0, 1] image)", 0.0,
                  MAX_PENALTY_WEIGHT),
        Parameter("l2", "float", 0.0, "weight of the L2 penalty (mean squared distance of "
                  "the [0, 1] image from mid-grey)", 0.0, MAX_PENALTY_WEIGHT),
        Parameter("parameterization", "choice", "fourier", "pixel: plain pixels; fourier: "
                  "decorrelated colour and 1/f-scaled spectrum (Lucid)",
                  choices=("pixel", "fourier")),
        Parameter("frame_every", "int", 16, "record every k-th iteration as an animation "
                  "frame", 1, 10000),
        Parameter("channels", "str", "", "comma-separated channel (or class) indices to "
                  "optimise together, e.g. 0,1,2,3; empty = the selected node"),
    ),
)
def activation_maximization(context, target, params, progress, should_stop):
    target = builtin_handler(target.node_type).resolve(target, context)
    indices = _indices(context, target, params["channels"])
    shape = _image_shape(context, params["size"])
    preprocessing = _preprocessing(context)
    _check_step_time(context, target, params, preprocessing, shape, indices)
    image, render, ascend = _functions(context, target, params, preprocessing, shape,
                                       len(indices))
    index = tf.constant(indices, tf.int32)
    variables, moments, transforms, hyper = _start(image, indices, params, params["steps"])
    pixels, value = render(variables, index)
    frames, objectives, frame_steps = [pixels], [value], [0]
    done, seconds_per_step = 0, None
    while done < params["steps"]:
        if should_stop():
            raise Cancelled("activation maximization stopped")
        count = _chunk(done, params["steps"], params["frame_every"], seconds_per_step)
        began = time.perf_counter()
        variables, *moments = ascend(variables, *moments, transforms, tf.constant(done),
                                     tf.constant(count), index, *hyper)
        seconds_per_step = (time.perf_counter() - began) / count
        done += count
        if done % params["frame_every"] == 0 or done == params["steps"]:
            pixels, value = render(variables, index)
            _check_finite(pixels, value, done)
            frames.append(pixels)
            objectives.append(value)
            frame_steps.append(done)
        progress(done / params["steps"])
    result = _result(context, target, indices, np.stack(frames), np.stack(objectives),
                     frame_steps, params)
    result.info["preprocessing"] = preprocessing
    return result


def _preprocessing(context: Context) -> str:
    """The loaded image's preprocessing, else the loader's choice (see core.preprocessing);
    a preset, which the ascent differentiates through."""
    preprocessing = (context.image.preprocessing if context.image
                     else resolve(None, context.model).name)
    if preprocessing not in PRESETS:
        raise MethodNotApplicableError(
            f"activation maximization needs a preset preprocessing ({', '.join(PRESETS)}),"
            f" not {preprocessing!r}")
    return preprocessing


def _functions(context: Context, target: Target, params: dict, preprocessing: str,
               shape: tuple[int, int, int], batch: int):
    """The image parameterisation and the traced ``render(variables, index) -> (pixels,
    objective)`` and ``ascend`` for ``batch`` images of ``shape`` (height, width, channels)."""
    model = context.model
    height, width, channels = shape
    image = PARAMETERIZATIONS[params["parameterization"]](height, width, channels)
    key = (target.layer, context.output_index, params["parameterization"], (height, width),
           batch, preprocessing, context.device)
    score = _score(model, target.layer, context.output_index, PRESETS[preprocessing])
    render = traced(model, ("activation-maximization-render",) + key,
                    lambda: _render_function(image, score))
    regularizers = tuple(name for name in REGULARIZERS if params[name] > 0)  # traced: the rest
    ascend = traced(model, ("activation-maximization-ascend", regularizers) + key,
                    lambda: _ascend_function(image, score, regularizers))
    return image, render, ascend


def _start(image, indices: list[int], params: dict, steps: int):
    """(variables, Adam's two moments, per-step transforms, hyper-parameters) at step 0.

    Each sample's noise depends on (seed, its index) only: batched runs equal single ones.
    """
    variables = tf.constant(np.stack([image.initial(np.random.default_rng(
        [params["seed"], i - ALL_CHANNELS])) for i in indices]))
    moments = (tf.zeros_like(variables), tf.zeros_like(variables))
    transforms = tf.constant(random_transforms(steps, params["jitter"], params["scale"],
                                         params["seed"]))
    hyper = [tf.constant(params[name], tf.float32)
             for name in ("learning_rate", "total_variation", "l2", "blur")]
    return variables, moments, transforms, hyper


def _check_step_time(context: Context, target: Target, params: dict, preprocessing: str,
                     shape: tuple[int, int, int], indices: list[int]) -> None:
    """Refuse an image size whose one step would take longer than ``MAX_STEP_SECONDS``.

    A traced step cannot be interrupted, so it bounds how long a cancel (closing the
    window) waits: one step of MobileNetV2 (any-size, untrained) takes 0.017 s at 128x128,
    0.97 s at 1024x1024 and 4.8 s at 2048x2048 on 2 CPU cores. Sizes up to twice
    ``FREE_MODEL_SIZE`` pass unchecked; above, one step at ``FREE_MODEL_SIZE`` is timed
    (its trace is the one a run at that size uses) and scaled by the number of pixels, as
    a convolutional network's work grows with them. Large images also cost more per pixel
    (memory traffic): at 2048x2048 the estimate was 8% low for MobileNetV2 and 1.5 times
    low for a two-layer network, so a step may last up to about twice the limit.
    """
    height, width, channels = shape
    if height * width <= (2 * FREE_MODEL_SIZE) ** 2:
        return
    probe = (FREE_MODEL_SIZE, FREE_MODEL_SIZE, channels)
    image, _, ascend = _functions(context, target, params, preprocessing, probe, len(indices))
    variables, moments, transforms, hyper = _start(image, indices, params, 1)
    arguments = (variables, *moments, transforms, tf.constant(0), tf.constant(1),
                 tf.constant(indices, tf.int32), *hyper)
    ascend(*arguments)  # traces
    began = time.perf_counter()
    ascend(*arguments)
    probed = time.perf_counter() - began
    seconds = probed * height * width / FREE_MODEL_SIZE ** 2
    if seconds > MAX_STEP_SECONDS:
        largest = int(FREE_MODEL_SIZE * np.sqrt(MAX_STEP_SECONDS / probed))
        raise ParameterError(
            f"size: one step at {height}x{width} would take about {seconds:.0f} s here "
            f"({probed:.2f} s at {FREE_MODEL_SIZE}x{FREE_MODEL_SIZE}), and a step cannot "
            f"be stopped once it runs; choose a size up to about {largest}")


def _check_finite(pixels, value, step: int) -> None:
    """Refuse to go on from an image or objective that is no longer a number."""
    if not (np.all(np.isfinite(np.asarray(pixels))) and np.all(np.isfinite(np.asarray(value)))):
        raise MethodNotApplicableError(
            f"activation maximization diverged by step {step}: the image or its objective "
            "is no longer finite; lower learning_rate or the penalty weights")


def _indices(context: Context, target: Target, text: str) -> list[int]:
    """The channels (or classes) to optimise: ``text`` parsed, else the target's index."""
    if text.strip():
        try:
            indices = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            indices = []
        if not indices:
            raise ParameterError(f"channels: expected indices like 0,1,2, got {text!r}")
    else:
        indices = [ALL_CHANNELS if target.index is None else target.index]
    if target.layer is None:
        count, what = context.model.outputs[context.output_index].shape[-1], "classes"
    else:
        get_layer(context.model, target.layer)  # a clear error for a misspelt layer
        count = LayerTree.of(context.model)[target.layer].channels
        what = f"channels in {target.layer}"
    lowest = ALL_CHANNELS if target.layer is not None else 0
    wrong = [i for i in indices if not lowest <= i < count]
    if wrong:
        raise ParameterError(f"index {wrong[0]} is out of range: there are {count} {what}")
    return indices


def _image_shape(context: Context, size: int) -> tuple[int, int, int]:
    height, width, channels = input_shape(context.model)
    if channels not in (1, 3):
        raise MethodNotApplicableError(
            f"activation maximization draws grey or RGB inputs, not {channels} channels")
    if height and width:
        if size and (size, size) != (height, width):
            raise ParameterError(f"size: the model takes {height}x{width} images only")
        return height, width, channels
    return size or FREE_MODEL_SIZE, size or FREE_MODEL_SIZE, channels


def _score(model, layer: str | None, output_index: int, preprocess):
    """``score(pixels in [0, 255], index) -> (B,)``: the channel's mean or the class logit."""

    def score(pixels, index):
        outputs, taps = forward(model, preprocess(pixels), taps=[layer] if layer else [],
                                logits_of=None if layer else output_index)
        return objective(taps[layer] if layer else select(outputs, output_index), index)

    return score


def _render_function(image, score):
    def render(variables, index):
        pixels = 255.0 * image.unit_image(variables)
        return pixels, score(pixels, index)

    return render


def _step_function(image, score, regularizers: tuple[str, ...]):
    """One Adam ascent step on ``score - penalties`` of the jittered, rescaled image.

    Only the ``regularizers`` named are computed (the others have weight 0).
    """

    def step(variables, first_moment, second_moment, iteration, index, transform,
             learning_rate, total_variation_weight, l2_weight, sigma):
        with tf.GradientTape() as tape:
            tape.watch(variables)
            unit = image.unit_image(variables)
            gain = score(255.0 * jitter_and_scale(unit, transform), index)
            if "total_variation" in regularizers:
                gain -= total_variation_weight * total_variation(unit)
            if "l2" in regularizers:
                gain -= l2_weight * tf.reduce_mean(tf.square(unit - 0.5), axis=(1, 2, 3))
            gain = tf.reduce_sum(gain)
        gradient = tape.gradient(gain, variables)
        first_moment = ADAM_BETA_1 * first_moment + (1 - ADAM_BETA_1) * gradient
        second_moment = ADAM_BETA_2 * second_moment + (1 - ADAM_BETA_2) * tf.square(gradient)
        ascent = (first_moment / (1 - ADAM_BETA_1 ** iteration)) / (
            tf.sqrt(second_moment / (1 - ADAM_BETA_2 ** iteration)) + ADAM_EPSILON)
        variables = variables + learning_rate * ascent
        if "blur" in regularizers:
            variables = image.blur(variables, sigma)
        return variables, first_moment, second_moment

    return step


def _ascend_function(image, score, regularizers: tuple[str, ...]):
    """``count`` Adam steps from iteration ``done`` in one traced loop (no Python per step)."""
    step = _step_function(image, score, regularizers)

    def ascend(variables, first_moment, second_moment, transforms, done, count, index,
               *hyper):
        def body(k, variables, first_moment, second_moment):
            iteration = tf.cast(done + k + 1, tf.float32)
            return (k + 1, *step(variables, first_moment, second_moment, iteration, index,
                                 transforms[done + k], *hyper))

        _, *state = tf.while_loop(lambda k, *_: k < count, body,
                                  (tf.constant(0), variables, first_moment, second_moment))
        return state

    return ascend


def _chunk(done: int, steps: int, frame_every: int, seconds_per_step: float | None) -> int:
    """Steps for the next traced call: about ``CHUNK_SECONDS``, up to the next frame."""
    next_frame = min((done // frame_every + 1) * frame_every, steps)
    wanted = 1 if seconds_per_step is None else int(CHUNK_SECONDS / max(seconds_per_step, 1e-6))
    return max(1, min(wanted, next_frame - done))


def _result(context, target, indices, frames, objectives, frame_steps, params) -> Result:
    """The last frame's images, every frame, and the objective of each frame (frames,
    images): ``info["objective_per_frame"]`` with ``info["frame_steps"]``, the step of each."""
    rgb = frames.shape[-1] == 3
    if not rgb:  # grey: (N, H, W)
        frames = frames[..., 0]
    names = [Target(target.node_type, target.layer, None if i == ALL_CHANNELS else i)
             .describe(context.labels) for i in indices]
    if len(indices) == 1:
        described = names[0]
    else:
        described = (f"{target.layer} channels" if target.layer else "classes") + \
            f" {', '.join(map(str, indices))}"
    objectives = np.asarray(objectives, np.float64)
    return Result(
        title=described,
        kind="grid", data=frames[-1], target=target, frames=frames, labels=context.labels,
        warnings=_objective_warnings(names, frames, objectives, params),
        info={"rgb": rgb, "channels": indices,
              "objective_start": objectives[0].tolist(),
              "objective_end": objectives[-1].tolist(),
              "objective_per_frame": objectives.tolist(), "frame_steps": list(frame_steps)})


def _objective_warnings(names: list[str], frames: np.ndarray, objectives: np.ndarray,
                        params: dict) -> list[str]:
    """Per optimised image (``names``): why its objective did not rise, if it did not.

    An objective that never moves (up to float rounding) has a zero gradient at the start
    image (the image does not change either: Adam's step is 0), or does not depend on the
    image at all.
    """
    steps, warnings = f"{params['steps']} step" + "s" * (params["steps"] != 1), []
    advice = "lower the learning_rate" + (
        " or the jitter and scale (the ascent raises the objective of shifted, rescaled "
        "copies)" if params["jitter"] or params["scale"] else "")
    for position, name in enumerate(names):
        values = objectives[:, position]
        if np.ptp(values) <= 1e-6 * max(1.0, float(np.abs(values).max())):
            why = ("its gradient is zero at the start image (every path from the image to it "
                   "passes a unit that is off, as a ReLU below 0), so the ascent cannot move"
                   if np.array_equal(frames[0][position], frames[-1][position])
                   else "it gives the same value for every image the ascent tried")
            warnings.append(f"{name}: the objective stayed at {values[0]:.3g} for {steps}: "
                            f"{why}")
        elif values[-1] < values[0]:
            warnings.append(f"{name}: the objective fell from {values[0]:.3g} to "
                            f"{values[-1]:.3g} in {steps}; {advice}")
    return warnings
