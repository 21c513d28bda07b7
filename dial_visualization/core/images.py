"""Decoding images for a model: channels, size and preprocessing, original kept for display.

Pixel values follow one rule whatever their source (a file, an array, a Pillow image), so
the same data always gives the same image:

* 8-bit values (``uint8``, Pillow's 8-bit modes) are pixels as they are;
* 16-bit values (``uint16``, Pillow's ``I;16`` modes) are scaled by 255/65535, however
  dark the image: the container says what a value means;
* other integers (``int64`` arrays, Pillow's 32-bit ``I``) are 8-bit when they lie in
  [0, 255] and 16-bit when they lie in [0, 65535];
* booleans are 0 and 255;
* floats are [0, 1] scaled to [0, 255] when they lie in [0, 1], else pixels in [0, 255];
* anything else (negative values, floats above 255, integers above 65535, NaN, infinity)
  is refused with a message: no rescaling is guessed.

Files of more than :data:`MAX_PIXELS` pixels are refused before they are decoded (a
small file can claim a huge size). A model that accepts any input size sees the image as
it is, its longest side reduced to ``max_side`` (default :data:`MAX_SIDE`); the
``size_reason`` of the loaded image says which size was chosen and why.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError
from .preprocessing import resolve

#: Pillow's decompression-bomb limit (twice its warning threshold): larger files are refused.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
#: The longest side of an image for a model that accepts any size, unless told otherwise.
MAX_SIDE = 512
#: The file suffixes read as images in a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
#: How an image of another aspect ratio than the model's input meets it: stretched to the
#: input size, its centre cropped to the input's aspect ratio, or padded (black, on both
#: sides) to it; then resized.
FITS = {"stretch": "stretched", "crop": "centre-cropped", "pad": "padded"}


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
    #: why ``resized`` has its size: "the model's input size", or for a model that takes
    #: any size, "as loaded" or "longest side reduced to 512"
    size_reason: str = ""
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
        return Image.fromarray(_image_array(source))
    if not isinstance(source, (str, Path)):
        raise ImageLoadError(f"expected an image file, an array or a Pillow image, got "
                             f"{type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise ImageLoadError(f"no such image file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            image = Image.open(path)
            _check_size(image.size, path.name)
            image.seek(0)
            image.load()
        return ImageOps.exif_transpose(image)  # phone photos: as viewers show them
    except Image.DecompressionBombError:
        raise ImageLoadError(f"{path.name} claims more than {MAX_PIXELS / 1e6:.0f} megapixels:"
                             " too large to read (downsample it first)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"{path.name} is not a readable image ({error})") from error


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"{name} is {width}×{height} ({width * height / 1e6:.0f} megapixels), more than "
            f"the {MAX_PIXELS / 1e6:.0f} megapixels read here: downsample it first")


def _image_array(array: np.ndarray) -> np.ndarray:
    """An array image as uint8 (H, W) or (H, W, 1 | 3 | 4), by the rule of the module."""
    array = np.asarray(array)
    if array.ndim == 4 and len(array) == 1:  # a batch of one image
        array = array[0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise ImageLoadError(f"an image array is (height, width) or (height, width, 1, 3 or "
                             f"4 channels), not {array.shape}")
    if array.size == 0:
        raise ImageLoadError(f"the image array is empty: {array.shape}")
    _check_size(array.shape[1::-1], "the image array")
    pixels = to_eight_bits(array)
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels


def to_eight_bits(values: np.ndarray) -> np.ndarray:
    """uint8 pixels from values of any type, by the rule in the module docstring."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * np.uint8(255)
    if values.dtype == np.uint16:
        return _scaled(values, 255.0 / 65535.0)
    kind = "floats" if np.issubdtype(values.dtype, np.floating) else "integers"
    if kind == "integers" and not np.issubdtype(values.dtype, np.integer):
        raise ImageLoadError(f"an image holds numbers, not {values.dtype}")
    if kind == "floats" and not np.all(np.isfinite(values)):
        raise ImageLoadError("the image has values that are not finite (NaN or infinity)")
    low, high = values.min(), values.max()
    if low >= 0 and high <= 255 and (kind == "integers" or high > 1):
        return _scaled(values, 1.0)
    if kind == "floats" and low >= 0 and high <= 1:
        return _scaled(values, 255.0)
    if kind == "integers" and low >= 0 and high <= 65535:
        return _scaled(values, 255.0 / 65535.0)
    expected = "[0, 1] or [0, 255]" if kind == "floats" else "[0, 255] or [0, 65535]"
    raise ImageLoadError(f"pixel values from {low:g} to {high:g}: {kind} are read in "
                         f"{expected}; scale the image to one of those ranges first")


