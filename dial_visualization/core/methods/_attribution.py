"""What attribution methods share: resolving the objective and shaping the heatmap result."""

from __future__ import annotations

import numpy as np

from ..context import Context, Target
from ..registry import NodeType, Parameter
from ..result import Result
from ..tf_ops import class_index

#: The objective index meaning "the mean over all channels of the layer".
ALL_CHANNELS = -1


def batch_size_parameter(what: str) -> Parameter:
    """The ``batch_size`` parameter of the batched methods (0: the fastest size measured on
    the model, see ``core.batch_size``)."""
    return Parameter("batch_size", "int", 0, f"{what} (0: automatic)", 0, 4096)


def resolve_objective(context: Context, target: Target) -> tuple[np.ndarray, str | None, int, Target]:
    """(input batch, layer or None for the class score, index, target with the index filled)."""
    x = context.require_image().batch()
    if target.node_type is NodeType.PREDICTION:
        index = class_index(context.model, x, target.index, context.output_index, context.device)
        return x, None, index, Target(target.node_type, None, index)
    return x, target.layer, ALL_CHANNELS if target.index is None else target.index, target


def heatmap_result(method: str, name: str, context: Context, target: Target,
                   attribution: np.ndarray, detail: str = "", **info) -> Result:
    """A heatmap over the input: (H, W, C) attributions are summed over channels."""
    attribution = np.asarray(attribution, dtype=np.float32)
    data = attribution.sum(axis=-1) if attribution.ndim == 3 else attribution
    title = f"{name}: {target.describe(context.labels)}" + (f" ({detail})" if detail else "")
    return Result(method=method, title=title, kind="heatmap", data=data, target=target,
                  background=context.image.resized, labels=context.labels, info=info)
