"""Loading Keras models safely, and the facts about them that every algorithm needs."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from pathlib import Path

import keras

from .errors import ModelLoadError, UnsafeModelError, UnsupportedModelError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
_UNSAFE_HINTS = ("safe_mode", "unsafe", "lambda")


def load_model(source: str | Path | keras.Model, *, trusted: bool = False) -> keras.Model:
    """Read a ``.keras`` or legacy Keras-2 ``.h5``/``.hdf5`` file (``compile=False``).

    Keras ``safe_mode`` stays on unless ``trusted=True``: a model whose loading would
    execute code stored in the file (a ``Lambda`` layer) raises :class:`UnsafeModelError`.
    An in-memory ``keras.Model`` is checked and returned as it is.
    """
    if isinstance(source, keras.Model):
        return check_model(source)
    if not isinstance(source, (str, os.PathLike)):
        raise ModelLoadError(f"expected a model file path or a keras.Model, got {source!r}")
    path = Path(source)
    if not path.is_file():
        raise ModelLoadError(f"no such model file: {path}")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelLoadError(f"{path.name} is not a Keras model file (expected .keras, .h5 or .hdf5)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path.name} is not a valid .keras file (it is not a zip archive)")
    try:
        with _lower_case_suffix(path) as readable:
            model = keras.saving.load_model(readable, compile=False, safe_mode=not trusted)
    except Exception as error:  # Keras raises many types for bad files
        text = str(error)
        if not trusted and any(hint in text.lower() for hint in _UNSAFE_HINTS):
            raise UnsafeModelError(
                f"{path.name} contains code that Keras would have to execute to load it "
                "(e.g. a Lambda layer); load it only if you trust its source: "
                "load_model(path, trusted=True), or confirm in the app"
            ) from error
        first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        raise ModelLoadError(f"{path.name} could not be read as a Keras model: {first_line}") from error
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{path.name} holds no Keras model")
    return check_model(model)


@contextlib.contextmanager
def _lower_case_suffix(path: Path):
    """Keras recognises only lower-case suffixes: give it a link named ``*.keras``/``*.h5``."""
    if path.suffix == path.suffix.lower():
        yield path
        return
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / ("model" + path.suffix.lower())
        link.symlink_to(path.resolve())
        yield link


def check_model(model: keras.Model) -> keras.Model:
    """Refuse models that have no single 4-D (batch, height, width, channels) image input."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise UnsupportedModelError(
            f"model {model.name!r} has no defined input: build it on an input shape first")
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise UnsupportedModelError(
            f"model {model.name!r} needs one 4-D image input (batch, height, width, channels);"
            f" it has {shapes}")
    return model


def input_shape(model: keras.Model) -> tuple[int | None, int | None, int]:
    """(height, width, channels) of the model's image input; sizes may be ``None``."""
    _, height, width, channels = check_model(model).inputs[0].shape
    return height, width, channels


def output_count(model: keras.Model) -> int:
    return len(model.outputs)


def class_count(model: keras.Model, output_index: int = 0) -> int:
    """How many classes (units) output ``output_index`` scores."""
    return int(model.outputs[check_output_index(model, output_index)].shape[-1] or 0)


def check_output_index(model: keras.Model, output_index: int) -> int:
    count = output_count(model)
    if not 0 <= output_index < count:
        raise UnsupportedModelError(
            f"model {model.name!r} has {count} output(s); output {output_index} does not exist")
    return output_index
