"""Many images at once: streamed from disk in batches, one result per image and run.

A folder of 10,000 images is never held in memory: :func:`explain_images` loads one batch
of images at a time (the batch size measured on the model, as ``core.batch_size`` does for
the batched methods, within its memory limit), runs every request on the batch and yields
one :class:`ImageOutcome` per image before it loads the next batch.

Methods that need one model call per image (saliency, guided backprop, Grad-CAM,
Grad-CAM++) have a batched form, registered with :func:`batched`: one model call runs the
whole batch, each image with its own top class, and gives each image's output too.
Integrated gradients, SmoothGrad, occlusion, Score-CAM and RISE have one as well: the path
points (noisy, occluded, masked copies) of every image of the batch form one stream of
model calls, of the size measured on the model (``core.batch_size``). Other methods run
image by image (they batch their own passes: samples). Either way each result is the
one-image result: the same function computes both (a one-image run is a batch of one), and
the framework stamps it as :func:`~.explain.execute` stamps a one-image run (id, title,
parameters, preprocessing, constant-map warning).

An image that cannot be read, or on which a method fails, gives an outcome with its
``error`` and the run goes on with the next one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .attribution import ALL_CHANNELS
from .context import Context, Target
from .errors import DialVisualizationError, ImageLoadError
from .images import IMAGE_SUFFIXES, MAX_SIDE, InputImage, load_image

if TYPE_CHECKING:  # the core's TensorFlow side is imported when images are explained
    from .explain import RunRequest
    from .registry import Method


#: ``run`` function of a method -> its batched form (see :func:`batched`).
_BATCHED: dict[Callable, Callable] = {}


# --------------------------------------------------------------------------- what is many

def folder_images(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(path for path in Path(folder).iterdir()
                  if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def is_many(images) -> bool:
    """Whether ``images`` names several images: a list or tuple, a folder, or an
    (N, H, W, C) array (an array of one image, (1, H, W, C), is one image, as always)."""
    if isinstance(images, (list, tuple)):
        return True
    if isinstance(images, (str, Path)):
        return Path(images).is_dir()
    return isinstance(images, np.ndarray) and images.ndim == 4 and len(images) != 1


def image_sources(images) -> list:
    """The sources (paths, arrays, Pillow images, loaded images) that ``images`` names: a
    folder's image files, an array's images, a list as it is. Nothing is read yet."""
    if isinstance(images, (str, Path)) and Path(images).is_dir():
        found = folder_images(images)
        if not found:
            raise ImageLoadError(f"no images in folder {images}")
        return found
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return list(images)
    if isinstance(images, (list, tuple)):
        return list(images)
    return [images]


# --------------------------------------------------------------------------- batched methods

def batched(method: Method):
    """Register the decorated function as ``method``'s batched form.

    ``run_batch(contexts, target, params, progress, should_stop) -> [Result, ...]`` runs
    the method on every context's image (one model, output, device and labels; images of
    one size) and returns one unstamped result per context, each equal to what
    ``method.run`` gives for that context alone.
    """
    def register(run_batch: Callable) -> Callable:
        _BATCHED[method.run] = run_batch
        return run_batch

    return register


def batched_form(method: Method) -> Callable | None:
    """The batched form of ``method`` (None: it runs image by image)."""
    return _BATCHED.get(method.run)


def resolve_objectives(contexts: Sequence[Context], target: Target
                       ) -> tuple[np.ndarray, str | None, np.ndarray, list[Target]]:
    """What :func:`~.attribution.resolve_objective` gives for one context, for many:
    (input batch (N, H, W, C), layer or None for the class score, index per image (N,),
    target per image with its index filled). Without a class, each image's top class comes
    from one forward pass over the batch."""
    from .handlers import builtin_handler

    x = np.stack([context.require_image().array for context in contexts])
    count = len(contexts)
    if target.node_type == "prediction":
        targets = builtin_handler(target.node_type).resolve_many(target, contexts)
        return x, None, np.array([t.index for t in targets], np.int32), targets
    index = ALL_CHANNELS if target.index is None else target.index
    return x, target.layer, np.full(count, index, np.int32), [target] * count


def model_outputs(context: Context, x: np.ndarray) -> np.ndarray:
    """The explained output of the model on the batch ``x``, flattened per image."""
    import tensorflow as tf

    from .tf_ops import layer_output_function

    outputs = layer_output_function(context.model, (), output_index=context.output_index,
                                    device=context.device)(tf.constant(x))[0]
    return np.asarray(outputs).reshape(len(x), -1)


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from a model's outputs on one image: the outputs themselves when
    they are a distribution (a softmax), (1 - p, p) for one sigmoid unit, else the softmax
    of the outputs (a model that ends with logits)."""
    outputs = np.asarray(outputs, np.float64).reshape(-1)
    if len(outputs) == 1 and 0 <= outputs[0] <= 1:
        return np.array([1 - outputs[0], outputs[0]])
    if np.all(outputs >= 0) and abs(outputs.sum() - 1) < 1e-3:
        return outputs
    shifted = np.exp(outputs - outputs.max())
    return shifted / shifted.sum()


# --------------------------------------------------------------------------- many images

