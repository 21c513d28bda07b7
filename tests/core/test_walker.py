"""The graph walker: taps, logits and the 1x1 strided-convolution rewrite, against Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import nested_model, residual_model
from dial_visualization.core.walker import forward


@pytest.mark.parametrize("size", [15, 16])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("strides", [2, 3, (2, 3)])
def test_a_strided_pointwise_convolution_is_computed_exactly_as_keras_does(size, padding,
                                                                           strides):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 5))
    layer = keras.layers.Conv2D(4, 1, strides=strides, padding=padding, activation="relu")
    model = keras.Model(inputs, layer(inputs))
    x = tf.random.uniform((2, size, size, 5), -1, 1)
    outputs, _ = forward(model, x)
    np.testing.assert_allclose(outputs.numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
    assert tuple(layer.strides) == ((strides, strides) if isinstance(strides, int) else strides)


def test_the_rewrite_keeps_the_gradient_of_the_projection_shortcut():
    model = residual_model()
    x = tf.random.uniform((1, 16, 16, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        walked = tf.reduce_sum(forward(model, x)[0] * tf.constant([1.0, -2.0, 3.0]))
        direct = tf.reduce_sum(model(x) * tf.constant([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(tape.gradient(walked, x).numpy(), tape.gradient(direct, x).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_taps_inside_nested_models_equal_the_inner_model_outputs():
    model = nested_model()
    x = tf.random.uniform((2, 16, 16, 3))
    outputs, taps = forward(model, x, taps=["base/base_conv2", "gap"])
    base = model.get_layer("base")
    np.testing.assert_allclose(taps["base/base_conv2"].numpy(), base(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(outputs.numpy(), model(x).numpy(), rtol=1e-6)


def test_logits_drop_the_final_softmax_whether_inside_dense_or_a_layer_of_its_own():
    for model, before in ((residual_model(), "logits"), (nested_model(), None)):
        x = tf.random.uniform((2, 16, 16, 3))
        logits, _ = forward(model, x, logits_of=0)
        np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), model(x).numpy(), rtol=1e-5,
                                   atol=1e-7)
        if before:
            reference = keras.Model(model.inputs, model.get_layer(before).output)(x)
            np.testing.assert_allclose(logits.numpy(), reference.numpy(), rtol=1e-6)
