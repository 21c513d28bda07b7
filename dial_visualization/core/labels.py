"""Class names from a labels file: one name per line, or a JSON list or {index: name} dict."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DialVisualizationError


def load_labels(path: str | Path) -> list[str]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DialVisualizationError(f"cannot read labels file {path.name}: {error}") from error
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise DialVisualizationError(f"{path.name} is not valid JSON: {error}") from error
        if isinstance(loaded, dict):
            by_index = {int(k): _name(v) for k, v in loaded.items()}
            return [by_index.get(i, str(i)) for i in range(max(by_index) + 1)] if by_index else []
        return [_name(v) for v in loaded]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _name(value) -> str:
    """Accept Keras' ImageNet style ``["n01440764", "tench"]`` entries as well as plain names."""
    if isinstance(value, (list, tuple)) and value:
        return str(value[-1])
    return str(value)
