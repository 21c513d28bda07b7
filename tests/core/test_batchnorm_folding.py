"""The graph walker computes a convolution and the batch normalisation after it as one
convolution: the same values and input gradients as Keras's own layers, the activation-sized
multiply of the normalisation gone from the traced graph, and only where nothing else reads
the convolution's own output."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import assert_walks_as_keras
from dial_visualization.core.walker import forward

CONVOLUTIONS = {
    "conv1d": (1, lambda: keras.layers.Conv1D(6, 3, padding="same")),
    "conv1d-causal": (1, lambda: keras.layers.Conv1D(6, 3, padding="causal")),
    "conv2d": (2, lambda: keras.layers.Conv2D(6, 3, padding="same")),
    "conv2d-no-bias": (2, lambda: keras.layers.Conv2D(6, 3, use_bias=False)),
    "conv2d-strided-pointwise": (2, lambda: keras.layers.Conv2D(6, 1, strides=2)),
    "conv2d-grouped": (2, lambda: keras.layers.Conv2D(6, 3, groups=2, padding="same")),
    "conv2d-dilated": (2, lambda: keras.layers.Conv2D(6, 3, dilation_rate=2)),
    "conv3d": (3, lambda: keras.layers.Conv3D(6, 3, padding="same")),
    "depthwise1d": (1, lambda: keras.layers.DepthwiseConv1D(3, depth_multiplier=2)),
    "depthwise2d": (2, lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=3,
                                                            use_bias=False)),
    "separable1d": (1, lambda: keras.layers.SeparableConv1D(6, 3)),
    "separable2d": (2, lambda: keras.layers.SeparableConv2D(6, 3, padding="same")),
}
NORMALISATIONS = {
    "scale-and-center": {},
    "no-scale": {"scale": False},
    "no-center": {"center": False},
    "positive-axis": {"positive_axis": True},  # the channel axis counted from the front
}
#: Input size per spatial rank: large enough for every output here to hold more values
#: than its kernel (folding is left out otherwise, see the last test).
SIZES = {1: 64, 2: 16, 3: 8}
#: Input channels: Keras's own gradient of a 1x1 strided convolution, the reference here,
#: can abort the process below 16 with oneDNN on (``core/tf_environment.py``).
CHANNELS = 16


def _randomise(norm):
    """Statistics and parameters far from the initial ones, as a trained model has."""
    rng = np.random.default_rng(len(norm.name))
    for variable in norm.weights:
        shape = variable.shape
        if "variance" in variable.path:
            variable.assign(rng.uniform(0.2, 3.0, shape).astype("float32"))
        else:
            variable.assign(rng.normal(0.0, 1.0, shape).astype("float32"))


def _model(rank, make_conv, positive_axis=False, **norm_options):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZES[rank],) * rank + (CHANNELS,))
    conv = make_conv()
    norm = keras.layers.BatchNormalization(axis=rank + 1 if positive_axis else -1,
                                           **norm_options)
    model = keras.Model(inputs, keras.layers.ReLU()(norm(conv(inputs))))
    _randomise(norm)
    return model, conv, norm


def _activation_multiplies(model, rank, taps=()):
    """Multiplies in the traced walker whose result has a batch axis (a pass over layer
    outputs; multiplies of weights have none)."""
    spec = tf.TensorSpec((None,) + (SIZES[rank],) * rank + (CHANNELS,))
    graph = tf.function(lambda x: forward(model, x, taps=taps)).get_concrete_function(spec).graph
    return [op for op in graph.get_operations()
            if op.type == "Mul" and op.outputs[0].shape.rank and op.outputs[0].shape[0] is None]


def _walked_and_direct(model, rank, **forward_options):
    x = tf.random.uniform((2,) + (SIZES[rank],) * rank + (CHANNELS,), -1, 1, seed=2)
    return x, assert_walks_as_keras(model, x, atol=1e-5, **forward_options)


@pytest.mark.parametrize("norm_kind", sorted(NORMALISATIONS))
@pytest.mark.parametrize("conv_kind", sorted(CONVOLUTIONS))
def test_a_convolution_and_its_normalisation_are_computed_as_one(conv_kind, norm_kind):
    rank, make_conv = CONVOLUTIONS[conv_kind]
    model, conv, norm = _model(rank, make_conv, **NORMALISATIONS[norm_kind])
    kernels = [weight.numpy().copy() for weight in conv.weights]
    _walked_and_direct(model, rank)
    assert _activation_multiplies(model, rank) == []
    for weight, kernel in zip(conv.weights, kernels):  # the user's layer is left as it was
        np.testing.assert_array_equal(weight.numpy(), kernel)


def test_a_pair_left_unfolded_still_has_the_normalisations_multiply():
    """The check above can fail: Keras's own normalisation multiplies its input."""
    inputs = keras.Input((SIZES[2], SIZES[2], CHANNELS))
    hidden = keras.layers.Conv2D(6, 3, activation="relu")(inputs)  # an activation between
    model = keras.Model(inputs, keras.layers.BatchNormalization()(hidden))
    _randomise(model.layers[-1])
    _walked_and_direct(model, 2)
    assert len(_activation_multiplies(model, 2)) == 1


