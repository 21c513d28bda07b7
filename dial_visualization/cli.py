"""The command line: ``app`` (default), ``inspect``, ``methods``, ``explain`` and ``graph``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

COMMANDS = ("app", "inspect", "methods", "explain", "graph")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dial-visualization",
        description="See why a trained CNN decides what it decides. "
                    "Without a command, opens the app (on the built-in demo).")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("app", help="open the desktop app (default)", add_help=False)
    commands.add_parser("graph", help="open the node-graph host on the demo model", add_help=False)

    inspect = commands.add_parser("inspect", help="print a model's layer table")
    inspect.add_argument("model", nargs="?", help="model file (default: the demo model)")
    inspect.add_argument("--trusted", action="store_true", help="allow code stored in the model")

    commands.add_parser("methods", help="list the algorithms and their parameters")

    explain = commands.add_parser("explain", help="run methods on images, write .npy and .png")
    explain.add_argument("--model", help="model file (default: the demo model)")
    explain.add_argument("--image", action="append", default=[],
                         help="image file or folder (repeatable; default: the demo images)")
    explain.add_argument("--method", action="append", required=True, help="algorithm id (repeatable)")
    explain.add_argument("--layer", help="layer path, e.g. conv2 or base/conv5")
    explain.add_argument("--target", help="class index or name (or channel/filter index with --layer)")
    explain.add_argument("--node-type", choices=("kernel", "output", "prediction"))
    explain.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    explain.add_argument("--labels", help="labels file: one name per line, or JSON")
    explain.add_argument("--preprocessing", help="none, unit, symmetric, caffe or torch (default: detected)")
    explain.add_argument("--output-index", type=int, default=0, help="which model output to explain")
    explain.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    explain.add_argument("--trusted", action="store_true", help="allow code stored in the model")
    explain.add_argument("--out", required=True, help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv = ["app"] + argv
    if argv[0] in ("app", "graph"):
        return _open(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    from .core.errors import DialVisualizationError

    try:
        return {"inspect": _inspect, "methods": _methods, "explain": _explain}[args.command](args)
    except DialVisualizationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _open(command: str, rest: list[str]) -> int:
    if command == "graph":
        try:
            from .hosts.node_graph import main as graph_main
        except ImportError as error:
            print(f"error: the node graph needs NodeGraphQt ({error}); install it with "
                  "pip install \"dial-visualization[graph]\"", file=sys.stderr)
            return 2
        return graph_main(rest)
    from .qt.app import main as app_main

    return app_main(rest)


def _inspect(args) -> int:
    import dial_visualization as dv
    from .core.inspect import LayerTree

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
    import dial_visualization as dv

    for algorithm in dv.available_methods().values():
        kinds = ", ".join(sorted(t.value for t in algorithm.node_types))
        print(f"{algorithm.id}  ({algorithm.name}; nodes: {kinds})")
        if algorithm.reference:
            print(f"    {algorithm.reference}")
        for p in algorithm.parameters:
            bounds = f" in {p.choices}" if p.choices else (
                f" in [{p.minimum}, {p.maximum}]" if p.minimum is not None or p.maximum is not None else "")
            print(f"    --param {p.name}=<{p.kind}> default {p.default!r}{bounds}  {p.help}")
    return 0


def _image_paths(entries: list[str]) -> list[Path]:
    from .core.errors import ImageLoadError

    paths = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ImageLoadError(f"no images in folder {path}")
            paths += found
        else:
            paths.append(path)
    return paths


def _target_index(text: str | None, labels: list[str] | None) -> int | None:
    from .core.errors import ParameterError

    if text is None:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    if labels and text in labels:
        return labels.index(text)
    raise ParameterError(f"target {text!r} is neither an index nor a class name"
                         + ("" if labels else " (no --labels given)"))


def _explain(args) -> int:
    import dial_visualization as dv
    from .core.errors import ParameterError

    demo = dv.demo_paths()
    model = dv.load_model(args.model or demo["model"], trusted=args.trusted)
    labels_path = args.labels or (demo["labels"] if not args.model else None)
    labels = dv.load_labels(labels_path) if labels_path else None
    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise ParameterError(f"--param {item!r}: expected NAME=VALUE")
        params[name.strip()] = value.strip()
    index = _target_index(args.target, labels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for image_path in _image_paths(args.image or [str(p) for p in demo["images"]]):
        image = dv.load_image(image_path, model, args.preprocessing)
        for method in args.method:
            result = dv.explain(model, image, method, layer=args.layer, target=index,
                                node_type=args.node_type, labels=labels,
                                output_index=args.output_index, device=args.device, **params)
            stem = out / f"{image_path.stem}_{method}"
            result.save_npy(stem.with_suffix(".npy"))
            result.save_png(stem.with_suffix(".png"))
            print(f"{image_path.name}: {result.title} -> {stem.name}.npy, {stem.name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
