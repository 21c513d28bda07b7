"""The ``explain`` command: methods over images, written as .npy and .png.

The document is a :class:`~dial_visualization.core.workspace.Workspace`, as in the app: the
model, its output, labels and preprocessing are set on it. Every run is checked against
the model before the output folder is created; then the images are explained a batch at a
time (``core.batch_explain``: read from disk batch by batch, the single-pass methods one
model call per batch), locally or on a Ray cluster (``--engine ray``, ``ray_engine``),
which runs the same :meth:`ExplainJob.process` in each of its actors.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from .cli import UsageError, existing_file, for_command_line
from .core.images import IMAGE_SUFFIXES
from .core.tf_environment import import_tensorflow_quietly



def image_paths(entries: list[str]) -> list[Path]:
    """Image files named or found in the folders named, each once, in the order given."""
    paths: dict[Path, Path] = {}
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UsageError(f"no images in folder {path}")
        elif path.is_file():
            found = [path]
        else:
            raise UsageError(f"no such image file or folder: {path}")
        for each in found:
            paths.setdefault(each.resolve(), each)
    return list(paths.values())


def output_names(paths: list[Path]) -> dict[Path, str]:
    """A distinct file-name stem per image: its name, prefixed by as many parent folders as
    it takes where two images share a name (``a/x.png``, ``b/x.png`` -> ``a_x``, ``b_x``)."""
    names = {path: path.stem for path in paths}
    depth = 0
    while True:
        counts = Counter(names.values())
        clashing = [path for path in paths if counts[names[path]] > 1]
        if not clashing:
            return names
        depth += 1
        for path in clashing:
            parents = path.resolve().parent.parts[1:][-depth:]
            names[path] = "_".join(parents + (path.stem,))
            if depth > len(path.resolve().parts):  # the folders cannot tell them apart
                names[path] = f"{path.stem}_{paths.index(path)}"


def method_params(items: list[str], methods: list[str], registry) -> dict[str, dict[str, str]]:
    """Each method's ``--param`` values: ``NAME=VALUE`` for every chosen method declaring
    NAME, ``METHOD.NAME=VALUE`` for that method; a parameter no chosen method takes is an
    error."""
    declared = {method: {p.name for p in registry.get(method).parameters} for method in methods}
    chosen: dict[str, dict[str, str]] = {method: {} for method in methods}
    for item in items:
        key, sep, value = item.partition("=")
        method, _, name = key.strip().rpartition(".")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE or METHOD.NAME=VALUE")
        if name == "layer":
            raise UsageError(f"--param {item!r}: give the layer with --layer")
        if method and method not in chosen:
            raise UsageError(f"--param {item!r}: {method} is not one of the --method given")
        takers = [method] if method else [m for m in methods if name in declared[m]]
        if not takers or name not in declared[takers[0]]:
            offered = "; ".join(f"{m}: {', '.join(sorted(declared[m])) or 'none'}" for m in methods)
            raise UsageError(f"--param {item!r}: no chosen method takes {name!r} ({offered})")
        for taker in takers:
            chosen[taker][name] = value.strip()
    return chosen


def target_index(text: str | None, labels: list[str] | None) -> int | None:
    if text is None:
        return None
    from .core.labels import class_named

    if re.fullmatch(r"\s*-?\d+\s*", text):
        return int(text)
    if labels and text in labels:
        return class_named(text, labels)
    raise UsageError(f"--target {text!r} is neither an index nor a class name"
                     + ("" if labels else " (no --labels given)"))


#: Images whose preprocessing is compared with the other presets (a wrong preprocessing is
#: wrong for every image: checking the first ones of a folder is enough, each check costs
#: about ten forward passes).
PRESET_CHECKED_IMAGES = 8


def explain(args) -> int:
    """The ``explain`` command: everything is checked before the first file is written;
    an image that cannot be read or explained is reported (``error: PATH: ...``) and the
    others are explained (exit code 2 when one failed)."""
    model_path, labels_path, images, out = command_files(args)
    engine = getattr(args, "engine", "local")
    if engine == "ray":
        from .ray_engine import require_ray

        require_ray()

    import_tensorflow_quietly()
    job = ExplainJob(model=str(model_path), trusted=args.trusted,
                     labels=str(labels_path) if labels_path else None,
                     preprocessing=args.preprocessing, max_side=args.max_side,
                     output_index=args.output_index, device=args.device,
                     methods=list(dict.fromkeys(args.method)), params=args.param,
                     layer=args.layer, target=args.target, node_type=args.node_type,
                     channels=args.channels,
                     names={str(path): stem for path, stem in output_names(images).items()})
    worker = job.open()  # every check, before the output folder is made
    out.mkdir(parents=True, exist_ok=True)
    _explain_once(worker, out, args.channels)
    rows = [{"position": i, "path": str(path)} for i, path in enumerate(images)]
    if engine == "ray":
        from .ray_engine import run as run_on_ray

        items = run_on_ray(job, rows, address=args.ray_address, actors=args.ray_actors, out=out)
    else:
        items = job.process(worker, rows, out)
    failed = report(items, len(rows), out, "run", runs_per_item=max(1, len(worker.per_image)))
    return 2 if failed else 0


def command_files(args) -> tuple[Path, Path | None, list[Path], Path]:
    """The model, labels, images and output folder that ``explain`` and ``evaluate`` name
    (without ``--model``: the demo's), each checked."""
    from .core.demo import demo_paths

    demo = demo_paths()
    if args.model and not args.image:
        raise UsageError("--image is needed with --model (the demo images suit the demo model only)")
    if args.max_side < 1:
        raise UsageError(f"--max-side must be at least 1 pixel, not {args.max_side}")
    model_path = existing_file(args.model, "model") if args.model else demo["model"]
    labels_path = existing_file(args.labels, "labels") if args.labels else (
        None if args.model else demo["labels"])
    images = image_paths(args.image or [str(p) for p in demo["images"]])
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    return model_path, labels_path, images, out


def open_workspace(model, *, trusted: bool, output_index: int, device: str, max_side: int,
                   labels=None, preprocessing=None):
    """A workspace (with the shared registry) on the model file ``model``: its output,
    device, size policy, class names and preprocessing, each checked."""
    from .core.registry import HandlerConfiguration
    from .core.workspace import Workspace

    workspace = Workspace(HandlerConfiguration.default())
    workspace.set_model(*workspace.read_model(model, trusted=trusted))
    workspace.set_output_index(output_index)
    workspace.set_device(device)
    workspace.max_side = max_side
    if labels:
        workspace.set_labels(workspace.read_labels(labels), str(labels))
    if preprocessing:
        workspace.set_preprocessing(preprocessing)
    return workspace


class ExplainJob:
    """What ``explain`` does to each image, as plain data that a Ray actor receives: opened
    once per process (model loaded, every run checked), then run on batches of images."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def open(self):
        """(workspace, checked requests run per image, requests run once)."""
        from .core.explain import request
        from .core.registry import HandlerConfiguration

        registry = HandlerConfiguration.default()
        for method in self.methods:
            registry.get(method)
        params = method_params(self.params, self.methods, registry)
        workspace = open_workspace(self.model, trusted=self.trusted,
                                   output_index=self.output_index, device=self.device,
                                   max_side=self.max_side, labels=self.labels,
                                   preprocessing=self.preprocessing)
        index = target_index(self.target, workspace.labels)
        requests = [request(method, workspace.model, params=params[method], layer=self.layer,
                            index=index, node_type=self.node_type,
                            output_index=self.output_index, registry=workspace.registry)
                    for method in self.methods]
        return Worker(workspace, [r for r in requests if not r.independent_of_the_image],
                      [r for r in requests if r.independent_of_the_image])

    def process(self, worker, rows: list[dict], folder: Path):
        """Each row's image explained, its files written in ``folder``: yields per image
        {position, path, files, summary, warnings, error}, in order."""
        from .core.batch_explain import explain_images

        workspace = worker.workspace
        context = workspace.context()
        paths = [row["path"] for row in rows]
        for row, outcome in zip(rows, explain_images(worker.per_image, context, paths,
                                                      workspace.read_image)):
            path = Path(row["path"])
            item = {"position": row["position"], "path": row["path"], "files": [],
                    "warnings": [], "summary": "", "error": None}
            if outcome.error is not None:
                item["error"] = for_command_line(outcome.error)
                yield item
                continue
            if row["position"] < PRESET_CHECKED_IMAGES:
                item["warnings"] += _preset_warnings(context, outcome.image, path)
            for checked, result in zip(worker.per_image, outcome.results):
                stem = f"{self.names[row['path']]}_{checked.method.id}"
                files, said = _save(result, folder / stem, self.channels, f"{path.name} {stem}")
                item["files"] += files
                item["warnings"] += said
            item["summary"] = (f"{path.name}: {_top_class(outcome.outputs, context.labels)}; "
                               f"preprocessing {outcome.image.preprocessing} "
                               f"({outcome.image.preprocessing_reason})")
            yield item


class Worker:
    def __init__(self, workspace, per_image, once):
        self.workspace, self.per_image, self.once = workspace, per_image, once


def report(items, total: int, out: Path, unit: str, runs_per_item: int = 1) -> int:
    """Print each item as it comes (its line, warnings and error) under a progress bar
    (on a terminal) with the time left, counting ``runs_per_item`` per item; returns how
    many items failed."""
    from tqdm import tqdm

    failed = 0
    with tqdm(total=total * runs_per_item, unit=unit, disable=not sys.stderr.isatty(),
              file=sys.stderr, smoothing=0.1) as bar:
        for item in items:
            for warning in item["warnings"]:
                tqdm.write(f"warning: {warning}", file=sys.stderr)
            if item["error"] is not None:
                failed += 1
                tqdm.write(f"error: {item['path']}: {item['error']}", file=sys.stderr)
            elif item.get("summary"):
                tqdm.write(f"{item['summary']} -> {', '.join(item['files'])} in {out}/")
            bar.update(runs_per_item)
    return failed


def _explain_once(worker, out: Path, channels: bool) -> None:
    """The runs that depend on the model only (a layer's kernels), written once."""
    from tqdm import tqdm

    from .core.explain import execute
    from .core.result import file_stem

    context = worker.workspace.context()
    for checked in worker.once:
        stem = f"{file_stem(checked.target.layer)}_{checked.method.id}"
        files, said = _save(execute(checked, context), out / stem, channels, stem)
        for warning in said:
            tqdm.write(f"warning: {warning}", file=sys.stderr)
        tqdm.write(f"{checked.target.describe()}: {', '.join(files)} in {out}/")


def _preset_warnings(context, image, path: Path) -> list[str]:
    """The warning when another preset than the chosen one looks right for ``image``."""
    from .core.preprocessing import Preprocessing
    from .core.preprocessing_check import compare_presets

    chosen = Preprocessing(image.preprocessing, image.preprocess, image.preprocessing_reason)
    advice = compare_presets(context.model, image.resized, chosen,
                             output_index=context.output_index, labels=context.labels,
                             device=context.device)
    if not advice.message:
        return []
    return [f"{path.name}: {for_command_line(advice.message)} (--preprocessing {advice.suggested})"]


def _save(result, stem: Path, channels: bool, what: str) -> tuple[list[str], list[str]]:
    """Write ``stem``.npy and .png (and _channels.npy): (file names, the result's warnings)."""
    import numpy as np

    written = [result.save_npy(f"{stem}.npy"), result.save_png(f"{stem}.png")]
    if channels and result.channels is not None:
        written.append(stem.with_name(stem.name + "_channels.npy"))
        np.save(written[-1], result.channels)
    return [Path(path).name for path in written], [f"{what}: {w}" for w in result.warnings]


def _top_class(outputs, labels) -> str:
    """The top class of an image and its score, as the model outputs it."""
    import numpy as np

    best = int(np.argmax(outputs))
    name = labels[best] if labels else f"class {best}"
    return f"top {name} ({outputs[best]:.3f})"
