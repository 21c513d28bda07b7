"""Deconvnet (Zeiler & Fergus 2014): the signal projected back through the transposed
filters, every ReLU passing back the positive part of the signal whatever its forward
input, equals a numpy reference; it differs from the gradient and guided backprop."""

import keras
import numpy as np

import dial_visualization as dv
from builders import random_pixels
from dial_visualization.core.images import load_image


def two_layer_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6, 6, 3), name="image"),
        keras.layers.Conv2D(3, 3, activation="relu", name="conv",
                            kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
                            bias_initializer=keras.initializers.RandomNormal(stddev=0.5)),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, name="logits"),
    ], name="two_layers")


def numpy_backward(model, x, index, rule):
    """The signal at the input for the logit ``index``: the dense weights back to the conv
    output, the ReLU ``rule``, then the transposed 3x3 'valid' convolution."""
    kernel, bias = model.get_layer("conv").get_weights()
    dense = model.get_layer("logits").get_weights()[0][:, index].reshape(4, 4, 3)
    pre = np.zeros((4, 4, 3))
    for i in range(4):
        for j in range(4):
            pre[i, j] = np.tensordot(x[i:i + 3, j:j + 3], kernel, axes=3) + bias
    signal = {"deconvnet": np.maximum(dense, 0), "gradient": dense * (pre > 0),
              "guided": np.maximum(dense, 0) * (pre > 0)}[rule]
    back = np.zeros_like(x, dtype=np.float64)
    for i in range(4):
        for j in range(4):
            back[i:i + 3, j:j + 3] += np.tensordot(kernel, signal[i, j], axes=([3], [0]))
    return back


def test_deconvnet_equals_a_numpy_reference_and_differs_from_the_other_rules():
    model = two_layer_model()
    pixels = random_pixels(size=6, seed=4)
    x = load_image(pixels, model, "symmetric").array.astype(np.float64)

    result = dv.explain(model, pixels, "deconvnet", target=1, preprocessing="symmetric")

    reference = numpy_backward(model, x, 1, "deconvnet")
    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(result.channels, reference, rtol=1e-4,
                               atol=1e-5 * np.abs(reference).max())
    np.testing.assert_allclose(result.data, np.abs(reference).max(-1), rtol=1e-4,
                               atol=1e-5 * np.abs(reference).max())
    saliency = dv.explain(model, pixels, "saliency", target=1, preprocessing="symmetric")
    guided = dv.explain(model, pixels, "guided-backprop", target=1, preprocessing="symmetric")
    np.testing.assert_allclose(saliency.channels, numpy_backward(model, x, 1, "gradient"),
                               rtol=1e-4, atol=1e-5 * np.abs(reference).max())
    np.testing.assert_allclose(guided.channels, numpy_backward(model, x, 1, "guided"),
                               rtol=1e-4, atol=1e-5 * np.abs(reference).max())
    assert not np.allclose(result.channels, saliency.channels, atol=1e-3)
    assert not np.allclose(result.channels, guided.channels, atol=1e-3)


def test_a_model_without_relu_says_its_map_is_the_gradient():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(2, 3, activation="tanh"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    result = dv.explain(model, random_pixels(size=6), "deconvnet",
                        preprocessing="unit")
    assert "no ReLU-like unit" in result.warnings[0] and "deconvnet rule" in result.warnings[0]
