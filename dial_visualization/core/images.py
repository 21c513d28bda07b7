"""Decoding images for a model: channels, size and preprocessing, original kept for display."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError
from .preprocessing import resolve


@dataclass(frozen=True)
class InputImage:
    """An image as loaded (``original``), as the model sees it (``resized``), and preprocessed.

    ``resized`` is uint8 (H, W, C) at the model's input size and channel count; ``array``
    is the float32 preprocessed version that goes into the model.
    """

    original: np.ndarray
    resized: np.ndarray
    #: the preprocessing's name: a preset of ``core.preprocessing.PRESETS`` or a function's
    preprocessing: str
    array: np.ndarray
    source: str = ""
    #: why that preprocessing: "chosen", "model starts with Rescaling(1/255)", ...
    preprocessing_reason: str = ""
    #: the function that made ``array`` from ``resized`` (float32 pixels in [0, 255])
    preprocess: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False,
                                                                  compare=False)

    def batch(self) -> np.ndarray:
        return self.array[np.newaxis]

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.source else "image"


def read_image(source) -> Image.Image:
    """A Pillow image from a path, an array or an image; first frame of animations."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = np.asarray(array, dtype=np.float64)
            if array.size and np.nanmax(array) <= 1.0:  # floats in [0, 1]
                array = array * 255.0
            array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
        return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)
    path = Path(source)
    if not path.is_file():
        raise ImageLoadError(f"no such image file: {path}")
    try:
        image = Image.open(path)
        image.seek(0)
        image.load()
        return ImageOps.exif_transpose(image)  # phone photos: as viewers show them
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"{path.name} is not a readable image ({error})") from error


def to_channels(image: Image.Image, channels: int) -> np.ndarray:
    """uint8 (H, W, channels) for 1 (grey), 3 (RGB) or 4 (RGBA) channels, from any mode."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        sixteen_bit = image.mode.startswith("I;16") or pixels.max() > 255
        scale = 255.0 / 65535.0 if sixteen_bit else 1.0
        image = Image.fromarray(np.clip(pixels * scale, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA") and channels != 4:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ImageLoadError(f"the model expects {channels} channels; images give 1, 3 or 4")
    pixels = np.asarray(image.convert(modes[channels]), dtype=np.uint8)
    return pixels[..., np.newaxis] if channels == 1 else pixels


def load_image(source, model, preprocessing: str | Callable | None = None) -> InputImage:
    """Load ``source`` (path, array or Pillow image) for ``model``.

    The image is converted to the model's channel count and resized to its input size;
    ``preprocessing`` is a preset name (see ``core.preprocessing.PRESETS``), a callable on
    float32 pixels in [0, 255], or ``None`` to use the one the model expects
    (``core.preprocessing.resolve``: its own preprocessing layers, a ``keras.applications``
    name, else ``"unit"``, [0, 1]). The choice and its reason are recorded.
    """
    from .models import input_shape

    height, width, channels = input_shape(model)
    image = read_image(source)
    original = to_channels(image, 3 if channels == 1 else channels)
    pixels = to_channels(image, channels)
    if height and width and pixels.shape[:2] != (height, width):
        resized_image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)
        pixels = np.asarray(resized_image.resize((width, height), Image.Resampling.BILINEAR))
        pixels = pixels[..., np.newaxis] if channels == 1 else pixels
    chosen = resolve(preprocessing, model)
    array = np.asarray(chosen.function(pixels.astype(np.float32)), dtype=np.float32)
    source_name = str(source) if isinstance(source, (str, Path)) else ""
    return InputImage(original, pixels, chosen.name, array, source_name, chosen.reason,
                      chosen.function)
