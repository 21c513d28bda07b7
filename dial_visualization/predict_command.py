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
    predict.add_argument("--report", metavar="HTML",
                         help="also write one self-contained HTML report: the summary, the "
                              "confusion matrix, the worst images with their maps, the rows")
    predict.add_argument("--report-images", type=int, default=8, metavar="N",
                         help="how many of the worst images (highest loss) the report maps "
                              "(default 8)")
    predict.add_argument("--report-method", default="grad-cam", metavar="METHOD",
                         help="the method that maps them (default grad-cam)")
    add_engine_options(predict)


def predict(args) -> int:
    """The ``predict`` command; exit code 2 when an image could not be read (its row says
    why, and the others are predicted)."""
    from .core.demo import demo_paths
    from .core.tf_environment import import_tensorflow_quietly
    from .core.images import IMAGE_SUFFIXES
    from .explain_command import report

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
    report_request = _report_request(args, worker.workspace) if args.report else None
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
    if report_request is not None:
        path = write_report(args, worker.workspace, report_request, done, names, model_path,
                            source)
        print(f"report: {path}")
    return 2 if failed else 0


def _report_request(args, workspace):
    """The checked run that maps the report's worst images (refused before any work)."""
    from .core.explain import request

    if args.report_images < 0:
        raise UsageError(f"--report-images must be 0 or more, not {args.report_images}")
    if Path(args.report).is_dir():
        raise UsageError(f"--report {args.report} is a folder, not a file")
    return request(args.report_method, workspace.model, output_index=workspace.output_index,
                   registry=workspace.registry)


def write_report(args, workspace, checked, items: list[dict], names, model_path, source) -> Path:
    """The HTML report of a run (``core.report.dataset_report``): the worst images mapped
    by ``checked`` on this process's model."""
    from .core import report
    from .core.dataset import worst

    explained = report.explain_items(checked, workspace.context(),
                                     worst(items, args.report_images), workspace.read_image)
    preprocessing = workspace.preprocessing
    parameters = {"model": str(model_path), "images": str(source),
                  "labels": workspace.labels_source or "",
                  "preprocessing": f"{preprocessing.name} ({preprocessing.reason})",
                  "output index": str(workspace.output_index),
                  "map": checked.describe(workspace.labels),
                  "map parameters": ", ".join(f"{k}={v!r}" for k, v in checked.params.items())}
    path = Path(args.report)
    path.parent.mkdir(parents=True, exist_ok=True)
    return report.write(path, report.dataset_report(items, names, explained, parameters,
                                                    title=f"Predictions on {source.name}"))


def labelled_images(folder: Path, suffixes) -> tuple[list[Path], list[str | None]]:
    """(image paths, true class name of each): ``core.dataset.labelled_images``."""
    from .core.dataset import labelled_images as listed

    return listed(folder, suffixes)


def class_names(worker, subfolders: list[str]) -> list[str]:
    """The subfolder names in the order of the model's classes
    (``core.dataset.class_names``)."""
    from .core.dataset import DatasetError, class_names as matched

    try:
        return matched(subfolders, worker.names, worker.class_count)
    except DatasetError as error:
        raise UsageError(str(error)) from None


def index_of(name: str, classes: list[str], worker) -> int:
    """The model's class index of subfolder ``name``."""
    from .core.dataset import index_of as index

    return index(name, classes, worker.names)


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
        from .cli import for_command_line
        from .core.dataset import predict_rows

        workspace = worker.workspace
        yield from predict_rows(workspace.context(), rows, workspace.read_image,
                                error_text=for_command_line)


class PredictWorker:
    def __init__(self, workspace):
        self.workspace = workspace
        self.names = workspace.labels
        self.class_count = workspace.class_count()


def _kept(items, done: list):
    for item in items:
        done.append(item)
        yield item


def write_csv(path: Path, items: list[dict], names) -> None:
    from .core.dataset import csv_fields

    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for item in items:
            writer.writerow(csv_fields(item, names))


def summary(items: list[dict], failed: int) -> str:
    from .core.dataset import summary as said

    return said(items, failed)


def confusion_png(path: Path, items: list[dict], names) -> None:
    """Counts of (true, predicted) classes over the classes that occur, as a PNG."""
    from .core.report import confusion_figure

    figure = confusion_figure(items, names)
    figure.savefig(path, dpi=100)
