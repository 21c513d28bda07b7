"""Matplotlib drawing of a :class:`Result`, shared by ``Result.plot``, the CLI and the GUI.

How a map is read:

* A heatmap is laid over a **greyscale** copy of the input (``background="grey"``), so that
  the map's colours are the only colours (``"colour"`` keeps the input's colours, ``"none"``
  draws the map alone).
* Its colours span the ``clip`` percentile of |value| (99 by default), so that one outlier
  does not leave every other pixel white; larger values take the end colour. A signed map
  uses a diverging colour map centred on zero (-bound .. +bound), an unsigned one 0 .. bound.
  The caption under the map says the values' range and the clipping.
* A :class:`Scale` given to :func:`draw` (:func:`shared_scale` of several results: the
  canvas's "same scale per method") replaces the map's own, so maps compare by colour.
* A constant map, or one that is numerically zero (:func:`.result.is_constant_map`), is not
  drawn at all: the figure shows its warning ("no signal (max |value| 1e-14) ...") instead.
* A grid shows ``MAX_GRID_IMAGES`` cells per ``page``, each numbered (its channel, filter
  or filter:input channel); the caption says which cells of how many are shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .result import constant_map_warning

MAX_GRID_IMAGES = 64
#: Colours span this percentile of |value| unless told otherwise.
DEFAULT_CLIP = 99.0
BACKGROUNDS = ("grey", "colour", "none")
SIGNED_CMAP = "RdBu_r"
UNSIGNED_CMAP = "jet"


def normalise(image: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] for display only (a constant image becomes 0)."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(np.min(image)), float(np.max(image))
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


@dataclass(frozen=True)
class Scale:
    """How a heatmap's values become colours: ``low`` .. ``high`` on ``cmap``.

    ``bound`` is the ``clip`` percentile of |value| (100: the largest); ``minimum`` and
    ``maximum`` are the values' true range (of all maps pooled); ``shared`` counts the maps
    pooled (0: the map's own scale).
    """

    cmap: str
    low: float
    high: float
    signed: bool
    clip: float
    bound: float
    minimum: float
    maximum: float
    shared: int = 0

    def caption(self, data: np.ndarray) -> str:
        """The range of the map ``data`` drawn on this scale, and how the scale was made."""
        what = f"values {float(np.min(data)):.3g} .. {float(np.max(data)):.3g}"
        of = f" of {self.shared} maps" if self.shared else ""
        if self.clip < 100:
            what += (f"; colours clipped at the {self.clip:g}th percentile of |value|{of} "
                     f"({self.bound:.3g})")
        elif self.shared:
            what += f"; colours span the largest |value|{of} ({self.bound:.3g})"
        return what


def heatmap_scale(data, clip: float = DEFAULT_CLIP, shared: int = 0) -> Scale:
    """The :class:`Scale` of ``data`` (one map, or a list of maps pooled)."""
    values = (np.concatenate([np.ravel(d) for d in data]) if isinstance(data, (list, tuple))
              else np.ravel(data)).astype(np.float64)
    clip = float(min(max(clip, 50.0), 100.0))
    minimum, maximum = float(values.min()), float(values.max())
    magnitude = np.abs(values)
    bound = float(np.percentile(magnitude, clip)) if clip < 100 else float(magnitude.max())
    bound = bound if bound > 0 else (float(magnitude.max()) or 1.0)
    signed = minimum < 0
    low = -bound if signed else 0.0
    return Scale(SIGNED_CMAP if signed else UNSIGNED_CMAP, low, bound, signed, clip, bound,
                 minimum, maximum, shared)


def shared_scale(results, clip: float = DEFAULT_CLIP) -> Scale | None:
    """One scale for the drawable heatmaps among ``results`` (None when there are none)."""
    maps = [r.data for r in results if r.kind == "heatmap" and not r.is_constant]
    return heatmap_scale(maps, clip, shared=len(maps)) if maps else None


def score_text(result) -> str:
    """", score 0.9731": the explained class's score where the result knows it, else ""."""
    score = result.info.get("class_score")
    return "" if score is None else f", score {score:.4g}"


def title_of(result) -> str:
    """The result's title, with the explained class's score where the result knows it."""
    return result.title + score_text(result)


def grey(background: np.ndarray) -> np.ndarray:
    """(H, W) luminance (ITU-R BT.601) of an (H, W, C) image."""
    background = np.asarray(background, dtype=np.float32)
    if background.shape[-1] == 3:
        return background @ np.array([0.299, 0.587, 0.114], np.float32)
    return background[..., 0]


def page_count(result) -> int:
    """How many pages of ``MAX_GRID_IMAGES`` cells a grid has (1 for other results)."""
    return max(1, math.ceil(len(result.data) / _page_size(result))) if result.kind == "grid" \
        else 1


def cell_label(result, index: int) -> str:
    """What cell ``index`` of a grid shows: its channel or filter (filter:input channel for
    a kernel shown one input channel per column)."""
    channels = result.info.get("channels")
    if channels is not None and len(channels) == len(result.data):
        return str(channels[index])
    target = result.target
    if len(result.data) == 1 and target is not None and target.index is not None:
        return str(target.index)
    columns = result.info.get("grid_columns")
    return f"{index // columns}:{index % columns}" if columns else str(index)


def draw(result, figure, cmap: str | None = None, alpha: float = 0.5, *,
         background: str = "grey", clip: float = DEFAULT_CLIP, scale: Scale | None = None,
         page: int = 0) -> None:
    """Draw ``result`` into ``figure`` (a Figure or SubFigure, cleared first)."""
    figure.clear()
    if result.is_constant:
        _draw_message(result, figure)
        figure.suptitle(result.title, fontsize=9)  # no map: its class's score says nothing
        return
    if result.kind == "heatmap":
        _draw_heatmap(result, figure, cmap, alpha, background,
                      scale or heatmap_scale(result.data, clip))
    elif result.kind == "grid":
        _draw_grid(result, figure, cmap, page)
    else:
        _draw_scores(result, figure)
    figure.suptitle("\n".join([title_of(result), *result.warnings]), fontsize=9, wrap=True)


def _draw_message(result, figure):
    """The warnings of a constant heatmap, in place of the image."""
    message = "\n\n".join(result.warnings or [constant_map_warning("The", result.data)])
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, wrap=True)


