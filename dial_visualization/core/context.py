"""What a method runs on (:class:`Context`) and what it explains (:class:`Target`)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ParameterError

if TYPE_CHECKING:
    import keras
    import numpy as np

    from .images import InputImage


_KEBAB_CASE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class NodeType(str, enum.Enum):
    """The built-in node types: a layer's filters, its output, or a class score. A third
    party's node type (with its own handler, see ``core.handlers``) is a kebab-case str."""

    KERNEL = "kernel"
    OUTPUT = "output"
    PREDICTION = "prediction"


def node_type_of(value) -> NodeType | str:
    """``value`` as a :class:`NodeType`, or as the kebab-case name of a custom node type."""
    try:
        return NodeType(value)
    except ValueError:
        if isinstance(value, str) and _KEBAB_CASE.match(value):
            return value
        kinds = ", ".join(t.value for t in NodeType)
        raise ParameterError(f"node_type: {value!r} is not one of {kinds}") from None


def node_type_name(node_type) -> str:
    """The plain name of a node type ("kernel", or a custom type's own name)."""
    return node_type.value if isinstance(node_type, NodeType) else str(node_type)


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
        object.__setattr__(self, "node_type", node_type_of(self.node_type))

    def describe(self, labels: list[str] | None = None) -> str:
        """The node in words, as its handler says it (see ``core.handlers``)."""
        from .handlers import handler_of

        return handler_of(self).describe(self, labels)


@dataclass
class Context:
    """The model (and output) being explained, the input image, labels and device."""

    model: keras.Model
    image: InputImage | None = None
    output_index: int = 0
    labels: list[str] | None = None
    device: str = "auto"
    #: The explained output on the image, once computed (a copy made with another image,
    #: ``dataclasses.replace``, starts without it).
    _outputs: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def outputs(self) -> np.ndarray:
        """The explained output of the model on the image, flattened; one forward pass per
        context, shared by the top class, the class score and a batch that computed it."""
        if self._outputs is None:
            from .batch_explain import model_outputs

            self.remember_outputs(model_outputs(self, self.require_image().batch())[0])
        return self._outputs

    @property
    def has_outputs(self) -> bool:
        return self._outputs is not None

    def remember_outputs(self, outputs: np.ndarray) -> None:
        """Keep ``outputs``, computed for this context's image elsewhere (in a batch)."""
        self._outputs = outputs

    def require_image(self) -> InputImage:
        from .errors import MethodNotApplicableError

        if self.image is None:
            raise MethodNotApplicableError("this method needs an input image: load one first")
        return self.image
