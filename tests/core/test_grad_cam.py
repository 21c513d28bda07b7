"""Grad-CAM against a hand computation with an explicit sub-model and a GradientTape."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import nested_model, random_pixels, residual_model, sequential_model
from dial_visualization.core.context import Context
from dial_visualization.core.errors import Cancelled, MethodNotApplicableError
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image


def explain(model, method="grad-cam", index=None, progress=None, should_stop=None, **params):
    context = Context(model, load_image(random_pixels(), model))
    return run(method, context, params=params, index=index, progress=progress,
               should_stop=should_stop)


def hand_grad_cam(features_and_logit, x, class_index):
    """features_and_logit(x) -> (feature maps, logits); weights = mean gradient, ReLU, resize."""
    with tf.GradientTape() as tape:
        features, logits = features_and_logit(tf.constant(x))
        score = logits[:, class_index]
    gradients = tape.gradient(score, features)[0].numpy()
    activations = features[0].numpy()
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((activations * weights).sum(axis=-1), 0)
    return tf.image.resize(cam[None, :, :, None], x.shape[1:3], "bilinear")[0, :, :, 0].numpy()


def dense_logits(model, features, pooled):
    dense = model.get_layer("predictions")
    return features, tf.matmul(pooled, dense.kernel) + dense.bias


def sequential_features(model, layer):
    sub_model = keras.Model(model.inputs[0], [model.get_layer(layer).output,
                                           model.get_layer("gap").output])
    return lambda x: dense_logits(model, *sub_model(x))


def test_equals_the_hand_computation_on_the_automatic_layer():
    model = sequential_model()
    result = explain(model, index=1)
    x = load_image(random_pixels(), model).batch()
    expected = hand_grad_cam(sequential_features(model, "conv2"), x, 1)
    assert result.info["layer"] == "conv2"
    assert result.data.shape == (16, 16) and expected.max() > 0
    assert result.channels is None and "channel_reduction" not in result.info
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)


def test_an_explicit_layer_is_used():
    model = sequential_model()
    result = explain(model, index=2, layer="conv1")
    x = load_image(random_pixels(), model).batch()
    expected = hand_grad_cam(sequential_features(model, "conv1"), x, 2)
    assert result.info["layer"] == "conv1" and expected.max() > 0
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)


def test_a_separate_softmax_layer_is_skipped_for_the_logits():
    model = residual_model()
    result = explain(model, index=0, layer="relu")
    x = load_image(random_pixels(), model).batch()
    features = model.get_layer("relu").output
    on_logits = keras.Model(model.inputs[0], [features, model.get_layer("logits").output])
    on_probabilities = keras.Model(model.inputs[0], [features, model.output])
    expected = hand_grad_cam(on_logits, x, 0)
    assert expected.max() > 0
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(result.data, hand_grad_cam(on_probabilities, x, 0), rtol=1e-2)


def pooled_model():
    """VGG-like: the last convolution, then a max-pooling step that is still 4x4."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((16, 16, 3), name="image"),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        keras.layers.MaxPooling2D(4, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="predictions"),
    ], name="pooled")


def convolutional_head_model():
    """MobileNet-like: global pooling kept 1x1, the classifier as a 1x1 convolution."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((16, 16, 3), name="image"),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap"),
        keras.layers.Conv2D(3, 1, name="conv_preds"),
        keras.layers.Reshape((3,), name="reshape"),
        keras.layers.Activation("softmax", name="predictions"),
    ], name="convolutional_head")


@pytest.mark.parametrize("build, layer", [
    (sequential_model, "conv2"), (residual_model, "conv_relu"), (nested_model, "base/base_conv2"),
    (pooled_model, "conv"), (convolutional_head_model, "conv"),
])
def test_the_automatic_layer_is_the_last_feature_map(build, layer):
    result = explain(build())
    assert result.info["layer"] == layer
    assert not result.is_constant and not result.warnings


def evidence_model(bias, class_weight):
    """A linear convolution (all its outputs about ``bias``), a ReLU, global pooling, and a
    dense layer whose weights for class 0 are all ``class_weight``."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3), name="image"),
        keras.layers.Conv2D(4, 3, padding="same", name="conv",
                            kernel_initializer=keras.initializers.RandomUniform(0.0, 0.1),
                            bias_initializer=keras.initializers.Constant(bias)),
        keras.layers.ReLU(name="relu"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, name="predictions"),
    ], name="evidence")
    kernel, dense_bias = model.get_layer("predictions").get_weights()
    kernel[:, 0] = class_weight
    model.get_layer("predictions").set_weights([kernel, dense_bias])
    return model


NEGATIVE = "no channel of layer 'conv' has positive evidence for this class (the weighted " \
           "sum is negative everywhere); choose a layer after its activation"
ZERO_WEIGHTS = "every channel of layer 'conv' has weight 0 for this class; choose another layer"


# Grad-CAM++ weighs only positive gradients: a negative class weight leaves it no weight
@pytest.mark.parametrize("method, bias, class_weight, why", [
    ("grad-cam", 1.0, -1.0, NEGATIVE), ("grad-cam", -10.0, 1.0, ZERO_WEIGHTS),
    ("grad-cam-plus-plus", 1.0, -1.0, ZERO_WEIGHTS),
    ("grad-cam-plus-plus", -10.0, 1.0, ZERO_WEIGHTS),
])
def test_a_map_that_is_zero_everywhere_says_why(method, bias, class_weight, why):
    result = explain(evidence_model(bias, class_weight), method, index=0, layer="conv")
    name = {"grad-cam": "Grad-CAM", "grad-cam-plus-plus": "Grad-CAM++"}[method]
    assert np.all(result.data == 0) and result.is_constant
    assert result.warnings == [f"{name} map is zero everywhere: {why}"]


def test_a_layer_inside_a_nested_model_works():
    model = nested_model()
    result = explain(model, index=2)
    x = load_image(random_pixels(), model).batch()

    def features_and_logit(batch):
        features = model.get_layer("base")(batch)
        pooled = model.get_layer("gap")(features)
        return dense_logits(model, features, pooled)

    expected = hand_grad_cam(features_and_logit, x, 2)
    assert expected.max() > 0
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)


def test_a_model_without_spatial_layer_is_refused():
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    with pytest.raises(MethodNotApplicableError, match="spatial"):
        explain(model)


@pytest.mark.parametrize("layer, message", [("gap", "spatial"), ("nope", "no layer")])
def test_a_named_layer_must_exist_and_be_spatial(layer, message):
    with pytest.raises(MethodNotApplicableError, match=message):
        explain(sequential_model(), layer=layer)


def test_progress_ends_at_one_and_stopping_cancels():
    model = sequential_model()
    reported = []
    explain(model, progress=reported.append)
    assert reported == [1.0]
    with pytest.raises(Cancelled):
        explain(model, progress=reported.append, should_stop=lambda: True)
    assert reported == [1.0]
