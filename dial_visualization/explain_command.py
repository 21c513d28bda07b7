"""The ``explain`` command: methods over images, written as .npy and .png.

The document is a :class:`~dial_visualization.core.workspace.Workspace`, as in the app: the
model, its output, labels and preprocessing are set on it, then each image in turn. Every
run is checked against the model before the output folder is created.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from .cli import UsageError, existing_file, for_command_line
from .core.tf_environment import import_tensorflow_quietly

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}


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


def explain(args) -> int:
    """The ``explain`` command: everything is checked before the first file is written."""
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

    import_tensorflow_quietly()
    from .core.explain import request
    from .core.registry import HandlerConfiguration
    from .core.workspace import Workspace

    workspace = Workspace(HandlerConfiguration.default())
    methods = list(dict.fromkeys(args.method))
    for method in methods:
        workspace.registry.get(method)
    params = method_params(args.param, methods, workspace.registry)
    workspace.set_model(*workspace.read_model(model_path, trusted=args.trusted))
    workspace.set_output_index(args.output_index)
    workspace.set_device(args.device)
    workspace.max_side = args.max_side
    if labels_path:
        workspace.set_labels(workspace.read_labels(labels_path), str(labels_path))
    if args.preprocessing:
        workspace.set_preprocessing(args.preprocessing)
    index = target_index(args.target, workspace.labels)
    requests = [request(method, workspace.model, params=params[method], layer=args.layer,
                        index=index, node_type=args.node_type, output_index=args.output_index,
                        registry=workspace.registry)
                for method in methods]
    out.mkdir(parents=True, exist_ok=True)
    _run_explanations(workspace, requests, images, out, args.channels)
    return 0


def _run_explanations(workspace, requests, images, out: Path, channels: bool) -> None:
    """Kernel runs once, every other run per image; a line per image, a progress bar on a
    terminal, each result's warnings on stderr."""
    from tqdm import tqdm

    from .core.explain import execute
    from .core.result import file_stem

    per_image = [r for r in requests if not r.independent_of_the_image]
    once = [r for r in requests if r.independent_of_the_image]
    names = output_names(images)
    context = workspace.context()
    with tqdm(total=len(once) + len(images) * len(per_image), unit="run",
              disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        for checked in once:
            stem = f"{file_stem(checked.target.layer)}_{checked.method.id}"
            files = _save(execute(checked, context), out / stem, channels, stem)
            tqdm.write(f"{checked.target.describe()}: {', '.join(files)} in {out}/")
            bar.update()
        for path in images:
            workspace.set_image(workspace.read_image(path), path)
            context = workspace.context()
            _warn_if_the_preprocessing_looks_wrong(workspace, path)
            files = []
            for checked in per_image:
                bar.set_description(f"{path.name} {checked.method.id}")
                result = execute(checked, context, _within_run(bar))
                stem = f"{names[path]}_{checked.method.id}"
                files += _save(result, out / stem, channels, f"{path.name} {stem}")
                bar.update()
            tqdm.write(f"{path.name}: {_top_class(context)}; preprocessing "
                       f"{context.image.preprocessing} ({context.image.preprocessing_reason})"
                       f" -> {', '.join(files)} in {out}/")


def _warn_if_the_preprocessing_looks_wrong(workspace, path: Path) -> None:
    from tqdm import tqdm

    advice = workspace.check_preprocessing()
    if advice.message:
        tqdm.write(f"warning: {path.name}: {for_command_line(advice.message)} "
                   f"(--preprocessing {advice.suggested})", file=sys.stderr)


def _within_run(bar):
    """Progress inside one run, shown as a fraction of the bar's current step."""
    return lambda fraction: bar.set_postfix_str(f"{fraction:.0%}", refresh=False)


def _save(result, stem: Path, channels: bool, what: str) -> list[str]:
    """Write ``stem``.npy and .png (and _channels.npy); print the result's warnings."""
    import numpy as np
    from tqdm import tqdm

    for warning in result.warnings:
        tqdm.write(f"warning: {what}: {warning}", file=sys.stderr)
    written = [result.save_npy(f"{stem}.npy"), result.save_png(f"{stem}.png")]
    if channels and result.channels is not None:
        written.append(stem.with_name(stem.name + "_channels.npy"))
        np.save(written[-1], result.channels)
    return [Path(path).name for path in written]


def _top_class(context) -> str:
    """The top class of the image and its score, as the model outputs it."""
    import numpy as np
    import tensorflow as tf

    from .core.tf_ops import layer_output_function

    scores = layer_output_function(context.model, (), output_index=context.output_index,
                                   device=context.device)(tf.constant(context.image.batch()))[0]
    scores = np.asarray(scores)[0].reshape(-1)
    best = int(np.argmax(scores))
    name = context.labels[best] if context.labels else f"class {best}"
    return f"top {name} ({scores[best]:.3f})"
