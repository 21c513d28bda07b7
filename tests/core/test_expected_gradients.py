"""Expected gradients (Erion et al. 2021): on a linear model every sample is exact, so the
map is (x - mean baseline) w; on a smooth model the attributions add up to
F(x) - E[F(baseline)] in expectation; reference images from a folder; batching."""

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from builders import counting_model, random_pixels
from dial_visualization.core.images import load_image
from test_integrated_gradients import linear_model, smooth_model


def test_a_linear_model_is_complete_for_every_baseline_drawn():
    model = linear_model()
    pixels = random_pixels(size=4)

    result = dv.explain(model, pixels, "expected-gradients", target=1, preprocessing="unit",
                        samples=16)

    change = result.info["score"] - result.info["mean_baseline_score"]
    assert abs(change) > 0.1
    assert abs(result.info["completeness_delta"]) < 1e-4 * abs(change)
    assert result.info["channel_reduction"] == "sum"


def test_a_reference_image_is_the_baseline(tmp_path):
    model = linear_model()
    pixels = random_pixels(size=4)
    reference = random_pixels(size=4, seed=9)
    Image.fromarray(reference).save(tmp_path / "reference.png")
    x = load_image(pixels, model, "unit").array
    weights = model.get_layer("logits").get_weights()[0][:, 0].reshape(x.shape)

    result = dv.explain(model, pixels, "expected-gradients", target=0, preprocessing="unit",
                        samples=8, baseline="references", references=str(tmp_path))

    np.testing.assert_allclose(result.channels, (x - reference / 255.0) * weights, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("baseline", ["noise", "black"])
def test_a_smooth_model_is_complete_in_expectation(baseline):
    """Measured: F(x) - E[F(x')] = -0.187 (noise) and 0.671 (black), off by 0.0027 and
    0.0138 at 2048 samples."""
    model = smooth_model()
    pixels = random_pixels(size=8)

    result = dv.explain(model, pixels, "expected-gradients", target=1, preprocessing="unit",
                        samples=2048, batch_size=256, baseline=baseline)

    change = result.info["score"] - result.info["mean_baseline_score"]
    print("expected gradients: change", change, "delta", result.info["completeness_delta"])
    assert abs(change) > 0.1
    assert abs(result.info["completeness_delta"]) < 0.05 * abs(change)


def test_results_do_not_depend_on_the_batch_size_and_follow_the_seed():
    model = smooth_model()
    pixels = random_pixels(size=8)
    maps = [dv.explain(model, pixels, "expected-gradients", samples=12, batch_size=size,
                       noise=0.1, preprocessing="unit").data for size in (1, 5, 0)]
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-4, atol=1e-6 * np.abs(maps[0]).max())
    other_seed = dv.explain(model, pixels, "expected-gradients", samples=12, seed=1,
                            preprocessing="unit").data
    assert not np.allclose(other_seed, maps[0])


def test_a_missing_reference_folder_is_refused(tmp_path):
    from dial_visualization.core.errors import MethodNotApplicableError

    with pytest.raises(MethodNotApplicableError, match="needs the references folder"):
        dv.explain(linear_model(), random_pixels(size=4), "expected-gradients",
                   baseline="references")
    with pytest.raises(MethodNotApplicableError, match="no images in folder"):
        dv.explain(linear_model(), random_pixels(size=4), "expected-gradients",
                   baseline="references", references=str(tmp_path))


def test_a_fixed_baseline_is_scored_once():
    """Black is every sample's baseline: the model sees it once, beside the input, not once
    per sample; its score is the linear model's logit on 0, its bias."""
    model, counter = counting_model()
    image = dv.load_image(random_pixels(), model, preprocessing="unit")  # its check not counted
    seen = {}
    for baseline in ("noise", "black"):
        before = int(counter.seen.numpy())
        dv.explain(model, image, "expected-gradients", target=2, samples=8,
                   batch_size=4, baseline=baseline)
        seen[baseline] = int(counter.seen.numpy()) - before
    linear = linear_model()

    result = dv.explain(linear, random_pixels(size=4), "expected-gradients", target=1,
                        samples=8, baseline="black", preprocessing="unit")

    assert seen["black"] == seen["noise"] - 8 + 1
    bias = linear.get_layer("logits").get_weights()[1][1]
    assert result.info["mean_baseline_score"] == pytest.approx(bias, rel=1e-6, abs=1e-7)
