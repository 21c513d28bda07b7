"""The notebook API: load a model and an image, explain, list the methods."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .core.explain import execute, request
from .core.images import MAX_SIDE, InputImage
from .core.images import load_image as _load_image
from .core.labels import load_labels
from .core.models import load_model
from .core.preprocessing import Preprocessing, PreprocessingWarning, compare_presets
from .core.registry import Method, HandlerConfiguration
from .core.result import Result
from .core.workspace import Workspace

__all__ = ["PreprocessingWarning", "available_methods", "explain", "load_image", "load_labels",
           "load_model"]


def load_image(source, model, preprocessing=None, max_side: int = MAX_SIDE) -> InputImage:
    """Load an image (path, array or Pillow image) for ``model``; see ``core.images``.

    The preprocessing is ``preprocessing`` if given, else the one the model carries or its
    architecture expects, else "unit"; ``image.preprocessing_reason`` says which. When the
    model's output on the image says that the preprocessing looks wrong, a
    :class:`~dial_visualization.core.preprocessing.PreprocessingWarning` names the preset
    that looks right (nothing is switched). A model that takes any input size sees the
    image with its longest side reduced to ``max_side`` (``image.size_reason`` says so).
    """
    model = load_model(model)
    image = _load_image(source, model, preprocessing, max_side)
    chosen = Preprocessing(image.preprocessing, image.preprocess, image.preprocessing_reason)
    advice = compare_presets(model, image.resized, chosen)
    if advice.message:
        warnings.warn(f"{image.name}: {advice.message}", PreprocessingWarning, stacklevel=2)
    return image


def available_methods() -> dict[str, Method]:
    """Every registered method, by id."""
    return HandlerConfiguration.default().all()


def explain(model, image, method: str, *, layer: str | None = None, target: int | None = None,
            node_type: str | None = None, labels: list[str] | str | Path | None = None,
            output_index: int = 0, device: str = "auto", preprocessing=None,
            progress=None, should_stop=None, **params: Any) -> Result:
    """Run ``method`` and return its :class:`Result`.

    ``target`` is a class index (predictions) or a channel/filter index (``layer`` given);
    ``layer`` names the layer: the one whose output or kernels are shown, or for a class
    activation map (Grad-CAM, ...) the layer whose feature maps are weighted;
    ``node_type`` ("kernel", "output", "prediction") overrides the default choice; any other
    keyword is a parameter of the method, checked against its declaration. ``labels`` must
    name every class of the explained output. Everything is checked before any work starts.
    """
    workspace = Workspace(HandlerConfiguration.default())
    workspace.set_model(load_model(model))
    checked = request(method, workspace.model, params=params, layer=layer, index=target,
                      node_type=node_type, output_index=output_index,
                      registry=workspace.registry)
    workspace.set_output_index(output_index)
    workspace.set_device(device)
    source = str(labels) if isinstance(labels, (str, Path)) else ""
    workspace.set_labels(load_labels(labels) if source else labels, source)
    if image is not None and not isinstance(image, InputImage):
        image = load_image(image, workspace.model, preprocessing)
    workspace.set_image(image)
    return execute(checked, workspace.context(), progress, should_stop)

