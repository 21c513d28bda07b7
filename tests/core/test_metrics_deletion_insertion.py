"""Deletion and insertion (Petsiuk et al. 2018): the curves of a model linear in the input
have a closed form; the map of the region that decides the class beats a random and an
inverted map; pixels or patches; batching, progress and cancelling."""

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.errors import (Cancelled, MethodNotApplicableError, ParameterError,
                                           RegistryError)
from dial_visualization.core.images import load_image
from metric_models import object_image, object_model, region_map


def linear_model(seed=0):
    """One output ``x . w + b`` with no squashing: its "probability" is linear in x."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((4, 4, 3), name="image"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomUniform(-1, 1),
                           bias_initializer=keras.initializers.Constant(0.25), name="score"),
    ], name="linear")


def closed_form(model, x, baseline, saliency, steps, insertion=False, patch=1):
    """The score after each step, from the model's weights: b + sum over the pixels of
    w . (the input where kept or revealed, else the baseline)."""
    weights, bias = (v.numpy() for v in model.get_layer("score").weights)
    weights = weights[:, 0].reshape(x.shape)
    units = (np.arange(4)[:, None] // patch) * (-(-4 // patch)) + np.arange(4)[None, :] // patch
    unit_values = {u: saliency[units == u].mean() for u in np.unique(units)}
    order = sorted(unit_values, key=lambda u: -unit_values[u])
    scores = []
    for k in range(steps + 1):
        chosen = np.isin(units, order[:int(round(k * len(order) / steps))])[..., None]
        shown = np.where(chosen, x, baseline) if insertion else np.where(chosen, baseline, x)
        scores.append(bias[0] + (weights * shown).sum())
    return np.array(scores)


@pytest.mark.parametrize("metric", ["deletion", "insertion"])
@pytest.mark.parametrize("steps, patch", [(16, 1), (5, 1), (4, 2), (3, 3)])
def test_a_linear_model_gives_the_closed_form_curve_and_its_area(metric, steps, patch):
    model = linear_model()
    pixels = random_pixels(size=4, seed=3)
    image = load_image(pixels, model, "unit")
    saliency = np.random.default_rng(4).random((4, 4)).astype(np.float32)

    evaluation = dv.evaluate(model, image, saliency, metric, steps=steps, patch=patch,
                             baseline="black")

    black = np.zeros_like(image.array)  # pixel value 0 under "unit"
    expected = closed_form(model, image.array, black, saliency, steps, metric == "insertion",
                           patch)
    units = len(np.unique((np.arange(4)[:, None] // patch) * 10 + np.arange(4)[None, :] // patch))
    fractions = np.rint(np.arange(steps + 1) * units / steps) / units
    np.testing.assert_allclose(evaluation.curve[:, 0], fractions)
    np.testing.assert_allclose(evaluation.curve[:, 1], expected, rtol=1e-5, atol=1e-5)
    area = np.sum((expected[1:] + expected[:-1]) / 2 * np.diff(fractions))
    assert evaluation.score == pytest.approx(area, rel=1e-5, abs=1e-6)
    assert evaluation.higher_is_better is (metric == "insertion")
    assert evaluation.method == "map" and evaluation.metric == metric


@pytest.mark.parametrize("baseline", ["mean", "blur"])
def test_other_baselines_are_what_removed_pixels_become(baseline):
    from dial_visualization.core.metrics.perturbation import baseline_image

    model = linear_model()
    image = load_image(random_pixels(size=4, seed=3), model, "unit")
    saliency = np.random.default_rng(4).random((4, 4)).astype(np.float32)

    evaluation = dv.evaluate(model, image, saliency, "deletion", steps=8, baseline=baseline)

    filled = baseline_image(image, baseline)
    if baseline == "mean":
        np.testing.assert_allclose(filled, np.broadcast_to(image.array.mean((0, 1)), (4, 4, 3)))
    expected = closed_form(model, image.array, filled, saliency, 8)
    np.testing.assert_allclose(evaluation.curve[:, 1], expected, rtol=1e-5, atol=1e-5)


def ordering_scores(metric, **params):
    model = object_model()
    image = load_image(object_image(), model, "unit")
    region = region_map()
    maps = {"region": region, "inverted": 1 - region,
            "random": np.random.default_rng(0).random(region.shape)}
    scores = {name: dv.evaluate(model, image, saliency, metric, target=1, **params).score
              for name, saliency in maps.items()}
    scores["grad-cam"] = dv.evaluate(model, image, "grad-cam", metric, target=1, **params).score
    scores["occlusion"] = dv.evaluate(model, image, "occlusion", metric, target=1,
                                      method_params={"patch": 4, "stride": 2}, **params).score
    return scores


def test_deletion_the_deciding_region_beats_random_and_inverted_maps():
    scores = ordering_scores("deletion")
    print("deletion", scores)
    assert scores["region"] < scores["random"] < scores["inverted"]
    assert max(scores["grad-cam"], scores["occlusion"]) < scores["random"] - 0.1


def test_insertion_the_deciding_region_beats_random_and_inverted_maps():
    scores = ordering_scores("insertion")
    print("insertion", scores)
    assert scores["region"] > scores["random"] > scores["inverted"]
    assert min(scores["grad-cam"], scores["occlusion"]) > scores["random"] + 0.02
    black = ordering_scores("insertion", baseline="black")
    print("insertion over black", black)
    assert black["region"] > black["random"] + 0.3 > black["inverted"] + 0.3


def test_results_do_not_depend_on_the_batch_size_and_progress_reaches_one():
    model = object_model()
    image = load_image(object_image(), model, "unit")
    reported = {size: [] for size in (1, 7, 0)}
    curves = [dv.evaluate(model, image, region_map(), "deletion", batch_size=size,
                          progress=reported[size].append).curve for size in reported]
    for curve in curves[1:]:
        np.testing.assert_allclose(curve, curves[0], rtol=1e-5, atol=1e-7)
    for fractions in reported.values():
        assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(reported[1]) > len(reported[7]) > 1


def test_cancelling_stops_between_batches():
    model = object_model()
    image = load_image(object_image(), model, "unit")
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        dv.evaluate(model, image, "saliency", "insertion", batch_size=2,
                    should_stop=should_stop)


def test_bad_parameters_and_maps_are_refused_before_any_work():
    model = linear_model()
    image = load_image(random_pixels(size=4), model, "unit")
    with pytest.raises(ParameterError, match="baseline: 'white' is not one of black, blur, mean"):
        dv.evaluate(model, image, "saliency", "deletion", baseline="white")
    with pytest.raises(ParameterError, match="metric deletion has no parameter samples"):
        dv.evaluate(model, image, "saliency", "deletion", samples=3)
    with pytest.raises(MethodNotApplicableError, match=r"the map has shape \(3, 3\)"):
        dv.evaluate(model, image, np.zeros((3, 3)), "deletion")
    with pytest.raises(RegistryError, match="unknown metric 'faithfulness'"):
        dv.evaluate(model, image, "saliency", "faithfulness")
    with pytest.raises(MethodNotApplicableError, match="not a map over the input"):
        dv.evaluate(model, image, "predictions", "deletion")
    for metric in ("deletion", "insertion"):  # in range, but one square: a single jump
        with pytest.raises(ParameterError, match="^patch 4 covers the whole 4x4 image the "
                                                 "model sees: take a patch smaller than its "
                                                 "longer side$"):
            dv.evaluate(model, image, "saliency", metric, patch=4)
        assert len(dv.evaluate(model, image, "saliency", metric, patch=3, steps=4).curve) == 5


def test_the_evaluation_draws_its_curve(tmp_path):
    model = linear_model()
    image = load_image(random_pixels(size=4), model, "unit")
    evaluation = dv.evaluate(model, image, "saliency", "deletion", steps=4)
    path = evaluation.save_png(tmp_path / "curve.png")
    assert path.stat().st_size > 1000
    assert evaluation.columns == ("fraction of the pixels removed", "class score")
    assert evaluation.info["class"] == 0 and evaluation.method == "saliency"
