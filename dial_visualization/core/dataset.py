"""A labelled folder of images and the model's predictions on it, as plain data.

Shared by the ``predict`` command, the GUI's Dataset tab and the HTML report
(:mod:`.report`). The true class of an image is the name of its class subfolder, as
``keras.utils.image_dataset_from_directory`` reads a folder: classes are the subfolders in
alphanumeric order, and class ``i`` of the model is the ``i``-th subfolder, unless the
model has class names, in which case each subfolder is matched to the class of its name.
A folder without subfolders has no true classes.

One prediction is a dict ``{position, path, file, true, predicted, probability, loss,
error}`` (``true`` and ``predicted`` are class indices, -1 for none; ``error`` a one-line
message or None), the form :func:`csv_fields` writes as a ``predictions.csv`` row.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .images import IMAGE_SUFFIXES
from .errors import ImageLoadError, ParameterError

#: The columns of ``predictions.csv``.
COLUMNS = ("file", "true_class", "predicted_class", "probability", "correct", "loss", "error")


class DatasetError(ParameterError):
    """A folder whose classes cannot be matched to the model's."""


def labelled_images(folder: Path, suffixes=IMAGE_SUFFIXES) -> tuple[list[Path], list[str | None]]:
    """(image paths, true class name of each) as ``image_dataset_from_directory`` reads
    ``folder``: with subfolders (not hidden), the images anywhere below each one, its name
    their class, in alphanumeric order (images directly in ``folder`` are left out, as
    there); without, the images in ``folder``, with no class."""
    folder = Path(folder)
    suffixes = {s.lower() for s in suffixes}

    def images_below(directory: Path) -> list[Path]:
        return sorted(p for p in directory.rglob("*")
                      if p.is_file() and p.suffix.lower() in suffixes)

    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        found = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in suffixes)
        return found, [None] * len(found)
    paths, names = [], []
    for subfolder in subfolders:
        below = images_below(subfolder)
        paths += below
        names += [subfolder.name] * len(below)
    return paths, names


def class_names(subfolders: list[str], labels: list[str] | None, class_count: int) -> list[str]:
    """The subfolder names in the order of the model's classes: by name when the model's
    class names include every subfolder, else by position (the i-th subfolder is class
    i), which needs as many subfolders as classes."""
    if not subfolders:
        return []
    if labels and set(subfolders) <= set(labels):
        return list(subfolders)
    if len(subfolders) != class_count:
        named = ", ".join(subfolders[:5]) + (", ..." if len(subfolders) > 5 else "")
        raise DatasetError(
            f"{len(subfolders)} class subfolders ({named}) but the model scores "
            f"{class_count} classes: give --labels with the model's class names to "
            "match the subfolders by name")
    return list(subfolders)


def index_of(name: str, classes: list[str], labels: list[str] | None) -> int:
    """The model's class index of subfolder ``name``."""
    if labels and name in labels and set(classes) <= set(labels):
        from .labels import class_named

        return class_named(name, labels)
    return classes.index(name)


def dataset_rows(source, labels: list[str] | None, class_count: int
                 ) -> tuple[list[dict], list[str]]:
    """The images of ``source`` (a labelled folder, a folder of images, or one image) as
    rows ``{position, path, file, true}`` (``file`` relative to the folder, ``true`` the
    model's class index or -1), and the class names of the subfolders in model order."""
    source = Path(source)
    if source.is_file():
        folder, paths, true_names = source.parent, [source], [None]
    elif source.is_dir():
        folder = source
        paths, true_names = labelled_images(source)
        if not paths:
            raise ImageLoadError(f"no images in folder {source}")
    else:
        raise ImageLoadError(f"no such image file or folder: {source}")
    classes = class_names(sorted({n for n in true_names if n is not None}), labels, class_count)
    rows = [{"position": i, "path": str(path), "file": path.relative_to(folder).as_posix(),
             "true": -1 if name is None else index_of(name, classes, labels)}
            for i, (path, name) in enumerate(zip(paths, true_names))]
    return rows, classes


