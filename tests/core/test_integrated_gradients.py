"""Integrated gradients: completeness (the map sums the colour channels, so it keeps it), the
straight path and trapezoid rule, baselines, batch-size independence, cancelling and
progress."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFilter

import dial_visualization as dv
from builders import random_pixels, residual_model
from dial_visualization.core import tf_ops
from dial_visualization.core.context import Context, NodeType, Target
from dial_visualization.core.errors import Cancelled
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.methods.integrated_gradients import integrated_gradients


def linear_model(channels=3, classes=3, seed=0):
    """Logits ``x . w + b``: integrated gradients are exactly (x - baseline) * w."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((4, 4, channels), name="image"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(classes, kernel_initializer=keras.initializers.RandomUniform(0.5, 1.5),
                           bias_initializer="random_normal", name="logits"),
    ], name="linear")


def smooth_model(seed=0):
    keras.utils.set_random_seed(seed)
    wide = keras.initializers.RandomNormal(stddev=0.6)
    return keras.Sequential([
        keras.Input((8, 8, 3), name="image"),
        keras.layers.Conv2D(4, 3, activation="softplus", kernel_initializer=wide, name="conv1"),
        keras.layers.Conv2D(4, 3, activation="tanh", kernel_initializer=wide, name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, kernel_initializer=wide, name="logits"),
        keras.layers.Activation("softmax", name="softmax"),
    ], name="smooth")


def explain(model, pixels, preprocessing="unit", **kwargs):
    return dv.explain(model, pixels, "integrated-gradients", preprocessing=preprocessing, **kwargs)


def test_a_linear_model_gets_input_minus_baseline_times_weights():
    model = linear_model()
    pixels = random_pixels(size=4)
    x = load_image(pixels, model, "symmetric").array
    weights = model.get_layer("logits").get_weights()[0][:, 1].reshape(x.shape)

    result = explain(model, pixels, "symmetric", target=1, steps=3)

    black = -1.0  # pixel value 0 after symmetric preprocessing
    np.testing.assert_allclose(result.channels, (x - black) * weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.data, ((x - black) * weights).sum(-1), rtol=1e-5, atol=1e-6)
    assert result.info["channel_reduction"] == "sum"


def test_the_trapezoid_rule_is_exact_for_a_quadratic_score_even_at_one_step():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((4, 4, 1), name="image")
    projected = keras.layers.Dense(1, use_bias=False, name="project")(
        keras.layers.Flatten(name="flat")(inputs))
    model = keras.Model(inputs, keras.layers.Multiply(name="square")([projected, projected]))

    result = explain(model, random_pixels(size=4, channels=1), "symmetric", steps=1)

    change = result.info["score"] - result.info["baseline_score"]
    assert abs(change) > 1e-3
    assert abs(result.info["completeness_delta"]) < 1e-5 * max(1.0, abs(change))


def test_completeness_within_one_percent_at_256_steps():
    model = smooth_model()
    pixels = random_pixels(size=8)
    x = load_image(pixels, model, "unit").batch()
    logits = keras.Model(model.inputs[0], model.get_layer("logits").output)

    result = explain(model, pixels, target=2, steps=256)

    score, baseline_score = result.info["score"], result.info["baseline_score"]
    np.testing.assert_allclose(score, logits(x)[0, 2], rtol=1e-5)
    np.testing.assert_allclose(baseline_score, logits(np.zeros_like(x))[0, 2], rtol=1e-5, atol=1e-6)
    change = score - baseline_score
    assert abs(change) > 0.05
    assert abs(result.info["completeness_delta"]) < 0.01 * abs(change)
    np.testing.assert_allclose(result.data.sum() - change, result.info["completeness_delta"],
                               atol=1e-4 * abs(change))
    np.testing.assert_allclose(result.data, result.channels.sum(-1), rtol=1e-6, atol=1e-7)
    max_abs = np.abs(result.channels).max(-1).sum()  # the saliency reduction breaks completeness
    assert abs(max_abs - change) > 0.1 * abs(change)


def recovered_baseline(choice, preprocessing="symmetric"):
    """The baseline a run used, read back from a 1-channel linear model: x - IG / w."""
    model = linear_model(channels=1, classes=1)
    pixels = random_pixels(size=4, channels=1, seed=5)
    image = load_image(pixels, model, preprocessing)
    weights = model.get_layer("logits").get_weights()[0][:, 0].reshape(4, 4)
    result = explain(model, pixels, preprocessing, baseline=choice, steps=2)
    return image, image.array[..., 0] - result.data / weights


def test_black_and_white_are_pixel_values_0_and_255_before_preprocessing():
    _, black = recovered_baseline("black")
    _, white = recovered_baseline("white")
    np.testing.assert_allclose(black, -1.0, atol=1e-5)
    np.testing.assert_allclose(white, 1.0, atol=1e-5)


