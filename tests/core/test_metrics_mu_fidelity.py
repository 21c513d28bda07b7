"""MuFidelity (Bhatt et al. 2020): on a model linear in the input, a map of each pixel's
exact contribution correlates perfectly with the score drops (and its negation
perfectly negatively); the deciding region beats random and inverted maps; the subsets are
reproducible from the seed."""

import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.errors import ParameterError
from dial_visualization.core.images import load_image
from dial_visualization.core.metrics.mu_fidelity import cell_grid, removed_cells
from metric_models import object_image, object_model, region_map
from test_metrics_deletion_insertion import linear_model


@pytest.mark.parametrize("grid", [0, 2, 3])
def test_exact_contributions_of_a_linear_model_correlate_perfectly(grid):
    model = linear_model()
    image = load_image(random_pixels(size=4, seed=3), model, "unit")
    weights = model.get_layer("score").weights[0].numpy()[:, 0].reshape(4, 4, 3)
    contribution = (weights * image.array).sum(-1)  # removing to black loses exactly this

    evaluation = dv.evaluate(model, image, contribution, "mu-fidelity", grid=grid,
                             samples=24, fraction=0.3)
    opposite = dv.evaluate(model, image, -contribution, "mu-fidelity", grid=grid,
                           samples=24, fraction=0.3)

    assert evaluation.score == pytest.approx(1.0, abs=1e-5)
    assert opposite.score == pytest.approx(-1.0, abs=1e-5)
    sums, drops = evaluation.curve.T
    np.testing.assert_allclose(sums, drops, rtol=1e-4, atol=1e-5)
    assert evaluation.columns[1] == "drop of the class score"


def test_the_deciding_region_beats_random_and_inverted_maps():
    model = object_model()
    image = load_image(object_image(), model, "unit")
    region = region_map()
    scores = {name: dv.evaluate(model, image, saliency, "mu-fidelity", target=1).score
              for name, saliency in {"region": region, "inverted": 1 - region,
                                     "random": np.random.default_rng(0).random((16, 16))}.items()}
    scores["grad-cam"] = dv.evaluate(model, image, "grad-cam", "mu-fidelity", target=1).score
    scores["occlusion"] = dv.evaluate(model, image, "occlusion", "mu-fidelity", target=1,
                                      method_params={"patch": 4, "stride": 2}).score
    print("mu-fidelity", scores)
    assert scores["region"] > 0.8 > scores["random"] + 0.3 > scores["inverted"] + 0.3
    assert min(scores["grad-cam"], scores["occlusion"]) > scores["random"] + 0.5


def test_cells_and_subsets():
    cells = cell_grid((16, 16), 4)
    assert cells.max() == 15 and (np.bincount(cells.ravel()) == 16).all()
    assert cell_grid((5, 7), 0).max() == 34
    assert cell_grid((2, 2), 9).max() == 3  # no more cells than pixels
    first = removed_cells(81, 0.2, seed=3, sample=5)
    assert len(first) == 16 and len(set(first)) == 16
    np.testing.assert_array_equal(first, removed_cells(81, 0.2, seed=3, sample=5))
    assert not np.array_equal(first, removed_cells(81, 0.2, seed=4, sample=5))


def test_subsets_that_are_all_alike_are_refused_before_any_work():
    model = linear_model()
    image = load_image(random_pixels(size=4, seed=3), model, "unit")
    with pytest.raises(ParameterError, match="^a grid of 1 x 1 cells removes the whole image"):
        dv.evaluate(model, image, "saliency", "mu-fidelity", grid=1)
    with pytest.raises(ParameterError, match="^a fraction of 0.9 removes all 4 cells in every "
                                             "subset: take a smaller fraction$"):
        dv.evaluate(model, image, "saliency", "mu-fidelity", grid=2, fraction=0.9)
    evaluation = dv.evaluate(model, image, "saliency", "mu-fidelity", grid=2, fraction=0.6,
                             samples=8)
    assert evaluation.info["cells"] == 4 and evaluation.info["cells_per_subset"] == 2
