"""Tiny real Keras models built in code, shared by every test."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests compare maps with references computed through the model itself (``model(x)``
# under a GradientTape), not through the graph walker: with oneDNN on, those reference
# gradients abort the process on the 1x1 stride-2 shortcuts of the test models
# (core/tf_environment.py). So the tests run with oneDNN off unless told otherwise; the
# package's own default (on) is tested in fresh processes: tests/core/test_onednn_net.py
# (every method, every architecture, the crash shapes) and test_onednn_gradients.py.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import dial_visualization  # noqa: E402,F401  (sets TensorFlow's environment first)
import pytest  # noqa: E402

from builders import random_pixels, sequential_model  # noqa: E402
from dial_visualization.core.images import load_image  # noqa: E402


@pytest.fixture
def model():
    return sequential_model()


@pytest.fixture
def image(model):
    return load_image(random_pixels(), model)
