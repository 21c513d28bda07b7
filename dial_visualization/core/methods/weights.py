"""A layer's kernels as images: RGB when a kernel has 3 input channels, else one grey image
per input channel; biases alongside."""

import numpy as np

from ..errors import MethodNotApplicableError
from ..inspect import LayerTree
from ..registry import NodeType, algorithm
from ..result import Result


@algorithm(
    id="weights", name="Weights", node_types={NodeType.KERNEL},
    description="The learned kernels (filters) of a convolution or dense layer, and biases.",
)
def weights(context, target, params, progress, should_stop):
    tree = LayerTree(context.model)
    if target.layer not in tree:
        raise MethodNotApplicableError(
            f"model {context.model.name!r} has no layer {target.layer!r}")
    node = tree[target.layer]
    kernel = node.kernel()
    if kernel is None:
        raise MethodNotApplicableError(f"layer {target.layer!r} ({node.type}) has no kernel")
    if target.index is not None and not 0 <= target.index < kernel.shape[-1]:
        raise MethodNotApplicableError(f"layer {target.layer!r} has {kernel.shape[-1]} filters;"
                                       f" filter {target.index} does not exist")
    bias = node.bias()
    progress(1.0)
    info = {"bias": None if bias is None else bias if target.index is None else bias[target.index]}
    title = f"Weights: {target.describe()}"
    if kernel.ndim == 2:  # Dense: (inputs, units) as one matrix image
        data = kernel[np.newaxis] if target.index is None else kernel[np.newaxis, :, target.index:target.index + 1]
        return Result(method="weights", title=title, kind="grid", data=data, info=info)
    if kernel.ndim != 4:
        raise MethodNotApplicableError(f"{node.type} kernels of rank {kernel.ndim} are not shown")
    filters = np.moveaxis(kernel, -1, 0)  # (filters, kh, kw, in_channels)
    if target.index is not None:
        filters = filters[target.index:target.index + 1]
    if filters.shape[-1] == 3:
        return Result(method="weights", title=title, kind="grid", data=filters,
                      info={**info, "rgb": True})
    # one grey image per input channel, a row per filter
    per_channel = np.moveaxis(filters, -1, 1).reshape(-1, *filters.shape[1:3])
    return Result(method="weights", title=title, kind="grid", data=per_channel,
                  info={**info, "grid_columns": filters.shape[-1]})
