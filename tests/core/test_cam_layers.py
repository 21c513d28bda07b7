"""The automatic CAM layer on every ``keras.applications`` architecture is a real feature map
(larger than 1x1, not a pooling layer), its Grad-CAM and Score-CAM maps are not constant,
and a constant map says why instead of being drawn as a map."""

import functools
import time

import numpy as np
import pytest
from matplotlib.figure import Figure

from applications import NAMES, application, pictures, preprocess
from dial_visualization.core.context import Context
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.result import Result

#: The automatic layer where its name does not depend on how many models were built before.
EXPECTED_LAYER = {
    "MobileNet": "conv_pw_13_relu", "MobileNetV2": "out_relu", "ResNet50": "conv5_block3_out",
    "ResNet50V2": "post_relu", "EfficientNetB0": "top_activation",
    "EfficientNetV2B0": "top_activation", "InceptionV3": "mixed10",
    "InceptionResNetV2": "conv_7b_ac", "Xception": "block14_sepconv2_act",
    "DenseNet121": "relu", "VGG16": "block5_conv3",
}
#: What the last spatial layer used to be, a 1x1 map after global pooling.
NOT_THE_CLASSIFIER = {"MobileNet": "conv_preds", "MobileNetV3Small": "logits"}
#: Score-CAM evaluates this many channels: enough for a map, few for CI time.
SCORE_CAM_CHANNELS = 16


def context(name):
    model = application(name)
    pixels = pictures(model.inputs[0].shape[1], 1, seed=1)[0].astype(np.uint8)
    return Context(model, load_image(pixels, model, functools.partial(preprocess, name)))


def timed(method, context, index, **params):
    began = time.perf_counter()
    result = run(method, context, params=params, index=index)
    print(f"{method} {time.perf_counter() - began:.1f}s", end="  ")
    return result


@pytest.mark.parametrize("name", NAMES)
def test_the_automatic_layer_is_a_feature_map_and_its_maps_are_not_constant(name):
    began = time.perf_counter()
    context_ = context(name)
    print(f"\n{name}: built {time.perf_counter() - began:.1f}s", end="  ")
    top = int(np.argmax(context_.model(context_.image.batch())))  # eager: no tracing
    grad_cam = timed("grad-cam", context_, top)
    score_cam = timed("score-cam", context_, top, top_n=SCORE_CAM_CHANNELS,
                      batch_size=SCORE_CAM_CHANNELS)

    layer = LayerTree(context_.model)[grad_cam.info["layer"]]
    print(layer.path, layer.output_shapes[0])
    assert score_cam.info["layer"] == layer.path
    assert layer.has_spatial_extent and not layer.is_pooling
    assert layer.path == EXPECTED_LAYER.get(name, layer.path)
    assert layer.path != NOT_THE_CLASSIFIER.get(name)
    for result in (grad_cam, score_cam):
        assert not result.is_constant and not result.warnings, result.method
        assert np.all(result.data >= 0)


@pytest.mark.parametrize("method", ["grad-cam", "grad-cam-plus-plus", "score-cam"])
def test_a_1x1_layer_gives_a_constant_map_that_says_why_and_is_not_drawn(method):
    context_ = context("MobileNet")
    result = run(method, context_, params={"layer": "conv_preds"}, index=0)

    assert result.is_constant
    assert len(result.warnings) == 1 and "'conv_preds' has a 1x1 output" in result.warnings[0]
    figure = Figure()
    result.plot(figure)
    assert not any(axes.images for axes in figure.axes)
    assert figure.get_suptitle() == result.title
    assert result.warnings[0] in [text.get_text() for text in figure.texts]


def test_warnings_of_a_map_that_is_drawn_go_under_the_title():
    result = Result(method="m", title="M: class 1", kind="heatmap",
                    data=np.arange(16, dtype=np.float32).reshape(4, 4),
                    warnings=["first warning", "second warning"])
    figure = result.plot(Figure())
    assert figure.get_suptitle() == "M: class 1\nfirst warning\nsecond warning"
    assert [len(axes.images) for axes in figure.axes] == [1, 0]  # the map, its colour bar
