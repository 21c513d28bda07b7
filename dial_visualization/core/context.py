"""What an algorithm runs on (:class:`Context`) and what it explains (:class:`Target`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .registry import NodeType

if TYPE_CHECKING:
    import keras

    from .images import InputImage


@dataclass(frozen=True)
class Target:
    """A tree node: a layer's kernels or output (optionally one channel), or a class.

    ``layer`` is a layer path (``"base/conv1"`` inside nested models); for predictions it
    is ``None``. ``index`` is a filter, channel or class index; ``None`` means the whole
    layer, or for predictions the top-scoring class.
    """

    node_type: NodeType
    layer: str | None = None
    index: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "node_type", NodeType(self.node_type))

    def describe(self, labels: list[str] | None = None) -> str:
        if self.node_type is NodeType.PREDICTION:
            if self.index is None:
                return "top class"
            if labels and 0 <= self.index < len(labels):
                return f"class {self.index} ({labels[self.index]})"
            return f"class {self.index}"
        what = {NodeType.KERNEL: "filter", NodeType.OUTPUT: "channel"}[self.node_type]
        return self.layer if self.index is None else f"{self.layer} {what} {self.index}"


@dataclass
class Context:
    """The model (and output) being explained, the input image, labels and device."""

    model: keras.Model
    image: InputImage | None = None
    output_index: int = 0
    labels: list[str] | None = None
    device: str = "auto"

    def require_image(self) -> InputImage:
        from .errors import MethodNotApplicableError

        if self.image is None:
            raise MethodNotApplicableError("this method needs an input image: load one first")
        return self.image
