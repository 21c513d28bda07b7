"""Transformation robustness and the total variation penalty for feature visualisation
(Olah, Mordvintsev & Schubert 2017, "Feature Visualization", Distill, section
"Regularization": each ascent step optimises a randomly shifted and rescaled copy of the
image, and penalties on high frequencies such as total variation (Mahendran & Vedaldi 2015)
keep it smooth).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def random_transforms(steps: int, jitter: int, scale: float, seed: int) -> np.ndarray:
    """Per step: the random shift (y, x) in pixels and zoom factor, (steps, 3)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(steps):
        shift = rng.integers(-jitter, jitter + 1, size=2)
        rows.append((shift[0], shift[1], 1.0 + rng.uniform(-scale, scale)))
    return np.asarray(rows, np.float32)


def jitter_and_scale(images, transform):
    """Zoom by transform[2] about the centre, then shift by (transform[0], transform[1]).

    The zoom resizes (bilinear) and crops, or mirror-pads, back to the size; the shift rolls
    whole pixels, seamless for the periodic Fourier image. Both have cheap exact gradients.
    """
    height, width = images.shape[1], images.shape[2]
    size = tf.cast(tf.round(transform[2] * [height, width]), tf.int32)
    scaled = tf.image.resize(images, size)
    short = tf.maximum([height, width] - size, 0)
    scaled = tf.pad(scaled, [[0, 0], [short[0] // 2, short[0] - short[0] // 2],
                             [short[1] // 2, short[1] - short[1] // 2], [0, 0]], mode="REFLECT")
    top, left = tf.unstack((tf.shape(scaled)[1:3] - [height, width]) // 2)
    cropped = tf.ensure_shape(scaled[:, top:top + height, left:left + width],
                              [None, height, width, images.shape[3]])
    return tf.roll(cropped, tf.cast(transform[:2], tf.int32), axis=[1, 2])


def total_variation(images):
    """Per sample: mean absolute difference between vertical and horizontal neighbours."""
    vertical = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    horizontal = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]), axis=(1, 2, 3))
    return vertical + horizontal