def test_blur_is_a_gaussian_blurred_copy_of_the_image():
    image, blur = recovered_baseline("blur")
    picture = Image.fromarray(image.resized[..., 0]).filter(ImageFilter.GaussianBlur(4 / 16))
    expected = np.asarray(picture, dtype=np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(blur, expected, atol=1e-5)
    assert not np.allclose(blur, image.array[..., 0], atol=1e-3)


def test_noise_is_uniform_pixels_from_a_fixed_seed():
    _, noise = recovered_baseline("noise")
    _, again = recovered_baseline("noise")
    np.testing.assert_allclose(noise, again, atol=1e-6)
    assert noise.min() >= -1.0 - 1e-5 and noise.max() <= 1.0 + 1e-5
    assert noise.std() > 0.2


@pytest.mark.parametrize("baseline", ["black", "white", "blur", "noise"])
def test_every_baseline_runs_on_an_rgb_model_and_is_complete(baseline):
    result = explain(smooth_model(), random_pixels(size=8), baseline=baseline, steps=64)
    change = result.info["score"] - result.info["baseline_score"]
    assert result.data.shape == (8, 8)
    assert abs(result.info["completeness_delta"]) < 0.02 * abs(change) + 1e-4


def test_results_do_not_depend_on_the_batch_size():
    model = smooth_model()
    pixels = random_pixels(size=8)
    maps = [explain(model, pixels, steps=20, batch_size=size).data for size in (1, 7, 0)]
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-4, atol=1e-6 * np.abs(maps[0]).max())


