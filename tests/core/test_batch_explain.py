"""Many images at once (core.batch_explain, dv.explain on lists, folders and arrays): each
result equals the image's own result, batched methods run many images per model call, and
images are read a batch at a time."""

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import dial_visualization as dv
from builders import SampleCounter, counting_model, random_pixels, sequential_model
from dial_visualization.core.batch_explain import (batched_form, explain_images, image_loader,
                                                   is_many)
from dial_visualization.core.errors import ImageLoadError
from dial_visualization.core.explain import request
from dial_visualization.core.context import Context
from dial_visualization.core.images import load_image
from dial_visualization.core.registry import HandlerConfiguration

BATCHED = ("saliency", "guided-backprop", "grad-cam", "grad-cam-plus-plus")
#: Batched too: their passes (path points, noisy copies, masked inputs) over many images
#: form one stream.
STREAMED = {"integrated-gradients": {"steps": 4}, "smoothgrad": {"samples": 2},
            "occlusion": {"patch": 16, "stride": 16}, "score-cam": {}, "rise": {"masks": 8}}


@pytest.fixture(scope="module")
def demo():
    paths = dv.demo_paths()
    return paths, dv.load_model(paths["model"]), dv.load_labels(paths["labels"])


def assert_same_result(many, one):
    assert many.method == one.method and many.title == one.title
    assert many.target == one.target and many.warnings == one.warnings
    assert many.params == one.params and sorted(many.info) == sorted(one.info)
    np.testing.assert_allclose(many.data, one.data, rtol=1e-5, atol=1e-6)
    if one.channels is not None:
        np.testing.assert_allclose(many.channels, one.channels, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(many.background, one.background)


@pytest.mark.parametrize("method", BATCHED + tuple(STREAMED))
def test_each_result_of_a_list_equals_the_image_alone(demo, method):
    paths, model, labels = demo
    params = STREAMED.get(method, {})
    many = dv.explain(model, [str(p) for p in paths["images"]], method, labels=labels, **params)
    assert len(many) == len(paths["images"])
    for path, result in zip(paths["images"], many):
        one = dv.explain(model, dv.load_image(path, model), method, labels=labels, **params)
        assert_same_result(result, one)
    # each image is explained for its own top class (the demo's four shapes)
    assert len({result.target.index for result in many}) == len(paths["images"])


def test_the_batched_methods_have_a_batched_form_and_the_others_run_image_by_image():
    methods = dv.available_methods()
    assert all(batched_form(methods[m]) is not None for m in BATCHED + tuple(STREAMED))
    assert all(batched_form(methods[m]) is None for m in methods
               if m not in BATCHED + tuple(STREAMED))


class LargestBatch(keras.layers.Layer):
    """Passes its input through and keeps the largest batch it has been run on."""

    def build(self, input_shape):
        self.largest = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                       dtype="int32", name="largest")

    def call(self, x):
        self.largest.assign(tf.maximum(self.largest, tf.shape(x)[0]))
        return x


@pytest.mark.parametrize("method", BATCHED)
def test_a_batched_method_runs_many_images_per_model_call(method):
    inputs = keras.Input((16, 16, 3))
    watcher = LargestBatch(name="watcher")
    inner = sequential_model()
    model = keras.Model(inputs, inner(watcher(inputs)))
    images = [random_pixels(seed=seed) for seed in range(6)]
    layer = {"layer": "sequential_cnn/conv2"} if "cam" in method else {}
    checked = request(method, model, params=layer)
    context = Context(model)
    outcomes = list(explain_images([checked], context, images, batch_size=6))
    assert int(watcher.largest.numpy()) == 6
    for image, outcome in zip(images, outcomes):
        one = dv.explain(model, image, method, **layer)
        assert_same_result(outcome.results[0], one)


def test_images_are_read_one_batch_at_a_time(model):
    loaded = []
    load = image_loader(Context(model))

    def reading(source):
        loaded.append(source)
        return load(source)

    images = [random_pixels(seed=seed) for seed in range(10)]
    outcomes = explain_images([request("saliency", model)], Context(model), images, reading,
                              batch_size=4)
    first = next(outcomes)
    assert len(loaded) == 4 and first.results[0].data.shape == (16, 16)
    rest = list(outcomes)
    assert len(rest) == 9 and len(loaded) == 10
    assert [outcome.position for outcome in [first] + rest] == list(range(10))


def test_a_folder_an_array_of_images_and_a_single_image(demo, tmp_path):
    paths, model, _ = demo
    for path in paths["images"]:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "notes.txt").write_text("not an image")
    from_folder = dv.explain(model, tmp_path, "grad-cam")
    assert [r.target.index for r in from_folder] == \
        [dv.explain(model, p, "grad-cam").target.index for p in sorted(paths["images"])]
    array = np.stack([random_pixels(seed=s) for s in range(3)])
    small = sequential_model()
    from_array = dv.explain(small, array, "saliency")
    assert len(from_array) == 3
    for pixels, result in zip(array, from_array):
        assert_same_result(result, dv.explain(small, pixels, "saliency"))
    # one image stays one result, also as a batch of one
    assert isinstance(dv.explain(small, array[:1], "saliency"), dv.Result)
    assert isinstance(dv.explain(small, str(paths["images"][0]), "saliency"), dv.Result)
    assert not is_many(array[0]) and is_many(array) and is_many([array[0]])


