"""What a canvas holds, as plain data: enough to reproduce every tile from code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One tile: the method, its node (type, layer path, index) and its exact parameters."""

    method: str
    node_type: str
    layer: str | None
    index: int | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """The model and image files, their preprocessing and labels, and the runs made."""

    model_path: str
    image_path: str | None = None
    preprocessing: str = "unit"
    #: why that preprocessing: "chosen", "model starts with Rescaling(1/255)", ...
    preprocessing_reason: str = ""
    labels_path: str | None = None
    output_index: int = 0
    runs: list[RunRecord] = field(default_factory=list)
