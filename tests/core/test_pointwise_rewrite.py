"""The graph walker computes every 1x1 strided convolution (plain, grouped, depthwise,
separable; 1-D, 2-D and 3-D) as a strided slice and a stride-1 convolution: exactly as Keras
computes the layer itself, values and input gradients alike, without touching the layer."""

import keras
import pytest
import tensorflow as tf

from builders import assert_walks_as_keras
from dial_visualization.core.walker import REWRITE_BELOW_CHANNELS, _is_strided_pointwise, forward

#: Input channels: Keras's own gradient of these layers, the reference here, can abort the
#: process on 1, 3, 8 or 12 channels with oneDNN on (``core/tf_environment.py``).
CHANNELS = 16

LAYERS = {
    "conv1d": (1, lambda s, p: keras.layers.Conv1D(4, 1, strides=s, padding=p)),
    "conv1d-causal": (1, lambda s, p: keras.layers.Conv1D(4, 1, strides=s, padding="causal")),
    "conv2d-grouped": (2, lambda s, p: keras.layers.Conv2D(8, 1, strides=s, padding=p, groups=4)),
    "conv3d": (3, lambda s, p: keras.layers.Conv3D(4, 1, strides=s, padding=p)),
    "depthwise1d": (1, lambda s, p: keras.layers.DepthwiseConv1D(1, strides=s, padding=p)),
    "depthwise2d": (2, lambda s, p: keras.layers.DepthwiseConv2D(1, strides=s, padding=p,
                                                                 depth_multiplier=2)),
    "separable1d": (1, lambda s, p: keras.layers.SeparableConv1D(4, 1, strides=s, padding=p)),
    "separable2d": (2, lambda s, p: keras.layers.SeparableConv2D(4, 1, strides=s, padding=p)),
}


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_every_strided_pointwise_convolution_is_rewritten_exactly(kind, padding, size):
    rank, make = LAYERS[kind]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size,) * rank + (CHANNELS,))
    layer = make(2, padding)
    model = keras.Model(inputs, layer(inputs))
    assert _is_strided_pointwise(layer)
    assert_walks_as_keras(model, tf.random.uniform((2,) + (size,) * rank + (CHANNELS,), -1, 1))
    assert set(layer.strides) == {2}  # the user's layer is left as it was


@pytest.mark.parametrize("layer", [
    keras.layers.Conv2D(4, 3, strides=2),  # not 1x1
    keras.layers.Conv2D(4, 1),  # stride 1
    keras.layers.Conv2D(4, 1, strides=2, data_format="channels_first"),
    keras.layers.Conv2DTranspose(4, 1, strides=2),  # a transpose is not a strided convolution
    keras.layers.DepthwiseConv2D(3, strides=2),
], ids=["3x3", "stride-1", "channels-first", "transpose", "depthwise-3x3"])
def test_other_convolutions_are_left_to_keras(layer):
    assert not _is_strided_pointwise(layer)


@pytest.mark.parametrize("channels, rewritten", [(15, True), (REWRITE_BELOW_CHANNELS - 1, True),
                                                 (REWRITE_BELOW_CHANNELS, False), (256, False)])
def test_only_inputs_of_few_channels_are_rewritten(channels, rewritten):
    """Wide inputs keep Keras's own strided kernel (oneDNN aborts only below 16 channels):
    the traced graph slices the input only where the rewrite happens."""
    inputs = keras.Input((8, 8, channels))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, strides=2)(inputs))
    graph = tf.function(lambda x: forward(model, x)[0]).get_concrete_function(
        tf.TensorSpec((None, 8, 8, channels))).graph
    assert any(op.type == "StridedSlice" for op in graph.get_operations()) == rewritten
