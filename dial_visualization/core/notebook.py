"""A canvas as a Jupyter notebook: the notebook API calls that reproduce every tile.

``nbformat`` is an optional dependency (``pip install dial-visualization[notebook]``); it is
only imported by :func:`write_notebook`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import DialVisualizationError
from .preprocessing import PRESETS
from .handlers import handler_of
from .session import RunRecord, Session

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook_cells(session: Session) -> list[tuple[str, str]]:
    """("markdown" | "code", source) cells: load the model, image and labels, then one
    ``dv.explain`` call per tile, each result plotted and appended to ``results``."""
    if not session.model_path:
        raise DialVisualizationError(
            "the canvas's model was not loaded from a file, so a notebook cannot load it: "
            "save it first (model.save('model.keras')) and load that file")
    return [("markdown", _introduction(session)), ("code", _setup(session))] + [
        ("code", _explain(number, run, session.output_index))
        for number, run in enumerate(session.runs, 1)]


def write_notebook(session: Session, path: str | Path) -> Path:
    """Write :func:`notebook_cells` as a version 4 ``.ipynb`` file at ``path``."""
    try:
        import nbformat
    except ImportError as error:
        raise DialVisualizationError(
            "exporting a notebook needs nbformat: pip install 'dial-visualization[notebook]'"
        ) from error
    makers = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    notebook = nbformat.v4.new_notebook(
        cells=[makers[kind](source) for kind, source in notebook_cells(session)],
        metadata={"kernelspec": dict(KERNELSPEC)})
    path = Path(path)
    nbformat.write(notebook, str(path))
    return path


def _introduction(session: Session) -> str:
    image = _code_span(session.image_path) if session.image_path else "no image"
    return (f"# Convolutional visualization\n\nModel {_code_span(session.model_path)}, {image}: "
            f"{len(session.runs)} visualization(s), exactly as on the canvas.")


def _code_span(text: str) -> str:
    """``text`` as a Markdown code span that no backtick inside it can end."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _setup(session: Session) -> str:
    lines = ["import dial_visualization as dv", "",
             f"model = dv.load_model({session.model_path!r})"]
    if session.image_path:
        if session.preprocessing_reason:
            lines.append(f"# preprocessing {session.preprocessing!r}: "
                         f"{session.preprocessing_reason}")
        fit = f", fit={session.fit!r}" if session.fit != "stretch" else ""
        lines.append(f"image = dv.load_image({session.image_path!r}, model, "
                     f"preprocessing={_preprocessing(session.preprocessing)!r}{fit})")
    else:
        lines.append("image = None")
    labels = f"dv.load_labels({session.labels_path!r})" if session.labels_path else "None"
    lines += [f"labels = {labels}", "results = []"]
    return "\n".join(lines)


def _preprocessing(name: str) -> str:
    if name not in PRESETS:
        raise DialVisualizationError(
            f"the image was preprocessed by a custom function ({name!r}) that a notebook cannot "
            f"reproduce; use one of the presets ({', '.join(PRESETS)}) to export")
    return name


def _explain(number: int, run: RunRecord, output_index: int) -> str:
    """One ``dv.explain`` call; a parameter named like a keyword of ``dv.explain`` (a class
    activation map's ``layer``) is that keyword, so each name is written once."""
    node = handler_of(run.target).to_dict(run.target)
    keywords = {"layer": node["layer"], "target": node["index"], "node_type": node["node_type"],
                "output_index": output_index}
    keywords.update({name: _literal(value) for name, value in run.params.items()})
    arguments = [repr(run.method), "labels=labels"]
    arguments += [f"{name}={value!r}" for name, value in keywords.items()]
    call = ",\n                     ".join(["model", "image"] + arguments)
    return (f"# {number}. {run.method}\n"
            f"result = dv.explain({call})\n"
            "results.append(result)\n"
            "result.plot();")


def _literal(value: Any) -> Any:
    """Parameters as plain Python values (numpy scalars become int/float/bool)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
