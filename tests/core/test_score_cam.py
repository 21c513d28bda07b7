"""Score-CAM against the paper's method run one channel at a time."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import (StopAfterFirstBatch, counting_model, random_pixels, residual_model,
                      sequential_model)
from dial_visualization.core.context import Context
from dial_visualization.core.errors import Cancelled
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image


def explain(model, index=None, progress=None, should_stop=None, **params):
    context = Context(model, load_image(random_pixels(), model))
    return run("score-cam", context, params=params, index=index, progress=progress,
               should_stop=should_stop)


def resize(maps, size):
    return tf.image.resize(maps[None, :, :, None], size, "bilinear")[0, :, :, 0].numpy()


def naive_score_cam(model, layer, class_index, top_n=0):
    x = load_image(random_pixels(), model).batch()
    activations = keras.Model(model.inputs[0], model.get_layer(layer).output)(x)[0].numpy()
    channels = activations.shape[-1]
    means = [activations[:, :, k].mean() for k in range(channels)]
    kept = sorted(range(channels), key=lambda k: -means[k])
    kept = [k for k in kept if np.ptp(activations[:, :, k]) > 0]
    kept = kept[:top_n] if top_n else kept
    weights = np.zeros(channels)
    for k in kept:
        upsampled = resize(activations[:, :, k], x.shape[1:3])
        mask = (upsampled - upsampled.min()) / (upsampled.max() - upsampled.min())
        weights[k] = model(x * mask[None, :, :, None])[0, class_index]
    cam = np.zeros(activations.shape[:2])
    for k in range(channels):
        cam += weights[k] * activations[:, :, k]
    return resize(np.maximum(cam, 0), x.shape[1:3]), len(kept)


@pytest.mark.parametrize("build, layer, class_index", [
    (sequential_model, "conv2", 3), (residual_model, "conv_relu", 1), (residual_model, "add", 0),
])
def test_equals_the_papers_method(build, layer, class_index):
    model = build()
    expected, evaluated = naive_score_cam(model, layer, class_index)
    result = explain(model, index=class_index, layer=layer)
    assert expected.max() > 0 and result.info["channels"] == evaluated
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)


def test_top_n_keeps_the_channels_with_the_highest_mean():
    model = residual_model()
    expected, evaluated = naive_score_cam(model, "add", 2, top_n=3)
    result = explain(model, index=2, layer="add", top_n=3)
    assert evaluated == result.info["channels"] == 3
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(result.data, explain(model, index=2, layer="add").data, rtol=1e-3)


def test_results_do_not_depend_on_the_batch_size():
    model = residual_model()
    maps = [explain(model, index=1, batch_size=size).data for size in (1, 3, 0)]
    np.testing.assert_allclose(maps[0], maps[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps[0], maps[2], rtol=1e-5, atol=1e-7)


def test_progress_rises_to_one():
    reported = []
    explain(residual_model(), batch_size=3, progress=reported.append)
    assert len(reported) == 3 and reported == sorted(reported) and reported[-1] == 1.0


def test_stopping_cancels_within_one_batch():
    model, counter = counting_model()
    stop = StopAfterFirstBatch(counter)
    with pytest.raises(Cancelled):
        explain(model, batch_size=2, progress=stop.progress, should_stop=stop.should_stop)
    assert len(stop.reported) == 1 and stop.reported[0] < 1.0
    assert stop.samples_after_stop() <= 2


def test_a_layer_of_negative_activations_gives_a_zero_map_that_says_why():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3), name="image"),
        keras.layers.Conv2D(4, 3, padding="same", name="conv",
                            bias_initializer=keras.initializers.Constant(-10.0)),
        keras.layers.ReLU(name="relu"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, activation="softmax", name="predictions"),
    ], name="negative")
    result = explain(model, index=0, layer="conv")
    assert result.info["channels"] == 4 and np.all(result.data == 0)
    assert result.warnings == [  # the weights are probabilities: the maps are what is negative
        "Score-CAM map is zero everywhere: 100.0% of the activations of layer 'conv' are "
        "negative in the channels that count for this class (as before an activation), and no "
        "channel has a negative weight, so the weighted sum is negative everywhere; choose a "
        "layer after its activation"]
