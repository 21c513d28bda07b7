"""Deletion (Petsiuk, Das & Saenko 2018, RISE: Randomized Input Sampling for Explanation of
Black-box Models, BMVC, arXiv:1806.07421, section 4.1).

The pixels are removed from the input in the order of the map, most important first, in
``steps`` equal steps, and the class probability is recorded after each: a map that finds
what the class depends on makes the probability fall at once. The score is the area under
that curve over the fraction removed, 0 to 1 (lower is better). Removed pixels take the
baseline's values (black by default: "pixels are set to zero" in the paper); with ``patch``
> 1 the map is averaged over squares of ``patch`` x ``patch`` pixels that are removed whole.

Step k removes the round(k U / steps) highest of the U pixels or squares, so the curve has
``steps`` + 1 points, from the input (k = 0) to the baseline (k = steps).
"""

from __future__ import annotations

import numpy as np

from ..attribution import batch_size_parameter
from ..errors import ParameterError
from ..registry import Parameter
from .evaluation import Evaluation, metric
from .perturbation import (SCORE_PARAMETER, Masks, baseline_image, baseline_parameter,
                           removal_ranks, scores_of, unit_grid)
from .statistics import area_under_curve

STEPS = Parameter("steps", "int", 32, "steps from the input to the baseline (the curve has "
                  "steps + 1 points)", 1, 4096)
PATCH = Parameter("patch", "int", 1, "granularity: 1 removes pixels, N > 1 squares of N x N "
                  "pixels ordered by their mean map value", 1, 512)


def removal_curve(context, explanation, params, *, insertion: bool, progress, should_stop):
    """(fractions (steps + 1,), scores (steps + 1,)) of deletion, or of insertion: the
    pixels revealed over the baseline in the order of the map."""
    image = context.require_image()
    x = image.array
    baseline = baseline_image(image, params["baseline"])
    units = unit_grid(x.shape[:2], params["patch"])
    ranks = removal_ranks(explanation.map, units)
    total = int(units.max()) + 1
    steps = params["steps"]
    counts = np.rint(np.arange(steps + 1) * total / steps).astype(np.int64)
    start, end = (baseline, x) if insertion else (x, baseline)
    masks = Masks(steps + 1, lambda k: ranks < counts[k])
    scores = scores_of(context, explanation.target.index, masks, start, end,
                       logits=params["score"] == "logit", batch_size=params["batch_size"],
                       progress=progress, should_stop=should_stop)
    return counts / total, scores


def check_patch(context, params) -> None:
    """Refuse a patch that leaves the image one square: the curve would be a single jump."""
    height, width = context.require_image().array.shape[:2]
    if params["patch"] >= max(height, width):
        raise ParameterError(f"patch {params['patch']} covers the whole {height}x{width} "
                             "image the model sees: take a patch smaller than its longer side")


def parameters(baseline: str, baseline_help: str):
    return (STEPS, baseline_parameter(baseline, baseline_help), PATCH, SCORE_PARAMETER,
            batch_size_parameter("perturbed images per model call"))


def curve_evaluation(metric_id: str, fractions, scores, what: str, patch: int) -> Evaluation:
    return Evaluation(metric_id, "", area_under_curve(fractions, scores),
                      np.column_stack([fractions, scores]),
                      {"granularity": "pixel" if patch == 1 else f"{patch}x{patch} patch",
                       "first_score": float(scores[0]), "last_score": float(scores[-1])},
                      columns=(f"fraction of the {'pixels' if patch == 1 else 'patches'} "
                               f"{what}", "class score"))


@metric(
    id="deletion", name="Deletion",
    description="Remove the pixels in the order of the map, most important first, and record "
                "the class score: the area under that curve (lower is better).",
    reference="Petsiuk et al. 2018, RISE: Randomized Input Sampling for Explanation of "
              "Black-box Models, arXiv:1806.07421, section 4.1",
    parameters=parameters("black", "what removed pixels become: 0, a blurred copy, or the "
                                   "image's channel mean"),
    higher_is_better=False, score_name="area under the deletion curve", check=check_patch,
)
def deletion(context, explanation, params, progress, should_stop):
    fractions, scores = removal_curve(context, explanation, params, insertion=False,
                                      progress=progress, should_stop=should_stop)
    return curve_evaluation("deletion", fractions, scores, "removed", params["patch"])
