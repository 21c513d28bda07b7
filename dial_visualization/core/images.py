"""Decoding images for a model: channels, size and preprocessing, original kept for display."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError, ParameterError

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
PREPROCESSING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "unit": lambda x: x / 255.0,
    "symmetric": lambda x: x / 127.5 - 1.0,
    "caffe": _caffe,
    "torch": _torch,
}

# keras.applications model-name prefixes and the preprocessing they were trained with.
_APPLICATION_PREPROCESSING = (
    ("resnet50v2", "symmetric"), ("resnet101v2", "symmetric"), ("resnet152v2", "symmetric"),
    ("vgg", "caffe"), ("resnet", "caffe"),
    ("mobilenetv3", "none"),  # rescales inside the model (include_preprocessing=True)
    ("mobilenet", "symmetric"), ("inception", "symmetric"), ("xception", "symmetric"),
    ("nasnet", "symmetric"),
    ("densenet", "torch"),
    ("efficientnet", "none"), ("convnext", "none"), ("regnet", "none"),
)


def detect_preprocessing(model) -> str | None:
    """The preset a ``keras.applications`` architecture (possibly nested) expects, or None."""
    import keras

    names = [model.name] + [layer.name for layer in getattr(model, "layers", [])
                            if isinstance(layer, keras.Model)]
    for name in names:
        for prefix, preset in _APPLICATION_PREPROCESSING:
            if name.lower().startswith(prefix):
                return preset
    return None


@dataclass(frozen=True)
class InputImage:
    """An image as loaded (``original``), as the model sees it (``resized``), and preprocessed.

    ``resized`` is uint8 (H, W, C) at the model's input size and channel count; ``array``
    is the float32 preprocessed version that goes into the model.
    """

    original: np.ndarray
    resized: np.ndarray
    preprocessing: str
    array: np.ndarray
    source: str = ""
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
    ``preprocessing`` is a preset name (see :data:`PREPROCESSING`), a callable on float32
    pixels in [0, 255], or ``None`` to detect it for ``keras.applications`` models and use
    ``"unit"`` ([0, 1]) otherwise.
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
    name, function = resolve_preprocessing(preprocessing, model)
    array = np.asarray(function(pixels.astype(np.float32)), dtype=np.float32)
    source_name = str(source) if isinstance(source, (str, Path)) else ""
    return InputImage(original, pixels, name, array, source_name, function)


def resolve_preprocessing(preprocessing, model=None) -> tuple[str, Callable]:
    """(recorded name, function) for a preset name, a callable, or ``None`` (detect)."""
    if callable(preprocessing):
        return getattr(preprocessing, "__name__", "custom"), preprocessing
    if preprocessing is None:
        preprocessing = (detect_preprocessing(model) if model is not None else None) or "unit"
    if preprocessing not in PREPROCESSING:
        raise ParameterError(
            f"unknown preprocessing {preprocessing!r} (choose {', '.join(PREPROCESSING)})")
    return preprocessing, PREPROCESSING[preprocessing]
