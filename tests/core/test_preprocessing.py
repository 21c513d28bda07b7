"""core.preprocessing: which preset a model expects and why, and the warning for a wrong one.

On real models: tiny ones built in code, keras.applications architectures (weights=None),
the trained demo model (trained on [0, 1]), the demo behind ``Rescaling(1/255)`` (so
trained on [0, 255]), and a CNN with BatchNormalization trained here on [-1, 1].
"""

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
from builders import random_pixels, sequential_model

import dial_visualization as dv
from dial_visualization.core.errors import ParameterError
from dial_visualization.core.images import load_image
from dial_visualization.core.preprocessing import (
    PRESETS,
    Preprocessing,
    detect,
    presets_for,
    resolve,
)
from dial_visualization.core.preprocessing_check import compare_presets

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LABELS = ["circle", "square", "triangle", "cross"]


def _load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shapes = _load_example("train_demo_model")


def _cnn(*first_layers, size=16):
    """A small CNN on (size, size, 3) inputs that starts with ``first_layers``."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((size, size, 3)), *first_layers,
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def _named(name):
    inputs = keras.Input((16, 16, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs), name=name)


# --------------------------------------------------------------------------- detection

TORCH_STATISTICS = dict(mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
                        variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2])


@pytest.mark.parametrize("layer, preset, description", [
    (lambda: keras.layers.Rescaling(1 / 255), "none", "Rescaling(1/255)"),
    (lambda: keras.layers.Rescaling(1 / 127.5, offset=-1), "none", "Rescaling(1/127.5, offset -1)"),
    (lambda: keras.layers.Rescaling(2.0, offset=-1), "unit", "Rescaling(2, offset -1)"),
    (lambda: keras.layers.Normalization(**TORCH_STATISTICS), "none",
     "Normalization(mean 124, 116, 104)"),
    (lambda: keras.layers.Normalization(mean=0.5, variance=1 / 12), "unit",
     "Normalization(mean 0.5)"),
])
def test_a_preprocessing_layer_first_decides_the_pixel_range(layer, preset, description):
    model = _cnn(keras.layers.ZeroPadding2D(1), layer())  # weightless layers before it count
    assert detect(model) == (preset, f"model starts with {description}")
    chosen = resolve(None, model)
    assert (chosen.name, chosen.reason) == (preset, f"model starts with {description}")


def test_load_image_records_the_detected_preset_and_its_reason():
    model = _cnn(keras.layers.Rescaling(1 / 255))
    image = load_image(np.full((16, 16, 3), 255, dtype=np.uint8), model)
    assert image.preprocessing == "none"
    assert image.preprocessing_reason == "model starts with Rescaling(1/255)"
    np.testing.assert_array_equal(image.array, 255.0)


def test_a_rescaling_layer_inside_a_nested_base_model():
    base_input = keras.Input((16, 16, 3))
    rescaled = keras.layers.Rescaling(1 / 127.5, offset=-1, name="rescaling")(base_input)
    base = keras.Model(base_input, keras.layers.Conv2D(4, 3)(rescaled), name="base")
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    classifier = keras.Model(inputs, outputs, name="transfer")
    assert detect(classifier) == (
        "none", "model starts with Rescaling(1/127.5, offset -1) (layer base/rescaling)")


def test_a_rescaling_layer_after_a_layer_with_weights_is_not_preprocessing():
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(3, 1),
                              keras.layers.Rescaling(1 / 255)])
    assert detect(model) is None


@pytest.mark.parametrize("build, description", [
    (keras.applications.EfficientNetB0, "Rescaling(1/255)"),
    (keras.applications.MobileNetV3Small, "Rescaling(1/127.5, offset -1)"),
    (keras.applications.ConvNeXtTiny, "Normalization(mean 124, 116, 104)"),
])
def test_applications_built_with_their_preprocessing_take_raw_pixels(build, description):
    model = build(weights=None, input_shape=(64, 64, 3))
    assert detect(model) == ("none", f"model starts with {description}")


@pytest.mark.parametrize("build, preset, name", [
    (keras.applications.MobileNetV3Small, "symmetric", "MobileNetV3Small"),
    (keras.applications.EfficientNetV2B0, "symmetric", "EfficientNetV2B0"),
    (keras.applications.ConvNeXtTiny, "torch", "ConvNeXtTiny"),
])
def test_applications_built_without_their_preprocessing_layers(build, preset, name):
    model = build(weights=None, input_shape=(64, 64, 3), include_preprocessing=False)
    assert detect(model) == (preset, f"detected {name}")


@pytest.mark.parametrize("model_name, preset, application", [
    ("vgg16", "caffe", "VGG16"), ("vgg19", "caffe", "VGG19"), ("resnet50", "caffe", "ResNet50"),
    ("resnet50v2", "symmetric", "ResNet50V2"), ("resnet152v2", "symmetric", "ResNet152V2"),
    ("mobilenet_1.00_224", "symmetric", "MobileNet"),
    ("mobilenetv2_1.00_224", "symmetric", "MobileNetV2"),
    ("MobileNetV3Large", "symmetric", "MobileNetV3Large"),
    ("inception_v3", "symmetric", "InceptionV3"),
    ("inception_resnet_v2", "symmetric", "InceptionResNetV2"),
    ("xception", "symmetric", "Xception"), ("nasnet_mobile", "symmetric", "NASNetMobile"),
    ("densenet121", "torch", "DenseNet121"), ("efficientnetb0", "none", "EfficientNetB0"),
    ("efficientnetv2-b0", "symmetric", "EfficientNetV2B0"),
    ("convnext_tiny", "torch", "ConvNeXtTiny"),
    ("vgg_like", "caffe", "VGG"), ("NASNet", "symmetric", "NASNet"),  # a family's name
])
def test_detection_by_keras_applications_name(model_name, preset, application):
    assert detect(_named(model_name)) == (preset, f"detected {application}")


def test_an_application_inside_a_classifier():
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    inputs = keras.Input((32, 32, 3))
    classifier = keras.Model(
        inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(base(inputs))),
        name="transfer")
    assert detect(classifier) == ("symmetric", "detected MobileNetV2")
    image = load_image(np.full((32, 32, 3), 255, dtype=np.uint8), classifier)
    assert image.preprocessing == "symmetric"
    assert image.preprocessing_reason == "detected MobileNetV2"
    np.testing.assert_allclose(image.array, 1.0)


def test_without_any_the_default_is_unit():
    assert detect(_named("my_cnn")) is None
    chosen = resolve(None, sequential_model())
    assert (chosen.name, chosen.reason) == ("unit", "default: no preprocessing found in the model")
    assert resolve(None).name == "unit"


def test_an_explicit_choice_wins_over_detection():
    model = _cnn(keras.layers.Rescaling(1 / 255))
    assert resolve("unit", model) == Preprocessing("unit", PRESETS["unit"], "chosen")
    image = load_image(np.full((16, 16, 3), 255, dtype=np.uint8), model, "unit")
    assert (image.preprocessing, image.preprocessing_reason) == ("unit", "chosen")
    np.testing.assert_array_equal(image.array, 1.0)


def test_a_function_and_unknown_names():
    def halve(x):
        return x / 2.0

    chosen = resolve(halve)
    assert (chosen.name, chosen.function, chosen.reason) == ("halve", halve, "custom function")
    assert resolve(chosen) is chosen
    with pytest.raises(ParameterError, match=r"unknown preprocessing 'zscore' \(choose none, "
                                             r"unit, symmetric, caffe, torch\)"):
        resolve("zscore")


def test_presets_by_channel_count():
    assert presets_for(3) == list(PRESETS)
    assert presets_for(1) == presets_for(4) == ["none", "unit", "symmetric"]


# --------------------------------------------------------------------------- the check

@pytest.fixture(scope="module")
def demo():
    return dv.load_model(dv.demo_paths()["model"])


@pytest.fixture(scope="module")
def demo_behind_rescaling(demo):
    """The demo model with Rescaling(1/255) in front: a trained model that takes [0, 255]."""
    inputs = keras.Input((64, 64, 3))
    return keras.Model(inputs, demo(keras.layers.Rescaling(1 / 255)(inputs)))


@pytest.fixture(scope="module")
def symmetric_cnn():
    """A CNN with BatchNormalization trained on the demo shapes in [-1, 1] (~4 s, ~95 %)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(960) % len(LABELS)
    images = np.stack([shapes.make_shape_image(LABELS[label], rng, size=32) for label in labels])
    blocks = [layer for filters in (8, 16, 32) for layer in (
        keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
        keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU(),
        keras.layers.MaxPooling2D() if filters < 32 else keras.layers.GlobalAveragePooling2D())]
    model = keras.Sequential([keras.Input((32, 32, 3)), *blocks,
                              keras.layers.Dense(len(LABELS), activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(PRESETS["symmetric"](images.astype(np.float32)), labels, epochs=6, batch_size=32,
              verbose=0)
    return model


@pytest.fixture(scope="module")
def shape_images():
    """The 4 demo images and a dozen fresh samples of the demo's shapes (uint8, 64 x 64)."""
    demo_images = [np.asarray(dv.load_image(path, _named("x"), "none").original)
                   for path in dv.demo_paths()["images"]]
    rng = np.random.default_rng(11)
    return demo_images + [shapes.make_shape_image(LABELS[i % 4], rng) for i in range(12)]


def _advice_on_every_image(model, images, preset):
    return [compare_presets(model, load_image(image, model, preset).resized, preset,
                            labels=LABELS) for image in images]


@pytest.mark.parametrize("model_name, right", [
    ("demo", "unit"), ("demo_behind_rescaling", "none"), ("symmetric_cnn", "symmetric")])
def test_quiet_for_the_right_preset_on_every_image(request, shape_images, model_name, right):
    model = request.getfixturevalue(model_name)
    for advice in _advice_on_every_image(model, shape_images, right):
        assert (advice.chosen, advice.suggested, advice.message) == (right, None, "")


@pytest.mark.parametrize("model_name, wrong, suggested, symptom", [
    ("demo_behind_rescaling", "unit", {"none"}, "its output barely depends on the image"),
    ("demo", "none", {"unit"}, "times larger than under"),
    ("demo", "caffe", {"unit"}, "times larger than under"),
    # "unit" (detection's default) when it is confident, though the model sees only circles
    ("symmetric_cnn", "none", {"unit", "symmetric", "torch"}, "times larger than under"),
])
def test_warns_for_a_wrong_preset_on_every_image(request, shape_images, model_name, wrong,
                                                 suggested, symptom):
    model = request.getfixturevalue(model_name)
    for advice in _advice_on_every_image(model, shape_images, wrong):
        assert advice.chosen == wrong and advice.suggested in suggested
        assert advice.message.startswith(f"preprocessing '{wrong}' looks wrong for this model: ")
        assert symptom in advice.message
        assert advice.message.endswith("— choose it if that is how the model was trained")


def test_the_warning_names_what_the_suggested_preset_sees(demo_behind_rescaling):
    circle = load_image(dv.demo_paths()["images"][0], demo_behind_rescaling)
    assert circle.name == "circle" and circle.preprocessing == "none"
    advice = compare_presets(demo_behind_rescaling, circle.resized, "unit", labels=LABELS)
    assert advice.message.startswith(
        "preprocessing 'unit' looks wrong for this model: its output barely depends on the "
        "image (as for a near-black input); 'none' gives 'circle' at ")
    figures = advice.figures
    assert list(figures) == list(PRESETS)
    assert figures["unit"].collapsed and figures["unit"].image_dependence < 0.01
    assert (figures["unit"].top_class, round(figures["unit"].confidence, 2)) == (0, 0.87)
    assert not figures["none"].collapsed and not figures["none"].saturated
    assert figures["none"].top_class == 0 and figures["none"].confidence > 0.9


def test_saturation_figures(demo):
    pixels = load_image(dv.demo_paths()["images"][0], demo).resized
    figures = compare_presets(demo, pixels, "unit", device="cpu").figures
    assert figures["none"].saturated and figures["caffe"].saturated
    assert figures["none"].logit_scale > 100 * figures["unit"].logit_scale
    assert not any(figures[name].saturated or figures[name].collapsed
                   for name in ("unit", "symmetric", "torch"))


def test_figures_equal_the_model_run_on_the_image_and_on_black(demo):
    """Each preset's figures are the model's own logits and outputs on the image and on
    black, image after image, also after the model's weights changed."""
    from dial_visualization.core.walker import forward

    model = keras.models.clone_model(demo)
    model.set_weights(demo.get_weights())
    images = [load_image(path, demo).resized for path in dv.demo_paths()["images"][:2]]
    for pixels in images + images[:1]:
        figures = compare_presets(model, pixels, "unit").figures
        for name, figure in figures.items():
            image = PRESETS[name](pixels.astype(np.float32))[None]
            black = PRESETS[name](np.zeros(pixels.shape, np.float32))[None]
            logits, blacks = (np.asarray(forward(model, x, logits_of=0)[0], np.float64)[0]
                              for x in (image, black))
            probabilities = np.asarray(model(image))[0]
            assert figure.image_dependence == pytest.approx(
                np.linalg.norm(logits - blacks) / max(np.linalg.norm(logits),
                                                      np.linalg.norm(blacks)), rel=1e-4)
            assert figure.logit_scale == pytest.approx(np.abs(logits).max(), rel=1e-5)
            assert figure.top_class == probabilities.argmax()
            assert figure.confidence == pytest.approx(probabilities.max(), rel=1e-4)
        model.set_weights([w * 1.5 for w in model.get_weights()])  # trained further, say


def test_a_custom_function_is_one_more_candidate(demo_behind_rescaling):
    def darken(pixels):
        return pixels / 255.0

    pixels = load_image(dv.demo_paths()["images"][0], demo_behind_rescaling).resized
    advice = compare_presets(demo_behind_rescaling, pixels, darken)
    assert list(advice.figures) == list(PRESETS) + ["darken"]
    assert advice.figures["darken"].collapsed
    assert (advice.chosen, advice.suggested) == ("darken", "none")


@pytest.mark.parametrize("build, size", [
    (keras.applications.EfficientNetB0, 64), (keras.applications.MobileNetV3Small, 64),
    (keras.applications.ResNet50, 64),  # caffe: itself 180x "unit", no preset confident
])
def test_quiet_on_untrained_applications(build, size):
    model = build(weights=None, input_shape=(size, size, 3))
    for seed in (1, 2):
        image = load_image(random_pixels(size, 3, seed=seed), model)
        advice = compare_presets(model, image.resized, image.preprocessing)
        assert (advice.suggested, advice.message) == (None, "")


def _heads(activation, units):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(units, activation=activation)])


def test_confidence_by_kind_of_output():
    pixels = random_pixels(16, 1)
    x = PRESETS["unit"](pixels.astype(np.float32))[np.newaxis]

    sigmoid = _heads("sigmoid", 1)
    probability = float(sigmoid(x)[0, 0])
    figures = compare_presets(sigmoid, pixels, "unit").figures
    assert list(figures) == ["none", "unit", "symmetric"]  # one channel: no caffe, no torch
    assert figures["unit"].confidence == pytest.approx(max(probability, 1 - probability),
                                                       rel=1e-5)
    assert figures["unit"].top_class == int(probability >= 0.5)

    linear = _heads(None, 3)
    logits = np.asarray(linear(x))[0]
    softmax = np.exp(logits) / np.exp(logits).sum()
    assert compare_presets(linear, pixels, "unit").figures["unit"].confidence == pytest.approx(
        softmax.max(), rel=1e-5)

    regression = compare_presets(_heads(None, 1), pixels, "none")
    assert regression.figures["unit"].confidence is None
    assert (regression.suggested, regression.message) == (None, "")

    keras.utils.set_random_seed(0)  # a softmax per position: the model's own probabilities
    per_pixel = keras.Sequential([keras.Input((16, 16, 1)),
                                  keras.layers.Conv2D(3, 3, activation="softmax")])
    assert compare_presets(per_pixel, pixels, "unit").figures["unit"].confidence == (
        pytest.approx(float(np.max(per_pixel(x))), rel=1e-5))
