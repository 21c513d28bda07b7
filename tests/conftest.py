"""Tiny real Keras models built in code, shared by every test."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
