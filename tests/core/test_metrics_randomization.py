"""The sanity check by cascading model randomisation (Adebayo et al. 2018): gradient maps
decorrelate as the layers are re-initialised from the top down, a model-independent edge
detector stays at 1.0, and the user's model is never modified (a clone is randomised)."""

import numpy as np
import pytest

import dial_visualization as dv
from builders import nested_model, random_pixels
from dial_visualization.core.errors import MethodNotApplicableError, ParameterError
from dial_visualization.core.images import load_image
from dial_visualization.core.metrics.randomization import layers_top_down
from dial_visualization.toolkit import NodeType, heatmap_result, method, resolve_objective


@method(id="edge-detector", name="Edge detector", node_types={NodeType.PREDICTION},
        reference="a Sobel filter of the image: it never looks at the model")
def edge_detector(context, target, params, progress, should_stop):
    _, _, _, target = resolve_objective(context, target)
    grey = np.pad(context.image.resized.mean(-1), 1, mode="edge")
    horizontal = (grey[1:-1, 2:] - grey[1:-1, :-2]) * 2 + grey[:-2, 2:] - grey[:-2, :-2] \
        + grey[2:, 2:] - grey[2:, :-2]
    vertical = (grey[2:, 1:-1] - grey[:-2, 1:-1]) * 2 + grey[2:, :-2] - grey[:-2, :-2] \
        + grey[2:, 2:] - grey[:-2, 2:]
    progress(1.0)
    return heatmap_result(context, target, np.hypot(horizontal, vertical))


@pytest.fixture
def with_edge_detector():
    unregister = dv.HandlerConfiguration.default().register(edge_detector)
    yield
    unregister()


@pytest.fixture(scope="module")
def demo():
    paths = dv.demo_paths()
    model = dv.load_model(paths["model"])
    return model, load_image(paths["images"][1], model)


def test_gradient_maps_decorrelate_while_an_edge_detector_stays_at_one(demo, with_edge_detector):
    model, image = demo
    weights = [w.copy() for w in model.get_weights()]
    before = model(image.batch()).numpy()

    edges = dv.evaluate(model, image, "edge-detector", "model-randomization")
    maps = {m: dv.evaluate(model, image, m, "model-randomization")
            for m in ("saliency", "integrated-gradients")}

    np.testing.assert_allclose(edges.curve[:, 1:], 1.0)
    for name, evaluation in maps.items():
        print(name, np.round(evaluation.curve, 3).tolist())
        assert evaluation.curve[0, 1:].tolist() == [1.0, 1.0, 1.0]
        assert evaluation.score == evaluation.curve[-1, 2]
        assert evaluation.higher_is_better is False
    for gradient_map in ("saliency", "integrated-gradients"):  # measured: 0.18 and 0.24
        assert maps[gradient_map].score < 0.4
    assert maps["saliency"].info["layers"] == [path for path, _ in layers_top_down(model)]
    assert len(maps["saliency"].info["maps"]) == len(maps["saliency"].curve)
    for original, now in zip(weights, model.get_weights()):  # the user's model is untouched
        np.testing.assert_array_equal(original, now)
    np.testing.assert_array_equal(model(image.batch()).numpy(), before)


def test_steps_group_the_layers_and_nested_models_are_randomised_too():
    model = nested_model()
    image = load_image(random_pixels(), model, "unit")
    layers = [path for path, _ in layers_top_down(model)]
    assert layers == ["predictions", "base/base_conv2", "base/base_conv1"]

    evaluation = dv.evaluate(model, image, "saliency", "model-randomization", steps=2, seed=1)

    assert evaluation.curve[:, 0].tolist() == [0, 1, 2]
    assert evaluation.info["randomized_at_step"] == [[], layers[:2], layers]
    assert evaluation.info["layers"] == layers


def test_only_the_top_layers_asked_for_are_randomised():
    model = nested_model()
    image = load_image(random_pixels(), model, "unit")
    evaluation = dv.evaluate(model, image, "saliency", "model-randomization", layers=2)
    assert evaluation.info["layers"] == ["predictions", "base/base_conv2"]
    assert evaluation.info["randomized_at_step"] == [[], ["predictions"],
                                                      ["predictions", "base/base_conv2"]]
    with pytest.raises(ParameterError, match="^layers 4: the model has 3 layers with weights "
                                             r"\(0 randomises them all\)$"):
        dv.evaluate(model, image, "saliency", "model-randomization", layers=4)


def test_the_new_weights_come_from_the_layers_initializers_and_the_seed():
    from dial_visualization.core.metrics.randomization import clone, randomize

    model = nested_model()
    copy = clone(model)
    dense = copy.get_layer("predictions")
    randomize(dense, seed=3)
    kernel, bias = (w.numpy() for w in dense.weights)
    limit = np.sqrt(6 / sum(kernel.shape))  # Glorot uniform, the Dense default
    assert np.abs(kernel).max() <= limit and kernel.std() > limit / 4
    assert not bias.any()  # zeros, the bias default
    again = clone(model).get_layer("predictions")
    randomize(again, seed=3)
    np.testing.assert_array_equal(again.weights[0].numpy(), kernel)
    assert not np.array_equal(model.get_layer("predictions").weights[0].numpy(), kernel)


def test_a_map_given_as_is_cannot_be_checked(demo):
    model, image = demo
    with pytest.raises(MethodNotApplicableError, match="name the method, not a map"):
        dv.evaluate(model, image, np.zeros((64, 64)), "model-randomization")
