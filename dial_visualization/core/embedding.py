"""One layer's activations over many images, pooled per image and projected to a plane.

The embedding view of a dataset (after TensorWatch's): each image becomes one point, near
the images the layer sees alike. :func:`pooled_activations` runs the model over the images
a batch at a time (``core.batch_explain``'s loader and batch size; one forward pass per
batch gives the layer's output and the model's prediction) and averages a feature map over
its spatial positions (global average pooling; a vector, such as a dense layer's output, is
kept as it is). :func:`project` maps the features to two dimensions:

- ``"pca"``: principal component analysis (scikit-learn), instant; a good choice for a few
  images;
- ``"tsne"``: t-SNE (van der Maaten and Hinton 2008), openTSNE when installed, else
  scikit-learn's; keeps neighbourhoods;
- ``"umap"``: UMAP (McInnes, Healy and Melville 2018, umap-learn); keeps neighbourhoods and
  more of the global layout.

Seeds are fixed: the same features give the same points.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .context import Context
from .errors import DialVisualizationError, ParameterError

#: Projection methods, by id: their names as the app shows them.
METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}

#: The fewest images each method can place.
FEWEST_IMAGES = {"pca": 2, "tsne": 4, "umap": 4}

#: What to install for t-SNE and UMAP.
INSTALL_HINT = "pip install 'dial-visualization[embedding]'"

#: The package that installs each library.
_PACKAGES = {"sklearn": "scikit-learn", "openTSNE": "openTSNE", "umap": "umap-learn"}

#: The default perplexity of t-SNE and neighbours of UMAP (lowered for fewer images).
PERPLEXITY = 30.0
NEIGHBOURS = 15


class EmbeddingError(ParameterError):
    """An embedding that cannot be computed: a layer, a method, too few images, a library
    that is not installed."""


@dataclass
class Features:
    """The pooled activations of ``layer``: one row of ``values`` per image that could be
    read (``positions``: its index in the sources), the model's top class of each
    (``predicted``), and the one-line ``errors`` of the others, by index."""

    layer: str
    values: np.ndarray
    positions: list[int]
    predicted: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)


@dataclass
class Embedding:
    """Images as points: ``points`` (N, 2), one per image that could be read, its
    ``source``, its true class (-1: none) and the model's top class, by ``method`` from the
    pooled output of ``layer``; ``errors``: (source, one-line error) of the other images."""

    points: np.ndarray
    sources: list
    true: np.ndarray
    predicted: np.ndarray
    layer: str
    method: str
    errors: list = field(default_factory=list)


def compute(context: Context, sources: Sequence, layer: str | None = None,
            method: str = "pca", load: Callable[[Any], Any] | None = None, *,
            true: Sequence[int] | None = None, batch_size: int = 0, seed: int = 0,
            progress: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Embedding:
    """The :class:`Embedding` of ``sources`` (``true``: the true class of each, default
    none) by ``method`` from ``layer`` (default: :func:`default_layer`): the activations a
    batch at a time (90% of ``progress``, cancellable between batches), then the
    projection. The layer, the method and the number of images are checked first."""
    layer = check_layer(context.model, layer, context.output_index)
    sources = list(sources)
    if method not in METHODS:
        raise EmbeddingError(f"unknown projection {method!r}: use one of {', '.join(METHODS)}")
    if len(sources) < FEWEST_IMAGES[method]:
        raise EmbeddingError(f"{METHODS[method]} needs at least {FEWEST_IMAGES[method]} "
                             f"images ({len(sources)} given)")
    report = progress or (lambda fraction: None)
    features = pooled_activations(context, sources, layer, load, batch_size=batch_size,
                                  progress=lambda fraction: report(0.9 * fraction),
                                  should_stop=should_stop)
    if features.errors and len(features.values) < FEWEST_IMAGES[method]:
        position, error = next(iter(features.errors.items()))
        raise EmbeddingError(f"{METHODS[method]} needs at least {FEWEST_IMAGES[method]} "
                             f"images: {len(features.errors)} of {len(sources)} could not "
                             f"be read ({_name(sources[position], position)}: {error})")
    points = project(features.values, method, seed=seed)
    report(1.0)
    true = np.full(len(sources), -1) if true is None else np.asarray(true)
    return Embedding(points, [sources[p] for p in features.positions],
                     true[features.positions].astype(np.int64), features.predicted, layer,
                     method, [(sources[p], error) for p, error in features.errors.items()])


def _name(source, position: int) -> str:
    """A source in words: its path, or "image N" for an array."""
    return str(source) if isinstance(source, (str, Path)) else f"image {position}"


# --------------------------------------------------------------------------- the layer

def default_layer(model, output_index: int = 0) -> str:
    """The layer before the classifier: the last layer whose output is one vector per image
    of another width than the model's output (the pooled features, or the last dense layer
    before the output), else the last feature map (pooled when embedded)."""
    from .layers import LayerTree

    tree = LayerTree.of(model)
    outputs = model.outputs[output_index] if len(model.outputs) > 1 else model.outputs[0]
    width = outputs.shape[-1]
    vectors = [node for node in tree.walk()
               if not node.children and node.type != "InputLayer" and node.output_shapes
               and len(node.output_shapes[0]) == 2 and node.output_shapes[0][-1] != width]
    if vectors:
        return vectors[-1].path
    feature_map = tree.last_feature_map()
    if feature_map is None:
        raise EmbeddingError(f"{model.name} has no feature map or hidden dense layer to embed")
    return feature_map.path


def embeddable_layers(model) -> list[str]:
    """The paths of the layers that can be embedded (every layer but inputs and nested
    models, whose own layers are listed), in the model's order."""
    from .layers import LayerTree

    return [node.path for node in LayerTree.of(model).walk()
            if not node.children and node.type != "InputLayer"]


