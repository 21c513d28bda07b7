"""Loading Keras models safely, and the facts about them that every method needs.

Before Keras reads a file, it is checked here: readable, of a model format, its
architecture description (``config.json`` in a ``.keras`` zip, the ``model_config``
attribute of an ``.h5``) no larger than :data:`CONFIG_LIMIT` (a small file must not make
the tool allocate gigabytes), and whether loading it would run code stored in it — decided
from that description (a ``Lambda`` layer), not from an error's wording. Keras'
``safe_mode`` stays on unless the user trusts the file.

A ``.keras`` file is a zip archive whose members carry CRC-32 checksums, checked as they
are read; an ``.h5`` file has none (HDF5 keeps no checksums), so a corrupted byte can go
unnoticed. :func:`file_sha256` gives a file's SHA-256 for a user to compare, and a
checksum file beside the model (``model.h5.sha256``, as ``sha256sum`` writes it) or an
explicit ``sha256=`` is verified before loading.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import keras

from .errors import ModelLoadError, UnsafeModelError, UnsupportedModelError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
#: The largest architecture description read (bytes): real ones are kilobytes to a few MB.
CONFIG_LIMIT = 64 * 2 ** 20
_CONFIG_MEMBERS = ("config.json", "metadata.json")


def load_model(source: str | Path | keras.Model, *, trusted: bool = False,
               custom_objects: dict | None = None, sha256: str | None = None) -> keras.Model:
    """Read a ``.keras`` or legacy Keras-2 ``.h5``/``.hdf5`` file (``compile=False``).

    Keras ``safe_mode`` stays on unless ``trusted=True``: a model whose loading would
    execute code stored in the file (a ``Lambda`` layer) raises :class:`UnsafeModelError`.
    ``custom_objects`` names the custom classes the model uses; ``sha256`` (or a
    ``<file>.sha256`` beside it) is checked against the file. An in-memory
    ``keras.Model`` is checked and returned as it is.
    """
    if isinstance(source, keras.Model):
        return check_model(source)
    if not isinstance(source, (str, os.PathLike)):
        raise ModelLoadError(f"expected a model file path or a keras.Model, got {source!r}")
    path = Path(source)
    config = _checked_config(path)
    _verify_checksum(path, sha256)
    if not trusted and _runs_stored_code(config):
        raise UnsafeModelError(
            f"{path.name} contains code that Keras would have to execute to load it "
            "(a Lambda layer); load it only if you trust its source: "
            "load_model(path, trusted=True), or confirm in the app")
    try:
        with _lower_case_suffix(path) as readable:
            model = keras.saving.load_model(readable, compile=False, safe_mode=not trusted,
                                            custom_objects=custom_objects)
    except Exception as error:  # Keras raises many types for bad files
        raise _load_error(path, error, trusted) from error
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{path.name} holds no Keras model")
    return check_model(model)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, as ``sha256sum`` prints it."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2 ** 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_config(path: Path) -> dict | None:
    """The file's architecture description, after the checks of the module docstring
    (None for an ``.h5`` without one, which Keras then refuses)."""
    if not path.is_file():
        raise ModelLoadError(f"no such model file: {path}")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelLoadError(f"{path.name} is not a Keras model file (expected .keras, .h5 or .hdf5)")
    if not os.access(path, os.R_OK):
        raise ModelLoadError(f"cannot read {path.name}: permission denied")
    if path.suffix.lower() == ".keras":
        return _keras_config(path)
    return _h5_config(path)


def _keras_config(path: Path) -> dict:
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path.name} is not a valid .keras file (it is not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            for member in _CONFIG_MEMBERS:
                _check_config_size(path, sizes.get(member, 0))
            if "config.json" not in sizes:
                raise ModelLoadError(f"{path.name} could not be read as a Keras model: the "
                                     "zip archive holds no config.json")
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path.name} could not be read as a Keras model: {error}") from None


#: The child process that reads an .h5 file's description: its memory is bounded, so a
#: corrupted length (HDF5 allocates what the file claims, gigabytes for a few bytes changed)
#: fails there, not here.
_READ_H5_CONFIG = """
import sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
except (ImportError, ValueError, OSError):
    pass
