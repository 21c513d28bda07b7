"""Occlusion sensitivity (Zeiler & Fergus 2014, arXiv:1311.2901).

A square patch slides over the image (the last window of a row or column is aligned to the
border when the stride does not divide the size; a patch larger than the image is cut to
it). Each pixel's value is the mean, over the windows covering it, of
score(image) - score(image with that window filled) (as Captum; xplique 2.0.2 sums them).
Filling happens in the model's input space (the preprocessed image): ``zero`` puts 0
there, ``mean`` the image's per-channel mean, ``blur`` the same pixels of a
Gaussian-blurred copy (sigma = patch / 2, edges repeated). Occluded images are built one
batch at a time; over many images, the occluded copies of every image form one stream of
model calls.

A patch hides all colour channels of its pixels at once, so the map has one value per
pixel by construction: there are no channels to reduce.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..registry import NodeType, Parameter, method
from ..tf_ops import auto_batch_size, batches, score_function
from ..attribution import batch_size_parameter, heatmap_result
from ..batch_explain import batched, resolve_objectives


def window_starts(size: int, patch: int, stride: int) -> list[int]:
    """Start offsets covering 0..size-1; the last window ends at the border."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, C) image blurred per channel by a separable Gaussian (edge pixels repeated)."""
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    blurred = image.astype(np.float64)
    for axis in (0, 1):
        pad = [(radius, radius) if a == axis else (0, 0) for a in range(blurred.ndim)]
        padded = np.pad(blurred, pad, mode="edge")
        length = blurred.shape[axis]
        blurred = sum(weight * np.take(padded, np.arange(i, i + length), axis=axis)
                      for i, weight in enumerate(kernel))
    return blurred.astype(np.float32)


def fill_image(image: np.ndarray, fill: str, patch: int) -> np.ndarray:
    """What occluded pixels of the (H, W, C) preprocessed ``image`` are replaced with."""
    if fill == "zero":
        return np.zeros_like(image)
    if fill == "mean":
        return np.broadcast_to(image.mean(axis=(0, 1)), image.shape).astype(np.float32)
    return gaussian_blur(image, patch / 2)


@method(
    id="occlusion", name="Occlusion", node_types={NodeType.PREDICTION},
    description="How much the class score drops when a patch of the image is hidden, "
                "for every position of a sliding patch.",
    reference="Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks, "
              "arXiv:1311.2901",
    parameters=(
        Parameter("patch", "int", 8, "side of the square patch, in input pixels", 1, 512),
        Parameter("stride", "int", 4, "step between patch positions, in input pixels", 1, 512),
        Parameter("fill", "choice", "zero", "what hides the patch (in the model's input "
                  "space): 0, the image's channel mean, or a blurred copy",
                  choices=("zero", "mean", "blur")),
        Parameter("score", "choice", "probability", "class score compared: the model's "
                  "output or the logit before the softmax", choices=("probability", "logit")),
        batch_size_parameter("occluded images per model call"),
    ),
    channel_reduction="none: one score drop per pixel by construction, a patch hides all "
                      "its colour channels at once (Zeiler & Fergus 2014, section 4.2)",
)
def occlusion(context, target, params, progress, should_stop):
    return occlusion_batch([context], target, params, progress, should_stop)[0]


@batched(occlusion)
def occlusion_batch(contexts, target, params, progress, should_stop):
    """Occlusion of every context's image: the occluded copies of all the images in one
    stream of model calls, each image's score for its own class."""
    x, _, indices, targets = resolve_objectives(contexts, target)
    height, width = x.shape[1:3]
    patch_height, patch_width = min(params["patch"], height), min(params["patch"], width)
    windows = [(slice(top, top + patch_height), slice(left, left + patch_width))
               for top in window_starts(height, patch_height, params["stride"])
               for left in window_starts(width, patch_width, params["stride"])]
    fills = [fill_image(image, params["fill"], params["patch"]) for image in x]
    context = contexts[0]
    score = score_function(context.model, output_index=context.output_index,
                           logits=params["score"] == "logit", device=context.device)
    originals = np.asarray(score(tf.constant(x), tf.constant(indices)), np.float64)
    batch_size = params["batch_size"] or auto_batch_size(context.model, with_gradient=False,
                                                           size=x.shape[1:3])
    drop_sums = np.zeros((len(x), height, width), np.float64)
    for part in batches(len(x) * len(windows), batch_size, progress, should_stop):
        images, numbers = np.divmod(np.arange(part.start, part.stop), len(windows))
        occluded = x[images]
        for sample, image, number in zip(occluded, images, numbers):
            sample[windows[number]] = fills[image][windows[number]]
        scores = score(tf.constant(occluded), tf.constant(indices[images]))
        drops = originals[images] - np.asarray(scores, np.float64)
        for drop, image, number in zip(drops, images, numbers):
            drop_sums[image][windows[number]] += drop
    covering = np.zeros((height, width), np.int64)
    for window in windows:
        covering[window] += 1
    detail = f"patch {params['patch']}, stride {params['stride']}, {params['fill']}"
    return [heatmap_result(each, resolved, np.divide(drop_sum, covering,
                                                     out=np.zeros_like(drop_sum),
                                                     where=covering > 0),
                           detail=detail, windows=len(windows))
            for each, resolved, drop_sum in zip(contexts, targets, drop_sums)]
