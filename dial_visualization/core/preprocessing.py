"""Input preprocessing: the presets, which one a model expects, and whether it looks wrong.

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

A wrong choice is made visible, never corrected silently: :func:`compare_presets` runs the
image under every preset that applies (caffe and torch need RGB), and a black image under
each, in one batched call, and reads two symptoms off the logits:

* **collapsed**: the logits barely change between the image and black,
  ``|l(image) - l(black)| / max(|l(image)|, |l(black)|) < 0.05``: the model does not see the
  image. A low confidence does not show this: a model starting with ``Rescaling(1/255)``
  fed [0, 1] says "circle 0.87" for every image.
* **saturated**: the largest |logit| is more than 30 times the smallest among the presets
  that did not collapse: pixel values far larger than in training. Such inputs give
  softmax 1.00, often for the wrong class, so confidence is no evidence there.

It warns when the chosen preset collapsed or saturated *and* another one is plausible:
neither collapsed nor saturated, and confident (top probability at least 0.5 and 0.3
above chance). It names the one detection picks if that is plausible, else the most
confident; with no plausible preset it says nothing, so an untrained network (never
confident) gets no warning. The confidence is the top softmax probability (of the logits
for a linear output), max(p, 1 - p) for one sigmoid unit, the largest p for several; a
single linear unit (a regression) has none and is not checked.

Measured on 104 images (the 4 demo images and 100 fresh ones from
``examples/train_demo_model.make_shape_image``), |l| the largest |logit| as a multiple of
the smallest among the presets that did not collapse:

* the demo model (trained on [0, 1]): under "unit" |l| 1 .. 1.7x, change 0.28 .. 1.8,
  confidence 0.65 .. 1.00; "symmetric" and "torch" at most 5.6x and 12x, not collapsed;
  "none" and "caffe" 124 .. 1680x and 108 .. 819x: saturated on all 104;
* the demo behind ``Rescaling(1/255)``: "none" and "caffe" change at least 0.28 and 0.31;
  "unit", "symmetric", "torch" at most 0.0022, 0.0046, 0.0098: collapsed on all 104
  (each says "circle 0.87");
* a CNN with BatchNormalization trained on [-1, 1]: "symmetric" change at least 0.33;
  "none" and "caffe" 168 .. 986x and 78 .. 199x: saturated on all 104;
* 19 untrained ``keras.applications`` models (weights=None) on 5 images: no warning for
  the detected preset (an untrained ResNet50 under "none" is saturated, and up to 0.98
  confident: saturation makes any network sure).

Hence 0.05 (collapsed at most 0.0098, seen at least 0.25) and 30 (saturated at least 78x,
the rest at most 12x). Of the 1560 checks (3 models, 104 images, 5 presets) the 728
collapsed or saturated choices warned, the 312 right ones never. The
issue's rule "another preset is clearly more confident" is not used: even restricted to
presets with logits no larger, it fired on as many right choices (the demo behind
``Rescaling`` under "none": 0.65 against "caffe" 0.95) as wrong ones (the demo under
"symmetric"), and the CNN trained on [-1, 1] is *more* confident fed [0, 1] ("circle
1.00" for every image). That mistake, [0, 1] for [-1, 1], is neither collapsed nor
saturated and is not detected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

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

# the check's thresholds; the module docstring has the measurements behind them
COLLAPSED_CHANGE = 0.05  # logits of the image against black: below, the model is blind
SATURATED_RATIO = 30.0  # largest |logit| against the smallest among those not collapsed
CONFIDENT = 0.5  # a plausible preset's top probability is at least this,
ABOVE_CHANCE = 0.3  # and at least this above a guess's


class PreprocessingWarning(UserWarning):
    """The chosen preprocessing looks wrong for the model (see :func:`compare_presets`)."""


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
    ``keras.applications`` name; None when neither says anything."""
    return _detect_from_layers(model) or _detect_from_name(model)


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

    for node in LayerTree(model).walk():
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

    names = [model.name] + [node.layer.name for node in LayerTree(model).walk() if node.children]
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


# --------------------------------------------------------------------------- the check

@dataclass(frozen=True)
class PresetFigures:
    """What the model makes of the image under one preset."""

    name: str
    top_class: int
    #: top probability (see the module docstring); None for a single linear unit
    confidence: float | None
    #: the largest |logit|
    logit_scale: float
    #: |l(image) - l(black)| / max(|l(image)|, |l(black)|) on the logits
    image_dependence: float
    collapsed: bool
    saturated: bool


@dataclass(frozen=True)
class PresetAdvice:
    """Whether the ``chosen`` preprocessing looks wrong: ``suggested`` and a one-line
    ``message`` when it does (None and "" when not), and the figures of every candidate."""

    chosen: str
    suggested: str | None
    message: str
    figures: Mapping[str, PresetFigures]


