"""SmoothGrad: equal to its base without noise, the mean over noisy copies otherwise (per
channel, then reduced as its base reduces), noise relative to the input's range,
batch-size independent, cancellable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dial_visualization as dv
from builders import random_pixels, residual_model
from dial_visualization.core.errors import Cancelled, MethodNotApplicableError
from dial_visualization.core.images import load_image
from dial_visualization.core.methods.guided_backprop import guided_gradient_function
from dial_visualization.core.methods.integrated_gradients import integrated_gradients
from dial_visualization.core.methods.smoothgrad import noise_std, noisy_copies


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((8, 8, 3), name="image"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, name="logits"),
        keras.layers.Activation("softmax", name="softmax"),
    ], name="tiny")


def explain(model, method, pixels=None, preprocessing="unit", **kwargs):
    pixels = random_pixels(size=model.inputs[0].shape[1]) if pixels is None else pixels
    return dv.explain(model, pixels, method, preprocessing=preprocessing, **kwargs)


@pytest.mark.parametrize("base", ["saliency", "guided-backprop", "integrated-gradients"])
def test_without_noise_it_equals_its_base_for_a_class(base):
    model = residual_model()
    smooth = explain(model, "smoothgrad", base=base, noise=0.0, samples=3, target=1)
    plain = explain(model, base, target=1)
    assert np.abs(plain.data).max() > 0
    np.testing.assert_allclose(smooth.data, plain.data, rtol=1e-5,
                               atol=1e-6 * np.abs(plain.data).max())
    np.testing.assert_allclose(smooth.channels, plain.channels, rtol=1e-5,
                               atol=1e-6 * np.abs(plain.data).max())
    assert smooth.info["channel_reduction"] == plain.info["channel_reduction"]


@pytest.mark.parametrize("base", ["saliency", "guided-backprop"])
def test_without_noise_it_equals_its_base_for_a_channel(base):
    model = residual_model()
    smooth = explain(model, "smoothgrad", layer="conv", target=2, base=base, noise=0.0, samples=2)
    plain = explain(model, base, layer="conv", target=2)
    assert np.abs(plain.data).max() > 0
    np.testing.assert_allclose(smooth.data, plain.data, rtol=1e-5,
                               atol=1e-6 * np.abs(plain.data).max())


def test_integrated_gradients_base_refuses_layer_outputs():
    with pytest.raises(MethodNotApplicableError):
        explain(residual_model(), "smoothgrad", layer="conv", base="integrated-gradients")


def test_equals_the_mean_logit_gradient_over_the_noisy_copies():
    model = tiny_model()
    x = load_image(random_pixels(size=8), model, "unit").array
    logits = keras.Model(model.inputs[0], model.get_layer("logits").output)
    copies = tf.constant(noisy_copies(x, range(6), noise_std(x, 0.3), seed=2))
    with tf.GradientTape() as tape:
        tape.watch(copies)
        scores = logits(copies)[:, 0]
    gradients = tape.gradient(scores, copies).numpy()
    averaged = gradients.mean(axis=0)
    reference = np.abs(averaged).max(-1)

    result = explain(model, "smoothgrad", samples=6, noise=0.3, seed=2, target=0)

    np.testing.assert_allclose(result.data, reference, rtol=1e-4,
                               atol=1e-6 * np.abs(reference).max())
    np.testing.assert_allclose(result.channels, averaged, rtol=1e-4,
                               atol=1e-6 * np.abs(reference).max())
    assert not np.allclose(result.data, explain(model, "saliency", target=0).data, rtol=1e-2)
    # averaged first, then reduced: the mean of the per-copy maps is another map
    assert not np.allclose(result.data, np.abs(gradients).max(-1).mean(axis=0), rtol=1e-2)


@pytest.mark.parametrize("base, reduction", [("guided-backprop", "max-abs"),
                                             ("integrated-gradients", "sum")])
def test_the_base_reduction_of_the_per_channel_mean(base, reduction):
    model = tiny_model()
    x = load_image(random_pixels(size=8), model, "unit").array
    copies = noisy_copies(x, range(4), noise_std(x, 0.3), seed=5)
    if base == "guided-backprop":
        attributions = guided_gradient_function(model)(tf.constant(copies), tf.constant([2]))[1]
    else:
        attributions = integrated_gradients(model, copies, np.zeros_like(x), 2)[0]
    averaged = np.asarray(attributions).mean(axis=0)
    reference = np.abs(averaged).max(-1) if reduction == "max-abs" else averaged.sum(-1)

    result = explain(model, "smoothgrad", base=base, samples=4, noise=0.3, seed=5, target=2)

    assert result.info["channel_reduction"] == reduction
    atol = 1e-6 * np.abs(averaged).max()
    np.testing.assert_allclose(result.channels, averaged, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(result.data, reference, rtol=1e-4, atol=atol)


def test_noisy_copies_have_the_requested_spread_and_depend_only_on_seed_and_number():
    x = np.linspace(-2.0, 3.0, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    std = noise_std(x, 0.1)
    assert std == pytest.approx(0.5)
    copies = noisy_copies(x, range(50), std, seed=7)
    assert (copies - x).std() == pytest.approx(std, rel=0.05)
    np.testing.assert_array_equal(noisy_copies(x, range(20, 23), std, seed=7), copies[20:23])
    assert not np.allclose(noisy_copies(x, range(3), std, seed=8), copies[:3])


def test_noise_is_relative_to_the_input_range():
    """A model on 0..255 pixels that rescales to 0..1 itself must get the same (scaled) map
    as the same network fed 0..1 pixels: the noise scales with the range."""
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
              keras.layers.Dense(3)]
    on_unit = keras.Input((8, 8, 3))
    on_pixels = keras.Input((8, 8, 3))
    unit_branch, pixel_branch = on_unit, keras.layers.Rescaling(1 / 255)(on_pixels)
    for layer in layers:
        unit_branch, pixel_branch = layer(unit_branch), layer(pixel_branch)
    unit_model = keras.Model(on_unit, unit_branch)
    pixel_model = keras.Model(on_pixels, pixel_branch)
    settings = dict(samples=8, noise=0.2, seed=1, target=0)

    on_unit_range = explain(unit_model, "smoothgrad", preprocessing="unit", **settings)
    on_pixel_range = explain(pixel_model, "smoothgrad", preprocessing="none", **settings)

    np.testing.assert_allclose(on_pixel_range.data * 255, on_unit_range.data, rtol=1e-3,
                               atol=1e-5 * np.abs(on_unit_range.data).max())
    assert on_pixel_range.info["noise_std"] == pytest.approx(255 * on_unit_range.info["noise_std"])
    assert not np.allclose(on_unit_range.data, explain(unit_model, "saliency", target=0).data,
                           rtol=1e-2)


@pytest.mark.parametrize("base", ["saliency", "integrated-gradients"])
def test_the_batch_size_does_not_change_the_samples(base):
    model = tiny_model()
    settings = dict(base=base, samples=5, noise=0.2, seed=3)
    one_at_a_time = explain(model, "smoothgrad", batch_size=1, **settings)
    five_at_once = explain(model, "smoothgrad", batch_size=5, **settings)
    np.testing.assert_allclose(five_at_once.data, one_at_a_time.data, rtol=1e-4,
                               atol=1e-6 * np.abs(one_at_a_time.data).max())
    other_seed = explain(model, "smoothgrad", batch_size=5, **{**settings, "seed": 4})
    assert not np.allclose(other_seed.data, one_at_a_time.data, rtol=1e-3)


def stop_after(allowed_polls):
    polls = []

    def should_stop():
        polls.append(True)
        return len(polls) > allowed_polls
    return should_stop


# saliency: one poll per batch of 5 noisy copies; integrated gradients: one poll per chunk of
# 5 copies, then one per batch of 5 path points (1 + 12 polls let 12 batches run)
@pytest.mark.parametrize("base, allowed_polls, batches_run",
                         [("saliency", 1, 1), ("integrated-gradients", 13, 12)])
def test_should_stop_cancels_before_the_next_batch(base, allowed_polls, batches_run):
    reports = []
    with pytest.raises(Cancelled):
        explain(tiny_model(), "smoothgrad", base=base, samples=10, batch_size=5,
                progress=reports.append, should_stop=stop_after(allowed_polls))
    assert len(reports) == batches_run


@pytest.mark.parametrize("base", ["saliency", "integrated-gradients"])
def test_progress_rises_to_one(base):
    reports = []
    explain(tiny_model(), "smoothgrad", base=base, samples=3, batch_size=2,
            progress=reports.append)
    assert all(a < b for a, b in zip(reports, reports[1:]))
    assert reports[-1] == 1.0
    assert len(reports) == (2 if base == "saliency" else 98)
