"""The sanity check by cascading model randomisation (Adebayo, Gilmer, Muelly, Goodfellow,
Hardt & Kim 2018, Sanity Checks for Saliency Maps, NeurIPS, arXiv:1810.03292, section 3.1).

The layers' weights are re-initialised cumulatively from the top (the output) down, the map
is made again after each step, and each map is compared with the original one: Spearman's
rank correlation of the maps and of their absolute values, and the SSIM of the maps
min-max scaled to [0, 1]. A map that stays the same while the model is destroyed does not
explain the model (an edge detector would pass it), so the score, the rank correlation of
the absolute maps once every layer chosen is random, should be low.

The user's model is never modified: the layers are re-initialised on a clone
(``keras.models.clone_model`` with the model's weights), each variable from its layer's
own initializer (``kernel_initializer``, ``bias_initializer``, BatchNormalization's
``gamma``/``beta``/moving statistics, ...), seeded; a variable without one is drawn from a
Glorot-uniform (matrices, kernels) or a normal distribution of its own spread (vectors).
Step k randomises the top round(k L / steps) of the L layers randomised (``steps`` 0: one
layer a step): the top ``layers`` of those with weights (0: all of them), nested models'
layers included, in the reverse order of the graph.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from ..errors import MethodNotApplicableError, ParameterError
from ..layers import LayerTree
from ..registry import Parameter
from .evaluation import Evaluation, metric
from .statistics import spearman, ssim, unit_range


def clone(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its own variables holding the same values."""
    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    except Exception as error:  # a subclassed model, a layer that cannot be rebuilt
        raise MethodNotApplicableError(
            f"the model cannot be copied for randomisation ({type(error).__name__}: "
            f"{error}); the sanity check never changes the model itself") from None
    return copy


def layers_top_down(model: keras.Model) -> list[tuple[str, keras.Layer]]:
    """(path, layer) of every layer with weights, the output's end first."""
    found = [(node.path, node.layer) for node in LayerTree.of(model).walk()
             if not node.children and node.layer.weights]
    return found[::-1]


def _initializer(layer, variable):
    name = variable.name.split("/")[-1].split(":")[0]
    candidates = [f"{name}_initializer", f"{name.replace('_kernel', '')}_initializer"]
    if name == "kernel":
        candidates.append("depthwise_initializer")
    for attribute in candidates:
        found = getattr(layer, attribute, None)
        if found is not None:
            return keras.initializers.get(found)
    return None


def _seeded(initializer, seed: int):
    config = initializer.get_config()
    if "seed" in config:
        return type(initializer).from_config({**config, "seed": seed})
    return initializer


def randomize(layer, seed: int) -> None:
    """Re-initialise every variable of ``layer`` (a layer of a clone) from its initializer."""
    for number, variable in enumerate(layer.weights):
        shape, dtype = tuple(variable.shape), variable.dtype
        initializer = _initializer(layer, variable)
        if initializer is not None:
            values = _seeded(initializer, seed * 1009 + number)(shape, dtype=dtype)
        elif len(shape) >= 2:
            values = keras.initializers.GlorotUniform(seed * 1009 + number)(shape, dtype=dtype)
        else:
            current = np.asarray(variable.numpy(), np.float64)
            spread = float(current.std()) or 0.05
            values = np.random.default_rng([seed, number]).normal(0.0, spread, shape)
        variable.assign(np.asarray(values).astype(variable.dtype))


def check_layers(context, params) -> None:
    """Refuse more layers than the model has with weights."""
    count = len(layers_top_down(context.model))
    if params["layers"] > count:
        raise ParameterError(f"layers {params['layers']}: the model has {count} layers with "
                             "weights (0 randomises them all)")


@metric(
    id="model-randomization", name="Model randomisation",
    description="Re-initialise the layers' weights from the top down on a copy of the model, "
                "make the map again at each step and compare it with the original: rank "
                "correlation (with and without absolute values) and SSIM (lower is better: "
                "the map should depend on the model).",
    reference="Adebayo et al. 2018, Sanity Checks for Saliency Maps, arXiv:1810.03292, "
              "section 3.1",
    parameters=(
        Parameter("steps", "int", 0, "randomisation steps (0: one per layer with weights)",
                  0, 10000),
        Parameter("layers", "int", 0, "randomise the top N layers with weights, from the "
                  "output down (0: all of them)", 0, 100000),
        Parameter("seed", "int", 0, "random seed of the new weights", 0, 2**31 - 1),
    ),
    higher_is_better=False, needs_method=True, check=check_layers,
    score_name="rank correlation of the absolute maps, the chosen layers random",
)
def model_randomization(context, explanation, params, progress, should_stop):
    copy = clone(context.model)
    layers = layers_top_down(copy)[:params["layers"] or None]
    if not layers:
        raise MethodNotApplicableError("the model has no weights to randomise")
    steps = params["steps"] or len(layers)
    steps = min(steps, len(layers))
    on_copy = dataclasses.replace(context, model=copy)
    original = explanation.map
    maps, names, rows = [original], [], [(0, 1.0, 1.0, 1.0)]
    done = 0
    for step in range(1, steps + 1):
        if should_stop():
            from ..errors import Cancelled

            raise Cancelled("cancelled")
        upto = int(round(step * len(layers) / steps))
        for path, layer in layers[done:upto]:
            randomize(layer, params["seed"] + len(names))
            names.append(path)
        done = upto
        again = explanation.again(on_copy, lambda f: progress((step - 1 + f) / steps),
                                  should_stop)
        maps.append(again)
        rows.append((step, spearman(original, again), spearman(np.abs(original), np.abs(again)),
                     ssim(unit_range(original), unit_range(again))))
        progress(step / steps)
    curve = np.array(rows, np.float64)
    return Evaluation(
        "model-randomization", "", curve[-1, 2], curve,
        {"maps": np.stack(maps), "layers": names,
         "randomized_at_step": [names[:int(round(s * len(layers) / steps))]
                                for s in range(steps + 1)],
         "spearman": curve[-1, 1], "spearman_abs": curve[-1, 2], "ssim": curve[-1, 3]},
        columns=("randomisation step (layers from the top)", "rank correlation",
                 "rank correlation of |map|", "SSIM"))
