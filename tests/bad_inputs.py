"""A corpus of bad inputs, built in code (nothing downloaded): files that are no model, no
image or no labels file, or are damaged or hostile, for the CLI, the API and the widget.

``build(folder)`` writes them and returns {"models": {case: path}, "images": ...,
"labels": ...}; each case must be refused with a one-line message, leaving the tool usable.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from builders import sequential_model


def build(folder: Path) -> dict[str, dict[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"models": _models(folder / "models"), "images": _images(folder / "images"),
            "labels": _labels(folder / "labels")}


def _models(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    cases = {}

    def write(name, data: bytes) -> Path:
        cases[name] = folder / name
        cases[name].write_bytes(data)
        return cases[name]

    write("text.keras", b"not a model\n")
    write("text.h5", b"not a model\n")
    write("empty.keras", b"")
    model = sequential_model()
    model.save(folder / "real.keras")
    model.save(folder / "real.h5")
    real_keras = (folder / "real.keras").read_bytes()
    write("truncated.keras", real_keras[: len(real_keras) // 2])
    with zipfile.ZipFile(folder / "no_config.keras", "w") as archive:
        archive.writestr("readme.txt", "hello")
    cases["no_config.keras"] = folder / "no_config.keras"
    with zipfile.ZipFile(folder / "real.keras") as real, \
            zipfile.ZipFile(folder / "inflated.keras", "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in real.namelist():
            data = real.read(name)
            bomb.writestr(name, data[:-1] + b" " * (65 * 2 ** 20) + data[-1:]
                          if name == "config.json" else data)
    cases["inflated.keras"] = folder / "inflated.keras"
    write("corrupted_length.h5", _with_corrupted_config_length(folder / "real.h5"))
    inputs = keras.Input((16, 16, 3))
    lambda_model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    lambda_model.save(folder / "lambda.keras")
    cases["lambda.keras"] = folder / "lambda.keras"
    (folder / "folder.keras").mkdir()
    cases["folder.keras"] = folder / "folder.keras"
    cases["missing.keras"] = folder / "missing.keras"
    write("model.txt", real_keras)
    return cases


def _with_corrupted_config_length(path: Path) -> bytes:
    """The .h5 file with its description's length field claiming 4 GiB."""
    data = bytearray(path.read_bytes())
    config = data.find(b'{"class_name"')
    size, = struct.unpack("<Q", data[config - 8:config])
    collection = data.rfind(b"GCOL", 0, config)
    index, = struct.unpack("<H", data[config - 16:config - 14])
    descriptor = data.find(struct.pack("<IQI", size, collection, index))
    struct.pack_into("<I", data, descriptor, 0xFFFFFFF0)
    return bytes(data)


def _images(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    cases = {}

    def write(name, data: bytes) -> None:
        cases[name] = folder / name
        cases[name].write_bytes(data)

    write("text.png", b"not an image\n")
    write("empty.png", b"")
    buffer = folder / "real.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer)
    real = buffer.read_bytes()
    write("truncated.png", real[: len(real) // 2])
    write("bomb.png", _png_claiming(30000, 30000))
    counts = Image.fromarray(np.linspace(0, 1000, 256, dtype=np.float32).reshape(16, 16))
    counts.save(folder / "counts.tiff")
    cases["counts.tiff"] = folder / "counts.tiff"
    cases["missing.png"] = folder / "missing.png"
    return cases


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _labels(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    texts = {
        "empty.txt": "",
        "blank_lines.txt": "\n\n\n",
        "negative.json": json.dumps({"-1": "cat", "0": "dog"}),
        "huge_index.json": json.dumps({"2000000000": "cat"}),
        "wrong_count.txt": "cat\ndog\n",  # the demo model has 4 classes
        "broken.json": '["cat", ',
        "not_names.json": '"cat"',
    }
    cases = {}
    for name, text in texts.items():
        cases[name] = folder / name
        cases[name].write_text(text)
    cases["binary.txt"] = folder / "binary.txt"
    cases["binary.txt"].write_bytes(b"\xff\xfe\x00\x81")
    cases["missing.txt"] = folder / "missing.txt"
    return cases
