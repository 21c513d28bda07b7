"""One self-contained HTML report of a dataset run or of the canvas's results.

Every image is embedded (a ``data:image/png;base64`` URI) and the style is inline, so that
the file can be mailed or attached to an issue as it is: nothing is fetched when it is
opened. A dataset report has the summary, the parameters used, the confusion matrix (a
table of counts and its figure), the worst images (highest loss) each with its map, and the
table of predictions (the ``predictions.csv`` rows). A canvas report has each result drawn
as its tile draws it. The ``predict`` command (``--report``) and the GUI's Dataset tab and
canvas ("Export report...") write it.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .dataset import COLUMNS, class_name, confusion_counts, csv_fields, summary

#: How many of the worst images a dataset report shows by default.
WORST_COUNT = 8
#: The method that maps the worst images by default.
DEFAULT_METHOD = "grad-cam"

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
td.count { text-align: right; }
td.diagonal { background: #dbe9f6; }
tr.wrong td { background: #fbe3e3; }
.images { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
figcaption { font-size: 0.85em; max-width: 420px; }
img.thumbnail { width: 128px; height: 128px; image-rendering: pixelated; }
"""


@dataclass
class ExplainedImage:
    """One of the worst images: its prediction (a ``core.dataset`` item), the image as the
    model saw it (uint8 H x W x C), and its map (a Result) or why there is none."""

    item: dict
    image: np.ndarray | None = None
    result: Any = None
    error: str | None = None


# --------------------------------------------------------------------------- pieces

def png_bytes(figure_or_array, dpi: int = 90) -> bytes:
    """A matplotlib figure, or a uint8 image array, as PNG bytes."""
    buffer = io.BytesIO()
    if isinstance(figure_or_array, np.ndarray):
        from PIL import Image

        array = figure_or_array
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="PNG")
    else:
        figure_or_array.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight",
                                pad_inches=0.05)
    return buffer.getvalue()