def test_several_inputs_at_once_equal_each_alone():
    model = smooth_model()
    first = load_image(random_pixels(size=8, seed=1), model, "unit").array
    second = load_image(random_pixels(size=8, seed=2), model, "unit").array
    baseline = np.zeros_like(first)

    together, scores, _ = integrated_gradients(model, np.stack([first, second]), baseline, 0,
                                               steps=8, batch_size=4)

    for position, x in enumerate((first, second)):
        alone, alone_scores, _ = integrated_gradients(model, x[np.newaxis], baseline, 0, steps=8)
        np.testing.assert_allclose(together[position], alone[0], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(scores[position], alone_scores[0], rtol=1e-5)


def test_should_stop_cancels_before_the_next_batch():
    polls, reports = [], []

    def should_stop():
        polls.append(True)
        return len(polls) >= 3

    with pytest.raises(Cancelled):
        explain(smooth_model(), random_pixels(size=8), steps=20, batch_size=5,
                progress=reports.append, should_stop=should_stop)
    assert len(polls) == 3
    assert len(reports) == 2  # two batches ran, the third never started


def test_progress_rises_to_one():
    reports = []
    explain(smooth_model(), random_pixels(size=8), steps=20, batch_size=5,
            progress=reports.append)
    assert len(reports) == 5  # 21 path points in batches of 5
    assert all(a < b for a, b in zip(reports, reports[1:]))
    assert reports[-1] == 1.0


def test_a_custom_preprocessing_function_is_used_for_the_baseline(model):
    def halve(pixels):
        return pixels / 510.0

    image = load_image(random_pixels(), model, preprocessing=halve)
    result = dv.explain(model, image, "integrated-gradients", baseline="white", steps=8)
    baseline = np.full((1, 16, 16, 3), 255 / 510.0, dtype=np.float32)
    logits = keras.Model(model.inputs, model.get_layer("predictions").input)
    weights, bias = model.get_layer("predictions").get_weights()
    index = result.target.index
    expected = float((logits(baseline).numpy() @ weights + bias)[0, index])
    assert result.info["baseline_score"] == pytest.approx(expected, rel=1e-4, abs=1e-5)


# --------------------------------------------------------------------------- completeness shown

def relu_model(seed=2):
    """Conv, ReLU, pooling, logits: the path's gradient jumps where a unit switches, so the
    trapezoid rule converges slowly, as on real ReLU networks."""
    keras.utils.set_random_seed(seed)
    wide = keras.initializers.RandomNormal(stddev=0.8)
    return keras.Sequential([
        keras.Input((8, 8, 3), name="image"),
        keras.layers.Conv2D(16, 3, activation="relu", kernel_initializer=wide,
                            bias_initializer=wide, name="conv"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, kernel_initializer=wide, name="logits"),
    ], name="relu")


def relative_error(result):
    change = result.info["score"] - result.info["baseline_score"]
    return abs(result.info["completeness_delta"]) / abs(change)


def naive_integrated_gradients(model, x, index, intervals):
    """(x - 0) times the trapezoid rule over ``intervals`` equal intervals of alpha in [0, 1]
    (``intervals + 1`` points, both ends included) of d logit / d x at alpha x, one point
    at a time: Sundararajan et al. 2017, eq. 3, with the trapezoid's end weights 1/2."""
    total = np.zeros(x.shape, np.float64)
    for k in range(intervals + 1):
        point = tf.constant(x * np.float32(k / intervals))
        with tf.GradientTape() as tape:
            tape.watch(point)
            score = model(point)[0, index]
        weight = 0.5 if k in (0, intervals) else 1.0
        total += weight * tape.gradient(score, point).numpy()
    return (x * total / intervals)[0]


def test_steps_are_intervals_of_the_trapezoid_rule_as_a_naive_loop_computes_it():
    """On a ReLU model the map at 8 steps is the rule on 8 intervals (9 points), not on 7
    (8 points, what xplique's ``steps=8`` computes): the grid moves the map."""
    model, pixels = relu_model(), random_pixels(size=8)
    x = load_image(pixels, model, "unit").batch()

    result = explain(model, pixels, target=0, steps=8)

    expected = naive_integrated_gradients(model, x, 0, 8)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(result.channels, expected, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(result.data, expected.sum(-1), rtol=1e-4, atol=1e-5 * scale)
    seven = naive_integrated_gradients(model, x, 0, 7)  # fails the same check by far
    assert np.abs(seven - expected).max() > 1e-2 * scale


def test_the_completeness_error_is_in_the_title_and_warned_about_above_the_tolerance():
    model, pixels = relu_model(), random_pixels(size=8)
    coarse = explain(model, pixels, target=0, steps=2)
    fine = explain(model, pixels, target=0, steps=512)
    assert relative_error(coarse) > 0.05 > relative_error(fine)  # this model needs the steps
    for result in (coarse, fine):
        error = relative_error(result)
        assert result.info["completeness_error"] == pytest.approx(error)
        assert result.title.endswith(f"completeness error {error:.1%})")
        assert result.info["steps_used"] == result.params["steps"]
    assert not fine.warnings
    change = coarse.info["score"] - coarse.info["baseline_score"]
    assert coarse.warnings == [
        f"the attributions add up to {coarse.data.sum():.4g}, not to F(input) - F(baseline) = "
        f"{change:.4g}: completeness error {relative_error(coarse):.0%} at 2 steps, above the "
        "tolerance 5%; raise steps, or set max_steps to add steps until the tolerance is met"]
    relaxed = explain(model, pixels, target=0, steps=2, tolerance=1.0)
    assert relative_error(coarse) < 1.0 and not relaxed.warnings


def test_max_steps_doubles_the_steps_until_the_tolerance_is_met():
    model, pixels = relu_model(), random_pixels(size=8)
    refined = explain(model, pixels, target=0, steps=2, max_steps=4096, tolerance=0.01)
    used = refined.info["steps_used"]
    assert used in {2 ** k for k in range(2, 13)}
    assert relative_error(refined) <= 0.01 and not refined.warnings
    assert relative_error(explain(model, pixels, target=0, steps=used // 2)) > 0.01
    # the doubled grids keep every earlier point: the result is the trapezoid rule at `used`
    fixed = explain(model, pixels, target=0, steps=used)
    np.testing.assert_allclose(refined.channels, fixed.channels, rtol=1e-4,
                               atol=1e-6 * np.abs(fixed.channels).max())
    assert refined.info["completeness_delta"] == pytest.approx(fixed.info["completeness_delta"],
                                                               rel=1e-3, abs=1e-6)


def test_max_steps_is_a_cap_that_is_said_when_reached():
    model, pixels = relu_model(), random_pixels(size=8)
    capped = explain(model, pixels, target=0, steps=2, max_steps=7, tolerance=0.0001)
    assert capped.info["steps_used"] == 4  # 2, then 4; 8 would pass the cap
    assert len(capped.warnings) == 1 and capped.warnings[0].endswith("; max_steps reached")


def test_max_steps_batches_only_the_new_midpoints_and_progress_rises_to_one():
    model, pixels = relu_model(), random_pixels(size=8)
    reports = []
    result = explain(model, pixels, target=0, steps=4, max_steps=16, tolerance=0.0,
                     batch_size=100, progress=reports.append)
    assert result.info["steps_used"] == 16
    assert len(reports) == 3  # 5 points, then 4 and 8 midpoints: 17 points in 3 calls
    assert reports == sorted(reports) and reports[-1] == 1.0


def test_the_outputs_at_the_paths_end_are_the_images_and_give_the_class_score():
    """The last point of the path is the image: its outputs there give the class score in
    the title, with no forward pass of its own (no forward function was ever made)."""
    model = residual_model()
    image = load_image(random_pixels(seed=4), model)
    probabilities = model(image.batch()).numpy()[0]
    context = Context(model, image)
    result = run("integrated-gradients", context, Target(NodeType.PREDICTION, index=1),
                 {"steps": 6, "batch_size": 4})  # the image (point 7) in the second batch
    assert not [key for key in tf_ops.model_cache(model) if key[0] == "layer-output"]
    np.testing.assert_allclose(context.outputs(), probabilities, rtol=1e-5, atol=1e-7)
    assert result.info["class_score"] == pytest.approx(probabilities[1], rel=1e-5)
