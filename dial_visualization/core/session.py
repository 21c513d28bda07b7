"""What a canvas holds, as plain data: enough to reproduce every tile from code.

A :class:`RunRecord` is the one serialised form of a run (the method's id, its node and its
parameters): drag-and-drop, saved sessions, Dial projects and the notebook export all write
and read it through :meth:`RunRecord.to_dict` / :meth:`RunRecord.from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import Target
from .errors import ParameterError


@dataclass(frozen=True)
class RunRecord:
    """One run as plain data: the method id (None: the node's default method), the node it
    explains and its exact parameters."""

    method: str | None
    target: Target
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from .handlers import handler_of

        return {"method": self.method, "target": handler_of(self.target).to_dict(self.target),
                "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record written by :meth:`to_dict`; a malformed one is refused in one line."""
        from .handlers import handler_of_dict

        try:
            method, node, params = data.get("method"), data["target"], data.get("params")
            params = {} if params is None else params
            if method is not None and not isinstance(method, str) or not isinstance(params, dict):
                raise TypeError
            return cls(method, handler_of_dict(node).from_dict(node), dict(params))
        except (KeyError, TypeError, AttributeError):
            raise ParameterError(f"not a run: {data!r}") from None


@dataclass
class Session:
    """The model and image files, their preprocessing, fit and labels, and the runs made.

    A session saved before ``fit`` existed (a pickled Dial project) reads it as the default,
    "stretch": unpickling restores the saved attributes only, and the missing one falls back
    to the class's default."""

    model_path: str
    image_path: str | None = None
    preprocessing: str = "unit"
    #: why that preprocessing: "chosen", "model starts with Rescaling(1/255)", ...
    preprocessing_reason: str = ""
    #: how an image of another aspect ratio meets the model's input (``images.FITS``)
    fit: str = "stretch"
    labels_path: str | None = None
    output_index: int = 0
    runs: list[RunRecord] = field(default_factory=list)
