"""One run request, checked before any work: one name for a layer, targets that exist, class
names that belong to the model, and the preprocessing recorded with its reason."""

import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels, sequential_model
from dial_visualization.core.errors import (LabelsError, MethodNotApplicableError,
                                            ParameterError, RegistryError)
from dial_visualization.core.explain import request
from dial_visualization.core.registry import Method, NodeType, Parameter


@pytest.fixture(scope="module")
def model():
    return sequential_model()


def test_layer_is_a_cam_methods_layer_in_the_api(model):
    result = dv.explain(model, random_pixels(), "grad-cam", layer="conv1", target=1)
    assert result.info["layer"] == "conv1" and result.params["layer"] == "conv1"
    assert result.target.node_type is NodeType.PREDICTION and result.target.index == 1
    assert dv.explain(model, random_pixels(), "grad-cam").info["layer"] == "conv2"


def test_layer_is_the_nodes_layer_for_methods_that_explain_layers(model):
    checked = request("saliency", model, layer="conv1", index=2)
    assert (checked.target.node_type, checked.target.layer, checked.target.index) == (
        NodeType.OUTPUT, "conv1", 2)
    assert request("weights", model, layer="conv1").independent_of_the_image


def test_two_different_layers_for_one_run_are_refused(model):
    with pytest.raises(ParameterError, match="two layers given"):
        request("grad-cam", model, params={"layer": "conv2"}, layer="conv1")
    assert request("grad-cam", model, params={"layer": "conv1"}, layer="conv1").params["layer"] == "conv1"


@pytest.mark.parametrize("method, keywords, error, message", [
    ("grad-cam", {"layer": "nope"}, MethodNotApplicableError, "has no layer 'nope'"),
    ("score-cam", {"layer": "gap"}, MethodNotApplicableError, "not a spatial"),
    ("saliency", {"index": 4}, MethodNotApplicableError, "class 4 does not exist"),
    ("saliency", {"index": -1}, MethodNotApplicableError, "class -1 does not exist"),
    ("saliency", {"layer": "conv2", "index": 6}, MethodNotApplicableError,
     "6 channels; channel 6 does not exist"),
    ("saliency", {"index": "2"}, ParameterError, "expected a class or channel index"),
    ("saliency", {"index": 2.7}, ParameterError, "expected a class or channel index"),
    ("saliency", {"index": True}, ParameterError, "expected a class or channel index"),
    ("grad-cam", {"output_index": 1}, Exception, "output 1 does not exist"),
])
def test_everything_is_checked_before_any_work(model, method, keywords, error, message):
    with pytest.raises(error, match=message):
        request(method, model, **keywords)


def test_numpy_integers_are_indices(model):
    assert request("saliency", model, index=np.int64(3)).target.index == 3


def test_a_layer_parameter_is_named_layer_and_belongs_to_class_explanations():
    def run(*_):
        return None

    with pytest.raises(RegistryError, match="named 'layer'"):
        Parameter("where", "layer", "")
    with pytest.raises(RegistryError, match="of kind 'layer'"):
        Parameter("layer", "str", "")
    with pytest.raises(RegistryError, match="prediction nodes only"):
        Method(id="odd", name="Odd", node_types={NodeType.OUTPUT}, run=run,
                  parameters=(Parameter("layer", "layer", ""),))
    layer = Parameter("layer", "layer", "", spatial=True)
    assert layer.coerce(None) == "" and layer.coerce(" conv1 ") == "conv1"
    with pytest.raises(ParameterError, match="expected layer"):
        layer.coerce(3)


def test_class_names_must_name_every_class(model, tmp_path):
    path = tmp_path / "three.txt"
    path.write_text("cat\ndog\nbird\n")
    with pytest.raises(LabelsError, match="3 class names in .*three.txt, but the model's "
                                          "output scores 4 classes"):
        dv.explain(model, random_pixels(), "saliency", labels=path)


@pytest.fixture(scope="module")
def rescaling_demo():
    """The trained demo model behind its own Rescaling(1/255): it takes [0, 255] pixels."""
    demo = dv.load_model(dv.demo_paths()["model"])
    inputs = keras.Input((64, 64, 3))
    return keras.Model(inputs, demo(keras.layers.Rescaling(1 / 255)(inputs)))


def test_the_preprocessing_and_its_reason_are_recorded_and_a_wrong_one_warned(rescaling_demo):
    image_path = dv.demo_paths()["images"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", dv.PreprocessingWarning)
        result = dv.explain(rescaling_demo, image_path, "saliency")
    assert result.info["preprocessing"] == "none"
    assert result.info["preprocessing_reason"] == "model starts with Rescaling(1/255)"
    with pytest.warns(dv.PreprocessingWarning, match="'unit' looks wrong .* 'none' gives"):
        image = dv.load_image(image_path, rescaling_demo, preprocessing="unit")
    assert image.preprocessing == "unit" and image.preprocessing_reason == "chosen"


def test_many_images_are_warned_once_and_loaded_images_not_again(rescaling_demo):
    paths = dv.demo_paths()["images"][:3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dv.explain(rescaling_demo, paths, "saliency", preprocessing="unit")
    warned = [str(w.message) for w in caught if issubclass(w.category, dv.PreprocessingWarning)]
    assert len(warned) == 1 and warned[0].startswith(f"{Path(paths[0]).stem}: ")
    with pytest.warns(dv.PreprocessingWarning):  # load_image checks each image it loads
        images = [dv.load_image(path, rescaling_demo, preprocessing="unit") for path in paths]
    with warnings.catch_warnings():
        warnings.simplefilter("error", dv.PreprocessingWarning)
        results = dv.explain(rescaling_demo, images, "saliency")
    assert [result.info["preprocessing"] for result in results] == ["unit"] * 3


def test_a_model_whose_output_is_not_finite_gives_no_map(model):
    broken = keras.models.clone_model(model)
    broken.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    for method in ("predictions", "saliency", "grad-cam"):
        with pytest.raises(MethodNotApplicableError, match="not finite"):
            dv.explain(broken, random_pixels(), method)


def test_an_unknown_node_type_is_named(model):
    with pytest.raises(ParameterError, match="node_type: 'bogus' is not one of"):
        request("saliency", model, node_type="bogus")
