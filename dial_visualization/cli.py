"""The command line: ``app`` (default), ``demo``, ``inspect``, ``methods``, ``explain`` and
``graph``.

Arguments and files are checked before TensorFlow is imported, every run is checked
against the model before any output is written, and an error a user can cause ends as one
line on stderr with exit code 2. ``--help`` of every command answers without TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

COMMANDS = ("app", "demo", "inspect", "methods", "explain", "graph")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
#: Python keywords of the notebook API that the command line spells as options.
_OPTIONS = ("layer", "target", "node_type", "output_index", "labels", "preprocessing", "device")


class UsageError(Exception):
    """A command line that cannot be carried out (printed as one line, exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    from .core.images import MAX_SIDE

    parser = argparse.ArgumentParser(
        prog="dial-visualization",
        description="See why a trained CNN decides what it decides. "
                    "Without a command, opens the app (on the built-in demo).")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("app", help="open the desktop app (default; app --help: its options)",
                        add_help=False)
    commands.add_parser("graph", help="open the node-graph host on the demo model",
                        description="Open the NodeGraphQt host on the demo model (needs the "
                                    "[graph] extra).").add_argument(
        "--screenshot", metavar="PATH", help="render the graph offscreen to a PNG and exit")

    demo = commands.add_parser("demo", help="copy the demo model, labels and images to a folder",
                               description="Copy the built-in demo model, its labels and "
                                           "sample images into FOLDER, to try the commands on.")
    demo.add_argument("folder")

    inspect = commands.add_parser("inspect", help="print a model's layer table")
    inspect.add_argument("model", nargs="?", help="model file (default: the demo model)")
    inspect.add_argument("--trusted", action="store_true", help="allow code stored in the model")

    commands.add_parser("methods", help="list the algorithms, their parameters and maps")

    explain = commands.add_parser(
        "explain", help="run methods on images, write .npy and .png",
        description="Run methods on images; per image and method write <image>_<method>.npy "
                    "(the raw map) and .png (the overlay). Without --model: the demo model, "
                    "images and labels.")
    explain.add_argument("--model", help="model file (default: the demo model)")
    explain.add_argument("--image", action="append", default=[],
                         help="image file or folder (repeatable; needed with --model)")
    explain.add_argument("--method", action="append", required=True, help="algorithm id (repeatable)")
    explain.add_argument("--layer", help="layer path, e.g. conv2 or base/conv5: the layer shown, "
                                         "or a class activation map's layer")
    explain.add_argument("--target", help="class index or name (or channel/filter index with "
                                          "--layer, for methods that explain layers)")
    explain.add_argument("--node-type", choices=("kernel", "output", "prediction"))
    explain.add_argument("--param", action="append", default=[], metavar="[METHOD.]NAME=VALUE",
                         help="a method parameter (repeatable); NAME=VALUE goes to every chosen "
                              "method that takes NAME, METHOD.NAME=VALUE to one")
    explain.add_argument("--labels", help="labels file: one name per line, or JSON")
    explain.add_argument("--preprocessing",
                         help="none, unit, symmetric, caffe or torch (default: detected)")
    explain.add_argument("--max-side", type=int, default=MAX_SIDE, metavar="PIXELS",
                         help="for a model that takes any size: the longest side of the image "
                              f"it sees (default {MAX_SIDE})")
    explain.add_argument("--output-index", type=int, default=0, help="which model output to explain")
    explain.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    explain.add_argument("--channels", action="store_true",
                         help="also write <image>_<method>_channels.npy: the attribution per "
                              "input channel, before the map's reduction over channels")
    explain.add_argument("--trusted", action="store_true", help="allow code stored in the model")
    explain.add_argument("--out", required=True, help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv = ["app"] + argv
    if argv[0] == "app":
        return _open_app(argv[1:])
    args = _parser().parse_args(argv)
    from .core.errors import DialVisualizationError

    commands = {"demo": _demo, "inspect": _inspect, "methods": _methods, "explain": _explain,
                "graph": _open_graph}
    try:
        return commands[args.command](args)
    except (DialVisualizationError, UsageError) as error:
        print(f"error: {for_command_line(str(error))}", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (| head): nothing more to say
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as error:  # an output folder or file that cannot be written
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
    return 2


def for_command_line(message: str) -> str:
    """A core message as this interface spells it: ``layer=`` is ``--layer``, ..."""
    message = re.sub(r"load_model\(path, trusted=True\)", "--trusted", message)
    return re.sub(r"(?<![\w.'-])(%s)=" % "|".join(_OPTIONS),
                  lambda match: "--" + match.group(1).replace("_", "-") + " ", message)


def _tensorflow():
    from .core.tf_environment import import_tensorflow_quietly

    import_tensorflow_quietly()


def _open_app(rest: list[str]) -> int:
    if not {"-h", "--help"} & set(rest):
        _tensorflow()
    from .qt.app import main as app_main

    return app_main(rest)


def _open_graph(args) -> int:
    _tensorflow()
    try:
        from .hosts.node_graph import main as graph_main
    except ImportError as error:
        raise UsageError(f"the node graph needs NodeGraphQt ({error}); install it with "
                         "pip install \"dial-visualization[graph]\"") from None
    return graph_main([], screenshot=args.screenshot)


def _demo(args) -> int:
    from .core.demo import demo_paths

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = demo_paths()
    for source in [paths["model"], paths["labels"], *paths["images"]]:
        shutil.copy2(source, folder / source.name)
    print(f"demo model, labels and {len(paths['images'])} images copied to {folder}/")
    return 0


def _inspect(args) -> int:
    if args.model:
        _existing_file(args.model, "model")
    _tensorflow()
    import dial_visualization as dv
    from .core.layers import LayerTree

    model = dv.load_model(args.model or dv.demo_paths()["model"], trusted=args.trusted)
    rows = LayerTree(model).table()
    columns = ("path", "type", "input", "output", "params", "activation")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    print(f"total parameters: {model.count_params()}")
    return 0


def _methods(args) -> int:
    _tensorflow()
    import dial_visualization as dv

    for algorithm in dv.available_methods().values():
        kinds = ", ".join(sorted(t.value for t in algorithm.node_types))
        print(f"{algorithm.id}  ({algorithm.name}; nodes: {kinds})")
        if algorithm.reference:
            print(f"    {algorithm.reference}")
        if algorithm.channel_reduction:
            print(f"    map: {algorithm.channel_reduction}")
        for p in algorithm.parameters:
            bounds = f" in {p.choices}" if p.choices else (
                f" in [{p.minimum}, {p.maximum}]" if p.minimum is not None or p.maximum is not None else "")
            option = "--layer <layer path>" if p.kind == "layer" else f"--param {p.name}=<{p.kind}>"
            print(f"    {option} default {p.default!r}{bounds}  {p.help}")
    return 0


# --------------------------------------------------------------------------- explain

def _existing_file(path: str, what: str) -> Path:
    if not Path(path).is_file():
        raise UsageError(f"no such {what} file: {path}")
    return Path(path)


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


def _explain(args) -> int:
    from .core.demo import demo_paths

    demo = demo_paths()
    if args.model and not args.image:
        raise UsageError("--image is needed with --model (the demo images suit the demo model only)")
    if args.max_side < 1:
        raise UsageError(f"--max-side must be at least 1 pixel, not {args.max_side}")
    model_path = _existing_file(args.model, "model") if args.model else demo["model"]
    labels_path = _existing_file(args.labels, "labels") if args.labels else (
        None if args.model else demo["labels"])
    images = image_paths(args.image or [str(p) for p in demo["images"]])
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")

    _tensorflow()
    from .core import explain as runs
    from .core.labels import check_labels, load_labels
    from .core.models import class_count, load_model
    from .core.registry import HandlerConfiguration

    registry = HandlerConfiguration.default()
    methods = list(dict.fromkeys(args.method))
    for method in methods:
        registry.get(method)
    params = method_params(args.param, methods, registry)
    model = load_model(model_path, trusted=args.trusted)
    labels = load_labels(labels_path) if labels_path else None
    labels = check_labels(labels, class_count(model, args.output_index),
                          labels_path.name if labels_path else "")
    index = target_index(args.target, labels)
    requests = [runs.request(method, model, params=params[method], layer=args.layer,
                             index=index, node_type=args.node_type,
                             output_index=args.output_index, registry=registry)
                for method in methods]
    out.mkdir(parents=True, exist_ok=True)
    _run_explanations(model, requests, labels, images, out, args)
    return 0


def _run_explanations(model, requests, labels, images, out: Path, args) -> None:
    """Kernel runs once, every other run per image; a line per image, a progress bar on a
    terminal, each result's warnings on stderr."""
    from tqdm import tqdm

    from .core.context import Context
    from .core.explain import execute
    from .core.images import load_image
    from .core.result import file_stem

    per_image = [r for r in requests if not r.independent_of_the_image]
    once = [r for r in requests if r.independent_of_the_image]
    names = output_names(images)
    context = Context(model=model, output_index=args.output_index, labels=labels,
                      device=args.device)
    with tqdm(total=len(once) + len(images) * len(per_image), unit="run",
              disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        for checked in once:
            stem = f"{file_stem(checked.target.layer)}_{checked.algorithm.id}"
            files = _save(execute(checked, context), out / stem, args.channels, stem)
            tqdm.write(f"{checked.target.describe()}: {', '.join(files)} in {out}/")
            bar.update()
        for path in images:
            context.image = load_image(path, model, args.preprocessing, args.max_side)
            _warn_if_the_preprocessing_looks_wrong(context, path)
            files = []
            for checked in per_image:
                bar.set_description(f"{path.name} {checked.algorithm.id}")
                result = execute(checked, context, _within_run(bar))
                stem = f"{names[path]}_{checked.algorithm.id}"
                files += _save(result, out / stem, args.channels, f"{path.name} {stem}")
                bar.update()
            tqdm.write(f"{path.name}: {_top_class(context)}; preprocessing "
                       f"{context.image.preprocessing} ({context.image.preprocessing_reason})"
                       f" -> {', '.join(files)} in {out}/")


def _warn_if_the_preprocessing_looks_wrong(context, path: Path) -> None:
    from tqdm import tqdm

    from .core.preprocessing import compare_presets

    image = context.image
    advice = compare_presets(context.model, image.resized, image.preprocessing,
                             output_index=context.output_index, labels=context.labels,
                             device=context.device)
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


if __name__ == "__main__":
    sys.exit(main())
