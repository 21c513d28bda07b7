"""What attribution methods share: resolving the objective and shaping the heatmap result
(public for plugin authors through :mod:`dial_visualization.toolkit`).

An attribution over the input has one value per pixel and colour channel; the map shows
one value per pixel, reduced over the channels as the method's paper defines it:

* ``max-abs``: the largest |value| over the channels, Simonyan, Vedaldi & Zisserman 2013
  (arXiv:1312.6034, section 3.1) for the gradient, kept by the gradient methods that build
  on it. Summing signed gradients instead would cancel opposite channels.
* ``sum``: the sum over the channels, for attributions that add up to the change of the
  score (integrated gradients' completeness, Sundararajan et al. 2017, section 3).

The per-channel values stay on the result (``Result.channels``).
"""

from __future__ import annotations

import numpy as np

from .context import Context, Target
from .handlers import builtin_handler
from .registry import NodeType, Parameter
from .result import Result

#: The objective index meaning "the mean over all channels of the layer".
ALL_CHANNELS = -1

#: Channel reductions by name: (H, W, C) attributions -> (H, W) map.
CHANNEL_REDUCTIONS = {
    "max-abs": lambda attribution: np.abs(attribution).max(axis=-1),
    "sum": lambda attribution: attribution.sum(axis=-1),
}


def batch_size_parameter(what: str) -> Parameter:
    """The ``batch_size`` parameter of the batched methods (0: the fastest size measured on
    the model, see ``core.batch_size``)."""
    return Parameter("batch_size", "int", 0, f"{what} (0: automatic)", 0, 4096)


def resolve_objective(context: Context, target: Target) -> tuple[np.ndarray, str | None, int, Target]:
    """(input batch, layer or None for the class score, index, target with the index filled)."""
    x = context.require_image().batch()
    if target.node_type is NodeType.PREDICTION:
        target = builtin_handler(NodeType.PREDICTION).resolve(target, context)
        return x, None, target.index, target
    return x, target.layer, ALL_CHANNELS if target.index is None else target.index, target


def heatmap_result(context: Context, target: Target, attribution: np.ndarray,
                   detail: str = "", *, reduction: str = "",
                   warnings: list[str] | None = None, **info) -> Result:
    """A heatmap over the input, titled by its node (and ``detail`` in brackets); the
    method's id and name are stamped when it is run. An (H, W, C) ``attribution`` is reduced
    over its channels by ``reduction`` (a key of :data:`CHANNEL_REDUCTIONS`) and kept as the
    result's ``channels``; an (H, W) one is the map itself. ``warnings`` say what the map
    does not show (a constant map gets one when it is run)."""
    attribution = np.asarray(attribution, dtype=np.float32)
    channels = None
    if attribution.ndim == 3:
        channels, attribution = attribution, CHANNEL_REDUCTIONS[reduction](attribution)
        info["channel_reduction"] = reduction
    title = target.describe(context.labels) + (f" ({detail})" if detail else "")
    if target.node_type is NodeType.PREDICTION and target.index is not None:
        info.setdefault("class_score", class_score(context, target.index))
    return Result(title=title, kind="heatmap", data=attribution, target=target,
                  background=context.image.resized, labels=context.labels, info=info,
                  channels=channels, warnings=list(warnings or []))


def class_score(context: Context, index: int) -> float:
    """The model's output for class ``index`` on the context's image (a probability for a
    softmax output), shown in the title of a class's map (``info["class_score"]``)."""
    return float(context.outputs()[index])
