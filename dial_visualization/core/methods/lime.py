"""LIME for images (Ribeiro, Singh & Guestrin 2016, "Why Should I Trust You?": Explaining
the Predictions of Any Classifier, KDD, arXiv:1602.04938, sections 3 and 3.3).

The image is cut into superpixels (scikit-image's SLIC, or quickshift with the authors'
``lime`` package's settings, its kernel scaled from 4 pixels at 224 to the image's size);
``samples`` random on/off vectors z (each superpixel on with probability 1/2; the first
sample is the image itself) give perturbed images whose "off" superpixels are hidden
(filled with their own mean colour, as ``lime`` does without a ``hide_color``, or black,
or a blurred copy). A linear model g(z) = w . z + b is fitted to
the class probabilities, each sample weighted by the exponential kernel
pi(z) = exp(-d(z)^2 / width^2) of its cosine distance d to the image (all on; width 0.25 as
in ``lime``'s image explainer), by ridge regression (scikit-learn's ``Ridge``, ``alpha``
1 as in ``lime``). The map gives every pixel its superpixel's weight w_k; the
superpixels and the fit's weighted R^2 are in ``info``.

Needs scikit-image and scikit-learn: ``pip install "dial-visualization[methods]"``.
A 2-D map by construction: a superpixel is hidden in all its colour channels at once.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..attribution import batch_size_parameter, heatmap_result, resolve_objective
from ..errors import MethodNotApplicableError
from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, score_function
from .integrated_gradients import baseline_input

EXTRA_ADVICE = "pip install \"dial-visualization[methods]\""
KERNEL_WIDTH = 0.25


def _libraries():
    try:
        from skimage import segmentation
        from sklearn.linear_model import Ridge
    except ImportError as error:
        raise MethodNotApplicableError(
            f"LIME needs scikit-image and scikit-learn ({error.name or error} is missing): "
            f"{EXTRA_ADVICE}") from None
    return segmentation, Ridge


def superpixels(pixels: np.ndarray, algorithm: str, segments: int, compactness: float,
                seed: int) -> np.ndarray:
    """(H, W) int labels 0..K-1 of the uint8 (H, W, C) ``pixels``."""
    segmentation, _ = _libraries()
    image = pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3]
    channel_axis = None if image.ndim == 2 else -1
    if algorithm == "quickshift":
        rgb = np.repeat(image[..., np.newaxis], 3, -1) if image.ndim == 2 else image
        kernel_size = max(1.0, 4.0 * min(pixels.shape[:2]) / 224)  # lime's 4 at 224 pixels
        labels = segmentation.quickshift(rgb.astype(np.float64) / 255.0,
                                         kernel_size=kernel_size, max_dist=200, ratio=0.2,
                                         rng=seed)
    else:
        labels = segmentation.slic(image, n_segments=segments, compactness=compactness,
                                   start_label=0, channel_axis=channel_axis)
        if labels.max() == 0:  # a small noisy image: connectivity merged every segment
            labels = segmentation.slic(image, n_segments=segments, compactness=compactness,
                                       start_label=0, channel_axis=channel_axis,
                                       enforce_connectivity=False)
    _, labels = np.unique(labels, return_inverse=True)  # consecutive from 0
    labels = labels.reshape(pixels.shape[:2])
    if labels.max() == 0:
        raise MethodNotApplicableError(
            f"{algorithm} found one superpixel in the whole image: LIME needs several "
            "(raise segments, or try the other segmentation)")
    return labels


def hidden_image(x: np.ndarray, labels: np.ndarray, fill: str, image) -> np.ndarray:
    """What hidden superpixels show, in the model's input space (H, W, C)."""
    if fill == "mean":
        count = labels.max() + 1
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        sizes = np.bincount(labels.ravel(), minlength=count)[:, np.newaxis]
        means = np.stack([np.bincount(labels.ravel(), weights=flat[:, c], minlength=count)
                          for c in range(x.shape[-1])], axis=-1) / sizes
        return means[labels].astype(np.float32)
    return baseline_input(image, fill)


