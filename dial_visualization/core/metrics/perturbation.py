"""What the perturbation metrics share: the image that replaces removed pixels (the
baseline), the order in which a map removes pixels or patches, and batched model scores of
perturbed copies of the input.

Removal happens in the model's input space (the preprocessed image): ``black`` is pixel
value 0 and ``blur`` a Gaussian-blurred copy of the image (both preprocessed like the image,
as integrated gradients' baselines), ``mean`` the image's per-channel mean. A removed pixel
loses all its colour channels at once.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..registry import Parameter
from ..tf_ops import auto_batch_size, batches, score_function

BASELINES = ("black", "blur", "mean")


def baseline_parameter(default: str, what: str) -> Parameter:
    return Parameter("baseline", "choice", default, what, choices=BASELINES)


SCORE_PARAMETER = Parameter("score", "choice", "probability",
                            "the class score: the model's output (a probability for a "
                            "softmax classifier) or the logit before the softmax",
                            choices=("probability", "logit"))


def baseline_image(image, choice: str) -> np.ndarray:
    """What removed pixels become, in the model's input space: (H, W, C) float32."""
    from ..methods.integrated_gradients import baseline_input

    if choice == "mean":
        return np.broadcast_to(image.array.mean(axis=(0, 1)), image.array.shape).astype(
            np.float32)
    return baseline_input(image, choice)


def unit_grid(shape: tuple[int, int], patch: int) -> np.ndarray:
    """(H, W) int: the unit each pixel belongs to, units being ``patch`` x ``patch`` squares
    in rows (a pixel each for a patch of 1; the last row and column of squares may be cut
    by the border)."""
    height, width = shape
    rows, columns = np.arange(height) // patch, np.arange(width) // patch
    per_row = -(-width // patch)
    return rows[:, np.newaxis] * per_row + columns[np.newaxis, :]


def removal_ranks(saliency: np.ndarray, units: np.ndarray) -> np.ndarray:
    """(H, W) int: the rank in which each pixel's unit is removed, 0 first: units by their
    mean map value, highest first (ties in unit order)."""
    count = int(units.max()) + 1
    means = (np.bincount(units.ravel(), weights=saliency.ravel().astype(np.float64),
                         minlength=count) / np.bincount(units.ravel(), minlength=count))
    order = np.argsort(-means, kind="stable")
    rank = np.empty(count, np.int64)
    rank[order] = np.arange(count)
    return rank[units]


def scores_of(context, index: int, masks, start: np.ndarray, end: np.ndarray, *,
              logits: bool, batch_size: int, progress, should_stop) -> np.ndarray:
    """The class ``index`` score of ``where(mask, end, start)`` for each (H, W) bool mask
    of ``masks`` (a sequence, or a function of a slice giving those masks), one model call
    per batch."""
    model = context.model
    score = score_function(model, output_index=context.output_index, logits=logits,
                           device=context.device)
    count = len(masks)
    size = batch_size or auto_batch_size(model, with_gradient=False, size=start.shape[:2])
    index_tensor = tf.constant([index])
    scores = np.zeros(count)
    for part in batches(count, size, progress, should_stop):
        chosen = np.stack([masks[i] for i in range(part.start, part.stop)])[..., np.newaxis]
        images = np.where(chosen, end, start).astype(np.float32)
        scores[part] = np.asarray(score(tf.constant(images), index_tensor), np.float64)
    return scores


class Masks:
    """``count`` (H, W) bool masks made on demand by ``make(i)`` (a batch at a time)."""

    def __init__(self, count: int, make):
        self.count, self.make = count, make

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> np.ndarray:
        return self.make(i)
