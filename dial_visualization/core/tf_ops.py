"""Shared TensorFlow mechanics: devices, traced functions cached per model, batching.

The functions here run the model through the graph walker (:mod:`.walker`). Traced
``tf.function``s are cached per (model, purpose, device) with a batch dimension of ``None``
(:class:`BatchFreeFunction`): one trace per model and input size, whatever the class, the
image or the batch size, reused by every later run and shared by the methods that need the
same graph (saliency, integrated gradients and SmoothGrad one input gradient; Grad-CAM and
Grad-CAM++ one layer gradient). :func:`tracing_count` counts the traces;
``core.warm_up`` makes them before the first method asks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from .batch_size import BatchSizeTuner, memory_limit
from .errors import Cancelled, MethodNotApplicableError
from .models import input_shape
from .walker import forward, select, squashing


# --------------------------------------------------------------------------- devices

def gpu_available() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def device_scope(device: str = "auto"):
    """``with device_scope("cpu"|"gpu"|"auto"):`` places TensorFlow work."""
    if device == "auto":
        return contextlib.nullcontext()
    if device == "gpu" and not gpu_available():
        raise MethodNotApplicableError(
            "no GPU is visible to TensorFlow (install tensorflow[and-cuda] on a CUDA machine)")
    if device not in ("cpu", "gpu"):
        raise MethodNotApplicableError(f"unknown device {device!r}: use auto, cpu or gpu")
    return tf.device("/GPU:0" if device == "gpu" else "/CPU:0")


# --------------------------------------------------------------------------- per-model cache
# traced functions, and the batch size tuners of the batched methods. They live on the model
# object itself: a traced function holds its model, so a cache keyed weakly on the model
# (a WeakKeyDictionary) kept every model ever used alive; on the model, the two form a cycle
# that the garbage collector frees with the model.

_CACHE_ATTRIBUTE = "_dial_visualization_cache"
_cache_lock = threading.RLock()  # a build may read the cache (a layer tree)


def model_cache(model: keras.Model) -> dict:
    """What is cached for ``model``, by key (the model's own dictionary of it)."""
    with _cache_lock:
        cache = vars(model).get(_CACHE_ATTRIBUTE)
        if cache is None:
            cache = {}
            object.__setattr__(model, _CACHE_ATTRIBUTE, cache)  # not a tracked Keras attribute
        return cache


def _cached(model: keras.Model, key: tuple, build: Callable[[], object]):
    per_model = model_cache(model)
    with _cache_lock:
        if key not in per_model:
            per_model[key] = build()
        return per_model[key]


def traced(model: keras.Model, key: tuple, build: Callable[[], Callable], *,
           batch_free: bool = False) -> Callable:
    """The function ``build()`` makes for ``(model, key)``, wrapped in ``tf.function`` once.

    Without AutoGraph: the functions here branch on Python values only, and AutoGraph's
    conversion of the graph walker was half the time of a trace (MobileNetV2: 1.9 s -> 0.9 s).
    ``batch_free``: every argument is a tensor whose first axis is the batch, and the first
    call traces for any batch size (:class:`BatchFreeFunction`).
    """
    def wrap():
        function = tf.function(build(), reduce_retracing=True, autograph=False)
        return BatchFreeFunction(function) if batch_free else function

    return _cached(model, key, wrap)


class BatchFreeFunction:
    """A ``tf.function`` traced with the batch axis of every argument left free (None).

    A plain ``tf.function`` traces once for the first batch size and again for the second
    (then it relaxes the shape): a method at batch 1 (saliency) and one at batch 4
    (integrated gradients) cost two traces. Here each argument's shape is relaxed to
    ``(None, ...)`` before the first trace, so one trace per input size serves every batch
    size; ``tracing_count`` says how many traces were made.
    """

    def __init__(self, function):
        self.function = function
        self._signatures: set = set()

    @staticmethod
    def _spec(value):
        if isinstance(value, (tf.Tensor, np.ndarray)) and len(value.shape) >= 1:
            return tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype))
        return None

    def __call__(self, *args):
        specs = tuple(self._spec(value) for value in args)
        if None not in specs and specs not in self._signatures:
            self.function.get_concrete_function(*specs)
            self._signatures.add(specs)
        return self.function(*args)

    @property
    def tracing_count(self) -> int:
        return self.function.experimental_get_tracing_count()


