"""Node-type handlers: each node type's checks, words, serialised form and default node live
in its handler; the framework stamps a method's id and name; a third party's node type works
end to end through its own handler."""

import json

import numpy as np
import pytest

import dial_visualization as dv
from builders import multi_output_model, nested_model, random_pixels, sequential_model
from dial_visualization.core.context import Context, NodeType, Target
from dial_visualization.core.errors import MethodNotApplicableError, ParameterError
from dial_visualization.core.explain import execute, request
from dial_visualization.core.handlers import (BUILTIN_HANDLERS, KernelHandler, NodeHandler,
                                              OutputHandler, PredictionHandler)
from dial_visualization.core.images import load_image
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.registry import HandlerConfiguration, method
from dial_visualization.core.result import Result
from dial_visualization.core.session import RunRecord


def test_each_built_in_node_type_has_its_handler():
    assert {str(t.value): type(h) for t, h in BUILTIN_HANDLERS.items()} == {
        "kernel": KernelHandler, "output": OutputHandler, "prediction": PredictionHandler}
    assert set(HandlerConfiguration().handlers()) == {"kernel", "output", "prediction"}


def test_counts_are_the_layers_filters_channels_and_the_outputs_classes():
    model = sequential_model(classes=4)
    assert KernelHandler().count(model, "conv2") == 6  # Conv2D(6, 3)
    assert OutputHandler().count(model, "pool") == 4  # the channels of conv1 pooled
    assert PredictionHandler().count(model) == 4
    two_heads = multi_output_model()
    assert [PredictionHandler().count(two_heads, None, i) for i in (0, 1)] == [3, 2]


@pytest.mark.parametrize("target, message", [
    (Target("kernel", "conv2", 6), "layer 'conv2' has 6 filters; filter 6 does not exist"),
    (Target("output", "conv1", -1), "layer 'conv1' has 4 channels; channel -1 does not exist"),
    (Target("output", "nowhere"), "has no layer 'nowhere'"),
    (Target("prediction", None, 4), "the output has 4 classes; class 4 does not exist"),
])
def test_checks_refuse_what_the_model_does_not_have(target, message):
    model = sequential_model(classes=4)
    with pytest.raises(MethodNotApplicableError, match=message):
        BUILTIN_HANDLERS[target.node_type].check(model, target)


def test_nested_layers_are_checked_by_path():
    model = nested_model()
    KernelHandler().check(model, Target("kernel", "base/base_conv2", 4))
    with pytest.raises(MethodNotApplicableError, match="5 filters"):
        KernelHandler().check(model, Target("kernel", "base/base_conv2", 5))


def test_words_for_each_node():
    labels = ["cat", "dog"]
    assert Target("prediction").describe(labels) == "top class"
    assert Target("prediction", None, 1).describe(labels) == "class 1 (dog)"
    assert Target("prediction", None, 1).describe() == "class 1"
    assert Target("kernel", "conv1", 2).describe() == "conv1 filter 2"
    assert Target("output", "base/conv", None).describe() == "base/conv"
    assert Target("output", "conv1", 3).describe() == "conv1 channel 3"


def test_the_top_class_is_resolved_in_one_place_as_the_models_argmax():
    model = sequential_model(classes=4)
    image = load_image(random_pixels(), model)
    context = Context(model=model, image=image)
    expected = int(np.argmax(model.predict(image.batch(), verbose=0)[0]))
    resolved = PredictionHandler().resolve(Target("prediction"), context)
    assert resolved == Target("prediction", None, expected)
    assert PredictionHandler().resolve(Target("prediction", None, 2), context).index == 2
    assert PredictionHandler().resolve(Target("prediction"), Context(model=model)).index == 0
    assert OutputHandler().resolve(Target("output", "conv1"), context) == Target("output", "conv1")
    saliency = dv.explain(model, image, "saliency")
    assert saliency.target == resolved  # the methods resolve it the same way


def test_default_nodes():
    tree = LayerTree(sequential_model())
    assert KernelHandler().default_node(tree) == Target("kernel", "conv1")
    assert OutputHandler().default_node(tree) == Target("output", tree.last_spatial().path)
    assert PredictionHandler().default_node(tree) == Target("prediction")