def image_tag(png: bytes, alt: str, css_class: str = "") -> str:
    """An ``<img>`` of PNG bytes embedded as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    extra = f' class="{css_class}"' if css_class else ""
    return f'<img{extra} alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def result_png(result, style: dict | None = None, size=(4.2, 3.6)) -> bytes:
    """``result`` drawn as a tile draws it (``core.plotting.draw`` with its ``style``)."""
    from matplotlib.figure import Figure

    from .plotting import draw

    figure = Figure(figsize=size, layout="constrained")
    draw(result, figure, **(style or {}))
    return png_bytes(figure)


def confusion_figure(items: list[dict], names):
    """Counts of (true, predicted) classes over the classes that occur, as a figure."""
    from matplotlib.figure import Figure

    shown, counts = confusion_counts(items)
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
    total = max(int(counts.sum()), 1)
    axes.set_title(f"{counts.sum()} images, accuracy {np.trace(counts) / total:.1%}")
    if len(shown) <= 30:
        top = counts.max() if counts.size else 0
        for (row, column), count in np.ndenumerate(counts):
            axes.text(column, row, str(count), ha="center", va="center",
                      color="white" if count > top / 2 else "black", fontsize=9)
    return figure


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str,
           row_classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
                    + "</tr>")
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>'
            + "\n".join(body) + "</tbody></table>")


def _parameters(parameters: dict) -> str:
    rows = [(key, value if isinstance(value, str) else repr(value))
            for key, value in parameters.items()]
    return _table(("parameter", "value"), rows, "parameters")


def confusion_table(items: list[dict], names) -> str:
    """The confusion matrix as an HTML table: rows true classes, columns predicted."""
    shown, counts = confusion_counts(items)
    labels = [class_name(index, names) for index in shown]
    head = "<th>true \\ predicted</th>" + "".join(
        f"<th>{html.escape(label)}</th>" for label in labels)
    body = []
    for i, label in enumerate(labels):
        cells = "".join(
            f'<td class="count{" diagonal" if i == j else ""}">{counts[i, j]}</td>'
            for j in range(len(labels)))
        body.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return (f'<table id="confusion-matrix"><thead><tr>{head}</tr></thead><tbody>'
            + "\n".join(body) + "</tbody></table>")


def _page(title: str, sections: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n")


# --------------------------------------------------------------------------- reports

def dataset_report(items: list[dict], names, explained: Sequence[ExplainedImage] = (),
                   parameters: dict | None = None, title: str = "Dataset report") -> str:
    """The HTML of a dataset run: ``items`` (``core.dataset`` predictions, in order) with
    class ``names``, the worst images ``explained``, and the ``parameters`` used."""
    failed = sum(item["error"] is not None for item in items)
    sections = [f'<p id="summary">{html.escape(summary(items, failed))}</p>']
    if parameters:
        sections += ["<h2>Parameters</h2>", _parameters(parameters)]
    labelled = [item for item in items if item["error"] is None and item["true"] >= 0]
    if labelled:
        sections += ["<h2>Confusion matrix</h2>", confusion_table(items, names),
                     image_tag(png_bytes(confusion_figure(items, names)), "confusion matrix")]
    if explained:
        what = "highest loss" if labelled else "lowest probability"
        sections.append(f"<h2>The {len(explained)} worst images ({what})</h2>")
        figures = []
        for each in explained:
            item = each.item
            caption = (f"{item['file']}: true {class_name(item['true'], names) or '-'}, "
                       f"predicted {class_name(item['predicted'], names)} "
                       f"({item['probability']:.3f})")
            if item["true"] >= 0:
                caption += f", loss {item['loss']:.3f}"
            parts = []
            if each.image is not None:
                parts.append(image_tag(png_bytes(each.image), item["file"], "thumbnail"))
            if each.result is not None:
                parts.append(image_tag(result_png(each.result), f"map of {item['file']}"))
            elif each.error:
                caption += f" (no map: {each.error})"
            figures.append('<figure class="worst">' + "".join(parts)
                           + f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        sections.append('<div class="images">' + "\n".join(figures) + "</div>")
    sections.append("<h2>Predictions</h2>")
    sections.append(_table(COLUMNS, [csv_fields(item, names) for item in items], "predictions",
                           ["wrong" if is_wrong(item) else "" for item in items]))
    return _page(title, sections)


def canvas_report(tiles: Sequence[tuple[Any, dict, str]], parameters: dict | None = None,
                  title: str = "Canvas report") -> str:
    """The HTML of the canvas: each ``(result, style, title)`` drawn as its tile is, with
    its parameters."""
    sections = []
    if parameters:
        sections += ["<h2>Parameters</h2>", _parameters(parameters)]
    figures = []
    for result, style, name in tiles:
        said = name or result.title
        params = ", ".join(f"{k}={v!r}" for k, v in (result.params or {}).items())
        figures.append('<figure class="tile">' + image_tag(result_png(result, style), said)
                       + f"<figcaption>{html.escape(said)}"
                       + (f"<br>{html.escape(params)}" if params else "")
                       + "</figcaption></figure>")
    sections += [f"<h2>{len(figures)} results</h2>",
                 '<div class="images">' + "\n".join(figures) + "</div>"]
    return _page(title, sections)


def is_wrong(item: dict) -> bool:
    return item["error"] is None and item["true"] >= 0 and item["predicted"] != item["true"]


def explain_items(checked, context, items: Sequence[dict], load: Callable[[Any], Any], *,
                  progress: Callable[[float], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> list[ExplainedImage]:
    """Run the checked request ``checked`` on each item's image (batched as
    ``core.batch_explain`` runs many images); one :class:`ExplainedImage` per item."""
    from .batch_explain import explain_images

    explained = []
    outcomes = explain_images([checked], context, [item["path"] for item in items], load,
                              progress=progress, should_stop=should_stop)
    for item, outcome in zip(items, outcomes):
        image = outcome.image.resized if outcome.image is not None else None
        result = outcome.results[0] if outcome.results else None
        explained.append(ExplainedImage(item, image, result, outcome.error))
    return explained


def write(path, text: str) -> Path:
    """Write the report ``text`` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