def tracing_count(model: keras.Model) -> int:
    """How many traces the functions cached for ``model`` have made so far."""
    with _cache_lock:
        functions = list(vars(model).get(_CACHE_ATTRIBUTE, {}).values())
    count = 0
    for function in functions:
        if isinstance(function, BatchFreeFunction):
            count += function.tracing_count
        elif hasattr(function, "experimental_get_tracing_count"):
            count += function.experimental_get_tracing_count()
    return count


def forget(model: keras.Model) -> None:
    """Drop what is cached for ``model``: traced functions (the next call traces again) and
    measured batch sizes."""
    with _cache_lock:
        vars(model).pop(_CACHE_ATTRIBUTE, None)


def objective(values: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Per sample: class/channel ``index[i]`` of ``values``, or their mean where it is -1.

    Spatial maps are averaged over height and width first.
    """
    if values.shape.rank > 2:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank - 1)))
    index = _per_sample(index, values)
    chosen = tf.gather(values, tf.maximum(index, 0), axis=-1, batch_dims=1)
    return tf.where(index >= 0, chosen, tf.reduce_mean(values, axis=-1))


#: The class index that means "the class with the largest output on each image": a gradient
#: function picks it inside its own pass (:func:`top_class`).
TOP_CLASS = -2


def top_class(outputs: tf.Tensor) -> tf.Tensor:
    """Per sample, the index of the largest of its flattened ``outputs`` (B, N); the first
    of tied ones, as ``np.argmax`` ranks them (``tf.argmax`` does not promise which)."""
    count = tf.shape(outputs)[1]
    is_top = outputs == tf.reduce_max(outputs, axis=1, keepdims=True)
    first = tf.reduce_min(tf.where(is_top, tf.range(count), count), axis=1)
    return tf.minimum(first, count - 1)  # a row of NaN: its map is refused as not finite


def _per_sample(index: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """``index`` (one, or one per sample) as one int32 per sample of ``values``."""
    return tf.cast(tf.reshape(index, [-1]) * tf.ones([tf.shape(values)[0]], tf.int32), tf.int32)


def _class_objective(model, outputs, output_index: int, index: tf.Tensor, logits: bool):
    """(class ``index`` of output ``output_index`` per sample (logits unless ``logits`` is
    False), the output flattened (B, N)): the model's own output, its softmax/sigmoid
    included, whose largest value gives the class where ``index`` is :data:`TOP_CLASS`."""
    values = select(outputs, output_index)
    squash = squashing(model, output_index) if logits else None
    explained = squash(values) if squash is not None else values
    explained = tf.reshape(explained, [tf.shape(values)[0], -1])
    index = _per_sample(index, values)
    index = tf.where(index == TOP_CLASS, top_class(explained), index)
    return objective(values, index), explained


def _no_outputs(x: tf.Tensor) -> tf.Tensor:
    """The (B, 0) outputs of a layer's objective: the rest of the model is not run."""
    return tf.zeros([tf.shape(x)[0], 0])


def score_function(model, *, layer: str | None = None, output_index: int = 0,
                   logits: bool = True, device: str = "auto"):
    """``f(x, index) -> (B,)``: class score (or a layer's mean channel activation)."""

    def build():
        def f(x, index):
            outputs, taps = forward(model, x, taps=[layer] if layer else [],
                                    logits_of=output_index if logits and not layer else None)
            return objective(taps[layer] if layer else select(outputs, output_index), index)
        return f

    return traced(model, ("score", layer, output_index, logits, device), build,
                  batch_free=True)


def input_gradient_function(model, *, layer: str | None = None, output_index: int = 0,
                            logits: bool = True, relu: Callable | None = None,
                            relu_name: str = "", device: str = "auto"):
    """``f(x, index) -> (scores (B,), d score / d x (B, H, W, C), outputs (B, N))``.

    The score is class ``index`` of output ``output_index`` (logits unless ``logits`` is
    False; :data:`TOP_CLASS`: each image's top class), or with ``layer`` the spatial mean
    of channel ``index`` of that layer. ``outputs`` is the model's output ``output_index``
    on ``x``, flattened: what the pass computed anyway (``relu`` changes the backward pass
    only), for the top class and the class score in a map's title; with ``layer`` it is
    empty (B, 0), the layers after it are not run.
    """

    def build():
        def f(x, index):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs, taps = forward(
                    model, x, taps=[layer] if layer else [], relu=relu,
                    logits_of=output_index if logits and not layer else None)
                if layer:
                    scores, explained = objective(taps[layer], index), _no_outputs(x)
                else:
                    scores, explained = _class_objective(model, outputs, output_index, index,
                                                         logits)
            return scores, tape.gradient(scores, x), explained
        return f

    return traced(model, ("input-gradient", layer, output_index, logits, relu_name, device),
                  build, batch_free=True)


def layer_gradient_function(model, layer: str, *, output_index: int = 0, logits: bool = True,
                            device: str = "auto"):
    """``f(x, index) -> (scores (B,), activations of layer, d score / d activations,
    outputs (B, N))``: the class score and outputs as :func:`input_gradient_function`'s."""

    def build():
        def f(x, index):
            with tf.GradientTape() as tape:
                outputs, taps = forward(model, x, taps=[layer],
                                        logits_of=output_index if logits else None)
                activations = taps[layer]
                scores, explained = _class_objective(model, outputs, output_index, index,
                                                     logits)
            return scores, activations, tape.gradient(scores, activations), explained
        return f

    return traced(model, ("layer-gradient", layer, output_index, logits, device), build,
                  batch_free=True)


def layer_output_function(model, layers: tuple[str, ...], *, output_index: int = 0,
                          device: str = "auto"):
    """``f(x) -> (model output, {layer: activations})`` in one forward pass."""

    def build():
        def f(x):
            outputs, taps = forward(model, x, taps=layers)
            return select(outputs, output_index), taps
        return f

    return traced(model, ("layer-output", layers, output_index, device), build,
                  batch_free=True)


# --------------------------------------------------------------------------- batching

def auto_batch_size(model: keras.Model, with_gradient: bool = True,
                    size: tuple[int, int] | None = None) -> BatchSizeTuner:
    """The model's batch size tuner for passes with (or without) an input gradient, on
    inputs of ``size`` (height, width): a model that accepts any size gets one tuner per
    size, its memory limit from the activations at that size."""
    free = None in input_shape(model)[:2]
    size = tuple(size) if free and size is not None else None

    return _cached(model, ("batch-size", with_gradient, size),
                   lambda: batch_size_tuner(model, with_gradient, size))


def batch_size_tuner(model: keras.Model, with_gradient: bool,
                     size: tuple[int, int] | None = None) -> BatchSizeTuner:
    """A new tuner whose memory limit comes from ``model``'s activations (at ``size`` for
    a model that takes any size): those a pass with an input gradient keeps, or all."""
    values = activation_values(model, size, for_gradient=with_gradient)
    return BatchSizeTuner(memory_limit(values, with_gradient))


def activation_values(model: keras.Model, size: tuple[int, int] | None = None, *,
                      for_gradient: bool = False) -> int:
    """How many values one sample's layer outputs hold: from the layers' shapes, or for
    ``size`` (a model that takes any size) by a symbolic pass at that size (no compute).
    ``for_gradient``: how many a pass with an input gradient keeps
    (:func:`~.batch_size.kept_per_value` per output value)."""
    from .batch_size import kept_per_value
    from .layers import LayerTree

    leaves = [node for node in LayerTree.of(model).walk()
              if not node.children and node.type != "InputLayer"]
    if size is None:
        shapes = {node.path: node.output_shapes[0][1:] for node in leaves
                  if node.output_shapes and None not in node.output_shapes[0][1:]}
    else:
        channels = input_shape(model)[2]
        _, taps = forward(model, keras.KerasTensor((1, *size, channels)),
                          taps=[node.path for node in leaves])
        shapes = {path: tensor.shape[1:] for path, tensor in taps.items()}
    weights = {node.path: kept_per_value(node.type, node.activation) if for_gradient else 1
               for node in leaves}
    return sum(weights[path] * int(np.prod(shape)) for path, shape in shapes.items())


def batches(count: int, batch_size: int | BatchSizeTuner, progress=None,
            should_stop=None) -> Iterator[slice]:
    """Slices over ``count`` items; checks ``should_stop`` before and reports after each.

    With a :class:`BatchSizeTuner`, each slice takes its proposed size, and the time the
    caller spends on the slice (until it asks for the next) is recorded for it.
    """
    tuner = batch_size if isinstance(batch_size, BatchSizeTuner) else None
    start = 0
    while start < count:
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        size = tuner.next_size(count - start) if tuner else batch_size
        stop = min(start + size, count)
        began = time.perf_counter()
        yield slice(start, stop)
        if tuner and stop - start == size:
            tuner.record(size, time.perf_counter() - began)
        start = stop
        if progress is not None:
            progress(stop / count)

