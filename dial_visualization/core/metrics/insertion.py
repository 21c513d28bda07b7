"""Insertion (Petsiuk, Das & Saenko 2018, RISE: Randomized Input Sampling for Explanation of
Black-box Models, BMVC, arXiv:1806.07421, section 4.1).

The complement of deletion: starting from a blurred copy of the image (the paper's choice,
``blur``; ``black`` and ``mean`` also), the input's pixels are put back in the order of the
map, most important first, in ``steps`` equal steps, and the class probability is
recorded after each. The score is the area under that curve over the fraction revealed,
0 to 1 (higher is better). Steps, patches and the curve's points are as in
:mod:`.deletion`.
"""

from __future__ import annotations

from .deletion import check_patch, curve_evaluation, parameters, removal_curve
from .evaluation import metric


@metric(
    id="insertion", name="Insertion",
    description="Reveal the pixels over a blurred copy in the order of the map, most "
                "important first, and record the class score: the area under that curve "
                "(higher is better).",
    reference="Petsiuk et al. 2018, RISE: Randomized Input Sampling for Explanation of "
              "Black-box Models, arXiv:1806.07421, section 4.1",
    parameters=parameters("blur", "what the pixels not yet revealed are: a blurred copy, 0, "
                                  "or the image's channel mean"),
    higher_is_better=True, score_name="area under the insertion curve", check=check_patch,
)
def insertion(context, explanation, params, progress, should_stop):
    fractions, scores = removal_curve(context, explanation, params, insertion=True,
                                      progress=progress, should_stop=should_stop)
    return curve_evaluation("insertion", fractions, scores, "revealed", params["patch"])
