"""Grad-CAM++ against the paper's formulas, computed with loops."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import random_pixels, residual_model
from dial_visualization.core.context import Context
from dial_visualization.core.errors import Cancelled
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.methods.grad_cam_plus_plus import plus_plus_weights


def explain(model, index=None, progress=None, should_stop=None, **params):
    context = Context(model, load_image(random_pixels(), model))
    return run("grad-cam-plus-plus", context, params=params, index=index, progress=progress,
               should_stop=should_stop)


def activations_and_gradients(model, layer, class_index):
    """A and d logit / dA from an explicit sub-model ending at the residual model's logits."""
    x = load_image(random_pixels(), model).batch()
    sub_model = keras.Model(model.inputs[0], [model.get_layer(layer).output,
                                           model.get_layer("logits").output])
    with tf.GradientTape() as tape:
        features, logits = sub_model(tf.constant(x))
        score = logits[:, class_index]
    return features[0].numpy().astype(np.float64), tape.gradient(score, features)[0].numpy()


def naive_grad_cam_plus_plus(activations, gradients, size):
    height, width, channels = activations.shape
    weights = np.zeros(channels)
    for k in range(channels):
        total = activations[:, :, k].sum()
        for i in range(height):
            for j in range(width):
                g = float(gradients[i, j, k])
                denominator = 2 * g ** 2 + total * g ** 3
                alpha = g ** 2 / denominator if denominator != 0 else 0.0
                weights[k] += alpha * max(g, 0.0)
    cam = np.zeros((height, width))
    for k in range(channels):
        cam += weights[k] * activations[:, :, k]
    cam = np.maximum(cam, 0)
    return tf.image.resize(cam[None, :, :, None], size, "bilinear")[0, :, :, 0].numpy()


@pytest.mark.parametrize("layer, class_index", [("conv", 0), ("relu", 1), ("conv_relu", 2)])
def test_equals_the_papers_formula(layer, class_index):
    model = residual_model()
    activations, gradients = activations_and_gradients(model, layer, class_index)
    expected = naive_grad_cam_plus_plus(activations, gradients, (16, 16))
    result = explain(model, index=class_index, layer=layer)
    assert expected.max() > 0 and result.info["layer"] == layer
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)


def test_zero_gradients_and_zero_denominators_give_zero_weight():
    activations = np.ones((2, 2, 3))
    gradients = np.zeros((2, 2, 3))
    gradients[0, 0, 1] = -0.5  # 2 g^2 + 4 g^3 = 0: alpha guarded to 0
    gradients[0, 0, 2] = 1.0   # alpha = 1 / (2 + 4) at the one pixel
    np.testing.assert_allclose(plus_plus_weights(activations, gradients), [0.0, 0.0, 1 / 6])


def test_progress_ends_at_one_and_stopping_cancels():
    model = residual_model()
    reported = []
    explain(model, progress=reported.append)
    assert reported == [1.0]
    with pytest.raises(Cancelled):
        explain(model, progress=reported.append, should_stop=lambda: True)
    assert reported == [1.0]