def _scaled(values: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(values.astype(np.float64) * scale, 0, 255).astype(np.uint8)  # truncated


def to_channels(image: Image.Image, channels: int) -> np.ndarray:
    """uint8 (H, W, channels) for 1 (grey), 3 (RGB) or 4 (RGBA) channels, from any mode."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        image = Image.fromarray(to_eight_bits(np.asarray(image).astype(np.uint16)))
    elif image.mode in ("I", "F"):
        image = Image.fromarray(to_eight_bits(np.asarray(image)))
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


def load_image(source, model, preprocessing: str | Callable | None = None,
               max_side: int = MAX_SIDE, fit: str = "stretch") -> InputImage:
    """Load ``source`` (path, array or Pillow image) for ``model``.

    The image is converted to the model's channel count and resized to its input size (a
    model that takes any size gets it as it is, its longest side reduced to ``max_side``);
    ``preprocessing`` is a preset name (see ``core.preprocessing.PRESETS``), a callable on
    float32 pixels in [0, 255], or ``None`` to use the one the model expects
    (``core.preprocessing.resolve``: its own preprocessing layers, a ``keras.applications``
    name, else ``"unit"``, [0, 1]). The choices and their reasons are recorded.
    ``fit`` says how an image of another aspect ratio meets a model's fixed input size
    (:data:`FITS`: ``"stretch"``, ``"crop"`` to the centre, ``"pad"`` with black).
    """
    if fit not in FITS:
        raise ImageLoadError(f"fit is one of {', '.join(FITS)}, not {fit!r}")
    from .models import input_shape

    height, width, channels = input_shape(model)
    image = read_image(source)
    original = to_channels(image, 3 if channels == 1 else channels)
    pixels = to_channels(image, channels)
    fixed = bool(height and width)
    (height, width), size_reason = _model_size(pixels.shape[:2], height, width, max_side)
    if fixed and fit != "stretch":
        loaded = pixels.shape[:2]
        pixels = fit_aspect(pixels, height / width, fit)
        if pixels.shape[:2] != loaded:
            size_reason += f", {FITS[fit]} from {loaded[1]}×{loaded[0]}"
    if pixels.shape[:2] != (height, width):
        resized_image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)
        pixels = np.asarray(resized_image.resize((width, height), Image.Resampling.BILINEAR))
        pixels = pixels[..., np.newaxis] if channels == 1 else pixels
    chosen = resolve(preprocessing, model)
    array = np.asarray(chosen.function(pixels.astype(np.float32)), dtype=np.float32)
    source_name = str(source) if isinstance(source, (str, Path)) else ""
    return InputImage(original, pixels, chosen.name, array, source_name, chosen.reason,
                      size_reason, chosen.function)


def fit_aspect(pixels: np.ndarray, ratio: float, fit: str) -> np.ndarray:
    """(H, W, C) ``pixels`` at the aspect ratio ``ratio`` (height / width): their centre
    cropped (``"crop"``) or black added equally on both sides (``"pad"``, the odd pixel
    after); unchanged when the ratio is already met (to the nearest pixel)."""
    height, width = pixels.shape[:2]
    if fit == "crop":
        new_height, new_width = (min(height, max(1, round(width * ratio))),
                                 min(width, max(1, round(height / ratio))))
        top, left = (height - new_height) // 2, (width - new_width) // 2
        return pixels[top:top + new_height, left:left + new_width]
    if fit == "pad":
        new_height, new_width = max(height, round(width * ratio)), max(width, round(height / ratio))
        top, left = (new_height - height) // 2, (new_width - width) // 2
        return np.pad(pixels, ((top, new_height - height - top), (left, new_width - width - left),
                               (0, 0)))
    return pixels


def _model_size(size: tuple[int, int], height, width, max_side: int):
    """((height, width) the model sees, why): its own input size, else the image's, its
    longest side reduced to ``max_side`` (on each free axis)."""
    if height and width:
        return (height, width), "the model's input size"
    if max_side < 1:
        raise ImageLoadError(f"max_side must be at least 1, not {max_side}")
    scale = min(1.0, max_side / max(size))
    wanted = tuple(fixed or max(1, round(side * scale)) for fixed, side in zip((height, width), size))
    if wanted == tuple(size):
        return wanted, "as loaded: the model takes any size"
    return wanted, f"longest side reduced to {max_side}: the model takes any size"
