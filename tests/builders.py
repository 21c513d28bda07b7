"""Tiny real Keras models built in code (import from tests: ``from builders import ...``)."""

import keras
import numpy as np
import tensorflow as tf


def sequential_model(channels=3, size=16, classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((size, size, channels), name="image"),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(classes, activation="softmax", name="predictions"),
    ], name="sequential_cnn")


def residual_model(size=16, classes=3, seed=0, projection_channels=3):
    """ResNet-style: a 1x1 stride-2 projection shortcut added to a 3x3 stride-2 branch."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, projection_channels), name="image")
    branch = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="branch")(inputs)
    shortcut = keras.layers.Conv2D(8, 1, strides=2, padding="same", name="shortcut")(inputs)
    added = keras.layers.Add(name="add")([branch, shortcut])
    relu = keras.layers.ReLU(name="relu")(added)
    conv = keras.layers.Conv2D(8, 3, padding="same", name="conv")(relu)
    act = keras.layers.Activation("relu", name="conv_relu")(conv)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(act)
    logits = keras.layers.Dense(classes, name="logits")(pooled)
    probs = keras.layers.Activation("softmax", name="softmax")(logits)
    return keras.Model(inputs, probs, name="residual_cnn")


def nested_model(size=16, classes=3, seed=0):
    """A 'pretrained base' functional model inside a classifier."""
    keras.utils.set_random_seed(seed)
    base_in = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="base_conv1")(base_in)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="base_conv2")(x)
    base = keras.Model(base_in, x, name="base")
    inputs = keras.Input((size, size, 3), name="image")
    features = base(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(pooled)
    return keras.Model(inputs, outputs, name="transfer_cnn")


def multi_output_model(size=16, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    first = keras.layers.Dense(3, activation="softmax", name="kind")(pooled)
    second = keras.layers.Dense(2, activation="sigmoid", name="flag")(pooled)
    return keras.Model(inputs, [first, second], name="two_heads")


def random_pixels(size=16, channels=3, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (size, size, channels), dtype=np.uint8)


class SampleCounter(keras.layers.Layer):
    """Passes its input through and counts the samples the model has been run on."""

    def build(self, input_shape):
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                    dtype="int32", name="seen")

    def call(self, x):
        self.seen.assign_add(tf.shape(x)[0])
        return x


def counting_model():
    """sequential_model behind a SampleCounter: (model, counter); counter.seen counts samples."""
    inputs = keras.Input((16, 16, 3))
    counter = SampleCounter(name="counter")
    return keras.Model(inputs, sequential_model()(counter(inputs))), counter


class StopAfterFirstBatch:
    """``progress``/``should_stop`` callbacks asking to stop once a batch has reported;
    ``samples_after_stop()`` says how many samples the counted model saw after that."""

    def __init__(self, counter: SampleCounter):
        self.counter = counter
        self.reported = []
        self.seen_at_stop = None

    def progress(self, fraction):
        self.reported.append(fraction)

    def should_stop(self):
        if self.reported and self.seen_at_stop is None:
            self.seen_at_stop = int(self.counter.seen.numpy())
        return bool(self.reported)

    def samples_after_stop(self):
        return int(self.counter.seen.numpy()) - self.seen_at_stop


def assert_walks_as_keras(model, x, *, atol=1e-6, **forward_options):
    """The graph walker's outputs on ``x``, and the input gradient of a random weighting of
    them, equal those of Keras's own ``model(x)``; returns what the walker recorded."""
    from dial_visualization.core.walker import forward

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        walked, recorded = forward(model, x, **forward_options)
        direct = model(x)
        weights = tf.random.uniform(direct.shape, seed=1)
        walked_sum, direct_sum = tf.reduce_sum(walked * weights), tf.reduce_sum(direct * weights)
    np.testing.assert_allclose(walked.numpy(), direct.numpy(), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(tape.gradient(walked_sum, x).numpy(),
                               tape.gradient(direct_sum, x).numpy(), rtol=1e-5, atol=atol)
    return recorded