@dataclass
class ImageOutcome:
    """One image of a run: where it came from, the image as the model saw it, the model's
    output on it, and one result per request (in the order of the requests); or the
    ``error`` that stopped it (a one-line message; ``exception`` the error itself)."""

    source: Any
    position: int
    image: InputImage | None = None
    outputs: np.ndarray | None = None
    results: list = field(default_factory=list)
    error: str | None = None
    exception: Exception | None = field(default=None, repr=False)

    def fail(self, error: Exception, what: str = "") -> None:
        self.error = f"{what}: {error}" if what else str(error)
        self.exception = error

    @property
    def name(self) -> str:
        source = self.source
        if isinstance(source, (str, Path)):
            return Path(source).name
        return f"image {self.position}"


def image_loader(context: Context, preprocessing=None, max_side: int = MAX_SIDE
                 ) -> Callable[[Any], InputImage]:
    """``load(source) -> InputImage`` for the context's model, keeping loaded images as
    they are."""
    def load(source) -> InputImage:
        if isinstance(source, InputImage):
            return source
        return load_image(source, context.model, preprocessing, max_side)

    return load


def explain_images(requests: Sequence[RunRequest], context: Context, sources: Sequence,
                   load: Callable[[Any], InputImage] | None = None, *,
                   batch_size: int = 0, progress: Callable[[float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Iterator[ImageOutcome]:
    """Run ``requests`` on every image of ``sources`` (on ``context``'s model, output,
    labels and device), yielding one :class:`ImageOutcome` per image, in order.

    Images are loaded by ``load`` (default: :func:`image_loader`) ``batch_size`` at a time
    (0: the size measured on the model); the loaded images of a batch are all that is
    held. With no requests, the outcomes carry the model's outputs only (predictions).
    ``progress`` gets the fraction of images done; ``should_stop`` is polled between
    batches.
    """
    from .tf_ops import batches

    load = load or image_loader(context)
    sources = list(sources)
    for part in batches(len(sources), batch_size or image_batch_size(context.model),
                        progress, should_stop):
        outcomes = [_loaded(load, source, part.start + i)
                    for i, source in enumerate(sources[part])]
        for group in _same_size(outcome for outcome in outcomes if outcome.error is None):
            _run_group(requests, context, group)
        yield from outcomes


def image_batch_size(model):
    """The tuner of images per batch for ``model`` (its own, apart from the methods' path
    points: a batch of images also holds their loading and every method's work)."""
    from .models import input_shape
    from .tf_ops import batch_size_tuner, model_cache

    cache = model_cache(model)
    tuner = cache.get("image-batch-size")
    if tuner is None:
        free = None in input_shape(model)[:2]
        tuner = cache.setdefault("image-batch-size", batch_size_tuner(
            model, True, (MAX_SIDE, MAX_SIDE) if free else None))
    return tuner


def _loaded(load, source, position: int) -> ImageOutcome:
    try:
        image = load(source)
    except DialVisualizationError as error:
        outcome = ImageOutcome(source, position)
        outcome.fail(error)
        return outcome
    # the original (possibly a large photo) is not kept: a result shows the resized image
    return ImageOutcome(source, position, dataclasses.replace(image, original=image.resized))


def _same_size(outcomes: Iterable[ImageOutcome]) -> list[list[ImageOutcome]]:
    groups: dict[tuple, list[ImageOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.image.array.shape, []).append(outcome)
    return list(groups.values())


def _run_group(requests: Sequence[RunRequest], context: Context,
               group: list[ImageOutcome]) -> None:
    """Every request on a group of images of one size: batched methods in one call, the
    others image by image; an error is kept on the image it happened on. The model's
    output on each image comes from one forward pass over the group, before the requests
    when a method runs image by image, else from the batched methods' own passes (a
    class's gradient pass returns it) and, for images they left without, after them."""
    from .explain import execute

    contexts = [dataclasses.replace(context, image=outcome.image) for outcome in group]
    if not requests or any(batched_form(checked.method) is None for checked in requests):
        if not _remember_outputs(group, contexts):
            return
    for checked in requests:
        run_batch = batched_form(checked.method)
        results = None
        if run_batch is not None:
            try:
                results = _execute_batch(checked, run_batch, contexts)
            except DialVisualizationError:
                results = None  # each image on its own, to say which one fails
        for i, (outcome, each) in enumerate(zip(group, contexts)):
            if outcome.error is not None:
                continue
            try:
                outcome.results.append(results[i] if results is not None
                                       else execute(checked, each))
            except DialVisualizationError as error:
                outcome.fail(error, checked.method.id)
    if _remember_outputs(group, contexts):
        for outcome, each in zip(group, contexts):
            outcome.outputs = each.outputs()


def _remember_outputs(group: list[ImageOutcome], contexts: list[Context]) -> bool:
    """The model's output on each image whose context lacks it, in one forward pass; False
    (every image failed) when the pass failed."""
    missing = [each for each in contexts if not each.has_outputs]
    if not missing:
        return True
    try:
        outputs = model_outputs(contexts[0], np.stack([each.image.array for each in missing]))
    except DialVisualizationError as error:
        for outcome in group:
            outcome.fail(error)
        return False
    for each, row in zip(missing, outputs):
        each.remember_outputs(row)
    return True


def _execute_batch(checked: RunRequest, run_batch: Callable, contexts: list[Context]) -> list:
    """The batched form's results, each stamped as a one-image run is."""
    from .explain import stamp
    from .tf_ops import device_scope

    with device_scope(contexts[0].device):
        results = run_batch(contexts, checked.target, dict(checked.params), lambda f: None,
                            lambda: False)
    return [stamp(checked, each, result) for result, each in zip(results, contexts)]
