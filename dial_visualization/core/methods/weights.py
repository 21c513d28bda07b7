"""A layer's kernels as images: RGB when a filter has 3 input channels, else one grey image
per input channel; biases alongside.

``kernel`` chooses what is shown (see :meth:`~dial_visualization.core.inspect.LayerNode.kernel`):

* ``filters``: what each output channel applies to the layer's input, for every layer with
  a kernel: a convolution's or dense layer's kernel; a grouped convolution's filters, each
  over the input channels of its group; a depthwise convolution's, one kernel per output
  channel; a separable convolution's depthwise kernels combined by its pointwise weights;
* ``depthwise``: the depthwise kernels of a depthwise or separable convolution, one grey
  image per input channel and depth multiplier (Chollet 2017, Xception, section 2);
* ``pointwise``: the pointwise (1x1) kernel of a separable convolution, as one matrix of
  (depthwise channels, filters), like a dense layer's.
"""

import numpy as np

from ..errors import MethodNotApplicableError
from ..layers import LayerNode, LayerTree
from ..registry import NodeType, Parameter, method
from ..result import Result

KERNELS = ("filters", "depthwise", "pointwise")


@method(
    id="weights", name="Weights", node_types={NodeType.KERNEL},
    description="The learned kernels (filters) of a convolution or dense layer, and biases.",
    parameters=(
        Parameter("kernel", "choice", "filters",
                  "filters: what each output channel applies to the input (every layer); "
                  "depthwise: a depthwise or separable convolution's depthwise kernels; "
                  "pointwise: a separable convolution's 1x1 kernel",
                  choices=KERNELS),
    ),
)
def weights(context, target, params, progress, should_stop):
    node = LayerTree.of(context.model)[target.layer]  # checked by the kernel node's handler
    if not node.has_kernel:
        raise MethodNotApplicableError(f"layer {target.layer!r} ({node.type}) has no kernel")
    part = params["kernel"]
    kernel, info = _kernel(node, part, target.index)
    progress(1.0)
    title = target.describe() + ("" if part == "filters" else f" ({part})")
    if kernel.ndim == 2:  # dense or pointwise: (inputs, units) as one matrix image
        return Result(title=title, kind="grid", data=kernel[np.newaxis],
                      info=info)
    if kernel.ndim != 4:
        raise MethodNotApplicableError(f"{node.type} kernels of rank {kernel.ndim} are not shown")
    filters = np.moveaxis(kernel, -1, 0)  # (filters, kh, kw, in_channels)
    if filters.shape[-1] == 3:
        return Result(title=title, kind="grid", data=filters,
                      info={**info, "rgb": True})
    # one grey image per input channel, a row per filter
    per_channel = np.moveaxis(filters, -1, 1).reshape(-1, *filters.shape[1:3])
    if filters.shape[-1] > 1:
        info["grid_columns"] = filters.shape[-1]
    return Result(title=title, kind="grid", data=per_channel, info=info)


def _kernel(node: LayerNode, part: str, index: int | None) -> tuple[np.ndarray, dict]:
    """The kernel ``part`` of ``node`` with filters on its last axis (only filter ``index``
    when given; a dense or pointwise kernel as an (inputs, units) matrix), and its info."""
    bias = node.bias()
    if part == "filters":
        kernel = node.kernel()
    elif part == "depthwise":
        kernel = node.depthwise_kernels()
        if "pointwise_kernel" in node.kernels():  # separable: the bias follows the pointwise step
            bias = None
            if index is not None:
                raise MethodNotApplicableError(
                    f"the depthwise kernels of {node.path!r} feed every one of its filters: "
                    f"show them for the whole layer, or filter {index} with kernel=filters")
    else:
        kernel = node.kernels().get("pointwise_kernel")
        kernel = None if kernel is None else kernel.reshape(-1, kernel.shape[-1])
    if kernel is None:
        raise MethodNotApplicableError(
            f"layer {node.path!r} ({node.type}) has no {part} kernel: use kernel=filters")
    info = {"kernel": part, "bias": bias}
    if index is not None:
        kernel = kernel[..., index:index + 1]
        info["bias"] = None if bias is None else bias[index]
        if part == "filters":
            seen = node.input_channels(index)
            info["input_channels"] = [seen.start, seen.stop]
    return kernel, info
