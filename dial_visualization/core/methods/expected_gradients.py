"""Expected gradients / Gradient SHAP (Erion, Janizek, Sturmfels, Lundberg & Lee 2021,
Improving performance of deep learning models with axiomatic attribution priors and
expected gradients, Nature Machine Intelligence, arXiv:1906.10670; Lundberg & Lee 2017, A
Unified Approach to Interpreting Model Predictions, arXiv:1705.07874).

Integrated gradients averaged over baselines drawn from a distribution: with a baseline x'
and a point alpha ~ U(0, 1) on the straight path drawn afresh for each of ``samples``
samples, each sample adds (x - x') * grad F(x' + alpha (x - x')); the attribution is their
mean, phi = E_{x', alpha}[(x - x') grad F(x' + alpha (x - x'))] (Erion et al., equation 3).
Completeness holds in expectation: sum(phi) = F(x) - E[F(x')]; the estimate's error
against the mean over the baselines drawn is in ``info``.

The baselines (in the model's input space, preprocessed like the image) are uniform noise
pixels (a new image per sample), a blurred copy of the image, black, or images from a
folder (``references``: the reference data set of Erion et al., each resized to the input
and preprocessed like it, drawn at random). Sample i depends only on (seed, i), so the
batch size does not change the result. Gradient SHAP's optional Gaussian noise on the input
(``noise``, a fraction of the input's value range) is added per sample.

The map is the sum over the colour channels, which keeps completeness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from ..attribution import batch_size_parameter, heatmap_result, resolve_objective
from ..errors import MethodNotApplicableError
from ..images import IMAGE_SUFFIXES
from ..preprocessing import PRESETS
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, input_gradient_function, score_function
from .integrated_gradients import baseline_input

REDUCTION = "sum"
BASELINES = ("noise", "blur", "black", "references")


def reference_inputs(folder: str, image) -> np.ndarray:
    """The images of ``folder`` as the model sees ``image``: its size, channels and
    preprocessing; (N, H, W, C) float32."""
    from ..images import read_image, to_channels

    path = Path(folder)
    if not folder or not path.is_dir():
        raise MethodNotApplicableError(f"references: no such folder {folder!r} (the folder "
                                       "of reference images that baselines are drawn from)")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MethodNotApplicableError(f"references: no images in folder {folder}")
    preprocess = image.preprocess or PRESETS.get(image.preprocessing)
    if preprocess is None:
        raise MethodNotApplicableError("reference images need the image's preprocessing, "
                                       f"{image.preprocessing!r}")
    height, width, channels = image.resized.shape
    found = []
    for file in files:
        pixels = to_channels(read_image(file), channels)
        if pixels.shape[:2] != (height, width):
            picture = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)
            pixels = np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))
            pixels = pixels.reshape(height, width, channels)
        found.append(np.asarray(preprocess(pixels.astype(np.float32)), np.float32))
    return np.stack(found)


class Baselines:
    """Baseline ``i`` of a run: drawn from (seed, i) only."""

    def __init__(self, image, choice: str, references: str, seed: int):
        self.choice, self.seed = choice, seed
        self.shape = image.array.shape
        self.fixed = None
        if choice in ("blur", "black"):
            self.fixed = baseline_input(image, choice)
        elif choice == "references":
            self.references = reference_inputs(references, image)
        else:
            self.preprocess = image.preprocess or PRESETS.get(image.preprocessing)
            if self.preprocess is None:
                raise MethodNotApplicableError("a noise baseline needs the image's "
                                               f"preprocessing, {image.preprocessing!r}")

    def __call__(self, i: int) -> np.ndarray:
        if self.fixed is not None:
            return self.fixed
        rng = np.random.default_rng([self.seed, i, 1])
        if self.choice == "references":
            return self.references[rng.integers(len(self.references))]
        pixels = rng.uniform(0, 255, self.shape).astype(np.float32)
        return np.asarray(self.preprocess(pixels), np.float32)


def expected_gradients(model, x, baselines, index: int, samples: int, seed: int,
                       noise_std: float = 0.0, batch_size=0, *, output_index=0,
                       device="auto", progress=None, should_stop=None):
    """(attribution (H, W, C), F(x), mean F over the baselines drawn) for one input
    ``x`` (H, W, C); ``baselines(i)`` is sample i's baseline. A baseline that is the same
    for every sample (``baselines.fixed``: black, blur) is scored once, beside x."""
    x = np.asarray(x, np.float32)
    fixed = getattr(baselines, "fixed", None)
    gradient = input_gradient_function(model, output_index=output_index, device=device)
    score = score_function(model, output_index=output_index, device=device)
    batch_size = batch_size or auto_batch_size(model, size=x.shape[:2])
    index_tensor = tf.constant([index])
    total = np.zeros(x.shape, np.float64)
    baseline_scores = np.zeros(samples)
    for part in batches(samples, batch_size, progress, should_stop):
        numbers = range(part.start, part.stop)
        starts = np.stack([baselines(i) for i in numbers])
        rngs = [np.random.default_rng([seed, i, 2]) for i in numbers]
        alphas = np.array([rng.uniform() for rng in rngs], np.float32)[:, None, None, None]
        inputs = np.stack([x + np.float32(noise_std) * rng.standard_normal(x.shape, np.float32)
                           for rng in rngs]) if noise_std else np.broadcast_to(x, starts.shape)
        points = starts + alphas * (inputs - starts)
        _, grads, _ = gradient(tf.constant(points), index_tensor)
        total += ((inputs - starts) * np.asarray(grads)).sum(axis=0)
        if fixed is None:
            baseline_scores[part] = np.asarray(score(tf.constant(starts), index_tensor))
    scored = np.stack([x] if fixed is None else [x, np.asarray(fixed, np.float32)])
    own, *fixed_score = np.asarray(score(tf.constant(scored), index_tensor), np.float64)
    mean_baseline = fixed_score[0] if fixed_score else baseline_scores.mean()
    return (total / samples).astype(np.float32), float(own), float(mean_baseline)


@method(
    id="expected-gradients", name="Expected gradients",
    node_types={NodeType.PREDICTION},
    description="Integrated gradients averaged over random baselines (noise, a blurred "
                "copy, or reference images) and random points on the path (Gradient SHAP).",
    reference="Erion et al. 2021, Improving performance of deep learning models with "
              "axiomatic attribution priors and expected gradients, arXiv:1906.10670; "
              "Lundberg & Lee 2017, arXiv:1705.07874",
    parameters=(
        Parameter("samples", "int", 64, "(baseline, path point) samples averaged", 1, 65536),
        Parameter("baseline", "choice", "noise", "where the paths start: uniform noise "
                  "pixels (new per sample), a blurred copy, black, or images from the "
                  "references folder", choices=BASELINES),
        Parameter("references", "str", "", "folder of reference images (baseline "
                  "references)"),
        Parameter("noise", "float", 0.0, "Gradient SHAP's Gaussian noise on the input, as a "
                  "fraction of its value range (0: none)", 0.0, 1.0),
        Parameter("seed", "int", 0, "random seed of the baselines and path points", 0,
                  2**31 - 1),
        batch_size_parameter("samples per gradient call"),
    ),
    channel_reduction="sum over colour channels, so that the map adds up to "
                      "F(input) - E[F(baseline)] in expectation (Erion et al. 2021, "
                      "section 2; integrated gradients' completeness)",
)
def expected_gradients_method(context, target, params, progress, should_stop):
    x, _, index, target = resolve_objective(context, target)
    if params["baseline"] == "references" and not params["references"]:
        raise MethodNotApplicableError("baseline references needs the references folder "
                                       "(references=...)")
    baselines = Baselines(context.image, params["baseline"], params["references"],
                          params["seed"])
    noise_std = params["noise"] * float(np.max(x) - np.min(x))
    attribution, score, baseline_score = expected_gradients(
        context.model, x[0], baselines, index, params["samples"], params["seed"], noise_std,
        params["batch_size"], output_index=context.output_index, device=context.device,
        progress=progress, should_stop=should_stop)
    change = score - baseline_score
    delta = float(attribution.sum(dtype=np.float64) - change)
    return heatmap_result(
        context, target, attribution,
        detail=f"{params['baseline']} baselines, {params['samples']} samples",
        reduction=REDUCTION, completeness_delta=delta, score=score,
        mean_baseline_score=baseline_score)