def test_a_recorded_convolution_keeps_its_own_output():
    """A method that reads the convolution's output (Grad-CAM on it, its activations) gets
    the convolution's values, and the normalisation's its own."""
    model, conv, norm = _model(2, CONVOLUTIONS["conv2d"][1])
    x, recorded = _walked_and_direct(model, 2, taps=[conv.name, norm.name])
    reference = keras.Model(model.input, [conv.output, norm.output])(x)
    np.testing.assert_allclose(recorded[conv.name].numpy(), reference[0].numpy(), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(recorded[norm.name].numpy(), reference[1].numpy(), rtol=1e-5,
                               atol=1e-5)
    assert len(_activation_multiplies(model, 2, taps=[conv.name])) == 1
    assert _activation_multiplies(model, 2, taps=[norm.name]) == []


def test_a_convolution_read_elsewhere_is_not_folded():
    """A shortcut that also reads the convolution's output needs its unnormalised values."""
    inputs = keras.Input((SIZES[2], SIZES[2], CHANNELS))
    hidden = keras.layers.Conv2D(CHANNELS, 3, padding="same")(inputs)
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, keras.layers.Add()([norm(hidden), hidden]))
    _randomise(norm)
    _walked_and_direct(model, 2)
    assert len(_activation_multiplies(model, 2)) == 1


def test_a_shared_convolution_is_not_folded():
    inputs = keras.Input((SIZES[2], SIZES[2], CHANNELS))
    conv = keras.layers.Conv2D(CHANNELS, 3, padding="same")
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, norm(conv(conv(inputs))))
    _randomise(norm)
    _walked_and_direct(model, 2)
    assert len(_activation_multiplies(model, 2)) == 1


def test_a_convolution_repeated_in_a_sequential_model_is_not_folded():
    """Its second call feeds another layer, which needs its unnormalised values."""
    conv = keras.layers.Conv2D(CHANNELS, 3, padding="same")
    norm = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((SIZES[2], SIZES[2], CHANNELS)), conv, norm,
                              keras.layers.ReLU(), conv, keras.layers.ReLU()])
    _randomise(norm)
    _walked_and_direct(model, 2)
    assert len(_activation_multiplies(model, 2)) == 1


def test_a_kernel_larger_than_its_output_is_not_folded():
    """Folding computes the kernel again on every call: not worth it where the kernel holds
    more values than one sample's output (3x3x16x64 > 2x2x64)."""
    inputs = keras.Input((4, 4, CHANNELS))
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, norm(keras.layers.Conv2D(64, 3)(inputs)))
    _randomise(norm)
    graph = tf.function(lambda x: forward(model, x)[0]).get_concrete_function(
        tf.TensorSpec((None, 4, 4, CHANNELS))).graph
    assert any(op.type == "Mul" and op.outputs[0].shape[0] is None
               for op in graph.get_operations())


def test_pairs_inside_nested_and_sequential_models_are_folded():
    rank, make_conv = CONVOLUTIONS["depthwise2d"]
    inner = keras.Sequential([keras.Input((SIZES[2], SIZES[2], CHANNELS)), make_conv(),
                              keras.layers.BatchNormalization(), keras.layers.ReLU()])
    inputs = keras.Input((SIZES[2], SIZES[2], CHANNELS))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inner(inputs)))
    _randomise(inner.layers[1])
    _walked_and_direct(model, 2)
    assert _activation_multiplies(model, 2) == []


def test_a_nested_model_called_twice_folds_in_each_call():
    """A shared block (two branches, two input sizes): each call computes its own pair, the
    second at a size too small to fold (5x5x6 values, a 3x3x16x6 kernel)."""
    block = keras.Sequential([keras.Input((None, None, CHANNELS)),
                              keras.layers.Conv2D(6, 3, padding="same"),
                              keras.layers.BatchNormalization(),
                              keras.layers.GlobalAveragePooling2D()])
    large, small = keras.Input((SIZES[2], SIZES[2], CHANNELS)), keras.Input((5, 5, CHANNELS))
    model = keras.Model([large, small], keras.layers.Add()([block(large), block(small)]))
    _randomise(block.layers[1])
    x = [tf.random.uniform((2, SIZES[2], SIZES[2], CHANNELS), seed=5),
         tf.random.uniform((2, 5, 5, CHANNELS), seed=6)]
    np.testing.assert_allclose(forward(model, x)[0].numpy(), model(x).numpy(), rtol=1e-5,
                               atol=1e-5)


def test_weights_changed_after_tracing_are_used():
    """The folded kernel is computed from the variables in each call, not kept: a model
    trained further in a notebook is walked with its new weights."""
    model, conv, norm = _model(2, CONVOLUTIONS["conv2d"][1])
    walk = tf.function(lambda x: forward(model, x)[0])
    x = tf.random.uniform((2, SIZES[2], SIZES[2], CHANNELS), seed=3)
    walk(x)
    norm.moving_mean.assign(norm.moving_mean + 1.0)
    conv.weights[0].assign(conv.weights[0] * 2.0)
    np.testing.assert_allclose(walk(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_a_keras_application_is_walked_as_keras_computes_it():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            _randomise(layer)
    x = tf.random.uniform((2, 32, 32, 3), seed=4)
    walked = tf.function(lambda x: forward(model, x)[0])(x)
    np.testing.assert_allclose(walked.numpy(), model(x).numpy(), rtol=1e-4, atol=1e-6)
