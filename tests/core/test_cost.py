"""Estimated model calls per method, checked against the samples a counting model sees
when the run is executed; the seconds estimate and its words."""

import numpy as np
import pytest
from builders import counting_model, random_pixels, sequential_model

from dial_visualization.core.context import Context, NodeType, Target
from dial_visualization.core.cost import (
    GRADIENT_COST, ONE_PASS, Cost, describe_seconds, estimated_cost, estimated_model_calls,
    seconds_per_input)
from dial_visualization.core.explain import execute, request
from dial_visualization.core.images import load_image

CLASS = Target(NodeType.PREDICTION, None, 1)


def calls_seen(method_id, params, target=CLASS):
    """(estimated model calls, samples the model saw running it)."""
    model, counter = counting_model()
    image = load_image(random_pixels(), model)
    checked = request(method_id, model, target, params)
    estimate = estimated_model_calls(checked, model)
    before = int(counter.seen.numpy())
    execute(checked, Context(model=model, image=image))
    return estimate, int(counter.seen.numpy()) - before


@pytest.mark.parametrize("method_id, params", [
    ("occlusion", {"patch": 4, "stride": 3}),  # windows at 0, 3, 6, 9, 12 per side
    ("occlusion", {"patch": 8, "stride": 8}),
    ("integrated-gradients", {"steps": 8}),
    ("integrated-gradients", {"steps": 4, "max_steps": 16, "tolerance": 0.0}),
    ("smoothgrad", {"samples": 6}),
    ("expected-gradients", {"samples": 5}),
    ("rise", {"masks": 20}),
    ("lime", {"samples": 12, "segments": 8}),
    ("saliency", {}),
    ("grad-cam", {}),
    ("grad-cam-plus-plus", {}),
    ("guided-backprop", {}),
    ("deconvnet", {}),
    ("gradient-x-input", {}),
    ("predictions", {}),
])
def test_the_estimate_is_the_samples_the_model_sees(method_id, params):
    estimate, seen = calls_seen(method_id, params)
    assert estimate == seen, (method_id, estimate, seen)


def test_occlusion_windows_follow_its_own_window_starts():
    model = sequential_model(size=16)
    checked = request("occlusion", model, CLASS, {"patch": 4, "stride": 3})
    assert estimated_model_calls(checked, model) == 5 * 5 + 2  # and the image, the score
    checked = request("occlusion", model, CLASS, {"patch": 5, "stride": 4})
    assert estimated_model_calls(checked, model) == 4 * 4 + 2  # 0, 4, 8, then 11 at the border


@pytest.mark.parametrize("method_id", ["occlusion", "integrated-gradients"])
def test_the_top_class_costs_one_more_call(method_id):
    estimate, seen = calls_seen(method_id, {"steps": 4} if "gradients" in method_id else {},
                                Target(NodeType.PREDICTION))
    assert estimate == seen


@pytest.mark.parametrize("method_id", ONE_PASS)
@pytest.mark.parametrize("index", [None, 1])
def test_a_map_of_one_gradient_finds_the_top_class_and_its_score_in_that_pass(method_id, index):
    estimate, seen = calls_seen(method_id, {}, Target(NodeType.PREDICTION, None, index))
    assert estimate == seen == 1


def test_layer_outputs_have_no_class_score():
    estimate, seen = calls_seen("smoothgrad", {"samples": 3}, Target(NodeType.OUTPUT,
                                                                      "sequential_cnn/conv2", 1))
    assert estimate == seen == 3


def test_score_cam_calls_one_masked_image_per_channel_of_its_layer():
    model = sequential_model(size=16)
    cost = estimated_cost(request("score-cam", model, CLASS, {"layer": "conv2"}), model)
    assert cost == Cost(6 + 2)
    cost = estimated_cost(request("score-cam", model, CLASS, {"layer": "conv1", "top_n": 2}),
                          model)
    assert cost == Cost(2 + 2)
    estimate, seen = calls_seen("score-cam", {})
    assert seen <= estimate  # channels that never vary are skipped


def test_activation_maximization_steps_per_image():
    model = sequential_model(size=16)
    checked = request("activation-maximization", model,
                      Target(NodeType.OUTPUT, "conv2", None), {"steps": 10, "channels": "0,2,3"})
    assert estimated_cost(checked, model) == Cost(30, 30)


def test_kernels_have_no_estimate():
    model = sequential_model(size=16)
    assert estimated_cost(request("weights", model, Target(NodeType.KERNEL, "conv1")),
                          model) is None


def test_a_model_of_any_size_needs_the_image_size():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(x)))
    checked = request("occlusion", model, CLASS, {"patch": 8, "stride": 8})
    assert estimated_model_calls(checked, model, (32, 16)) == 4 * 2 + 2
    with pytest.raises(ValueError, match="any input size"):
        estimated_model_calls(checked, model)


def test_seconds_per_input_and_the_words():
    model = sequential_model(size=16)
    seconds = seconds_per_input(model, load_image(random_pixels(), model).array)
    assert 0 < seconds < 1
    assert Cost(100, 100).seconds(0.01) == pytest.approx(100 * 0.01 * GRADIENT_COST)
    assert Cost(30, 10).seconds(0.1) == pytest.approx(2 + 10 * 0.1 * GRADIENT_COST)
    assert describe_seconds(12.2) == "about 13 s"
    assert describe_seconds(210) == "about 3.5 minutes"
    assert describe_seconds(7200) == "about 2.0 hours"
    assert np.isfinite(seconds)
