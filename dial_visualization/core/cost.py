"""What a run will cost before it starts: how many images it passes through the model, and
about how many seconds that takes here.

A run's model calls follow from its method's own parameters: occlusion hides one patch per
window (the windows of ``occlusion.window_starts``), integrated gradients evaluates its path
points, SmoothGrad and expected gradients their samples, Score-CAM one masked image per
channel of its layer, RISE one per mask, LIME one per sample, activation maximization one
gradient step per image and iteration. Maps of one gradient (saliency, Grad-CAM, ...) take
one call. The seconds come from timing the model on the image
(:func:`seconds_per_input`: a batch through the traced score function that occlusion and
RISE use, the first call tracing it), a gradient pass counted as :data:`GRADIENT_COST`
forward passes. A class's run adds the model's output on the image (the class score in its
title, the top class), except where the method's one gradient pass returns it
(:data:`ONE_PASS`) and for integrated gradients of a given class (the path ends at the
image). The estimate is an order of magnitude for a warning, not a promise: the
batch sizes the methods tune may run faster.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .context import NodeType
from .explain import RunRequest
from .models import input_shape

#: A forward and backward pass, in forward passes (the backward pass costs about twice the
#: forward one).
GRADIENT_COST = 3.0
#: Images per timed batch in :func:`seconds_per_input`.
TIMING_BATCH = 8
#: Maps of one gradient pass, which returns the model's output too (``attribution.gradient_pass``).
ONE_PASS = ("saliency", "grad-cam", "grad-cam-plus-plus", "guided-backprop", "deconvnet",
            "gradient-x-input")
#: Runs estimated to take longer than this many seconds are confirmed first (the GUI).
WARN_SECONDS = 20.0


@dataclass(frozen=True)
class Cost:
    """``calls`` images through the model, ``gradient_calls`` of them with a backward pass."""

    calls: int
    gradient_calls: int = 0

    def seconds(self, seconds_per_input: float) -> float:
        """The estimated seconds at ``seconds_per_input`` per forward pass of one image."""
        forward = self.calls - self.gradient_calls
        return (forward + self.gradient_calls * GRADIENT_COST) * seconds_per_input

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.calls + other.calls, self.gradient_calls + other.gradient_calls)


def _forward(calls: int) -> Cost:
    return Cost(calls, 0)


def _gradient(calls: int) -> Cost:
    return Cost(calls, calls)


def _image_size(model, size: tuple[int, int] | None) -> tuple[int, int]:
    height, width, _ = input_shape(model)
    if height and width:
        return height, width
    if size is None:
        raise ValueError("the model takes any input size: give the image's (height, width)")
    return int(size[0]), int(size[1])


def _occlusion_calls(params: dict, height: int, width: int) -> int:
    from .methods.occlusion import window_starts

    rows = window_starts(height, min(params["patch"], height), params["stride"])
    columns = window_starts(width, min(params["patch"], width), params["stride"])
    return len(rows) * len(columns)


def _integrated_gradients_points(params: dict) -> int:
    steps, most = params["steps"], params.get("max_steps", 0)
    while 2 * steps <= most:  # the doublings up to max_steps (each adds the midpoints)
        steps *= 2
    return steps + 1


def _score_cam_calls(params: dict, model) -> int:
    from .layers import LayerTree
    from .methods._cam import target_layer

    channels = LayerTree.of(model)[target_layer(model, params["layer"])].channels or 0
    top_n = params.get("top_n", 0)
    return min(top_n, channels) if top_n else channels


def _activation_maximization_calls(params: dict) -> int:
    text = params.get("channels", "")
    images = len([p for p in text.split(",") if p.strip()]) or 1
    return params["steps"] * images


def estimated_cost(request: RunRequest, model, size: tuple[int, int] | None = None
                   ) -> Cost | None:
    """The model calls of ``request`` on ``model`` (``size``: the image's (height, width),
    needed for a model that takes any size); None for methods this module does not know
    (plugins) and for runs that call no model (a layer's kernels). A class's run adds one
    forward pass: the model's output on the image (``Context.outputs``), which gives the
    class score in its title and, when it explains "the top class", that class; a map of
    one gradient pass (:data:`ONE_PASS`) has it from that pass, integrated gradients of a
    given class from their path's last point, the image."""
    cost = _method_cost(request, model, size)
    if cost is None or request.target.node_type is not NodeType.PREDICTION:
        return cost
    method = request.method.id
    if method in ("predictions", "activation-maximization") + ONE_PASS or (
            method == "integrated-gradients" and request.target.index is not None):
        return cost
    return cost + _forward(1)  # the output on the image: the class score (and the top class)


def _method_cost(request: RunRequest, model, size) -> Cost | None:
    params, method = request.params, request.method.id
    if request.target.node_type is NodeType.KERNEL:
        return None
    if method == "occlusion":  # the windows and the unoccluded image
        return _forward(_occlusion_calls(params, *_image_size(model, size)) + 1)
    if method == "integrated-gradients":
        return _gradient(_integrated_gradients_points(params))
    if method == "smoothgrad":
        from .methods.integrated_gradients import DEFAULT_STEPS

        per_sample = DEFAULT_STEPS + 1 if params["base"] == "integrated-gradients" else 1
        return _gradient(params["samples"] * per_sample)
    if method == "expected-gradients":  # a gradient per sample, the scores of its baseline
        return _gradient(params["samples"]) + _forward(params["samples"] + 1)
    if method == "score-cam":  # the layer's maps, then one masked image per channel
        return _forward(_score_cam_calls(params, model) + 1)
    if method == "rise":
        return _forward(params["masks"])
    if method == "lime":
        return _forward(params["samples"])
    if method == "activation-maximization":
        return _gradient(_activation_maximization_calls(params))
    if method in ("predictions", "activations"):
        return _forward(1)
    if method in ONE_PASS:
        return _gradient(1)
    return None


def estimated_model_calls(request: RunRequest, model,
                          size: tuple[int, int] | None = None) -> int | None:
    """How many images ``request`` passes through ``model`` (see :func:`estimated_cost`)."""
    cost = estimated_cost(request, model, size)
    return None if cost is None else cost.calls


def seconds_per_input(model, x: np.ndarray, output_index: int = 0,
                      device: str = "auto") -> float:
    """Seconds of one forward pass of one image like ``x`` (a batch of one, or an image):
    a batch of :data:`TIMING_BATCH` copies through the traced score function, timed after
    the call that traces it. Takes a second or more on a large model: not on a GUI thread."""
    import tensorflow as tf

    from .tf_ops import score_function

    x = np.asarray(x, np.float32)
    x = x if x.ndim == 4 else x[np.newaxis]
    batch = tf.constant(np.repeat(x[:1], TIMING_BATCH, axis=0))
    index = tf.constant([0])
    score = score_function(model, output_index=output_index, logits=False, device=device)
    np.asarray(score(batch, index))  # traces
    began = time.perf_counter()
    np.asarray(score(batch, index))
    return (time.perf_counter() - began) / TIMING_BATCH


def describe_seconds(seconds: float) -> str:
    """"about 40 s", "about 3.5 minutes", "about 2 hours"."""
    if seconds < 90:
        return f"about {max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"about {seconds / 60:.1f} minutes"
    return f"about {seconds / 3600:.1f} hours"
