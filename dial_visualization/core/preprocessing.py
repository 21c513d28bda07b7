"""Input preprocessing: the presets, and which one a model expects.

A model only explains what it sees: fed pixels in another range than it was trained on, its
prediction collapses and every map explains that wrong input. So the preset is chosen in
this order, and the reason recorded with it (:func:`resolve`):

1. the user's explicit choice ("chosen"; "custom function" for a callable);
2. preprocessing inside the model: the first ``Rescaling`` or ``Normalization`` layer
   before any layer with weights, also inside a nested base model. It maps the pixel range
   it was built for to values of order 1, so the preset is the one whose pixel range it
   maps to a span of order 1: "none" (raw [0, 255]) for ``Rescaling(1/255)`` and for
   ConvNeXt's ``Normalization(mean 0.485 * 255, ...)``, "unit" for ``Rescaling(2, offset -1)``;
3. a ``keras.applications`` architecture (also a nested one) recognised by its name, or
   its family's as in "vgg_like", with the preprocessing its ``preprocess_input`` applies
   (https://keras.io/api/applications/): "caffe" for VGG and ResNet, "symmetric" ([-1, 1])
   for ResNetV2, MobileNet, Inception, Xception and NASNet, "torch" for DenseNet.
   MobileNetV3, EfficientNetV2 and ConvNeXt carry their preprocessing as layers (found in
   step 2); built with ``include_preprocessing=False`` they expect [-1, 1] (MobileNetV3,
   EfficientNetV2, as their docs say) or ImageNet mean and std ("torch", the statistics of
   ConvNeXt's own ``Normalization`` layer). EfficientNet (V1) always carries its
   ``Rescaling`` layer and takes [0, 255];
4. "unit" ([0, 1]).

Whether the preset looks wrong for the model on an image: :mod:`.preprocessing_check`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import ParameterError

_IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _caffe(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] != 3:
        raise ParameterError("caffe preprocessing needs RGB input")
    return x[..., ::-1] - _IMAGENET_MEAN_RGB[::-1]


def _torch(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] != 3:
        raise ParameterError("torch preprocessing needs RGB input")
    return (x / 255.0 - _TORCH_MEAN) / _TORCH_STD


#: Preset name -> function of float32 pixels in [0, 255], as keras.applications defines them.
PRESETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "unit": lambda x: x / 255.0,
    "symmetric": lambda x: x / 127.5 - 1.0,
    "caffe": _caffe,
    "torch": _torch,
}
_RGB_ONLY = ("caffe", "torch")
DEFAULT = "unit"

# keras.applications function-name prefixes and the preprocessing of their preprocess_input
# (or, for those that carry it as layers, what they expect when built without them);
# the first prefix that matches wins
_APPLICATION_PRESETS = (
    ("VGG", "caffe"),
    ("ResNet50V2", "symmetric"), ("ResNet101V2", "symmetric"), ("ResNet152V2", "symmetric"),
    ("ResNet", "caffe"),
    ("MobileNet", "symmetric"),  # V3 with include_preprocessing=False: [-1, 1]
    ("Inception", "symmetric"), ("Xception", "symmetric"), ("NASNet", "symmetric"),
    ("DenseNet", "torch"),
    ("EfficientNetV2", "symmetric"),  # with include_preprocessing=False: [-1, 1]
    ("EfficientNet", "none"),  # always carries its Rescaling layer: [0, 255]
    ("ConvNeXt", "torch"),  # with include_preprocessing=False: ImageNet mean and std
)

@dataclass(frozen=True)
class Preprocessing:
    """A preprocessing function of float32 pixels in [0, 255], its name and why it was chosen."""

    name: str
    function: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    reason: str


def resolve(choice, model=None) -> Preprocessing:
    """The preprocessing for ``choice``: a preset name, a callable, a :class:`Preprocessing`,
    or ``None`` to detect it from ``model`` ("unit" when nothing is found)."""
    if isinstance(choice, Preprocessing):
        return choice
    if callable(choice):
        return Preprocessing(getattr(choice, "__name__", "custom"), choice, "custom function")
    if choice is None:
        detected = detect(model) if model is not None else None
        if detected is None:
            found = "no preprocessing found in the model" if model is not None else "no model"
            return Preprocessing(DEFAULT, PRESETS[DEFAULT], f"default: {found}")
        name, reason = detected
        return Preprocessing(name, PRESETS[name], reason)
    if choice not in PRESETS:
        raise ParameterError(f"unknown preprocessing {choice!r} (choose {', '.join(PRESETS)})")
    return Preprocessing(choice, PRESETS[choice], "chosen")


def presets_for(channels: int) -> list[str]:
    """The presets that apply to images with ``channels`` channels (caffe and torch: RGB)."""
    return [name for name in PRESETS if channels == 3 or name not in _RGB_ONLY]


# --------------------------------------------------------------------------- detection

def detect(model) -> tuple[str, str] | None:
    """(preset, reason) from the model's own preprocessing layer, else from its
    ``keras.applications`` name; None when neither says anything. Found once per model
    (every image loaded for it asks)."""
    from .tf_ops import model_cache

    cache = model_cache(model)
    if "preprocessing" not in cache:
        cache["preprocessing"] = _detect_from_layers(model) or _detect_from_name(model)
    return cache["preprocessing"]


def _detect_from_layers(model) -> tuple[str, str] | None:
    from .layers import PATH_SEPARATOR

    node = _first_preprocessing_layer(model)
    if node is None:
        return None
    channels = node.input_shapes[0][-1] if node.input_shapes else model.inputs[0].shape[-1]
    where = f" (layer {node.path})" if PATH_SEPARATOR in node.path else ""
    reason = f"model starts with {_describe(node.layer)}{where}"
    return _pixel_range_expected(node.layer, channels), reason


def _first_preprocessing_layer(model):
    """The first Rescaling/Normalization leaf layer before any layer with weights, or None."""
    import keras

    from .layers import LayerTree

    for node in LayerTree.of(model).walk():
        if node.children or isinstance(node.layer, keras.layers.InputLayer):
            continue
        if isinstance(node.layer, (keras.layers.Rescaling, keras.layers.Normalization)):
            return node
        if node.layer.weights:
            return None
    return None


def _pixel_range_expected(layer, channels: int) -> str:
    """The pixel range, "none" ([0, 255]) or "unit" ([0, 1]), that ``layer`` maps to a span
    of order 1 (the smallest |log span|)."""
    tops = {"none": 255.0, "unit": 1.0}
    spans = {preset: _span(layer, top, channels) for preset, top in tops.items()}
    return min(spans, key=lambda preset: abs(math.log(max(spans[preset], 1e-30))))


def _span(layer, top: float, channels: int) -> float:
    """Mean |layer(top) - layer(0)| over the channels: how far it spreads that pixel range."""
    import keras

    pixels = np.zeros((2, 1, 1, channels), dtype=np.float32)
    pixels[1] = top
    values = keras.ops.convert_to_numpy(layer(pixels))
    return float(np.mean(np.abs(values[1] - values[0])))


def _describe(layer) -> str:
    """``Rescaling(1/255)``, ``Rescaling(1/127.5, offset -1)``, ``Normalization(mean 124, ...)``."""
    import keras

    if isinstance(layer, keras.layers.Normalization):
        return f"Normalization(mean {_values(keras.ops.convert_to_numpy(layer.mean))})"
    scale = _values(np.asarray(layer.scale, dtype=np.float64), reciprocal=True)
    offset = np.asarray(layer.offset, dtype=np.float64)
    shift = f", offset {_values(offset)}" if np.any(offset != 0) else ""
    return f"Rescaling({scale}{shift})"


def _values(values: np.ndarray, reciprocal: bool = False) -> str:
    """One value when all are equal, else the first three; "1/255" for reciprocals of
    (half-)integers."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    shown = [flat[0]] if np.all(flat == flat[0]) else list(flat[:3])
    text = ", ".join(_number(value, reciprocal) for value in shown)
    return text + (", ..." if 1 < len(shown) < flat.size else "")


