"""Models with known weights for the metric tests (import from tests: ``from metric_models
import ...``)."""

import keras
import numpy as np

SIZE = 16
#: The object's rows and columns in :func:`object_image`: the region deciding the class.
OBJECT = (slice(3, 9), slice(8, 14))


def object_model():
    """Class 1 ("object") is decided by bright pixels, wherever they are: a 3x3 mean of the
    brightness above 0.5 (``bright``, ReLU), averaged over the image, moves the logits.
    The images of :func:`object_image` are dark except for one bright square, so their
    class is decided by that one known region; a class activation map of ``bright`` and
    occlusion find it."""
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    bright = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="bright")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(bright)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    outputs = keras.layers.Activation("softmax", name="softmax")(logits)
    model = keras.Model(inputs, outputs, name="object_detector")
    model.get_layer("bright").set_weights([np.full((3, 3, 3, 1), 1 / 27, np.float32),
                                           np.array([-0.5], np.float32)])
    model.get_layer("logits").set_weights([np.array([[-80.0, 80.0]], np.float32),
                                           np.array([1.0, -1.0], np.float32)])
    return model


def object_image(seed=0) -> np.ndarray:
    """uint8 (16, 16, 3): dark noise (0..100) with a bright square (200..255) at OBJECT."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 100, (SIZE, SIZE, 3))
    pixels[OBJECT] = rng.uniform(200, 255, pixels[OBJECT].shape)
    return pixels.astype(np.uint8)


def region_map() -> np.ndarray:
    """1 on the object, 0 elsewhere."""
    region = np.zeros((SIZE, SIZE), np.float32)
    region[OBJECT] = 1.0
    return region
