"""LIME (Ribeiro et al. 2016): on a model linear in the superpixels (linear in the input,
hidden superpixels black) the weighted linear fit recovers each superpixel's contribution;
without scikit-image or scikit-learn the method says which extra to install."""

import sys

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.errors import MethodNotApplicableError
from dial_visualization.core.images import load_image


def linear_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((16, 16, 3), name="image"), keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, kernel_initializer=keras.initializers.RandomUniform(-1, 1),
                           bias_initializer=keras.initializers.Constant(0.5), name="score"),
    ], name="linear")


def test_the_weights_of_a_model_linear_in_the_superpixels_are_recovered():
    model = linear_model()
    pixels = random_pixels(seed=5)
    x = load_image(pixels, model, "unit").array
    weights = model.get_layer("score").get_weights()[0][:, 1].reshape(x.shape)

    result = dv.explain(model, pixels, "lime", target=1, preprocessing="unit", segments=12,
                        samples=200, fill="black", alpha=1e-6)

    superpixels = result.info["superpixels"]
    count = superpixels.max() + 1
    assert 4 <= count <= 40 and superpixels.shape == (16, 16)
    contribution = np.array([(weights * x)[superpixels == k].sum() for k in range(count)])
    np.testing.assert_allclose(result.info["weights"], contribution, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(result.data, contribution[superpixels], rtol=1e-3, atol=1e-3)
    assert result.info["r_squared"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("fill, segmentation", [("mean", "slic"), ("blur", "quickshift")])
def test_other_fills_and_quickshift_run(fill, segmentation):
    from metric_models import object_image

    result = dv.explain(linear_model(), object_image(), "lime", preprocessing="unit",
                        samples=32, fill=fill, segmentation=segmentation)
    assert result.data.shape == (16, 16) and not result.is_constant


@pytest.mark.parametrize("module", ["sklearn", "skimage"])
def test_without_the_extra_it_says_what_to_install(monkeypatch, module):
    for name in [name for name in sys.modules if name.split(".")[0] == module] + [module]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MethodNotApplicableError,
                       match=r"LIME needs scikit-image and scikit-learn .*dial-visualization\[methods\]"):
        dv.explain(linear_model(), random_pixels(), "lime", samples=4)
