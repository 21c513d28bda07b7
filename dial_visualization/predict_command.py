"""The ``predict`` command: the model over a folder of images, one CSV row per image and a
confusion matrix.

The true class of an image is the name of its class subfolder, as
``keras.utils.image_dataset_from_directory`` reads a folder (``core.batch_explain.
labelled_images``): classes are the subfolders in alphanumeric order, and class ``i`` of
the model is the ``i``-th subfolder, unless class names are given (``--labels``, or the
demo's), in which case each subfolder is matched to the class of its name. A folder
without subfolders has no true classes: the rows say what the model predicts.

Writes ``predictions.csv`` (file, true_class, predicted_class, probability, correct, loss,
error) and, with true classes, ``confusion_matrix.png``; prints one summary line. Images
are read and run a batch at a time, locally or on a Ray cluster (``--engine ray``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .cli import UsageError, existing_file

COLUMNS = ("file", "true_class", "predicted_class", "probability", "correct", "loss", "error")
CSV_NAME = "predictions.csv"
MATRIX_NAME = "confusion_matrix.png"


def add_engine_options(parser) -> None:
    """``--engine``, ``--ray-address``, ``--ray-actors`` (commands over many images)."""
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this process; ray: a Ray cluster's actors, one loaded "
                             "model each (needs the [ray] extra)")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="an existing Ray cluster (ray://host:10001, auto); default: a "
                             "local Ray instance for the run")
    parser.add_argument("--ray-actors", type=int, metavar="N",
                        help="actors in the pool (default: one per GPU, else one per node)")


def add_parser(commands) -> None:
    from .core.images import MAX_SIDE

    predict = commands.add_parser(
        "predict", help="run the model over a folder: a CSV row per image, a confusion matrix",
        description="Run the model over the images of a folder and write predictions.csv "
                    "(file, true class, predicted class, probability, correct, loss) and "
                    "confusion_matrix.png. The true class is the image's class subfolder, as "
                    "keras.utils.image_dataset_from_directory reads it.")
    predict.add_argument("--model", help="model file (default: the demo model)")
    predict.add_argument("--image", required=True,
                         help="a folder of class subfolders (or of images), or one image")
    predict.add_argument("--labels", help="labels file: the model's class names")
    predict.add_argument("--preprocessing",
                         help="none, unit, symmetric, caffe or torch (default: detected)")
    predict.add_argument("--max-side", type=int, default=MAX_SIDE, metavar="PIXELS",
                         help="for a model that takes any size: the longest side of the image "
                              f"it sees (default {MAX_SIDE})")
    predict.add_argument("--output-index", type=int, default=0, help="which model output")
    predict.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    predict.add_argument("--trusted", action="store_true", help="allow code stored in the model")
    predict.add_argument("--out", required=True, help="output folder")
    add_engine_options(predict)


def predict(args) -> int:
    """The ``predict`` command; exit code 2 when an image could not be read (its row says
    why, and the others are predicted)."""
    from .core.demo import demo_paths
    from .core.tf_environment import import_tensorflow_quietly
    from .explain_command import IMAGE_SUFFIXES, report

    demo = demo_paths()
    if args.max_side < 1:
        raise UsageError(f"--max-side must be at least 1 pixel, not {args.max_side}")
    model_path = existing_file(args.model, "model") if args.model else demo["model"]
    labels_path = existing_file(args.labels, "labels") if args.labels else (
        None if args.model else demo["labels"])
    source = Path(args.image)
    if source.is_file():
        folder, paths, true_names = source.parent, [source], [None]
    elif source.is_dir():
        folder = source
        paths, true_names = labelled_images(source, IMAGE_SUFFIXES)
        if not paths:
            raise UsageError(f"no images in folder {source}")
    else:
        raise UsageError(f"no such image file or folder: {source}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if args.engine == "ray":
        from .ray_engine import require_ray

        require_ray()

    import_tensorflow_quietly()
    job = PredictJob(model=str(model_path), trusted=args.trusted,
                     labels=str(labels_path) if labels_path else None,
                     preprocessing=args.preprocessing, max_side=args.max_side,
                     output_index=args.output_index, device=args.device)
    worker = job.open()
    classes = class_names(worker, sorted({n for n in true_names if n is not None}))
    rows = [{"position": i, "path": str(path),
             "file": path.relative_to(folder).as_posix(),
             "true": -1 if name is None else index_of(name, classes, worker)}
            for i, (path, name) in enumerate(zip(paths, true_names))]
    out.mkdir(parents=True, exist_ok=True)
    if args.engine == "ray":
        from .ray_engine import run as run_on_ray

        items = run_on_ray(job, rows, address=args.ray_address, actors=args.ray_actors, out=out)
    else:
        items = job.process(worker, rows, out)
    done: list[dict] = []
    failed = report(_kept(items, done), len(rows), out, "image")
    done.sort(key=lambda item: item["position"])
    names = worker.names or classes
    write_csv(out / CSV_NAME, done, names)
    written = [CSV_NAME]
    labelled = [item for item in done if item["true"] >= 0 and item["error"] is None]
    if labelled:
        confusion_png(out / MATRIX_NAME, labelled, names)
        written.append(MATRIX_NAME)
    print(summary(done, failed) + f"; {', '.join(written)} in {out}/")
    return 2 if failed else 0


def labelled_images(folder: Path, suffixes) -> tuple[list[Path], list[str | None]]:
    """(image paths, true class name of each) as ``image_dataset_from_directory`` reads
    ``folder``: with subfolders (not hidden), the images anywhere below each one, its name
    their class, in alphanumeric order (images directly in ``folder`` are left out, as
    there); without, the images in ``folder``, with no class."""
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


def class_names(worker, subfolders: list[str]) -> list[str]:
    """The subfolder names in the order of the model's classes: by name when the model's
    class names include every subfolder, else by position (the i-th subfolder is class
    i), which needs as many subfolders as classes."""
    if not subfolders:
        return []
    labels = worker.names
    if labels and set(subfolders) <= set(labels):
        return subfolders
    if len(subfolders) != worker.class_count:
        named = ", ".join(subfolders[:5]) + (", ..." if len(subfolders) > 5 else "")
        raise UsageError(
            f"{len(subfolders)} class subfolders ({named}) but the model scores "
            f"{worker.class_count} classes: give --labels with the model's class names to "
            "match the subfolders by name")
    return subfolders


def index_of(name: str, classes: list[str], worker) -> int:
    """The model's class index of subfolder ``name``."""
    if worker.names and name in worker.names and set(classes) <= set(worker.names):
        from .core.labels import class_named

        return class_named(name, worker.names)
    return classes.index(name)


