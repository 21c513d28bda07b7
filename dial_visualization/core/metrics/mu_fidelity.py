"""MuFidelity (Bhatt, Weller & Moura 2020, Evaluating and Aggregating Feature-based Model
Explanations, IJCAI, arXiv:2005.00631, definition 3).

mu_F = corr over random subsets S of the input of ( sum_{i in S} g_i , f(x) - f(x with S
removed) ): a faithful map g gives each part of the input the share of the score that the
part carries, so the map's sum over what is removed follows the score's drop. The
correlation is Pearson's (higher is better, at most 1).

As in xplique's ``MuFidelity``: the image is cut into ``grid`` x ``grid`` cells (0: single
pixels), each of ``samples`` subsets removes a ``fraction`` of the cells drawn at random
(subset i depends only on (seed, i)), and removed pixels take the baseline's values
(black: 0 in pixels, preprocessed like the image).
"""

from __future__ import annotations

import numpy as np

from ..attribution import batch_size_parameter
from ..errors import ParameterError
from ..registry import Parameter
from .evaluation import Evaluation, metric
from .perturbation import SCORE_PARAMETER, Masks, baseline_image, baseline_parameter, scores_of
from .statistics import pearson


def cell_grid(shape: tuple[int, int], grid: int) -> np.ndarray:
    """(H, W) int: the cell of each pixel, ``grid`` x ``grid`` cells (0: one per pixel)."""
    height, width = shape
    if grid == 0:
        return np.arange(height * width).reshape(height, width)
    rows = np.arange(height) * min(grid, height) // height
    columns = np.arange(width) * min(grid, width) // width
    return rows[:, np.newaxis] * min(grid, width) + columns[np.newaxis, :]


def subset_size(cells: int, fraction: float) -> int:
    """How many of ``cells`` cells a subset removes: round(fraction * cells), at least one."""
    return min(cells, max(1, int(round(fraction * cells))))


def removed_cells(cells: int, fraction: float, seed: int, sample: int) -> np.ndarray:
    """The cells subset ``sample`` removes: :func:`subset_size` of them."""
    size = subset_size(cells, fraction)
    return np.random.default_rng([seed, sample]).choice(cells, size, replace=False)


def check_subsets(context, params) -> None:
    """Refuse subsets that are all the same (every cell removed, or a single cell): their
    correlation is undefined."""
    cells = int(cell_grid(context.require_image().array.shape[:2], params["grid"]).max()) + 1
    if cells < 2:
        raise ParameterError("a grid of 1 x 1 cells removes the whole image in every subset: "
                             "take a grid of 2 or more (0: single pixels)")
    if subset_size(cells, params["fraction"]) == cells:
        raise ParameterError(f"a fraction of {params['fraction']:g} removes all {cells} cells "
                             "in every subset: take a smaller fraction")


@metric(
    id="mu-fidelity", name="MuFidelity",
    description="Correlation, over random subsets of the image, between the map's sum over "
                "the subset and the drop of the class score when the subset is removed "
                "(higher is better).",
    reference="Bhatt et al. 2020, Evaluating and Aggregating Feature-based Model "
              "Explanations, arXiv:2005.00631, definition 3",
    parameters=(
        Parameter("samples", "int", 128, "random subsets removed", 2, 65536),
        Parameter("grid", "int", 9, "the image is cut into grid x grid cells, removed whole "
                  "(0: single pixels)", 0, 4096),
        Parameter("fraction", "float", 0.2, "fraction of the cells each subset removes",
                  0.0, 1.0),
        baseline_parameter("black", "what removed pixels become: 0, a blurred copy, or the "
                                    "image's channel mean"),
        SCORE_PARAMETER,
        Parameter("seed", "int", 0, "random seed of the subsets", 0, 2**31 - 1),
        batch_size_parameter("perturbed images per model call"),
    ),
    higher_is_better=True, score_name="Pearson correlation of map sums and score drops",
    check=check_subsets,
)
def mu_fidelity(context, explanation, params, progress, should_stop):
    image = context.require_image()
    x = image.array
    baseline = baseline_image(image, params["baseline"])
    cells = cell_grid(x.shape[:2], params["grid"])
    count = int(cells.max()) + 1
    subsets = [removed_cells(count, params["fraction"], params["seed"], i)
               for i in range(params["samples"])]
    masks = Masks(params["samples"] + 1,
                  lambda i: np.isin(cells, subsets[i - 1]) if i else np.zeros(cells.shape, bool))
    scores = scores_of(context, explanation.target.index, masks, x, baseline,
                       logits=params["score"] == "logit", batch_size=params["batch_size"],
                       progress=progress, should_stop=should_stop)
    drops = scores[0] - scores[1:]
    per_cell = np.bincount(cells.ravel(), weights=explanation.map.ravel().astype(np.float64),
                           minlength=count)
    sums = np.array([per_cell[subset].sum() for subset in subsets])
    correlation = pearson(sums, drops)
    return Evaluation("mu-fidelity", "", correlation, np.column_stack([sums, drops]),
                      {"curve_kind": "scatter", "score_of_the_input": float(scores[0]),
                       "cells": count,
                       "cells_per_subset": subset_size(count, params["fraction"])},
                      columns=("map summed over the removed cells", "drop of the class score"))