def predict_rows(context, rows: Sequence[dict], load: Callable[[Any], Any], *,
                 batch_size: int = 0, progress: Callable[[float], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 error_text: Callable[[str], str] = str) -> Iterator[dict]:
    """Each row's image through ``context``'s model (read by ``load``), ``batch_size`` at a
    time (0: the size measured on the model): yields per image the row with
    ``predicted``, ``probability``, ``loss`` and ``error``, in order."""
    from .batch_explain import explain_images

    outcomes = explain_images([], context, [row["path"] for row in rows], load,
                              batch_size=batch_size, progress=progress,
                              should_stop=should_stop)
    for row, outcome in zip(rows, outcomes):
        item = {**row, "files": [], "warnings": [], "error": None, "predicted": -1,
                "probability": float("nan"), "loss": float("nan")}
        if outcome.error is not None:
            item["error"] = error_text(outcome.error)
        else:
            item.update(prediction(outcome.outputs, row["true"]))
        yield item


def predict_batches(context, rows: Sequence[dict], load: Callable[[Any], Any], *,
                    batch_size: int = 0, progress: Callable[[float], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    error_text: Callable[[str], str] = str) -> Iterator[list[dict]]:
    """:func:`predict_rows` a batch at a time: yields the predicted rows of each batch as
    soon as it is done (for a table that fills as the run goes); ``should_stop`` is polled
    between batches, ``progress`` told after each."""
    from .batch_explain import image_batch_size
    from .tf_ops import batches

    rows = list(rows)
    for part in batches(len(rows), batch_size or image_batch_size(context.model), progress,
                        should_stop):
        yield list(predict_rows(context, rows[part], load, batch_size=part.stop - part.start,
                                error_text=error_text))


def prediction(outputs, true: int) -> dict:
    """The predicted class, its probability and the cross-entropy loss of the true class
    (NaN without one), from the model's outputs on one image."""
    from .batch_explain import class_probabilities

    probabilities = class_probabilities(outputs)
    predicted = int(np.argmax(probabilities))
    loss = float("nan")
    if true >= 0:
        loss = float(-np.log(max(float(probabilities[true]), 1e-12)))
    return {"predicted": predicted, "probability": float(probabilities[predicted]),
            "loss": loss}


def class_name(index: int, names: list[str] | None) -> str:
    """The name of class ``index`` ("" for none, the index without names)."""
    if index < 0:
        return ""
    return names[index] if names and index < len(names) else str(index)


def is_labelled(item: dict) -> bool:
    """Whether ``item`` was predicted and has a true class."""
    return item["error"] is None and item["true"] >= 0


def correct(item: dict) -> bool | None:
    """Whether the prediction is right (None without a true class or prediction)."""
    return item["predicted"] == item["true"] if is_labelled(item) else None


def csv_fields(item: dict, names: list[str] | None) -> list[str]:
    """The ``predictions.csv`` row of ``item`` (see :data:`COLUMNS`)."""
    ok = item["error"] is None
    has_truth = is_labelled(item)
    return [item["file"], class_name(item["true"], names),
            class_name(item["predicted"], names) if ok else "",
            f"{item['probability']:.6f}" if ok else "",
            str(item["predicted"] == item["true"]) if has_truth else "",
            f"{item['loss']:.6f}" if has_truth else "",
            item["error"] or ""]


def summary(items: list[dict], failed: int = 0) -> str:
    """"12 images, accuracy 91.7% (1 wrong)"."""
    labelled = [item for item in items if is_labelled(item)]
    said = f"{len(items)} images"
    if labelled:
        right = sum(item["predicted"] == item["true"] for item in labelled)
        said += f", accuracy {right / len(labelled):.1%} ({len(labelled) - right} wrong)"
    if failed:
        said += f", {failed} could not be read"
    return said


def confusion_counts(items: list[dict]) -> tuple[list[int], np.ndarray]:
    """(the classes that occur as true or predicted, sorted; counts[true, predicted] over
    them) of the labelled items."""
    labelled = [item for item in items if is_labelled(item)]
    shown = sorted({item["true"] for item in labelled} | {item["predicted"] for item in labelled})
    where = {index: i for i, index in enumerate(shown)}
    counts = np.zeros((len(shown), len(shown)), np.int64)
    for item in labelled:
        counts[where[item["true"]], where[item["predicted"]]] += 1
    return shown, counts


def worst(items: list[dict], count: int) -> list[dict]:
    """The ``count`` items the model gets most wrong: highest loss first (without true
    classes: lowest probability first)."""
    predicted = [item for item in items if item["error"] is None]
    if any(is_labelled(item) for item in predicted):
        ranked = sorted((item for item in predicted if is_labelled(item)),
                        key=lambda item: -item["loss"])
    else:
        ranked = sorted(predicted, key=lambda item: item["probability"])
    return ranked[:max(0, count)]


def is_missing(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
