"""Image parameterisations for feature visualisation, as Lucid's ``pixel_image``,
``fft_image`` and ``to_valid_rgb`` (Olah, Mordvintsev & Schubert 2017, "Feature
Visualization", Distill, section "Preconditioning and Parameterization").

A parameterisation maps a batch of parameters to a linear image (B, H, W, C) whose sigmoid
is the picture in [0, 1]. ``pixel`` optimises those values directly. ``fourier`` stores the
image's spectrum scaled by 1/frequency, so that a gradient step changes every frequency
alike instead of favouring the high ones, and mixes RGB through the square root of
ImageNet's colour correlation so that colours move independently.

``blur`` smooths the linear image with a periodic Gaussian (multiplying its spectrum by the
Gaussian's transfer function), the regulariser Yosinski et al. 2015 apply between steps.
"""

from __future__ import annotations

import abc

import numpy as np
import tensorflow as tf

#: Standard deviation of the initial parameters (Lucid's ``sd``).
INITIAL_SD = 0.01

#: Square root of ImageNet's RGB correlation (Lucid), scaled so no column is longer than 1.
_COLOR_CORRELATION_SQRT = np.array([[0.26, 0.09, 0.02],
                                    [0.27, 0.00, -0.05],
                                    [0.27, -0.09, 0.03]], dtype=np.float32)
_COLOR_MIXING = _COLOR_CORRELATION_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SQRT, axis=0))


def spatial_frequencies(height: int, width: int) -> np.ndarray:
    """|f| in cycles per pixel for each bin of a real 2-D FFT, shape (H, W // 2 + 1)."""
    vertical = np.fft.fftfreq(height)[:, np.newaxis]
    horizontal = np.fft.rfftfreq(width)[np.newaxis, :]
    return np.sqrt(vertical ** 2 + horizontal ** 2).astype(np.float32)


def _gaussian_transfer(frequencies: np.ndarray, sigma: tf.Tensor) -> tf.Tensor:
    """Fourier transform of a Gaussian of ``sigma`` pixels at ``frequencies``."""
    return tf.exp(-2.0 * np.pi ** 2 * tf.square(sigma) * tf.constant(frequencies) ** 2)


class _Parameterization(abc.ABC):
    """Per-sample parameter ``shape``, and the linear image and blur of a batch of them."""

    shape: tuple[int, ...]

    def __init__(self, height: int, width: int, channels: int):
        self.height, self.width, self.channels = height, width, channels
        self.frequencies = spatial_frequencies(height, width)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, INITIAL_SD, self.shape).astype(np.float32)

    def unit_image(self, params: tf.Tensor) -> tf.Tensor:
        """The pictures in [0, 1], (B, H, W, C)."""
        return tf.sigmoid(self.linear(params))

    @abc.abstractmethod
    def linear(self, params: tf.Tensor) -> tf.Tensor:
        """The image before the sigmoid, (B, H, W, C)."""

    @abc.abstractmethod
    def blur(self, params: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
        """The parameters of the linear image smoothed by a Gaussian of ``sigma`` pixels."""


class PixelImage(_Parameterization):
    """One free value per pixel and channel (before the sigmoid)."""

    def __init__(self, height: int, width: int, channels: int):
        super().__init__(height, width, channels)
        self.shape = (height, width, channels)

    def linear(self, params):
        return params

    def blur(self, params, sigma):
        spectrum = tf.signal.rfft2d(tf.transpose(params, (0, 3, 1, 2)))
        transfer = tf.cast(_gaussian_transfer(self.frequencies, sigma), tf.complex64)
        blurred = tf.signal.irfft2d(spectrum * transfer, fft_length=[self.height, self.width])
        return tf.transpose(blurred, (0, 2, 3, 1))


class FourierImage(_Parameterization):
    """Real and imaginary spectrum, (2, C, H, W // 2 + 1), scaled by 1/frequency (Lucid)."""

    def __init__(self, height: int, width: int, channels: int):
        super().__init__(height, width, channels)
        self.shape = (2, channels, height, width // 2 + 1)
        scale = np.sqrt(height * width) / np.maximum(self.frequencies, 1.0 / max(height, width))
        self._scale = scale.astype(np.complex64)

    def linear(self, params):
        spectrum = tf.complex(params[:, 0], params[:, 1]) * self._scale
        image = tf.signal.irfft2d(spectrum, fft_length=[self.height, self.width]) / 4.0
        image = tf.transpose(image, (0, 2, 3, 1))
        if self.channels == 3:  # decorrelated colour: mix channels by the correlation's root
            image = tf.einsum("bhwc,dc->bhwd", image, _COLOR_MIXING)
        return image

    def blur(self, params, sigma):
        return params * _gaussian_transfer(self.frequencies, sigma)


PARAMETERIZATIONS = {"pixel": PixelImage, "fourier": FourierImage}
