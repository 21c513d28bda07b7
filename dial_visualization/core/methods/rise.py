"""RISE (Petsiuk, Das & Saenko 2018, RISE: Randomized Input Sampling for Explanation of
Black-box Models, BMVC, arXiv:1806.07421, section 3).

No gradients: the model sees the input under ``masks`` random masks, and each pixel's
value is the mean of the class probability weighted by how much each mask showed that
pixel, S = 1 / (N p) sum_i f(x masked by M_i) M_i, with p the keep probability (E[M] = p,
equation 6). Each mask is a ``grid`` x ``grid`` grid of cells kept with probability
``keep``, upsampled bilinearly to (grid + 1) C pixels (C = ceil(size / grid)) and cropped
at a random shift in [0, C) (section 3.2), so that masks are smooth and not aligned to the
grid (a grid of at least one cell per pixel has nothing to smooth: its cells are the
masks, each pixel kept with probability p on its own). Masking blends the input towards black in the model's input space (pixel value 0,
preprocessed like the image): x' = black + M (x - black), as the paper's I . M. Mask i
depends only on (seed, i), so the batch size does not change the result.

A 2-D map by construction: a mask covers all colour channels of a pixel.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..attribution import batch_size_parameter, heatmap_result, resolve_objective
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, score_function
from .integrated_gradients import baseline_input


def rise_masks(numbers, size: tuple[int, int], grid: int, keep: float,
               seed: int) -> np.ndarray:
    """The masks ``numbers`` (a range) as (B, H, W) float32 in [0, 1]."""
    height, width = size
    cell_h, cell_w = -(-height // grid), -(-width // grid)
    grids, shifts = [], []
    for i in numbers:
        rng = np.random.default_rng([seed, i])
        grids.append((rng.random((grid, grid)) < keep).astype(np.float32))
        shifts.append((rng.integers(cell_h), rng.integers(cell_w)))
    if cell_h == cell_w == 1:  # a cell per pixel: nothing to smooth, the cells are the mask
        return np.stack(grids)[:, :height, :width]
    upsampled = tf.image.resize(np.stack(grids)[..., np.newaxis],
                                ((grid + 1) * cell_h, (grid + 1) * cell_w), "bilinear")
    upsampled = np.asarray(upsampled)[..., 0]
    return np.stack([mask[top:top + height, left:left + width]
                     for mask, (top, left) in zip(upsampled, shifts)])


@method(
    id="rise", name="RISE", node_types={NodeType.PREDICTION},
    description="The class probability under many random smooth masks, each pixel weighted "
                "by how much each mask showed it: no gradients.",
    reference="Petsiuk et al. 2018, RISE: Randomized Input Sampling for Explanation of "
              "Black-box Models, arXiv:1806.07421",
    parameters=(
        Parameter("masks", "int", 1000, "random masks (model calls, batched)", 1, 1000000),
        Parameter("grid", "int", 8, "cells per side of a mask before upsampling", 1, 1024),
        Parameter("keep", "float", 0.5, "probability that a cell is shown", 0.01, 1.0),
        Parameter("seed", "int", 0, "random seed of the masks", 0, 2**31 - 1),
        Parameter("score", "choice", "probability", "class score weighting the masks: the "
                  "model's output or the logit", choices=("probability", "logit")),
        batch_size_parameter("masked images per model call"),
    ),
    channel_reduction="none: a 2-D map by construction, a mask covers all colour channels "
                      "of a pixel (Petsiuk et al. 2018, section 3)",
)
def rise(context, target, params, progress, should_stop):
    x, _, index, target = resolve_objective(context, target)
    image = x[0]
    black = baseline_input(context.image, "black")
    score = score_function(context.model, output_index=context.output_index,
                           logits=params["score"] == "logit", device=context.device)
    batch_size = params["batch_size"] or auto_batch_size(context.model, with_gradient=False,
                                                         size=x.shape[1:3])
    index_tensor = tf.constant([index])
    total = np.zeros(image.shape[:2], np.float64)
    count = params["masks"]
    for part in batches(count, batch_size, progress, should_stop):
        masks = rise_masks(range(part.start, part.stop), image.shape[:2], params["grid"],
                           params["keep"], params["seed"])
        masked = black + masks[..., np.newaxis] * (image - black)
        scores = np.asarray(score(tf.constant(masked.astype(np.float32)), index_tensor),
                            np.float64)
        total += np.tensordot(scores, masks, axes=1)
    saliency = total / (count * params["keep"])
    return heatmap_result(context, target, saliency,
                          detail=f"{count} masks, grid {params['grid']}, keep {params['keep']:g}")
