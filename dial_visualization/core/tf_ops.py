"""Shared TensorFlow mechanics: one graph walker, traced functions cached per model, batching.

Every algorithm reaches the model through :func:`forward`, which runs the model's own
graph layer by layer (recursing into nested models) and can

* record the output of any layer, also inside nested models (no "Graph disconnected"),
* wrap every ReLU-like unit (ReLU, ReLU6, leaky and parametric ReLU) in another function
  (guided backpropagation) without touching the user's model: a layer's
  ``activation=relu`` is swapped on a proxy, not on the layer,
* stop before the final softmax/sigmoid, so class scores are logits.

Traced ``tf.function``s are cached per (model, purpose, device) with a batch dimension of
``None``: one trace per model and input size, reused by every later run.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Callable, Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

from .batch_size import BatchSizeTuner, memory_limit
from .errors import Cancelled, MethodNotApplicableError
from .inspect import PATH_SEPARATOR
from .models import check_output_index, input_shape

_SQUASHING = ("softmax", "sigmoid")


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


# --------------------------------------------------------------------------- layers

def get_layer(model: keras.Model, path: str) -> keras.Layer:
    """The layer at ``path`` ("outer/inner/conv"), searching nested models."""
    layer = model
    for name in path.split(PATH_SEPARATOR):
        try:
            layer = layer.get_layer(name)
        except (ValueError, AttributeError):
            raise MethodNotApplicableError(f"model {model.name!r} has no layer {path!r}") from None
    return layer


def _is_graph_model(layer) -> bool:
    return isinstance(layer, keras.Sequential) or (
        isinstance(layer, keras.Model) and hasattr(layer, "_run_through_graph"))


def _output_layer(model: keras.Model, output_index: int) -> tuple[keras.Layer, str]:
    """The layer producing output ``output_index`` and its path, looking into nested models."""
    check_output_index(model, output_index)
    tensor = model.outputs[output_index]
    layer, _, tensor_index = tensor._keras_history
    prefix = ""
    owner = model
    while _is_graph_model(layer):
        prefix += layer.name + PATH_SEPARATOR
        owner = layer
        layer, _, tensor_index = owner.outputs[tensor_index]._keras_history
    return layer, prefix + layer.name


#: ReLU-like activation functions by name, each with the open interval of inputs it passes
#: unchanged (slope 1): below it ``relu`` is 0 and ``leaky_relu`` leaky, above it ``relu6``
#: is clipped.
_RELU_ACTIVATIONS = {"relu": (0.0, math.inf), "relu6": (0.0, 6.0), "leaky_relu": (0.0, math.inf)}


def relu_region(unit) -> tuple[float, float] | None:
    """Where the ReLU-like ``unit`` passes its input unchanged: the open interval (low, high);
    None when ``unit`` is not ReLU-like.

    ``unit`` is a layer, ``ReLU`` (with any ``threshold``, ``max_value`` and
    ``negative_slope``: it is ``x`` on (threshold, max_value)), ``LeakyReLU`` or ``PReLU``
    (``x`` above 0), or an activation function: ``relu``, ``relu6``, ``leaky_relu`` (a
    layer's ``activation``, also an ``Activation`` layer's), recognised by name.
    """
    if isinstance(unit, keras.layers.ReLU):
        high = math.inf if unit.max_value is None else float(unit.max_value)
        return float(unit.threshold or 0.0), high
    if isinstance(unit, (keras.layers.LeakyReLU, keras.layers.PReLU)):
        return 0.0, math.inf
    if isinstance(unit, keras.Layer):
        return None
    return _RELU_ACTIVATIONS.get(getattr(unit, "__name__", None))


def relu_units(model: keras.Model) -> int:
    """How many ReLU-like units (:func:`relu_region`) ``model`` has, nested models included:
    the layers and activations that :func:`forward` replaces when given ``relu``."""
    from .inspect import LayerTree

    return sum(1 for node in LayerTree(model).walk() if not node.children and (
        relu_region(node.layer) or relu_region(getattr(node.layer, "activation", None))))


def _activation_is(activation, name: str) -> bool:
    return getattr(activation, "__name__", None) == name


def _is_strided_pointwise(layer) -> bool:
    """A 1x1 ``Conv2D`` with stride > 1: its input gradient corrupts oneDNN's heap (see
    ``core/tf_environment.py``); it is computed as a strided slice then a stride-1 1x1
    convolution instead, which is numerically identical (for "same" and "valid" padding,
    the 1x1 windows of a strided convolution start at pixels 0, s, 2s, ...)."""
    return (type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (1, 1)
            and tuple(layer.strides) != (1, 1) and tuple(layer.dilation_rate) == (1, 1)
            and layer.data_format == "channels_last")


def _with_attributes(layer, **attributes):
    """A shallow copy of ``layer`` (same variables) whose ``call`` sees other attributes.

    A real instance of the layer's class, so ``super()`` and isinstance checks inside
    ``call`` work; the user's layer itself is never modified.
    """
    copy = object.__new__(type(layer))
    copy.__dict__.update(layer.__dict__)
    for name, value in attributes.items():
        object.__setattr__(copy, name, value)
    return copy


def _call(layer, args, kwargs, *, drop_squashing: bool, relu: Callable | None):
    """``layer(*args, **kwargs)``, with its activation and 1x1 strides replaced as needed."""
    attributes = {}
    activation = getattr(layer, "activation", None)
    if drop_squashing and any(_activation_is(activation, n) for n in _SQUASHING):
        attributes["activation"] = keras.activations.linear
    elif relu is not None and relu_region(activation) is not None:
        region = relu_region(activation)
        attributes["activation"] = lambda z: relu(z, activation(z), region)
    if _is_strided_pointwise(layer):
        rows, columns = layer.strides
        args = (args[0][:, ::rows, ::columns, :],) + tuple(args[1:])
        attributes["strides"] = (1, 1)
    if not attributes:
        return layer(*args, **kwargs)
    return type(layer).call(_with_attributes(layer, **attributes), *args, **kwargs)


def forward(model: keras.Model, x, *, taps: Iterable[str] = (), relu: Callable | None = None,
            logits_of: int | None = None):
    """Run ``model`` on ``x``; return (outputs, {path: tensor} for each tap).

    ``relu(x, output, (low, high))`` replaces the output of every ReLU-like unit (a layer,
    an ``Activation`` or a layer's ``activation``; see :func:`relu_region`): ``x`` is the
    unit's input, ``output`` its own value, (low, high) where it passes ``x`` unchanged.
    ``logits_of=i`` drops the softmax/sigmoid that ends output ``i``.
    """
    taps = set(taps)
    recorded: dict[str, tf.Tensor] = {}
    logits_path = _output_layer(model, logits_of)[1] if logits_of is not None else None

    def run(graph_model, inputs, prefix):
        if isinstance(graph_model, keras.Sequential):
            for layer in graph_model.layers:
                inputs = call(layer, prefix, inputs)
            return inputs
        return graph_model._run_through_graph(
            inputs, operation_fn=lambda op: lambda *a, **k: call(op, prefix, *a, **k))

    def call(layer, prefix, *args, **kwargs):
        path = prefix + layer.name
        if _is_graph_model(layer):
            inputs = args[0] if len(args) == 1 else list(args)
            out = run(layer, inputs, path + PATH_SEPARATOR)
            out = out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out
        elif path == logits_path and _is_squashing_layer(layer):
            out = args[0]
        elif relu is not None and relu_region(layer) is not None:
            out = relu(args[0], layer(*args, **kwargs), relu_region(layer))
        else:
            out = _call(layer, args, kwargs, drop_squashing=path == logits_path, relu=relu)
        if path in taps:
            recorded[path] = out
        return out

    for path in taps:
        get_layer(model, path)  # a clear error for a misspelt layer
    outputs = run(model, x, "")
    absent = taps - set(recorded)
    if absent:
        raise MethodNotApplicableError(
            f"layer {sorted(absent)[0]!r} is not on the path from the input to the outputs")
    return outputs, recorded


def _is_squashing_layer(layer) -> bool:
    """A ``Softmax`` layer or a softmax/sigmoid ``Activation`` layer."""
    return isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation)
        and any(_activation_is(layer.activation, n) for n in _SQUASHING))


def select(outputs, output_index: int):
    return outputs[output_index] if isinstance(outputs, (list, tuple)) else outputs


# --------------------------------------------------------------------------- per-model cache
# traced functions, and the batch size tuners of the batched methods. They live on the model
# object itself: a traced function holds its model, so a cache keyed weakly on the model
# (a WeakKeyDictionary) kept every model ever used alive; on the model, the two form a cycle
# that the garbage collector frees with the model.

_CACHE_ATTRIBUTE = "_dial_visualization_cache"
_cache_lock = threading.Lock()


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


def traced(model: keras.Model, key: tuple, build: Callable[[], Callable]) -> Callable:
    """The function ``build()`` makes for ``(model, key)``, wrapped in ``tf.function`` once."""
    return _cached(model, key, lambda: tf.function(build(), reduce_retracing=True))


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
    index = tf.cast(tf.reshape(index, [-1]) * tf.ones([tf.shape(values)[0]], tf.int32), tf.int32)
    chosen = tf.gather(values, tf.maximum(index, 0), axis=-1, batch_dims=1)
    return tf.where(index >= 0, chosen, tf.reduce_mean(values, axis=-1))


def score_function(model, *, layer: str | None = None, output_index: int = 0,
                   logits: bool = True, device: str = "auto"):
    """``f(x, index) -> (B,)``: class score (or a layer's mean channel activation)."""

    def build():
        def f(x, index):
            outputs, taps = forward(model, x, taps=[layer] if layer else [],
                                    logits_of=output_index if logits and not layer else None)
            return objective(taps[layer] if layer else select(outputs, output_index), index)
        return f

    return traced(model, ("score", layer, output_index, logits, device), build)


def input_gradient_function(model, *, layer: str | None = None, output_index: int = 0,
                            logits: bool = True, relu: Callable | None = None,
                            relu_name: str = "", device: str = "auto"):
    """``f(x, index) -> (scores (B,), d score / d x (B, H, W, C))``.

    The score is class ``index`` of output ``output_index`` (logits unless ``logits`` is
    False), or with ``layer`` the spatial mean of channel ``index`` of that layer.
    """

    def build():
        def f(x, index):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs, taps = forward(
                    model, x, taps=[layer] if layer else [], relu=relu,
                    logits_of=output_index if logits and not layer else None)
                scores = objective(taps[layer] if layer else select(outputs, output_index), index)
            return scores, tape.gradient(scores, x)
        return f

    return traced(model, ("input-gradient", layer, output_index, logits, relu_name, device), build)


def layer_gradient_function(model, layer: str, *, output_index: int = 0, logits: bool = True,
                            device: str = "auto"):
    """``f(x, index) -> (scores (B,), activations of layer, d score / d activations)``."""

    def build():
        def f(x, index):
            with tf.GradientTape() as tape:
                outputs, taps = forward(model, x, taps=[layer],
                                        logits_of=output_index if logits else None)
                activations = taps[layer]
                scores = objective(select(outputs, output_index), index)
            return scores, activations, tape.gradient(scores, activations)
        return f

    return traced(model, ("layer-gradient", layer, output_index, logits, device), build)


def layer_output_function(model, layers: tuple[str, ...], *, output_index: int = 0,
                          device: str = "auto"):
    """``f(x) -> (model output, {layer: activations})`` in one forward pass."""

    def build():
        def f(x):
            outputs, taps = forward(model, x, taps=layers)
            return select(outputs, output_index), taps
        return f

    return traced(model, ("layer-output", layers, output_index, device), build)


# --------------------------------------------------------------------------- batching

def auto_batch_size(model: keras.Model, with_gradient: bool = True,
                    size: tuple[int, int] | None = None) -> BatchSizeTuner:
    """The model's batch size tuner for passes with (or without) an input gradient, on
    inputs of ``size`` (height, width): a model that accepts any size gets one tuner per
    size, its memory limit from the activations at that size."""
    free = None in input_shape(model)[:2]
    size = tuple(size) if free and size is not None else None

    def build():
        return BatchSizeTuner(memory_limit(activation_values(model, size), with_gradient))

    return _cached(model, ("batch-size", with_gradient, size), build)


def activation_values(model: keras.Model, size: tuple[int, int] | None = None) -> int:
    """How many values one sample's layer outputs hold: from the layers' shapes, or for
    ``size`` (a model that takes any size) by a symbolic pass at that size (no compute)."""
    from .inspect import LayerTree

    leaves = [node for node in LayerTree(model).walk()
              if not node.children and node.type != "InputLayer"]
    if size is None:
        return sum(int(np.prod(node.output_shapes[0][1:])) for node in leaves
                   if node.output_shapes and None not in node.output_shapes[0][1:])
    channels = input_shape(model)[2]
    _, taps = forward(model, keras.KerasTensor((1, *size, channels)),
                      taps=[node.path for node in leaves])
    return sum(int(np.prod(tensor.shape[1:])) for tensor in taps.values())


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


def class_index(model, x: np.ndarray, index: int | None, output_index: int = 0,
                device: str = "auto") -> int:
    """``index`` itself, or the top-scoring class of the first sample when it is None."""
    if index is not None:
        classes = model.outputs[output_index].shape[-1]
        if not 0 <= index < classes:
            raise MethodNotApplicableError(f"class {index} does not exist: the output has {classes}")
        return int(index)
    scores = layer_output_function(model, (), output_index=output_index, device=device)(
        tf.convert_to_tensor(x[:1]))[0]
    return int(np.argmax(np.asarray(scores)[0]))
