"""RISE (Petsiuk, Das & Saenko 2018, RISE: Randomized Input Sampling for Explanation of
Black-box Models, BMVC, arXiv:1806.07421, section 3).

No gradients: the model sees the input under ``masks`` random masks, and each pixel's
value is the mean of the class probability weighted by how much each mask showed that
pixel, S = 1 / (N p) sum_i f(x masked by M_i) M_i, with p the keep probability (E[M] = p,
equation 6). Each mask is a ``grid`` x ``grid`` grid of cells kept with probability
``keep``, upsampled bilinearly to (grid + 1) C pixels (C = ceil(size / grid)) and cropped
at a random shift in [0, C) (section 3.2), so that masks are smooth and not aligned to the
grid (a grid of at least one cell per pixel has nothing to smooth: its cells are the
masks, each pixel kept with probability p on its own). Masking blends the input towards
black in the model's input space (pixel value 0, preprocessed like the image):
x' = black + M (x - black), as the paper's I . M. Mask i depends only on (seed, i), so the
batch size does not change the result. Over many images, the masked copies of all the
images form one stream of model calls, mask by mask (each mask made once, for every image),
each image's score for its own class.

A 2-D map by construction: a mask covers all colour channels of a pixel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import tensorflow as tf

from ..attribution import batch_size_parameter, heatmap_result
from ..batch_explain import batched, resolve_objectives
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, score_function
from .integrated_gradients import baseline_input


@lru_cache(maxsize=8)
def upsampling(cells: int, cell: int) -> np.ndarray:
    """((cells + 1) cell, cells) float32: bilinear upsampling of ``cells`` values to
    (cells + 1) cell, as ``tf.image.resize`` does it, one column per cell. Bilinear
    interpolation is separable: a grid G upsamples to U G V^T (U, V of each side)."""
    basis = np.eye(cells, dtype=np.float32)[:, :, np.newaxis, np.newaxis]  # cells images
    resized = tf.image.resize(basis, ((cells + 1) * cell, 1), "bilinear")
    return np.asarray(resized)[:, :, 0, 0].T.copy()


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
    rows, columns = upsampling(grid, cell_h), upsampling(grid, cell_w)
    # Each mask is its crop of the upsampled grid: the crop's rows of U, G, its columns of V.
    above = np.stack([rows[top:top + height] for top, _ in shifts])
    beside = np.stack([columns[left:left + width] for _, left in shifts])
    return above @ np.stack(grids) @ beside.transpose(0, 2, 1)


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
    return rise_batch([context], target, params, progress, should_stop)[0]


@batched(rise)
def rise_batch(contexts, target, params, progress, should_stop):
    """RISE of every context's image: the masked copies of all the images in one stream of
    model calls, mask after mask, each image's score for its own class."""
    x, _, indices, targets = resolve_objectives(contexts, target)
    blacks = np.stack([baseline_input(each.image, "black") for each in contexts])
    shown = x - blacks  # a mask's share of each pixel moves it from black to the image
    context = contexts[0]
    score = score_function(context.model, output_index=context.output_index,
                           logits=params["score"] == "logit", device=context.device)
    batch_size = params["batch_size"] or auto_batch_size(context.model, with_gradient=False,
                                                         size=x.shape[1:3])
    totals = np.zeros(x.shape[:3], np.float64)
    count = params["masks"]
    for part in batches(len(x) * count, batch_size, progress, should_stop):
        numbers, images = np.divmod(np.arange(part.start, part.stop), len(x))
        masks = rise_masks(range(numbers[0], numbers[-1] + 1), x.shape[1:3], params["grid"],
                           params["keep"], params["seed"])[numbers - numbers[0]]
        masked = blacks[images] + masks[..., np.newaxis] * shown[images]
        scores = np.asarray(score(tf.constant(masked), tf.constant(indices[images])),
                            np.float64)
        for image in np.unique(images):
            mine = images == image
            totals[image] += np.tensordot(scores[mine], masks[mine], axes=1)
    detail = f"{count} masks, grid {params['grid']}, keep {params['keep']:g}"
    return [heatmap_result(each, resolved, total / (count * params["keep"]), detail=detail)
            for each, resolved, total in zip(contexts, targets, totals)]