def _draw_heatmap(result, figure, cmap, alpha, background, scale: Scale):
    axes = figure.add_subplot(1, 1, 1)
    image = result.background
    if image is not None and background != "none":
        if background == "colour" and image.shape[-1] == 3:
            axes.imshow(image)
        else:
            axes.imshow(grey(image), cmap="gray", vmin=0, vmax=255)
        shown = axes.imshow(result.data, cmap=cmap or scale.cmap, vmin=scale.low,
                            vmax=scale.high, alpha=alpha)
    else:
        shown = axes.imshow(result.data, cmap=cmap or scale.cmap, vmin=scale.low,
                            vmax=scale.high)
    axes.set_axis_off()
    clipped_low = scale.signed and float(result.data.min()) < scale.low
    clipped_high = float(result.data.max()) > scale.high
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (clipped_low, clipped_high), "neither")
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04, extend=extend)
    figure.supxlabel(scale.caption(result.data), fontsize=7, wrap=True)


def _page_size(result) -> int:
    columns = result.info.get("grid_columns")
    if columns and columns <= MAX_GRID_IMAGES:
        return MAX_GRID_IMAGES // columns * columns  # whole rows of a kernel's filters
    return MAX_GRID_IMAGES


def _draw_grid(result, figure, cmap, page):
    size = _page_size(result)
    page = int(min(max(page, 0), page_count(result) - 1))
    start = page * size
    images = result.data[start:start + size]
    count = len(images)
    columns = result.info.get("grid_columns")
    columns = columns if columns and columns <= size else math.ceil(math.sqrt(count))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    rgb = result.info.get("rgb", False)
    numbered = len(result.data) > 1
    for i, image in enumerate(images):
        axes = figure.add_subplot(rows, columns, i + 1)
        if rgb:
            axes.imshow(normalise(image))
        else:
            axes.imshow(image, cmap=cmap or "viridis")
        axes.set_axis_off()
        axes.set_gid(f"cell {start + i}")  # which cell a click hits
        if numbered:
            axes.set_title(cell_label(result, start + i), fontsize=6, pad=1)
    if len(result.data) > count:
        figure.supxlabel(f"{start}-{start + count - 1} of {len(result.data)} (page {page + 1} "
                         f"of {page_count(result)})", fontsize=8)


def _draw_scores(result, figure):
    axes = figure.add_subplot(1, 1, 1)
    top_k = result.info.get("top_k")
    order = (np.argsort(result.data)[::-1][:top_k] if top_k
             else np.arange(min(len(result.data), MAX_GRID_IMAGES)))
    names = [result.labels[i] if result.labels and i < len(result.labels) else str(i)
             for i in order]
    axes.barh(range(len(order)), result.data[order], color="tab:blue")
    axes.set_yticks(range(len(order)), names, fontsize=8)
    axes.invert_yaxis()


def frame_images(result) -> list[Image.Image]:
    """One 8-bit picture per recorded frame (the first image of a grid), for GIF export."""
    frames = result.frames if result.kind != "grid" else result.frames[:, 0]
    pictures = []
    for frame in frames:
        pixels = (normalise(frame) * 255).astype(np.uint8)
        pictures.append(Image.fromarray(pixels.squeeze()))
    return pictures
