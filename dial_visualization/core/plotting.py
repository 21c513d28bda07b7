"""Matplotlib drawing of a :class:`Result`, shared by ``Result.plot``, the CLI and the GUI.

A result's warnings are drawn under its title. A constant heatmap is not drawn at all: one
colour over the image would read as "everything matters equally", so the figure shows the
title and the warning that says why the map is constant instead.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .result import constant_map_warning

MAX_GRID_IMAGES = 64


def normalise(image: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] for display only (a constant image becomes 0)."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(np.min(image)), float(np.max(image))
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def heatmap_limits(data: np.ndarray) -> tuple[str, float, float]:
    """Colour map and limits: diverging and symmetric for signed maps, sequential otherwise."""
    low, high = float(np.min(data)), float(np.max(data))
    if low < 0 < high or (low < 0 and high <= 0):
        bound = max(abs(low), abs(high)) or 1.0
        return "RdBu_r", -bound, bound
    return "jet", low, high if high > low else low + 1.0


def draw(result, figure, cmap: str | None = None, alpha: float = 0.5) -> None:
    """Draw ``result`` into ``figure`` (cleared first)."""
    figure.clear()
    if result.is_constant:
        _draw_message(result, figure)
        figure.suptitle(result.title, fontsize=9)
        return
    if result.kind == "heatmap":
        _draw_heatmap(result, figure, cmap, alpha)
    elif result.kind == "grid":
        _draw_grid(result, figure, cmap)
    else:
        _draw_scores(result, figure)
    figure.suptitle("\n".join([result.title, *result.warnings]), fontsize=9, wrap=True)


def _draw_message(result, figure):
    """The warnings of a constant heatmap, in place of the image."""
    message = "\n\n".join(result.warnings or [constant_map_warning("The", result.data)])
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, wrap=True)


def _draw_heatmap(result, figure, cmap, alpha):
    axes = figure.add_subplot(1, 1, 1)
    default_cmap, low, high = heatmap_limits(result.data)
    if result.background is not None:
        background = result.background
        axes.imshow(background[..., 0] if background.shape[-1] == 1 else background,
                    cmap="gray" if background.shape[-1] == 1 else None)
        shown = axes.imshow(result.data, cmap=cmap or default_cmap, vmin=low, vmax=high,
                            alpha=alpha)
    else:
        shown = axes.imshow(result.data, cmap=cmap or default_cmap, vmin=low, vmax=high)
    axes.set_axis_off()
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04)


def _draw_grid(result, figure, cmap):
    images = result.data[:MAX_GRID_IMAGES]
    count = len(images)
    columns = result.info.get("grid_columns") or math.ceil(math.sqrt(count))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    rgb = result.info.get("rgb", False)
    for i, image in enumerate(images):
        axes = figure.add_subplot(rows, columns, i + 1)
        if rgb:
            axes.imshow(normalise(image))
        else:
            axes.imshow(image, cmap=cmap or "viridis")
        axes.set_axis_off()
    if len(result.data) > count:
        figure.text(0.5, 0.01, f"first {count} of {len(result.data)}", ha="center", fontsize=8)


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
