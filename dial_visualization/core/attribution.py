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


def _max_abs(attribution: np.ndarray) -> np.ndarray:
    """max_c |attribution[..., c]|, one channel at a time: numpy's reduction over a last axis
    of 3 takes ten times longer (a batch of maps spends more there than in the model)."""
    magnitude = np.abs(attribution)
    reduced = magnitude[..., 0].copy()
    for channel in range(1, magnitude.shape[-1]):
        np.maximum(reduced, magnitude[..., channel], out=reduced)
    return reduced


def _channel_sum(attribution: np.ndarray) -> np.ndarray:
    """sum_c attribution[..., c], one channel at a time (see :func:`_max_abs`)."""
    reduced = attribution[..., 0].copy()
    for channel in range(1, attribution.shape[-1]):
        reduced += attribution[..., channel]
    return reduced


#: Channel reductions by name: (H, W, C) attributions -> (H, W) map.
CHANNEL_REDUCTIONS = {"max-abs": _max_abs, "sum": _channel_sum}


def batch_size_parameter(what: str) -> Parameter:
    """The ``batch_size`` parameter of the batched methods (0: the fastest size measured on
    the model, see ``core.batch_size``)."""
    return Parameter("batch_size", "int", 0, f"{what} (0: automatic)", 0, 4096)


def resolve_objective(context: Context, target: Target
                      ) -> tuple[np.ndarray, str | None, int, Target]:
    """(input batch, layer or None for the class score, index, target with the index filled)."""
    x = context.require_image().batch()
    if target.node_type is NodeType.PREDICTION:
        target = builtin_handler(NodeType.PREDICTION).resolve(target, context)
        return x, None, target.index, target
    return x, target.layer, ALL_CHANNELS if target.index is None else target.index, target


def gradient_pass(contexts: list[Context], target: Target, make_function
                  ) -> tuple[list[Target], list]:
    """Run one traced gradient pass over every context's image (one model, output and
    device; images of one size): ``make_function(model, layer=, output_index=, device=)``
    makes the traced ``f(x, index) -> (..., outputs)`` for the objective's layer (None: the
    class score), as ``core.tf_ops.input_gradient_function`` does. A class not given is
    picked inside the pass (``tf_ops.TOP_CLASS``) unless the image's output is known
    already; the outputs the pass returns are kept by each context (the class score in the
    title costs no other pass), and each image's top class is the one the Prediction
    handler picks from them. Returns (target per image with its index
    filled, the function's other results as arrays)."""
    import tensorflow as tf

    from .tf_ops import TOP_CLASS

    x = np.stack([context.require_image().array for context in contexts])
    prediction = target.node_type is NodeType.PREDICTION
    if prediction:
        handler = builtin_handler(NodeType.PREDICTION)
        indices = [handler.resolve(target, each).index
                   if target.index is not None or each.has_outputs else TOP_CLASS
                   for each in contexts]
        layer = None
    else:
        index = ALL_CHANNELS if target.index is None else target.index
        layer, indices = target.layer, [index] * len(contexts)
    context = contexts[0]
    function = make_function(context.model, layer=layer, output_index=context.output_index,
                             device=context.device)
    *results, outputs = function(tf.constant(x), tf.constant(np.array(indices, np.int32)))
    if not prediction:
        return [target] * len(contexts), [np.asarray(each) for each in results]
    keep_outputs(contexts, outputs)
    return handler.resolve_many(target, contexts), [np.asarray(each) for each in results]


def keep_outputs(contexts: list[Context], outputs) -> None:
    """Each context keeps its row of ``outputs``, the model's explained output on its image
    that a method's own pass computed, unless it has one already: the top class and the
    class score in the title then cost no other pass."""
    for context, row in zip(contexts, np.asarray(outputs)):
        if not context.has_outputs:
            context.remember_outputs(row)


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
