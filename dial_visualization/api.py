"""The notebook API: load a model and an image, explain, list the methods."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .core.batch_explain import is_many
from .core.errors import ImageLoadError
from .core.explain import execute, request
from .core.images import MAX_SIDE, InputImage
from .core.images import load_image as _load_image
from .core.labels import load_labels
from .core.models import load_model
from .core.preprocessing import Preprocessing
from .core.preprocessing_check import PreprocessingWarning, compare_presets
from .core.registry import Method, HandlerConfiguration
from .core.result import Result
from .core.workspace import Workspace

__all__ = ["PreprocessingWarning", "available_methods", "available_metrics", "embed",
           "evaluate", "explain", "load_image", "load_labels", "load_model"]


def load_image(source, model, preprocessing=None, max_side: int = MAX_SIDE,
               fit: str = "stretch") -> InputImage:
    """Load an image (path, array or Pillow image) for ``model``; see ``core.images``.

    The preprocessing is ``preprocessing`` if given, else the one the model carries or its
    architecture expects, else "unit"; ``image.preprocessing_reason`` says which. When the
    model's output on the image says that the preprocessing looks wrong, a
    :class:`~dial_visualization.core.preprocessing.PreprocessingWarning` names the preset
    that looks right (nothing is switched). A model that takes any input size sees the
    image with its longest side reduced to ``max_side`` (``image.size_reason`` says so). An
    image of another aspect ratio than the model's input is stretched to it, or with ``fit``
    "crop" its centre cropped, or "pad" padded with black.
    """
    model = load_model(model)
    image = _load_image(source, model, preprocessing, max_side, fit)
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
            progress=None, should_stop=None, **params: Any) -> Result | list[Result]:
    """Run ``method`` and return its :class:`Result`; on many images (a list of paths,
    arrays or loaded images, a folder, an (N, H, W, C) array) a list of one result per
    image, each equal to that image's own result (see ``core.batch_explain``: images are
    read a batch at a time, and saliency, guided backprop, Grad-CAM and Grad-CAM++ run a
    whole batch per model call; an image that cannot be read or explained raises, named).

    ``target`` is a class index (predictions) or a channel/filter index (``layer`` given);
    ``layer`` names the layer: the one whose output or kernels are shown, or for a class
    activation map (Grad-CAM, ...) the layer whose feature maps are weighted;
    ``node_type`` ("kernel", "output", "prediction") overrides the default choice; any other
    keyword is a parameter of the method, checked against its declaration. ``labels`` must
    name every class of the explained output. Everything is checked before any work starts.
    """
    workspace = _workspace(model)
    checked = request(method, workspace.model, params=params, layer=layer, index=target,
                      node_type=node_type, output_index=output_index,
                      registry=workspace.registry)
    if is_many(image):
        _complete(workspace, output_index, device, labels)
        return _explain_many(checked, workspace.context(), image, preprocessing, progress,
                             should_stop)
    _complete(workspace, output_index, device, labels, image, preprocessing)
    return execute(checked, workspace.context(), progress, should_stop)


def _workspace(model) -> Workspace:
    """A document on ``model`` (a path or a loaded model), with the shared registry."""
    workspace = Workspace(HandlerConfiguration.default())
    workspace.set_model(load_model(model))
    return workspace


def _complete(workspace: Workspace, output_index: int, device: str, labels, image=None,
              preprocessing=None) -> None:
    """The rest of the document, once the run is checked: output, device, labels (a list
    or a file) and the image (loaded for the model unless it is an InputImage)."""
    workspace.set_output_index(output_index)
    workspace.set_device(device)
    source = str(labels) if isinstance(labels, (str, Path)) else ""
    workspace.set_labels(load_labels(labels) if source else labels, source)
    if image is not None and not isinstance(image, InputImage):
        image = load_image(image, workspace.model, preprocessing)
    workspace.set_image(image)


def _explain_many(checked, context, images, preprocessing, progress, should_stop
                  ) -> list[Result]:
    """One result per image of ``images``; the preprocessing is checked on the first
    image (a wrong one is wrong for all) unless it came loaded (``load_image`` checked it,
    as for one image)."""
    from .core.batch_explain import ImageOutcome, explain_images, image_loader, image_sources
    sources = image_sources(images)
    results = []
    for outcome in explain_images([checked], context, sources,
                                  image_loader(context, preprocessing), progress=progress,
                                  should_stop=should_stop):
        outcome: ImageOutcome
        if outcome.error is not None:
            raise type(outcome.exception)(f"{outcome.name}: {outcome.error}")
        if not results and not isinstance(sources[0], InputImage):
            _warn_on_preprocessing(context, outcome.image)
        results.append(outcome.results[0])
    return results


def _warn_on_preprocessing(context, image: InputImage) -> None:
    chosen = Preprocessing(image.preprocessing, image.preprocess, image.preprocessing_reason)
    advice = compare_presets(context.model, image.resized, chosen,
                             output_index=context.output_index, device=context.device)
    if advice.message:
        warnings.warn(f"{image.name}: {advice.message}", PreprocessingWarning, stacklevel=3)


def evaluate(model, image, method, metric: str, *, layer: str | None = None,
             target: int | None = None, labels: list[str] | str | Path | None = None,
             output_index: int = 0, device: str = "auto", preprocessing=None,
             method_params: dict[str, Any] | None = None, progress=None, should_stop=None,
             **params: Any):
    """How far ``method``'s map of ``image`` can be trusted, by ``metric``: an
    :class:`~dial_visualization.core.metrics.Evaluation` (its ``score``, its ``curve`` with
    ``columns``, ``info``).

    ``metric`` is ``"deletion"``, ``"insertion"``, ``"mu-fidelity"`` or
    ``"model-randomization"`` (see ``available_metrics()``); every other keyword is a
    parameter of the metric, ``method_params`` the method's own. ``method`` is a method id
    (any registered one), or an (H, W) map over the input as the model sees it, judged as
    given. ``target`` is the class explained (default: the top class); ``layer`` a class
    activation map's layer. Everything is checked before any work starts.
    """
    import numpy as np

    from .core.context import Target
    from .core.errors import ParameterError
    from .core.metrics import evaluate as run_metric
    from .core.metrics import get_metric

    chosen = get_metric(metric)
    chosen.resolve_params(params)
    workspace = _workspace(model)
    checked, given = None, None
    if isinstance(method, str):
        checked = request(method, workspace.model, params=method_params, layer=layer,
                          index=target, node_type="prediction", output_index=output_index,
                          registry=workspace.registry)
    else:
        given = np.asarray(method)
        if method_params or layer is not None:
            raise ParameterError("a map given as is takes no method parameters or layer")
    _complete(workspace, output_index, device, labels, image, preprocessing)
    return run_metric(chosen, workspace.context(), checked, given_map=given,
                      target=None if target is None else Target("prediction", None, target),
                      params=params, progress=progress, should_stop=should_stop)


def available_metrics():
    """Every metric, by id (``dv.evaluate``'s ``metric``)."""
    from .core.metrics import METRICS

    return dict(METRICS)


def embed(model, images, *, layer: str | None = None, method: str = "pca",
          labels: list[str] | str | Path | None = None, output_index: int = 0,
          device: str = "auto", preprocessing=None, seed: int = 0, progress=None,
          should_stop=None):
    """Each image as a point of the plane, near the images that ``layer`` sees alike: an
    :class:`~dial_visualization.core.embedding.Embedding` (``points`` (N, 2), ``sources``,
    ``true`` and ``predicted`` classes, ``layer``, ``errors``).

    ``images`` is a folder (of class subfolders, whose names are the true classes, as
    ``predict`` reads it; or of images), a list of images or an (N, H, W, C) array.
    ``layer`` is averaged over its spatial positions (default: the layer before the
    classifier); ``method`` is ``"pca"``, ``"tsne"`` or ``"umap"`` (the last two need
    ``pip install 'dial-visualization[embedding]'``), with a fixed ``seed``.
    """
    from .core import embedding
    from .core.batch_explain import image_loader, image_sources
    from .core.dataset import dataset_rows

    if isinstance(images, (str, Path)) and not Path(images).exists():
        raise ImageLoadError(f"no such image file or folder: {images}")
    workspace = _workspace(model)
    layer = embedding.check_layer(workspace.model, layer, output_index)
    _complete(workspace, output_index, device, labels)
    context = workspace.context()
    true = None
    if isinstance(images, (str, Path)) and Path(images).is_dir():
        rows, _ = dataset_rows(images, context.labels, workspace.class_count())
        images, true = [row["path"] for row in rows], [row["true"] for row in rows]
    return embedding.compute(context, image_sources(images), layer, method,
                             image_loader(context, preprocessing), true=true, seed=seed,
                             progress=progress, should_stop=should_stop)
