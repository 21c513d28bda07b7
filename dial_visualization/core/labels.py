"""Class names from a labels file: one name per line, or a JSON list or {index: name} dict
(Keras' ``class_indices`` {name: index} is accepted too)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import LabelsError


def check_labels(labels: list[str] | None, classes: int, source: str = "") -> list[str] | None:
    """``labels`` if there is one name per class, else :class:`LabelsError` with both counts:
    names of another model would title every result with a wrong class."""
    if labels is None:
        return None
    if len(labels) != classes:
        where = f" in {source}" if source else ""
        raise LabelsError(f"{len(labels)} class names{where}, but the model's output scores "
                          f"{classes} classes: these names belong to another model")
    return list(labels)


#: The most classes a labels file may name (a few bytes of JSON can claim billions).
MAX_CLASSES = 100_000
#: The largest labels file read.
MAX_BYTES = 16 * 2 ** 20


def load_labels(path: str | Path) -> list[str]:
    """The class names in ``path``; a file that names none, a negative index or more than
    :data:`MAX_CLASSES` classes is refused."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise LabelsError(f"{path.name} is larger than {MAX_BYTES // 2 ** 20} MiB: not a "
                              "labels file")
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of a name
    except (OSError, UnicodeDecodeError) as error:
        raise LabelsError(f"cannot read labels file {path.name}: {error}") from error
    names = _names(text, path)
    if not names:
        raise LabelsError(f"{path.name} names no classes")
    if len(names) > MAX_CLASSES:
        raise LabelsError(f"{path.name} names {len(names)} classes, more than {MAX_CLASSES}")
    return names


def _names(text: str, path: Path) -> list[str]:
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise LabelsError(f"{path.name} is not valid JSON: {error}") from error
        if isinstance(loaded, dict):
            by_index = _by_index(loaded, path.name)
            return [by_index.get(i, str(i)) for i in range(max(by_index) + 1)] if by_index else []
        if not isinstance(loaded, list):
            raise LabelsError(f"{path.name}: expected a JSON list or object of names")
        return [_name(v) for v in loaded]
    return [line.strip() for line in text.splitlines() if line.strip()]


def class_named(name: str, labels: list[str]) -> int:
    """The index of the class called ``name``; a name that two classes share is refused."""
    indices = [index for index, label in enumerate(labels) if label == name]
    if len(indices) > 1:
        raise LabelsError(f"{len(indices)} classes are named {name!r} (classes "
                          f"{', '.join(map(str, indices))}): give the index")
    if not indices:
        raise LabelsError(f"no class is named {name!r}")
    return indices[0]


def _by_index(mapping: dict, file_name: str) -> dict[int, str]:
    """{index: name} from {"0": name} or from Keras' ``class_indices`` {name: 0}."""
    if mapping and all(isinstance(v, int) and not isinstance(v, bool) for v in mapping.values()):
        mapping = {index: name for name, index in mapping.items()}
    try:
        by_index = {int(k): _name(v) for k, v in mapping.items()}
    except ValueError:
        raise LabelsError(
            f"{file_name}: a JSON object must map class indices to names") from None
    wrong = [index for index in by_index if not 0 <= index < MAX_CLASSES]
    if wrong:
        raise LabelsError(f"{file_name}: class index {wrong[0]} is not between 0 and "
                          f"{MAX_CLASSES - 1}")
    return by_index


def _name(value) -> str:
    """Accept Keras' ImageNet style ``["n01440764", "tench"]`` entries as well as plain names."""
    if isinstance(value, (list, tuple)) and value:
        return str(value[-1])
    return str(value)