@pytest.mark.parametrize("record", [
    RunRecord("saliency", Target("prediction", None, 2), {}),
    RunRecord("grad-cam", Target("prediction"), {"layer": "conv2"}),
    RunRecord(None, Target("kernel", "base/base_conv1", 3)),
    RunRecord("activations", Target("output", "conv1"), {}),
])
def test_a_run_has_one_serialised_form(record):
    data = record.to_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON: mime data, sessions, projects
    assert data["target"] == BUILTIN_HANDLERS[record.target.node_type].to_dict(record.target)
    assert RunRecord.from_dict(data) == record


@pytest.mark.parametrize("data", [
    {"method": "saliency"}, {"method": 3, "target": {"node_type": "output"}},
    {"method": "saliency", "target": {"node_type": "output", "layer": "c", "index": True}},
    {"method": "saliency", "target": {"node_type": "Not A Type"}},
    {"method": "saliency", "target": {"node_type": "output"}, "params": []},
])
def test_a_malformed_run_is_refused_in_one_line(data):
    with pytest.raises(ParameterError):
        RunRecord.from_dict(data)


def test_a_checked_request_gives_back_its_record():
    model = sequential_model()
    checked = request("occlusion", model, Target("prediction", None, 1), {"patch": 4})
    assert checked.record() == RunRecord("occlusion", Target("prediction", None, 1),
                                         checked.params)
    assert checked.params["patch"] == 4 and checked.handler is BUILTIN_HANDLERS["prediction"]
    assert checked.describe(["a", "b", "c", "d"]) == "Occlusion: class 1 (b)"


# --------------------------------------------------------------------------- stamping

def _registry_with(*methods):
    registry = HandlerConfiguration()
    for each in methods:
        registry.register(each)
    return registry


def test_the_framework_stamps_the_id_name_and_constant_map_warning():
    @method(id="plain-scores", name="Plain scores", node_types={NodeType.PREDICTION})
    def plain(context, target, params, progress, should_stop):
        return Result(kind="scores", data=[1.0, 2.0])

    @method(id="with-detail", name="With detail", node_types={NodeType.OUTPUT})
    def detailed(context, target, params, progress, should_stop):
        return Result(title=f"{target.describe()} (detail)", kind="heatmap",
                      data=np.zeros((4, 4)))

    registry = _registry_with(plain, detailed)
    model = sequential_model()
    context = Context(model=model, labels=["a", "b", "c", "d"])
    scores = execute(request("plain-scores", model, Target("prediction", None, 1),
                             registry=registry), context)
    assert (scores.method, scores.title) == ("plain-scores", "Plain scores: class 1 (b)")
    assert scores.warnings == []
    heatmap = execute(request("with-detail", model, Target("output", "conv1"),
                              registry=registry), context)
    assert (heatmap.method, heatmap.title) == ("with-detail", "With detail: conv1 (detail)")
    assert heatmap.warnings == [
        "With detail map is zero everywhere: it singles out no part of the image"]


# --------------------------------------------------------------------------- custom node type

class UnitHandler(NodeHandler):
    """A third party's node type: one unit of a Dense layer."""

    node_type = "dense-unit"
    unit = "unit"

    def count(self, model, layer, output_index=0):
        return LayerTree(model)[layer].layer.units


@method(id="unit-weights", name="Unit weights", node_types={"dense-unit"})
def unit_weights(context, target, params, progress, should_stop):
    kernel = LayerTree(context.model)[target.layer].layer.get_weights()[0]
    return Result(kind="scores", data=kernel[:, target.index or 0])


def test_a_custom_node_type_works_through_its_handler():
    registry = HandlerConfiguration()
    with pytest.raises(Exception, match="no handler for node type"):
        registry.register(unit_weights)
    remove = registry.add_handler(UnitHandler())
    registry.register(unit_weights)
    assert [m.id for m in registry.for_node_type("dense-unit")] == ["unit-weights"]
    model = sequential_model(classes=4)
    checked = request("unit-weights", model, layer="predictions", index=2,
                      node_type="dense-unit", registry=registry)
    result = execute(checked, Context(model=model))
    weights = model.get_layer("predictions").get_weights()[0][:, 2]
    np.testing.assert_array_equal(result.data, weights)
    assert result.title == "Unit weights: predictions unit 2"
    assert RunRecord.from_dict(checked.record().to_dict()) == checked.record()
    with pytest.raises(MethodNotApplicableError, match="has 4 units; unit 4 does not exist"):
        request("unit-weights", model, layer="predictions", index=4, node_type="dense-unit",
                registry=registry)
    remove()
    with pytest.raises(ParameterError, match="is not one of kernel, output, prediction"):
        registry.handler("dense-unit")
