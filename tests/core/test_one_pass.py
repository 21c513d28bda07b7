"""A map of one gradient pass (saliency, guided backprop, Grad-CAM, Grad-CAM++, deconvnet,
gradient x input) finds the top class and the class score of its title in that pass: the
class is the one the Prediction handler picks from the model's output (the first of tied
scores, as np.argmax), and the output kept is the model's own (its softmax included; guided
backprop and deconvnet change only the backward pass)."""

import dataclasses

import keras
import numpy as np
import pytest
from builders import multi_output_model, random_pixels, residual_model, sequential_model

from dial_visualization.core.context import Context, NodeType, Target
from dial_visualization.core.cost import ONE_PASS
from dial_visualization.core.explain import run
from dial_visualization.core.handlers import builtin_handler
from dial_visualization.core.images import load_image

TOP = Target(NodeType.PREDICTION)


def tied_model(bias):
    """Every class's logit is its bias (zero kernel): the scores tie where the biases do."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(bias), activation="softmax", kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(bias),
                                 name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("method", ONE_PASS)
@pytest.mark.parametrize("bias, top", [([0, 0, 0, 0], 0), ([0, 1, 0, 1], 1),
                                        ([0, 0, 2, 2], 2)])
def test_tied_scores_give_the_class_the_prediction_handler_picks(method, bias, top):
    model = tied_model(bias)
    context = Context(model, load_image(np.full((8, 8, 3), 100, np.uint8), model))
    known = dataclasses.replace(context)
    assert builtin_handler(NodeType.PREDICTION).resolve(TOP, known).index == top
    assert run(method, context, TOP).target.index == top  # picked inside the pass
    assert run(method, known, TOP).target.index == top  # picked from the output known


@pytest.mark.parametrize("method", ONE_PASS)
@pytest.mark.parametrize("builder", [sequential_model, residual_model])
def test_the_output_kept_is_the_models_own_and_gives_the_top_class(method, builder):
    model = builder()
    image = load_image(random_pixels(seed=3), model)
    probabilities = model(image.batch()).numpy()[0]
    context = Context(model, image)
    result = run(method, context, TOP)
    np.testing.assert_allclose(context.outputs(), probabilities, rtol=1e-5, atol=1e-7)
    assert result.target.index == int(np.argmax(probabilities))
    assert result.info["class_score"] == pytest.approx(probabilities.max(), rel=1e-5)


def test_the_explained_output_of_a_model_of_two_outputs_is_kept():
    model = multi_output_model()
    image = load_image(random_pixels(seed=2), model)
    flag = model(image.batch())[1].numpy()[0]
    context = Context(model, image, output_index=1)
    result = run("saliency", context, TOP)
    np.testing.assert_allclose(context.outputs(), flag, rtol=1e-5, atol=1e-7)
    assert result.target.index == int(np.argmax(flag))


def test_a_layers_map_keeps_no_output():
    model = sequential_model()
    context = Context(model, load_image(random_pixels(), model))
    run("saliency", context, Target(NodeType.OUTPUT, "conv1", 2))
    assert not context.has_outputs
