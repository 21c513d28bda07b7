"""Feature maps of any layer: all channels in one forward pass, or one channel."""

import numpy as np
import tensorflow as tf

from ..errors import MethodNotApplicableError
from ..registry import NodeType, algorithm
from ..result import Result
from ..tf_ops import layer_output_function


@algorithm(
    id="activations", name="Activations", node_types={NodeType.OUTPUT},
    description="The layer's output for the image: one feature map per channel.",
)
def activations(context, target, params, progress, should_stop):
    x = context.require_image().batch()
    function = layer_output_function(context.model, (target.layer,),
                                     output_index=context.output_index, device=context.device)
    values = np.asarray(function(tf.constant(x))[1][target.layer])[0]
    progress(1.0)
    if target.index is not None and not 0 <= target.index < values.shape[-1]:
        raise MethodNotApplicableError(f"layer {target.layer!r} has {values.shape[-1]} channels;"
                                       f" channel {target.index} does not exist")
    title = f"Activations: {target.describe()}"
    if values.ndim == 3:  # (h, w, channels) -> one map per channel
        maps = np.moveaxis(values, -1, 0)
        data = maps if target.index is None else maps[target.index:target.index + 1]
        return Result(method="activations", title=title, kind="grid", data=data,
                      background=context.image.resized)
    values = values.reshape(-1)
    data = values if target.index is None else values[target.index:target.index + 1]
    return Result(method="activations", title=title, kind="scores", data=data)
