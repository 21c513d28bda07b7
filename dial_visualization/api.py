"""The notebook API: load a model and an image, explain, list the methods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .core.context import Context, Target
from .core.explain import run
from .core.images import InputImage
from .core.images import load_image as _load_image
from .core.labels import load_labels
from .core.models import load_model
from .core.registry import Algorithm, HandlerConfiguration
from .core.result import Result

DEMO_DIR = Path(__file__).parent / "demo"

__all__ = ["available_methods", "demo_paths", "explain", "load_image", "load_labels", "load_model"]


def load_image(source, model, preprocessing=None) -> InputImage:
    """Load an image (path, array or Pillow image) for ``model``; see ``core.images``."""
    return _load_image(source, load_model(model), preprocessing)


def available_methods() -> dict[str, Algorithm]:
    """Every registered algorithm, by id."""
    return HandlerConfiguration.all()


def explain(model, image, method: str, *, layer: str | None = None, target: int | None = None,
            node_type: str | None = None, labels: list[str] | str | Path | None = None,
            output_index: int = 0, device: str = "auto", preprocessing=None,
            progress=None, should_stop=None, **params: Any) -> Result:
    """Run ``method`` and return its :class:`Result`.

    ``target`` is a class index (predictions) or a channel/filter index (``layer`` given);
    ``node_type`` ("kernel", "output", "prediction") overrides the default choice; any other
    keyword is a parameter of the method, checked against its declaration.
    """
    model = load_model(model)
    if image is not None and not isinstance(image, InputImage):
        image = _load_image(image, model, preprocessing)
    if isinstance(labels, (str, Path)):
        labels = load_labels(labels)
    context = Context(model=model, image=image, output_index=output_index, labels=labels,
                      device=device)
    node = Target(node_type, layer, target) if node_type else None
    return run(method, context, node, params, layer=layer, index=target, progress=progress,
               should_stop=should_stop)


def demo_paths() -> dict[str, Path]:
    """The built-in demo model, images and labels."""
    return {
        "model": DEMO_DIR / "demo_model.keras",
        "labels": DEMO_DIR / "labels.txt",
        "images": sorted(DEMO_DIR.glob("*.png")),
    }