def _number(value: float, reciprocal: bool) -> str:
    if reciprocal and 0 < abs(value) < 1:
        doubled = 2.0 / value
        if abs(doubled - round(doubled)) < 1e-4 * abs(doubled):
            return f"1/{round(doubled) / 2:g}"
    return f"{value:.3g}"


def _detect_from_name(model) -> tuple[str, str] | None:
    """The preset of the first (outermost) model or nested model named like an application."""
    from .layers import LayerTree

    names = [model.name] + [node.layer.name for node in LayerTree.of(model).walk() if node.children]
    for name in names:
        application = _application_named(name)
        if application is not None:
            preset = next(preset for prefix, preset in _APPLICATION_PRESETS
                          if application.startswith(prefix))
            return preset, f"detected {application}"
    return None


def _application_named(name: str) -> str | None:
    """The ``keras.applications`` function whose name (lower case, without ``_`` and ``-``)
    begins ``name`` the longest ("mobilenetv2_1.00_224" -> "MobileNetV2", "vgg16" ->
    "VGG16"), else the family it begins with ("vgg_like" -> "VGG"), else None."""
    import keras

    plain = name.lower().replace("_", "").replace("-", "")
    families = [prefix for prefix, _ in _APPLICATION_PRESETS if plain.startswith(prefix.lower())]
    functions = [function for function in dir(keras.applications)
                 if function[:1].isupper() and plain.startswith(function.lower())
                 and any(function.startswith(prefix) for prefix, _ in _APPLICATION_PRESETS)]
    return max(functions, key=len, default=families[0] if families else None)