import h5py
with h5py.File(sys.argv[1], "r") as file:
    text = file.attrs.get("model_config")
if text is None:
    sys.exit(3)
sys.stdout.write(text.decode() if isinstance(text, bytes) else text)
"""
#: The child's address space: an interpreter with h5py and numpy, and the description.
_H5_READER_MEMORY = 2 ** 31
_H5_READER_SECONDS = 60


def _h5_config(path: Path) -> dict | None:
    try:
        done = subprocess.run([sys.executable, "-c", _READ_H5_CONFIG, str(path),
                               str(_H5_READER_MEMORY)], capture_output=True,
                              timeout=_H5_READER_SECONDS)
    except subprocess.TimeoutExpired:
        raise ModelLoadError(f"{path.name} could not be read as a Keras model: reading its "
                             f"description took over {_H5_READER_SECONDS} s (a damaged file)"
                             ) from None
    if done.returncode == 3:
        return None  # no description: Keras says what the file is not
    if done.returncode != 0:
        reason = _last_line(done.stderr.decode("utf-8", "replace"))
        if "MemoryError" in reason or "Unable to allocate" in reason:
            reason = "its description claims more memory than a model needs (a damaged file)"
        raise ModelLoadError(f"{path.name} could not be read as a Keras model: {reason}")
    _check_config_size(path, len(done.stdout))
    try:
        return json.loads(done.stdout)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path.name} could not be read as a Keras model: its "
                             f"description is not JSON ({error})") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _check_config_size(path: Path, size: int) -> None:
    if size > CONFIG_LIMIT:
        raise ModelLoadError(
            f"{path.name} describes its architecture in {size / 2 ** 20:.0f} MiB, more than "
            f"the {CONFIG_LIMIT // 2 ** 20} MiB a model needs: the file is damaged or hostile")


def _verify_checksum(path: Path, expected: str | None) -> None:
    """Compare the file with ``expected``, else with the checksum file beside it, if any."""
    source = "the SHA-256 given"
    if expected is None:
        beside = path.with_name(path.name + ".sha256")
        if not beside.is_file():
            return
        words = beside.read_text(errors="replace").split()
        expected, source = (words[0] if words else ""), beside.name
    if file_sha256(path) != expected.strip().lower():
        raise ModelLoadError(f"{path.name} does not match {source}: the file is corrupted or "
                             "was changed")


def _runs_stored_code(config) -> bool:
    """Whether the description holds code Keras would execute: a Lambda layer's function
    (Keras 3 stores it as ``__lambda__``, Keras 2 with ``function_type: lambda``)."""
    if isinstance(config, dict):
        if config.get("class_name") in ("Lambda", "__lambda__") or \
                config.get("function_type") == "lambda":
            return True
        return any(_runs_stored_code(value) for value in config.values())
    if isinstance(config, list):
        return any(_runs_stored_code(value) for value in config)
    return False


def _load_error(path: Path, error: Exception, trusted: bool) -> Exception:
    """The one-line error for an exception of Keras' loading."""
    text = str(error)
    missing = re.search(r"Could not locate (?:class|function) '([^']+)'", text)
    if missing:
        name = missing.group(1)
        registered = re.search(r"'registered_name': '([^']+)'", text[missing.end():])
        key = registered.group(1) if registered else name  # what Keras looks it up by
        return ModelLoadError(
            f"{path.name} uses a custom class {name!r} that is not available here: pass "
            f"custom_objects={{{key!r}: {name}}} to load_model, or in the app load the "
            f".py file that defines it (File > Load methods…) before opening the model")
    if not trusted and "safe_mode=False" in text:  # Keras' own refusal, for code we missed
        return UnsafeModelError(
            f"{path.name} contains code that Keras would have to execute to load it; load it "
            "only if you trust its source: load_model(path, trusted=True), or confirm in the app")
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return ModelLoadError(f"{path.name} could not be read as a Keras model: {first_line}")


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
    if any(getattr(layer, "data_format", None) == "channels_first"
           for layer in _all_layers(model)):
        raise UnsupportedModelError(
            f"model {model.name!r} takes channels-first images (batch, channels, height, "
            f"width), input {tuple(inputs[0].shape)}: only channels-last models are supported")
    return model


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


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
