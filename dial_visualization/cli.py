"""The command line: ``app`` (default), ``demo``, ``inspect``, ``methods``, ``explain``,
``evaluate``, ``predict`` and ``graph`` (``explain``, ``evaluate`` and ``predict`` live in
their own modules).

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
from pathlib import Path

COMMANDS = ("app", "demo", "inspect", "methods", "explain", "evaluate", "predict", "graph")
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
    demo.add_argument("--dataset", type=int, default=0, metavar="N",
                      help="also draw N new images per class into FOLDER/shapes/<class>/ "
                           "(a labelled folder for predict)")

    inspect = commands.add_parser("inspect", help="print a model's layer table")
    inspect.add_argument("model", nargs="?", help="model file (default: the demo model)")
    inspect.add_argument("--trusted", action="store_true", help="allow code stored in the model")

    commands.add_parser("methods", help="list the methods, their parameters and maps")

    explain = commands.add_parser(
        "explain", help="run methods on images, write .npy and .png",
        description="Run methods on images; per image and method write <image>_<method>.npy "
                    "(the raw map) and .png (the overlay). Without --model: the demo model, "
                    "images and labels.")
    explain.add_argument("--model", help="model file (default: the demo model)")
    explain.add_argument("--image", action="append", default=[],
                         help="image file or folder (repeatable; needed with --model)")
    explain.add_argument("--method", action="append", required=True, help="method id (repeatable)")
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
    from .predict_command import add_engine_options, add_parser as add_predict_parser

    add_engine_options(explain)
    add_predict_parser(commands)

    from .evaluate_command import add_parser as add_evaluate_parser

    add_evaluate_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv = ["app"] + argv
    if argv[0] == "app":
        return _open_app(argv[1:])
    args = _parser().parse_args(argv)
    from .core.errors import DialVisualizationError

    from .evaluate_command import evaluate
    from .explain_command import explain
    from .predict_command import predict

    commands = {"demo": _demo, "inspect": _inspect, "methods": _methods, "explain": explain,
                "evaluate": evaluate, "predict": predict, "graph": _open_graph}
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
    if args.dataset > 0:
        from .core.demo import CLASSES, write_shapes

        write_shapes(folder / "shapes", args.dataset)
        print(f"{args.dataset} images of each of {len(CLASSES)} classes drawn in "
              f"{folder / 'shapes'}/<class>/")
    return 0


def _inspect(args) -> int:
    if args.model:
        existing_file(args.model, "model")
    _tensorflow()
    import dial_visualization as dv
    from .core.layers import LayerTree

    model = dv.load_model(args.model or dv.demo_paths()["model"], trusted=args.trusted)
    rows = LayerTree.of(model).table()
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
    from .core.context import node_type_name

    for method in dv.available_methods().values():
        kinds = ", ".join(sorted(node_type_name(t) for t in method.node_types))
        print(f"{method.id}  ({method.name}; nodes: {kinds})")
        if method.reference:
            print(f"    {method.reference}")
        if method.channel_reduction:
            print(f"    map: {method.channel_reduction}")
        for p in method.parameters:
            bounds = f" in {p.choices}" if p.choices else (
                f" in [{p.minimum}, {p.maximum}]" if p.minimum is not None or p.maximum is not None else "")
            option = "--layer <layer path>" if p.kind == "layer" else f"--param {p.name}=<{p.kind}>"
            print(f"    {option} default {p.default!r}{bounds}  {p.help}")
    return 0


# --------------------------------------------------------------------------- explain

def existing_file(path: str, what: str) -> Path:
    if not Path(path).is_file():
        raise UsageError(f"no such {what} file: {path}")
    return Path(path)


if __name__ == "__main__":
    sys.exit(main())
