"""Whether the chosen preprocessing looks wrong for a model, on an image.

A wrong choice is made visible, never corrected silently: :func:`compare_presets` runs the
image under every preset that applies (caffe and torch need RGB), and a black image under
each, in one batched forward pass, and reads two symptoms off the logits:

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

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .preprocessing import PRESETS, presets_for, resolve

# the check's thresholds; the module docstring has the measurements behind them
COLLAPSED_CHANGE = 0.05  # logits of the image against black: below, the model is blind
SATURATED_RATIO = 30.0  # largest |logit| against the smallest among those not collapsed
CONFIDENT = 0.5  # a plausible preset's top probability is at least this,
ABOVE_CHANCE = 0.3  # and at least this above a guess's


class PreprocessingWarning(UserWarning):
    """The chosen preprocessing looks wrong for the model (see :func:`compare_presets`)."""


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
    the images: flattened per sample, as numpy. One forward pass: the outputs are the
    squashed logits. (Black is run every time, not kept: the model's weights may have
    changed since.)"""
    import tensorflow as tf

    from .tf_ops import traced
    from .walker import forward, select, squashing

    def build():
        squash = squashing(model, output_index)

        def f(x):
            logits = select(forward(model, x, logits_of=output_index)[0], output_index)
            images = logits[:tf.shape(x)[0] // 2]
            return logits, images if squash is None else squash(images)
        return f

    image, black = pixels.astype(np.float32), np.zeros(pixels.shape, dtype=np.float32)
    functions = list(functions)
    batch = np.stack([function(image) for function in functions]
                     + [function(black) for function in functions]).astype(np.float32)
    logits, outputs = traced(model, ("preset-check", output_index, device), build,
                             batch_free=True)(tf.constant(batch))
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
