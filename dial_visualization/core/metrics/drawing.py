"""Evaluations drawn with matplotlib: the deletion and insertion curves on one axes (the
class score over the fraction of the input removed or revealed, their areas in the legend),
and MuFidelity's scatter on its own (the map summed over each random subset against the
drop of the class score when that subset is removed, the correlation in the title).

The app's panel under a tile, the canvas's export and a tile's PNG all draw with
:func:`draw_evaluations`, on a Figure or a SubFigure.
"""

from __future__ import annotations

import numpy as np

from .evaluation import Evaluation

#: The metrics whose curves share one axes: a score over the fraction removed or revealed.
CURVE_METRICS = ("deletion", "insertion")
#: The order in which evaluations are listed and drawn.
ORDER = ("deletion", "insertion", "mu-fidelity")
FONT_SIZE = 7


def better_text(evaluation: Evaluation) -> str:
    return {True: "higher is better", False: "lower is better"}.get(
        evaluation.higher_is_better, "")


def name_of(evaluation: Evaluation) -> str:
    return evaluation.info.get("metric_name", evaluation.metric)


def score_text(evaluation: Evaluation) -> str:
    """"Deletion AUC 0.0403 (lower is better)", "MuFidelity 0.62 (higher is better)"."""
    area = " AUC" if evaluation.metric in CURVE_METRICS else ""
    return f"{name_of(evaluation)}{area} {evaluation.score:.3g} ({better_text(evaluation)})"


def ordered(evaluations: list[Evaluation]) -> list[Evaluation]:
    """``evaluations`` in :data:`ORDER` (others after them, as given)."""
    return sorted(evaluations, key=lambda e: ORDER.index(e.metric) if e.metric in ORDER
                  else len(ORDER))


def axes_groups(evaluations: list[Evaluation]) -> list[list[Evaluation]]:
    """The evaluations of each axes, top to bottom: the curves together, each other alone."""
    evaluations = ordered(evaluations)
    curves = [e for e in evaluations if e.metric in CURVE_METRICS]
    return ([curves] if curves else []) + [[e] for e in evaluations
                                           if e.metric not in CURVE_METRICS]


def draw_evaluations(evaluations: list[Evaluation], figure) -> list:
    """Every evaluation on ``figure`` (cleared first), one axes per group of
    :func:`axes_groups`, stacked; returns the axes."""
    figure.clear()
    groups = axes_groups(evaluations)
    if not groups:
        return []
    axes = np.atleast_1d(figure.subplots(len(groups), 1, squeeze=False)[:, 0])
    for each, group in zip(axes, groups):
        if group[0].info.get("curve_kind") == "scatter":
            _draw_scatter(group[0], each)
        else:
            _draw_curves(group, each)
        each.tick_params(labelsize=FONT_SIZE)
    return list(axes)


def _draw_curves(evaluations: list[Evaluation], axes) -> None:
    for evaluation in evaluations:
        x, y = evaluation.curve[:, 0], evaluation.curve[:, 1]
        axes.plot(x, y, marker="." if len(x) <= 40 else None,
                  label=f"{name_of(evaluation)} (AUC {evaluation.score:.3g})")
    axes.set_xlabel("fraction of the input removed (deletion) / revealed (insertion)",
                    fontsize=FONT_SIZE)
    axes.set_ylabel("class score", fontsize=FONT_SIZE)
    axes.set_ylim(-0.02, max(1.02, float(max(e.curve[:, 1].max() for e in evaluations))))
    axes.legend(fontsize=FONT_SIZE)


def _draw_scatter(evaluation: Evaluation, axes) -> None:
    """MuFidelity: a point per random subset removed."""
    sums, drops = evaluation.curve[:, 0], evaluation.curve[:, 1]
    axes.scatter(sums, drops, s=6, alpha=0.7)
    info = evaluation.info
    subsets = f"{len(sums)} subsets"
    if "cells" in info and "cells_per_subset" in info:
        subsets += f" of {info['cells_per_subset']}/{info['cells']} cells"
    axes.set_title(f"{score_text(evaluation)}: {subsets}", fontsize=FONT_SIZE)
    columns = evaluation.columns or ("", "")
    axes.set_xlabel(columns[0], fontsize=FONT_SIZE)
    axes.set_ylabel(columns[1], fontsize=FONT_SIZE)

