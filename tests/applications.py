"""``keras.applications`` architectures, untrained but alive, built once per process.

``application(name)`` builds the architecture with ``weights=None`` (nothing is
downloaded) and its ImageNet head, at a small input whose last feature map is still at
least 2x2, and sets every ``BatchNormalization`` layer's moving mean and variance from a
few random pictures, so that the network is not dead. With the initial statistics (mean 0,
variance 1) the activations of an untrained deep network shrink from block to block;
measured on the last feature map, mean |activation| before -> after:
MobileNet 2e-20 -> 0.59, MobileNetV2 2e-12 -> 0.51, EfficientNetB0 5e-6 -> 0.69,
Xception 9e-6 -> 0.16, InceptionV3 3e-4 -> 0.79 (ConvNeXt and VGG16 have no
``BatchNormalization``). After it, each layer's moving statistics equal those of its input
on the pictures in inference mode (to 1e-5, measured on EfficientNetB0, DenseNet121,
ResNet50 and MobileNetV3Small).

The models are shared by every test in the process: use them, do not change them. Layer
names that Keras numbers (``activation_17``) depend on how many models were built before.
``pictures`` and ``preprocess`` give inputs like the calibration's (import from tests:
``from applications import application``).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

_APPLICATIONS = keras.applications


@dataclass(frozen=True)
class Family:
    """How to build one architecture: its constructor, input side and ``preprocess_input``."""

    build: Callable[..., keras.Model]
    size: int
    preprocess_input: Callable[[np.ndarray], np.ndarray]


#: Input sides: 96 leaves a 3x3 last feature map (the networks reduce by 32); the
#: Inception networks need 107 for 2x2 (96 leaves them 1x1), 128 is the next round size.
FAMILIES = {
    "MobileNet": Family(_APPLICATIONS.MobileNet, 96, _APPLICATIONS.mobilenet.preprocess_input),
    "MobileNetV2": Family(_APPLICATIONS.MobileNetV2, 96,
                          _APPLICATIONS.mobilenet_v2.preprocess_input),
    "MobileNetV3Small": Family(_APPLICATIONS.MobileNetV3Small, 96,
                               _APPLICATIONS.mobilenet_v3.preprocess_input),
    "ResNet50": Family(_APPLICATIONS.ResNet50, 96, _APPLICATIONS.resnet50.preprocess_input),
    "ResNet50V2": Family(_APPLICATIONS.ResNet50V2, 96, _APPLICATIONS.resnet_v2.preprocess_input),
    "EfficientNetB0": Family(_APPLICATIONS.EfficientNetB0, 96,
                             _APPLICATIONS.efficientnet.preprocess_input),
    "EfficientNetV2B0": Family(_APPLICATIONS.EfficientNetV2B0, 96,
                               _APPLICATIONS.efficientnet_v2.preprocess_input),
    "ConvNeXtTiny": Family(_APPLICATIONS.ConvNeXtTiny, 96, _APPLICATIONS.convnext.preprocess_input),
    "InceptionV3": Family(_APPLICATIONS.InceptionV3, 128,
                          _APPLICATIONS.inception_v3.preprocess_input),
    "InceptionResNetV2": Family(_APPLICATIONS.InceptionResNetV2, 128,
                                _APPLICATIONS.inception_resnet_v2.preprocess_input),
    "Xception": Family(_APPLICATIONS.Xception, 96, _APPLICATIONS.xception.preprocess_input),
    "DenseNet121": Family(_APPLICATIONS.DenseNet121, 96, _APPLICATIONS.densenet.preprocess_input),
    "NASNetMobile": Family(_APPLICATIONS.NASNetMobile, 96, _APPLICATIONS.nasnet.preprocess_input),
    "VGG16": Family(_APPLICATIONS.VGG16, 96, _APPLICATIONS.vgg16.preprocess_input),
}
NAMES = tuple(FAMILIES)
CALIBRATION_PICTURES = 8


def pictures(size: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` smooth random RGB pictures (count, size, size, 3), float32 in [0, 255]:
    random 4x4 colour grids enlarged bilinearly, plus a little pixel noise, so that they
    vary over space as photographs do (plain noise looks alike everywhere)."""
    rng = np.random.default_rng(seed)
    grids = rng.uniform(0, 255, (count, 4, 4, 3)).astype(np.float32)
    smooth = keras.ops.convert_to_numpy(keras.ops.image.resize(grids, (size, size)))
    noisy = smooth + rng.normal(0, 8, smooth.shape).astype(np.float32)
    return np.clip(noisy, 0, 255)


def preprocess(name: str, pixels: np.ndarray) -> np.ndarray:
    """``pixels`` in [0, 255] as the architecture's ``preprocess_input`` prepares them (on a
    copy: it works in place on float arrays)."""
    return FAMILIES[name].preprocess_input(np.array(pixels, dtype=np.float32, copy=True))


@functools.cache
def application(name: str) -> keras.Model:
    """The architecture ``name`` (a key of :data:`FAMILIES`), untrained, its normalisation
    statistics set from random pictures; built once per process."""
    family = FAMILIES[name]
    keras.utils.set_random_seed(0)
    model = family.build(weights=None, input_shape=(family.size, family.size, 3))
    calibrate_batch_normalization(
        model, preprocess(name, pictures(family.size, CALIBRATION_PICTURES)))
    return model


def calibrate_batch_normalization(model: keras.Model, x: np.ndarray) -> None:
    """Set every ``BatchNormalization`` layer's moving mean and variance to the statistics
    of its input on ``x``.

    One call in training mode does it: with momentum 0 each layer's moving statistics
    become the batch's, and each layer normalises with them, so the next layer sees what it
    will see in inference on ``x``. Dropout is switched off for that call (rate 0), as it
    is in inference.
    """
    leaves = list(_leaf_layers(model))
    batch_norms = [layer for layer in leaves if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in leaves if isinstance(layer, keras.layers.Dropout)]
    if batch_norms:
        with _zeroed(batch_norms, "momentum"), _zeroed(dropouts, "rate"):
            model(x, training=True)


@contextlib.contextmanager
def _zeroed(layers: list[keras.Layer], attribute: str):
    """``attribute`` of every layer set to 0 for the ``with`` block."""
    saved = [getattr(layer, attribute) for layer in layers]
    try:
        for layer in layers:
            setattr(layer, attribute, 0.0)
        yield
    finally:
        for layer, value in zip(layers, saved):
            setattr(layer, attribute, value)


def _leaf_layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer
