"""The ``evaluate`` command: metrics of methods' maps over images, written as one CSV and a
PNG of each curve.

As ``explain``, the document is a :class:`~dial_visualization.core.workspace.Workspace`: the
model, its output, labels and preprocessing are set on it, then each image in turn; every
method, metric and parameter is checked against the model before the output folder is
created. Each method's map is made once per image and judged by every metric.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from .cli import UsageError
from .core.tf_environment import import_tensorflow_quietly
from .explain_command import (command_files, method_params, open_workspace, output_names,
                              target_index)

#: The CSV's columns, one row per image x method x metric.
COLUMNS = ("image", "method", "metric", "class", "class_name", "score", "better", "curve")
CSV_NAME = "evaluation.csv"


def add_parser(commands) -> None:
    """The ``evaluate`` subcommand's arguments."""
    from .core.images import MAX_SIDE

    evaluate = commands.add_parser(
        "evaluate", help="score methods' maps with metrics: a CSV and curves as PNG",
        description="Judge the maps of methods on images by metrics (deletion, insertion, "
                    "mu-fidelity, model-randomization): write evaluation.csv (one row per "
                    "image, method and metric) and <image>_<method>_<metric>.png (the "
                    "curve). Without --model: the demo model, images and labels.")
    evaluate.add_argument("--model", help="model file (default: the demo model)")
    evaluate.add_argument("--image", action="append", default=[],
                          help="image file or folder (repeatable; needed with --model)")
    evaluate.add_argument("--method", action="append", required=True,
                          help="method id (repeatable)")
    evaluate.add_argument("--metric", action="append", required=True,
                          help="deletion, insertion, mu-fidelity or model-randomization "
                               "(repeatable)")
    evaluate.add_argument("--param", action="append", default=[], metavar="[METHOD.]NAME=VALUE",
                          help="a method parameter (repeatable), as for explain")
    evaluate.add_argument("--metric-param", action="append", default=[],
                          metavar="[METRIC.]NAME=VALUE",
                          help="a metric parameter (repeatable): NAME=VALUE goes to every "
                               "chosen metric that takes NAME, METRIC.NAME=VALUE to one")
    evaluate.add_argument("--layer", help="a class activation map's layer")
    evaluate.add_argument("--target", help="class index or name (default: the top class)")
    evaluate.add_argument("--labels", help="labels file: one name per line, or JSON")
    evaluate.add_argument("--preprocessing",
                          help="none, unit, symmetric, caffe or torch (default: detected)")
    evaluate.add_argument("--max-side", type=int, default=MAX_SIDE, metavar="PIXELS",
                          help="for a model that takes any size: the longest side of the "
                               f"image it sees (default {MAX_SIDE})")
    evaluate.add_argument("--output-index", type=int, default=0,
                          help="which model output to explain")
    evaluate.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    evaluate.add_argument("--trusted", action="store_true", help="allow code stored in the model")
    evaluate.add_argument("--out", required=True, help="output folder")


def metric_params(items: list[str], metrics: list[str]) -> dict[str, dict[str, str]]:
    """Each metric's ``--metric-param`` values, parsed as ``--param`` is for methods."""
    from .core.metrics import METRIC_REGISTRY

    try:
        return method_params(items, metrics, METRIC_REGISTRY)
    except UsageError as error:
        message = str(error).replace("--param", "--metric-param").replace(
            "--method given", "--metric given").replace("no chosen method", "no chosen metric")
        raise UsageError(message) from None


def evaluate(args) -> int:
    """The ``evaluate`` command: everything is checked before the first file is written."""
    model_path, labels_path, images, out = command_files(args)
    import_tensorflow_quietly()
    from .core.explain import request
    from .core.metrics import get_metric
    from .core.registry import HandlerConfiguration

    registry = HandlerConfiguration.default()
    methods = list(dict.fromkeys(args.method))
    metrics = [get_metric(metric) for metric in dict.fromkeys(args.metric)]
    for method in methods:
        registry.get(method)
    params = method_params(args.param, methods, registry)
    metric_values = metric_params(args.metric_param, [m.id for m in metrics])
    for metric in metrics:
        metric.resolve_params(metric_values[metric.id])
    workspace = open_workspace(model_path, trusted=args.trusted, output_index=args.output_index,
                               device=args.device, max_side=args.max_side,
                               labels=labels_path, preprocessing=args.preprocessing)
    index = target_index(args.target, workspace.labels)
    requests = [request(method, workspace.model, params=params[method], layer=args.layer,
                        index=index, node_type="prediction", output_index=args.output_index,
                        registry=workspace.registry)
                for method in methods]
    out.mkdir(parents=True, exist_ok=True)
    _run_evaluations(workspace, requests, metrics, metric_values, images, out)
    return 0


def _run_evaluations(workspace, requests, metrics, metric_values, images, out: Path) -> None:
    """Per image: each method's map once, then every metric on it; a CSV row and a PNG per
    metric, one line per image, a progress bar on a terminal."""
    from tqdm import tqdm

    from .core.metrics import evaluate, explain_for
    from .core.result import file_stem

    names = output_names(images)
    with open(out / CSV_NAME, "w", newline="") as table, \
            tqdm(total=len(images) * len(requests) * len(metrics), unit="score",
                 disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        writer = csv.writer(table)
        writer.writerow(COLUMNS)
        for path in images:
            workspace.set_image(workspace.read_image(path), path)
            context = workspace.context()
            said = []
            for checked in requests:
                bar.set_description(f"{path.name} {checked.method.id}")
                explanation = explain_for(checked, context, should_stop=None)
                for metric in metrics:
                    bar.set_description(f"{path.name} {checked.method.id} {metric.id}")
                    evaluation = evaluate(metric, context, explanation=explanation,
                                          params=metric_values[metric.id],
                                          progress=_within_run(bar))
                    curve = f"{file_stem(f'{names[path]}_{checked.method.id}_{metric.id}')}.png"
                    evaluation.save_png(out / curve)
                    better = {True: "higher", False: "lower"}.get(metric.higher_is_better, "")
                    index = explanation.target.index
                    writer.writerow([path.name, checked.method.id, metric.id, index,
                                     context.labels[index] if context.labels else "",
                                     f"{evaluation.score:.6g}", better, curve])
                    said.append(f"{checked.method.id} {metric.id} {evaluation.score:.3g}")
                    bar.update()
            tqdm.write(f"{path.name}: {'; '.join(said)}")
    tqdm.write(f"{len(images) * len(requests) * len(metrics)} rows in {out / CSV_NAME}, "
               f"curves as PNG in {out}/")


def _within_run(bar):
    return lambda fraction: bar.set_postfix_str(f"{fraction:.0%}", refresh=False)