def compare_presets(model, pixels: np.ndarray, chosen=None, *, output_index: int = 0,
                    labels: list[str] | None = None, device: str = "auto") -> PresetAdvice:
    """Run ``model`` on ``pixels`` (uint8 (H, W, C), as resized for the model:
    ``InputImage.resized``) under every preset that applies, and advise on ``chosen``
    (anything :func:`resolve` takes). A custom function is compared as one more candidate,
    under its own name. ``labels`` name the classes in the message."""
    from .tf_ops import device_scope

    chosen = resolve(chosen, model)
    candidates = {name: PRESETS[name] for name in presets_for(pixels.shape[-1])}
    candidates[chosen.name] = chosen.function
    with device_scope(device):
        logits, outputs = _logits_and_outputs(model, pixels, candidates.values(),
                                              output_index, device)
    top_classes, confidences, chance = _read_outputs(logits[:len(candidates)], outputs)
    figures = _figures(list(candidates), logits, top_classes, confidences)
    return _advice(chosen.name, figures, chance, resolve(None, model).name, labels)


def _logits_and_outputs(model, pixels, functions, output_index: int, device: str):
    """Logits of the image then of black under each function, and the model's outputs for
    the images: flattened per sample, as numpy."""
    import tensorflow as tf

    from .tf_ops import traced
    from .walker import forward, select

    def build():
        def f(x):
            images = x[:tf.shape(x)[0] // 2]
            logits = select(forward(model, x, logits_of=output_index)[0], output_index)
            return logits, select(forward(model, images)[0], output_index)
        return f

    image, black = pixels.astype(np.float32), np.zeros(pixels.shape, dtype=np.float32)
    functions = list(functions)
    batch = np.stack([function(image) for function in functions]
                     + [function(black) for function in functions]).astype(np.float32)
    logits, outputs = traced(model, ("preset-check", output_index, device), build)(
        tf.constant(batch))
    count = len(batch)
    return (np.asarray(logits, dtype=np.float64).reshape(count, -1),
            np.asarray(outputs, dtype=np.float64).reshape(count // 2, -1))


def _figures(names: list[str], logits: np.ndarray, top_classes,
             confidences) -> dict[str, PresetFigures]:
    images, blacks = logits[:len(names)], logits[len(names):]
    dependence = np.linalg.norm(images - blacks, axis=1) / np.maximum(
        np.maximum(np.linalg.norm(images, axis=1), np.linalg.norm(blacks, axis=1)), 1e-30)
    scales = np.abs(images).max(axis=1)
    collapsed = dependence < COLLAPSED_CHANGE
    smallest = scales[~collapsed].min() if np.any(~collapsed) else np.inf
    return {name: PresetFigures(name, int(top_classes[i]), confidences[i], float(scales[i]),
                                float(dependence[i]), bool(collapsed[i]),
                                bool(scales[i] > SATURATED_RATIO * smallest))
            for i, name in enumerate(names)}


def _read_outputs(logits: np.ndarray, outputs: np.ndarray):
    """Per image: the top class and its probability (None for a single linear unit); and
    the probability of a guess (1/classes for a softmax, 0.5 for sigmoid units)."""
    units = outputs.shape[1]
    if np.allclose(outputs, logits, rtol=1e-4, atol=1e-6):  # a linear output
        if units == 1:  # a regression
            return np.zeros(len(outputs), dtype=int), [None] * len(outputs), None
        outputs, chance = _softmax(logits), 1.0 / units
    elif units == 1:  # one sigmoid unit: class 1 when p >= 0.5
        probability = outputs[:, 0]
        return ((probability >= 0.5).astype(int), np.maximum(probability, 1 - probability).tolist(),
                0.5)
    else:  # a softmax sums to 1; sigmoid units do not
        chance = 1.0 / units if np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3) else 0.5
    return outputs.argmax(axis=1), outputs.max(axis=1).tolist(), chance


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _advice(chosen: str, figures: dict[str, PresetFigures], chance: float | None,
            detected: str, labels: list[str] | None) -> PresetAdvice:
    """Quiet unless the chosen preset collapsed or saturated and another one is plausible."""
    own = figures[chosen]
    plausible = [q for q in figures.values() if q.name != chosen and _plausible(q, chance)]
    if not (own.collapsed or own.saturated) or not plausible:
        return PresetAdvice(chosen, None, "", figures)
    suggested = next((q for q in plausible if q.name == detected),
                     max(plausible, key=lambda q: q.confidence))
    message = (f"preprocessing '{chosen}' looks wrong for this model: {_symptom(own, figures)};"
               f" '{suggested.name}' gives {_prediction(suggested, labels)}"
               " — choose it if that is how the model was trained")
    return PresetAdvice(chosen, suggested.name, message, figures)


def _plausible(figures: PresetFigures, chance: float | None) -> bool:
    """Neither collapsed nor saturated, and clearly more confident than a guess."""
    return (chance is not None and not figures.collapsed and not figures.saturated
            and figures.confidence >= max(CONFIDENT, chance + ABOVE_CHANCE))


def _symptom(own: PresetFigures, figures: dict[str, PresetFigures]) -> str:
    if own.collapsed:
        return "its output barely depends on the image (as for a near-black input)"
    smallest = min((q for q in figures.values() if not q.collapsed), key=lambda q: q.logit_scale)
    return (f"its logits are {own.logit_scale / smallest.logit_scale:.0f} times larger than"
            f" under '{smallest.name}' (pixel values far larger than in training)")


def _prediction(figures: PresetFigures, labels) -> str:
    index = figures.top_class
    name = labels[index] if labels and index < len(labels) else f"class {index}"
    return f"'{name}' at {figures.confidence:.2f}"