def check_layer(model, layer: str | None, output_index: int = 0) -> str:
    """``layer`` if the model has it (default: :func:`default_layer`)."""
    if layer is None:
        return default_layer(model, output_index)
    names = embeddable_layers(model)
    if layer not in names:
        shown = ", ".join(names[-6:])
        raise EmbeddingError(f"no layer {layer!r} to embed in {model.name} (its last "
                             f"layers: {shown})")
    return layer


# --------------------------------------------------------------------------- activations

def pool(activations: np.ndarray) -> np.ndarray:
    """One vector per image: the mean over every axis between the first (images) and the
    last (channels); a (N, D) array as it is."""
    activations = np.asarray(activations, np.float32)
    if activations.ndim <= 2:
        return activations.reshape(len(activations), -1)
    return activations.mean(axis=tuple(range(1, activations.ndim - 1)))


def pooled_activations(context: Context, sources: Sequence, layer: str,
                       load: Callable[[Any], Any] | None = None, *, batch_size: int = 0,
                       progress: Callable[[float], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> Features:
    """The pooled output of ``layer`` (a checked path, see :func:`check_layer`) on every
    image of ``sources``, read by ``load`` (default: ``batch_explain.image_loader``)
    ``batch_size`` at a time (0: the size measured on the model). ``progress`` gets the
    fraction of images done; ``should_stop`` is polled between batches."""
    import tensorflow as tf

    from .batch_explain import class_probabilities, image_batch_size, image_loader
    from .tf_ops import batches, layer_output_function

    load = load or image_loader(context)
    sources = list(sources)
    function = layer_output_function(context.model, (layer,),
                                     output_index=context.output_index, device=context.device)
    rows: dict[int, tuple[np.ndarray, int]] = {}
    errors: dict[int, str] = {}
    for part in batches(len(sources), batch_size or image_batch_size(context.model),
                        progress, should_stop):
        by_size: dict[tuple, list[tuple[int, np.ndarray]]] = {}
        for position in range(part.start, part.stop):
            try:
                array = load(sources[position]).array
            except DialVisualizationError as error:
                errors[position] = str(error)
                continue
            by_size.setdefault(array.shape, []).append((position, array))
        for group in by_size.values():
            outputs, taps = function(tf.constant(np.stack([array for _, array in group])))
            outputs = np.asarray(outputs).reshape(len(group), -1)
            for (position, _), vector, output in zip(group, pool(taps[layer]), outputs):
                rows[position] = vector, int(np.argmax(class_probabilities(output)))
    positions = sorted(rows)
    values = (np.stack([rows[p][0] for p in positions]).astype(np.float32) if rows
              else np.zeros((0, 0), np.float32))
    return Features(layer, values, positions,
                    np.array([rows[p][1] for p in positions], np.int64), errors)


# --------------------------------------------------------------------------- projection

def project(values: np.ndarray, method: str = "pca", *, seed: int = 0,
            perplexity: float | None = None, neighbours: int | None = None) -> np.ndarray:
    """(N, 2) points of the (N, D) ``values`` by ``method`` (see :data:`METHODS`).

    ``perplexity`` (t-SNE) and ``neighbours`` (UMAP) default to 30 and 15, lowered to what
    ``N`` images allow; a value given needs more than ``3 * perplexity`` images (t-SNE) or
    more than ``neighbours`` images (UMAP).
    """
    values = np.asarray(values, np.float32)
    if method not in METHODS:
        raise EmbeddingError(f"unknown projection {method!r}: use one of {', '.join(METHODS)}")
    count = len(values)
    if count < FEWEST_IMAGES[method]:
        raise EmbeddingError(f"{METHODS[method]} needs at least {FEWEST_IMAGES[method]} "
                             f"images ({count} given)")
    if method == "pca":
        return pca(values, seed)
    if method == "tsne":
        if perplexity is None:
            perplexity = min(PERPLEXITY, (count - 1) / 3)
        elif count <= 3 * perplexity:
            raise EmbeddingError(f"t-SNE at perplexity {perplexity:g} needs more than "
                                 f"{3 * perplexity:g} images ({count} given): lower the "
                                 "perplexity or use PCA")
        return tsne(values, perplexity, seed)
    if neighbours is None:
        neighbours = min(NEIGHBOURS, count - 1)
    elif not 2 <= neighbours < count:
        raise EmbeddingError(f"UMAP with {neighbours} neighbours needs more than "
                             f"{neighbours} images ({count} given), and at least 2 "
                             "neighbours: lower them or use PCA")
    return umap(values, neighbours, seed)


def pca(values: np.ndarray, seed: int = 0) -> np.ndarray:
    """The first two principal components' coordinates (a missing one is 0)."""
    decomposition = _library("sklearn.decomposition", "PCA")
    components = min(2, *values.shape)
    points = decomposition.PCA(n_components=components, random_state=seed).fit_transform(values)
    return np.pad(points, ((0, 0), (0, 2 - components))).astype(np.float32)


def tsne(values: np.ndarray, perplexity: float, seed: int = 0, library: str | None = None
         ) -> np.ndarray:
    """t-SNE by ``library`` ("opentsne" or "sklearn"; default: openTSNE when installed,
    else scikit-learn)."""
    if library in (None, "opentsne"):
        try:
            opentsne = _library("openTSNE", "t-SNE")
        except EmbeddingError:
            if library is not None:
                raise
        else:
            embedded = opentsne.TSNE(n_components=2, perplexity=perplexity,
                                     random_state=seed, n_jobs=1, verbose=False).fit(values)
            return np.asarray(embedded, np.float32)
    manifold = _library("sklearn.manifold", "t-SNE")
    return manifold.TSNE(n_components=2, perplexity=perplexity, init="pca",
                         random_state=seed).fit_transform(values).astype(np.float32)


def umap(values: np.ndarray, neighbours: int, seed: int = 0) -> np.ndarray:
    """UMAP (umap-learn) with ``neighbours`` neighbours, one thread (a fixed seed)."""
    library = _library("umap", "UMAP")
    with warnings.catch_warnings():  # a fixed seed runs one thread, as asked
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        points = library.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed,
                              n_jobs=1).fit_transform(values)
    return np.asarray(points, np.float32)


def _library(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = _PACKAGES[module.split(".")[0]]
        raise EmbeddingError(f"{what} needs {package}: {INSTALL_HINT}") from None
