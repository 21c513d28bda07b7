"""Feature maps of any layer: all channels in one forward pass, or one channel.

A channel that has the same value at every position (a ReLU unit that is off everywhere:
"dead" for this image) shows nothing; the result says so, and
:func:`constant_output_warning` says it for the methods whose objective is such a
channel's mean, whose gradient is then zero.
"""

import numpy as np
import tensorflow as tf

from ..context import Context, Target
from ..registry import NodeType, method
from ..result import Result
from ..tf_ops import layer_output_function


@method(
    id="activations", name="Activations", node_types={NodeType.OUTPUT},
    description="The layer's output for the image: one feature map per channel.",
)
def activations(context, target, params, progress, should_stop):
    values = layer_values(context, target.layer)
    progress(1.0)
    if values.ndim == 3:  # (h, w, channels) -> one map per channel
        maps = np.moveaxis(values, -1, 0)
        data = maps if target.index is None else maps[target.index:target.index + 1]
        return Result(kind="grid", data=data,
                      background=context.image.resized,
                      warnings=_constant_channel_warnings(target, values))
    values = values.reshape(-1)
    data = values if target.index is None else values[target.index:target.index + 1]
    return Result(kind="scores", data=data)


def layer_values(context: Context, layer: str) -> np.ndarray:
    """``layer``'s output for the context's image, without the batch axis."""
    x = context.require_image().batch()
    function = layer_output_function(context.model, (layer,), output_index=context.output_index,
                                     device=context.device)
    return np.asarray(function(tf.constant(x))[1][layer])[0]


def constant_channels(values: np.ndarray) -> np.ndarray:
    """Indices of the channels of (h, w, K) ``values`` that are equal at every position."""
    flat = values.reshape(-1, values.shape[-1])
    return np.flatnonzero(flat.max(axis=0) == flat.min(axis=0))


def _constant_channel_warnings(target: Target, values: np.ndarray) -> list[str]:
    constant = constant_channels(values)
    if target.index is not None:
        return [_constant_channel_warning(target, values)] if target.index in constant else []
    if not len(constant):
        return []
    listed = ", ".join(map(str, constant[:8])) + (", ..." if len(constant) > 8 else "")
    return [f"{len(constant)} of {values.shape[-1]} channels of {target.layer} have the same "
            f"value at every position for this image (channels {listed}): they show nothing"]


def _constant_channel_warning(target: Target, values: np.ndarray) -> str:
    value = float(values[..., target.index].flat[0])
    why = ("a unit that is off everywhere, as a ReLU whose input is negative at every "
           "position" if value == 0 else "it does not vary over the image")
    return f"{target.describe()} is {value:.3g} at every position for this image ({why})"


def constant_output_warning(context: Context, target: Target) -> str | None:
    """Why the gradient of an output ``target`` (a channel's spatial mean, or the mean of
    the layer's channels) is zero, when that channel (every channel) has the same value at
    every position for the image; None for other targets, or when it varies.
    Costs one forward pass: call it for a map that came out constant."""
    if target.node_type is not NodeType.OUTPUT:
        return None
    values = layer_values(context, target.layer)
    if values.ndim != 3:
        return None
    constant = constant_channels(values)
    if target.index is None:
        if len(constant) < values.shape[-1]:
            return None
        return (f"every channel of {target.layer} has the same value at every position for "
                "this image: its gradient is zero, so no pixel moves it")
    if target.index not in constant:
        return None
    return (f"{_constant_channel_warning(target, values)}: its gradient is zero, so no pixel "
            "moves it")
