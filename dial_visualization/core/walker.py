"""The graph walker: a Keras model run layer by layer, as its own graph says.

Every method reaches the model through :func:`forward`, which runs the model's own graph
layer by layer (recursing into nested models) and can

* record the output of any layer, also inside nested models (no "Graph disconnected"),
* wrap every ReLU-like unit (ReLU, ReLU6, leaky and parametric ReLU) in another function
  (guided backpropagation) without touching the user's model: a layer's
  ``activation=relu`` is swapped on a proxy, not on the layer,
* stop before the final softmax/sigmoid, so class scores are logits,
* compute 1x1 strided convolutions (plain, depthwise, separable, grouped; 1-D, 2-D, 3-D)
  as a strided slice and a stride-1 convolution (their input gradient crashes oneDNN; see
  ``core/tf_environment.py``),
* compute a convolution and the batch normalisation after it as one convolution
  (:mod:`.batchnorm_folding`), unless the convolution's own output is recorded.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import keras
import tensorflow as tf

from . import batchnorm_folding
from .errors import MethodNotApplicableError
from .layers import PATH_SEPARATOR
from .models import check_output_index

_SQUASHING = ("softmax", "sigmoid")


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
    from .layers import LayerTree

    return sum(1 for node in LayerTree.of(model).walk() if not node.children and (
        relu_region(node.layer) or relu_region(getattr(node.layer, "activation", None))))


def _activation_is(activation, name: str) -> bool:
    return getattr(activation, "__name__", None) == name


#: Convolutions whose 1x1 strided form is computed as a slice: the input gradient of a 1x1
#: stride-2 ``Conv2D``, ``DepthwiseConv2D`` or ``SeparableConv2D`` on few channels corrupts
#: oneDNN's heap (see ``core/tf_environment.py``); the 1-D and 3-D forms go the same way.
_POINTWISE_REWRITTEN = (
    keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


#: oneDNN's input gradient of a 1x1 strided convolution aborted on every input channel count
#: tried from 1 to 15 and on none from 16 (16, 17, 18, 20, 23, 24, 28, 32, 33, 40, 48, 64,
#: 256, 1024; see ``core/tf_environment.py``): inputs with fewer channels than this are
#: rewritten, a margin for CPUs with wider vector units. Wider inputs (ResNet's strided
#: 1x1 convolutions, 256-1024 channels) keep Keras's own kernel: the rewrite cost ResNet50's
#: forward+gradient 9% at batch 16.
REWRITE_BELOW_CHANNELS = 64


def _is_strided_pointwise(layer) -> bool:
    """A convolution with a 1x1 kernel (1 or 1x1x1) and a stride > 1 (``Conv1D/2D/3D``,
    their depthwise and separable forms, grouped or not): on few input channels
    (:data:`REWRITE_BELOW_CHANNELS`) its input gradient can corrupt oneDNN's heap (see
    ``core/tf_environment.py``), so there it is computed as a strided slice then a stride-1
    convolution instead, which is numerically identical (for "same", "valid" and
    "causal" padding, the 1x1 windows of a strided convolution start at pixels 0, s, 2s, ...)."""
    return (type(layer) in _POINTWISE_REWRITTEN and set(layer.kernel_size) == {1}
            and set(layer.strides) != {1} and set(layer.dilation_rate) == {1}
            and layer.data_format == "channels_last")


def _few_channels(inputs) -> bool:
    """Fewer input channels than :data:`REWRITE_BELOW_CHANNELS` (or an unknown count)."""
    channels = inputs.shape[-1]
    return channels is None or channels < REWRITE_BELOW_CHANNELS


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


def _call(layer, args, kwargs, *, drop_squashing: bool, relu: Callable | None,
          folded_into=None):
    """``layer(*args, **kwargs)``, with its activation and 1x1 strides replaced as needed,
    and ``folded_into``, a batch normalisation, computed with it."""
    attributes = {}
    if folded_into is not None:
        attributes.update(batchnorm_folding.folded_weights(layer, folded_into))
    activation = getattr(layer, "activation", None)
    if drop_squashing and any(_activation_is(activation, n) for n in _SQUASHING):
        attributes["activation"] = keras.activations.linear
    elif relu is not None and relu_region(activation) is not None:
        region = relu_region(activation)
        attributes["activation"] = lambda z: relu(z, activation(z), region)
    if _is_strided_pointwise(layer) and _few_channels(args[0]):
        steps = tuple(slice(None, None, stride) for stride in layer.strides)
        args = (args[0][(slice(None), *steps, slice(None))],) + tuple(args[1:])
        attributes["strides"] = (1,) * len(layer.strides)
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
    foldable: dict[str, keras.Layer] = {}  # convolution's path -> its batch normalisation
    folded: set[str] = set()  # paths of the normalisations their convolution computed

    def run(graph_model, inputs, prefix):
        foldable.update({prefix + name: norm for name, norm
                         in batchnorm_folding.pairs(graph_model).items()})
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
        elif path in folded:  # its convolution computed it (each fold serves one call)
            folded.remove(path)
            out = args[0]
        elif path == logits_path and _is_squashing_layer(layer):
            out = args[0]
        elif relu is not None and relu_region(layer) is not None:
            out = relu(args[0], layer(*args, **kwargs), relu_region(layer))
        else:
            norm = foldable.get(path)
            if norm is not None and (path in taps
                                     or not batchnorm_folding.worth_folding(layer, args[0])):
                norm = None
            out = _call(layer, args, kwargs, drop_squashing=path == logits_path, relu=relu,
                        folded_into=norm)
            if norm is not None:
                folded.add(prefix + norm.name)
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


def squashing(model: keras.Model, output_index: int) -> Callable | None:
    """What ``forward(logits_of=output_index)`` drops: the softmax/sigmoid (a layer or a
    layer's activation) that turns the logits into output ``output_index``; None when the
    output ends in neither."""
    layer, _ = _output_layer(model, output_index)
    if _is_squashing_layer(layer):
        return layer
    activation = getattr(layer, "activation", None)
    return activation if any(_activation_is(activation, n) for n in _SQUASHING) else None


def select(outputs, output_index: int):
    return outputs[output_index] if isinstance(outputs, (list, tuple)) else outputs