class PredictJob:
    """What ``predict`` does to each image, as plain data that a Ray actor receives."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def open(self) -> PredictWorker:
        from .explain_command import open_workspace

        return PredictWorker(open_workspace(
            self.model, trusted=self.trusted, output_index=self.output_index,
            device=self.device, max_side=self.max_side, labels=self.labels,
            preprocessing=self.preprocessing))

    def process(self, worker: PredictWorker, rows: list[dict], folder: Path):
        """Each row's image through the model: yields per image {position, path, file,
        true, predicted, probability, loss, error}, in order (no files)."""
        from .core.batch_explain import explain_images
        from .cli import for_command_line

        workspace = worker.workspace
        outcomes = explain_images([], workspace.context(), [row["path"] for row in rows],
                                  workspace.read_image)
        for row, outcome in zip(rows, outcomes):
            item = {**row, "files": [], "warnings": [], "error": None, "predicted": -1,
                    "probability": float("nan"), "loss": float("nan")}
            if outcome.error is not None:
                item["error"] = for_command_line(outcome.error)
            else:
                item.update(prediction(outcome.outputs, row["true"]))
            yield item


class PredictWorker:
    def __init__(self, workspace):
        self.workspace = workspace
        self.names = workspace.labels
        self.class_count = workspace.class_count()


def prediction(outputs, true: int) -> dict:
    """The predicted class, its probability and the cross-entropy loss of the true class
    (NaN without one), from the model's outputs on one image."""
    import numpy as np

    from .core.batch_explain import class_probabilities

    probabilities = class_probabilities(outputs)
    predicted = int(np.argmax(probabilities))
    loss = float("nan")
    if true >= 0:
        loss = float(-np.log(max(float(probabilities[true]), 1e-12)))
    return {"predicted": predicted, "probability": float(probabilities[predicted]),
            "loss": loss}


def _kept(items, done: list):
    for item in items:
        done.append(item)
        yield item


def class_name(index: int, names: list[str] | None) -> str:
    if index < 0:
        return ""
    return names[index] if names and index < len(names) else str(index)


def write_csv(path: Path, items: list[dict], names) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for item in items:
            ok = item["error"] is None
            has_truth = ok and item["true"] >= 0
            writer.writerow([
                item["file"], class_name(item["true"], names),
                class_name(item["predicted"], names) if ok else "",
                f"{item['probability']:.6f}" if ok else "",
                str(item["predicted"] == item["true"]) if has_truth else "",
                f"{item['loss']:.6f}" if has_truth else "",
                item["error"] or ""])


def summary(items: list[dict], failed: int) -> str:
    labelled = [item for item in items if item["error"] is None and item["true"] >= 0]
    said = f"{len(items)} images"
    if labelled:
        right = sum(item["predicted"] == item["true"] for item in labelled)
        said += f", accuracy {right / len(labelled):.1%} ({len(labelled) - right} wrong)"
    if failed:
        said += f", {failed} could not be read"
    return said


def confusion_png(path: Path, items: list[dict], names) -> None:
    """Counts of (true, predicted) classes over the classes that occur, as a PNG."""
    import numpy as np
    from matplotlib.figure import Figure

    shown = sorted({item["true"] for item in items} | {item["predicted"] for item in items})
    where = {index: i for i, index in enumerate(shown)}
    counts = np.zeros((len(shown), len(shown)), np.int64)
    for item in items:
        counts[where[item["true"]], where[item["predicted"]]] += 1
    side = min(20.0, 2.5 + 0.45 * len(shown))
    figure = Figure(figsize=(side + 1, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8, label="images")
    labels = [class_name(index, names) for index in shown]
    axes.set_xticks(range(len(shown)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(shown)), labels)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    right = np.trace(counts)
    axes.set_title(f"{counts.sum()} images, accuracy {right / counts.sum():.1%}")
    if len(shown) <= 30:
        top = counts.max()
        for (row, column), count in np.ndenumerate(counts):
            axes.text(column, row, str(count), ha="center", va="center",
                      color="white" if count > top / 2 else "black", fontsize=9)
    figure.savefig(path, dpi=100)