def samples_on(count: int, superpixel_count: int, seed: int) -> np.ndarray:
    """(count, K) 0/1: the first row all on (the image), then random halves."""
    z = np.random.default_rng(seed).integers(0, 2, (count, superpixel_count)).astype(np.float64)
    z[0] = 1
    return z


def kernel_weights(z: np.ndarray, width: float = KERNEL_WIDTH) -> np.ndarray:
    """exp(-d^2 / width^2), d the cosine distance of each row of ``z`` to all-on."""
    norms = np.linalg.norm(z, axis=1) * np.sqrt(z.shape[1])
    cosine = np.divide(z.sum(axis=1), norms, out=np.zeros(len(z)), where=norms > 0)
    distance = 1 - cosine
    return np.exp(-distance ** 2 / width ** 2)


@method(
    id="lime", name="LIME", node_types={NodeType.PREDICTION},
    description="A weighted linear model of the class probability over superpixels switched "
                "on and off at random: each superpixel's weight (no gradients).",
    reference="Ribeiro et al. 2016, \"Why Should I Trust You?\": Explaining the Predictions "
              "of Any Classifier, arXiv:1602.04938",
    parameters=(
        Parameter("samples", "int", 512, "random on/off samples (model calls, batched)", 2,
                  1000000),
        Parameter("segmentation", "choice", "slic", "superpixels: SLIC or quickshift "
                  "(scikit-image)", choices=("slic", "quickshift")),
        Parameter("segments", "int", 50, "SLIC: about how many superpixels", 2, 100000),
        Parameter("compactness", "float", 10.0, "SLIC: higher gives squarer superpixels",
                  0.001, 1000.0),
        Parameter("fill", "choice", "mean", "what a hidden superpixel shows: its mean colour "
                  "(lime's default), black, or a blurred copy", choices=("mean", "black", "blur")),
        Parameter("alpha", "float", 1.0, "ridge regularisation of the linear model", 0.0,
                  1e6),
        Parameter("seed", "int", 0, "random seed of the samples", 0, 2**31 - 1),
        batch_size_parameter("perturbed images per model call"),
    ),
    channel_reduction="none: one weight per superpixel, hidden in all its colour channels at "
                      "once (Ribeiro et al. 2016, section 3.3)",
)
def lime(context, target, params, progress, should_stop):
    _, Ridge = _libraries()
    x, _, index, target = resolve_objective(context, target)
    image = x[0]
    labels = superpixels(context.image.resized, params["segmentation"], params["segments"],
                         params["compactness"], params["seed"])
    count = int(labels.max()) + 1
    hidden = np.asarray(hidden_image(image, labels, params["fill"], context.image), np.float32)
    z = samples_on(params["samples"], count, params["seed"])
    score = score_function(context.model, output_index=context.output_index, logits=False,
                           device=context.device)
    batch_size = params["batch_size"] or auto_batch_size(context.model, with_gradient=False,
                                                         size=x.shape[1:3])
    index_tensor = tf.constant([index])
    scores = np.zeros(len(z))
    for part in batches(len(z), batch_size, progress, should_stop):
        shown = (z[part] > 0)[:, labels][..., np.newaxis]  # (B, H, W, 1)
        perturbed = np.where(shown, image, hidden)
        scores[part] = np.asarray(score(tf.constant(perturbed), index_tensor), np.float64)
    weights = kernel_weights(z)
    fit = Ridge(alpha=params["alpha"], fit_intercept=True)
    fit.fit(z, scores, sample_weight=weights)
    r_squared = float(fit.score(z, scores, sample_weight=weights))
    return heatmap_result(context, target, fit.coef_[labels],
                          detail=f"{count} superpixels, {len(z)} samples, R² {r_squared:.2f}",
                          superpixels=labels, intercept=float(fit.intercept_),
                          weights=fit.coef_.astype(np.float32), r_squared=r_squared)