def test_an_unreadable_image_is_named_and_the_others_are_explained(demo, tmp_path):
    paths, model, _ = demo
    for path in paths["images"][:2]:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    sources = sorted(tmp_path.iterdir())
    context = Context(model)
    outcomes = list(explain_images([request("saliency", model)], context, sources))
    failed = [o for o in outcomes if o.error]
    assert [o.name for o in failed] == ["broken.png"]
    assert "not a readable image" in failed[0].error
    assert all(len(o.results) == 1 for o in outcomes if not o.error)
    with pytest.raises(ImageLoadError, match="broken.png: broken.png is not a readable image"):
        dv.explain(model, tmp_path, "saliency")


def test_images_of_several_sizes_for_a_model_of_any_size():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    images = [random_pixels(size=16, seed=1), random_pixels(size=20, seed=2),
              random_pixels(size=16, seed=3)]
    for method in ("saliency", "grad-cam"):
        many = dv.explain(model, images, method)
        assert [r.data.shape for r in many] == [(16, 16), (20, 20), (16, 16)]
        for image, result in zip(images, many):
            assert_same_result(result, dv.explain(model, image, method))


def test_a_registry_of_its_own_is_kept_for_requests(model):
    registry = HandlerConfiguration.default()
    checked = request("grad-cam", model, registry=registry, layer="conv2")
    outcome = next(explain_images([checked], Context(model), [random_pixels()]))
    assert outcome.results[0].info["layer"] == "conv2"
    assert outcome.outputs.shape == (4,)


@pytest.mark.parametrize("methods, passes", [(("saliency",), 1), (("saliency", "grad-cam"), 2),
                                             (("occlusion",), None)])
def test_batched_maps_of_the_top_class_take_the_outputs_from_their_own_pass(methods, passes):
    model, counter = counting_model()
    images = [random_pixels(seed=seed) for seed in range(5)]
    checked = [request(method, model, params={"patch": 8, "stride": 8} if method == "occlusion"
                       else {}) for method in methods]
    outcomes = list(explain_images(checked, Context(model), images, batch_size=5))
    seen = int(counter.seen.numpy())
    for image, outcome in zip(images, outcomes):
        probabilities = model(load_image(image, model).batch()).numpy()[0]
        np.testing.assert_allclose(outcome.outputs, probabilities, rtol=1e-5, atol=1e-7)
        assert [r.target.index for r in outcome.results] == \
            [int(np.argmax(probabilities))] * len(methods)
    if passes is not None:  # one model call per batch and method, the outputs included
        assert seen == passes * len(images)


@pytest.mark.parametrize("method, params, per_image", [
    ("integrated-gradients", {"steps": 3, "batch_size": 8}, 4),
    ("integrated-gradients", {"steps": 2, "max_steps": 16, "tolerance": 0.0,
                              "baseline": "blur", "batch_size": 8}, 17),
    ("smoothgrad", {"samples": 3, "batch_size": 8}, 3),
    ("smoothgrad", {"samples": 2, "base": "integrated-gradients", "batch_size": 16}, 2 * 65),
    ("smoothgrad", {"samples": 3, "base": "guided-backprop", "batch_size": 8}, 3),
    ("occlusion", {"patch": 8, "stride": 8, "batch_size": 8}, 4 + 1),  # and the image's score
    ("occlusion", {"patch": 6, "stride": 5, "fill": "blur", "batch_size": 8}, 9 + 1),
    ("score-cam", {"top_n": 4, "batch_size": 8}, 4 + 1),  # and the layer's maps
    ("score-cam", {"layer": "sequential_cnn/conv1", "top_n": 3, "batch_size": 6}, 3 + 1),
    ("rise", {"masks": 6, "batch_size": 8}, 6),
    ("rise", {"masks": 7, "grid": 3, "score": "logit", "batch_size": 6}, 7),
])
def test_multi_pass_methods_stream_the_passes_of_many_images_together(method, params, per_image):
    inputs = keras.Input((16, 16, 3))
    watcher, counter = LargestBatch(name="watcher"), SampleCounter(name="counter")
    model = keras.Model(inputs, sequential_model()(watcher(counter(inputs))))
    images = [random_pixels(seed=seed) for seed in range(5)]
    outcomes = list(explain_images([request(method, model, params=params)], Context(model),
                                   images, batch_size=5))
    # the passes of one image fill no call alone: the calls span images
    assert int(watcher.largest.numpy()) == params["batch_size"]
    # every pass once, and one forward pass over the images for their top classes
    assert int(counter.seen.numpy()) == len(images) * (per_image + 1)
    for image, outcome in zip(images, outcomes):
        assert_same_result(outcome.results[0], dv.explain(model, image, method, **params))
