"""Trace a model's functions before the first method asks for them.

The first run of a method on a model traces its ``tf.function`` (the graph walker run
layer by layer in Python) and runs it once (TensorFlow optimises the graph, oneDNN
creates its kernels): on MobileNetV2 224x224 on two CPU cores, 1.5-2 s per function
against 0.03-0.07 s per call after. :func:`warm_up` pays that before the first tile: call
it in a background thread as soon as a model (and its image size) is known, while the user
reads the model's summary. Every later run of a method whose functions it warmed traces
nothing (``tests/core/test_tracing.py`` counts the traces), so the first tile costs what
every later one does.

The functions are the ones the methods look up in the model's cache (``core.tf_ops``):
with the same ``output_index`` and ``device`` as the methods' runs, they are the same
objects. Each is traced once for any batch size (``tf_ops.BatchFreeFunction``), so the
batched methods (integrated gradients, SmoothGrad, occlusion) reuse them too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import keras
import tensorflow as tf

from . import tf_ops
from .errors import Cancelled, MethodNotApplicableError
from .layers import LayerTree
from .models import input_shape

#: What :func:`warm_up` prepares, in this order (the first tiles' needs first):
#:
#: * ``forward``: the class scores (the top class of an image, predictions, activations);
#: * ``gradient``: the input gradient (saliency, integrated gradients, SmoothGrad);
#: * ``layer-gradient``: the default layer's activations and gradient (Grad-CAM, Grad-CAM++);
#: * ``guided``: the guided input gradient (guided backpropagation);
#: * ``probability``: the model's output per image (occlusion, Score-CAM's masked images).
STEPS = ("forward", "gradient", "layer-gradient", "guided", "probability")


@dataclass
class WarmUp:
    """What :func:`warm_up` did: seconds per step, in the order they ran."""

    seconds: dict[str, float]
    image_size: tuple[int, int]
    layer: str | None  # the class activation maps' default layer, None where there is none

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def warm_up(model: keras.Model, image_size: tuple[int, ...] | None = None, *,
            output_index: int = 0, device: str = "auto", steps: Iterable[str] = STEPS,
            should_stop: Callable[[], bool] | None = None) -> WarmUp:
    """Trace and run once each function that ``steps`` name (:data:`STEPS`) for images of
    ``image_size`` (height, width[, channels]: the preprocessed image the methods will see;
    default: the model's own input size).

    ``output_index`` and ``device`` must be those the methods will run with (their cache
    keys). ``should_stop`` is asked before each step: a ``True`` raises
    :class:`~dial_visualization.core.errors.Cancelled` (the steps done stay done). Safe to
    run in a background thread while methods run in another: a method that needs a
    function being traced waits for that trace instead of tracing it again. A model that
    takes any input size needs ``image_size``.
    """
    steps = tuple(steps)
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise ValueError(f"unknown warm-up step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    height, width, channels = input_shape(model)
    if image_size is not None:
        height, width = image_size[:2]
    if height is None or width is None:
        raise MethodNotApplicableError(
            f"model {model.name!r} takes images of any size: warm_up needs image_size")
    x = tf.zeros((1, height, width, channels), tf.float32)
    index = tf.constant([0], tf.int32)
    node = LayerTree.of(model).last_feature_map()
    layer = node.path if node is not None else None

    def forward():
        tf_ops.layer_output_function(model, (), output_index=output_index, device=device)(x)

    def gradient():
        tf_ops.input_gradient_function(model, output_index=output_index, device=device)(x, index)

    def layer_gradient():
        if layer is not None:
            tf_ops.layer_gradient_function(model, layer, output_index=output_index,
                                           device=device)(x, index)

    def guided():
        from .methods.guided_backprop import guided_gradient_function

        guided_gradient_function(model, output_index=output_index, device=device)(x, index)

    def probability():
        tf_ops.score_function(model, output_index=output_index, logits=False,
                              device=device)(x, index)

    run = {"forward": forward, "gradient": gradient, "layer-gradient": layer_gradient,
           "guided": guided, "probability": probability}
    seconds = {}
    with tf_ops.device_scope(device):
        for step in steps:
            if should_stop is not None and should_stop():
                raise Cancelled("cancelled")
            start = time.perf_counter()
            run[step]()
            seconds[step] = time.perf_counter() - start
    return WarmUp(seconds, (int(height), int(width)), layer)
