"""The result of one method run: raw arrays plus what is needed to show them.

A heatmap whose values are all equal (a Grad-CAM map of a 1x1 layer, an all-zero gradient)
locates nothing: :attr:`Result.is_constant` says so, its ``warnings`` say why in plain
words, and :mod:`.plotting` draws that message instead of a uniformly coloured image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .context import Target

#: ``heatmap``: ``data`` is (H, W), over ``background`` (the input as the model sees it).
#: ``grid``: ``data`` is (N, h, w) grey or (N, h, w, 3) RGB images (``info["rgb"]``).
#: ``scores``: ``data`` is a 1-D vector (class scores, or a non-spatial layer's output).
KINDS = ("heatmap", "grid", "scores")
#: Values closer than this, relative to the largest |value|, count as equal: a constant map
#: stays constant through bilinear upsampling only up to float32 rounding.
CONSTANT_TOLERANCE = 1e-6


def file_stem(text: str) -> str:
    """``text`` (a title, a layer path) as a file name without suffix."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "result"


def is_constant_map(data: np.ndarray) -> bool:
    """Whether all values of ``data`` are equal (up to :data:`CONSTANT_TOLERANCE`)."""
    data = np.asarray(data)
    return bool(np.ptp(data) <= CONSTANT_TOLERANCE * np.abs(data).max())


def constant_map_warning(name: str, data: np.ndarray) -> str:
    """The warning for a constant map ``data`` of the method ``name``."""
    bound = float(np.abs(data).max())
    what = "zero everywhere" if bound == 0 else f"constant ({float(data.flat[0]):.3g} everywhere)"
    return f"{name} map is {what}: it singles out no part of the image"


@dataclass
class Result:
    """Raw float32 arrays (never normalised), a title, the parameters used, optional frames.

    ``channels`` keeps a heatmap's per-channel values (H, W, C) where ``data`` reduces them
    over the channels (``info["channel_reduction"]`` says how); ``warnings`` are
    plain-language lines about what the result does not show.
    """

    #: The method's id and the title, both stamped by ``core.explain.execute`` from the
    #: method's declaration: a method gives at most what its title says after its name.
    method: str = ""
    title: str = ""
    kind: str = "heatmap"
    data: np.ndarray = None
    params: dict[str, Any] = field(default_factory=dict)
    target: Target | None = None
    background: np.ndarray | None = None
    frames: np.ndarray | None = None
    labels: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    channels: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown result kind {self.kind!r}")
        if self.data is None:
            raise ValueError("a result needs its data")
        self.data = np.asarray(self.data, dtype=np.float32)
        if self.frames is not None:
            self.frames = np.asarray(self.frames, dtype=np.float32)
        if self.channels is not None:
            self.channels = np.asarray(self.channels, dtype=np.float32)

    @property
    def is_constant(self) -> bool:
        """A heatmap whose values are all equal: it shows no place, only its warnings."""
        return self.kind == "heatmap" and is_constant_map(self.data)

    def plot(self, figure=None, **style):
        """Draw on a matplotlib figure (a new one by default) and return it."""
        from .plotting import draw

        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=(6, 5), layout="constrained")
        draw(self, figure, **style)
        return figure

    def save_npy(self, path: str | Path) -> Path:
        """``data`` as a ``.npy`` file; a grid of one image is saved as that image (the
        filter or channel asked for: (h, w) or (h, w, 3), no axis of size one in front)."""
        path = Path(path)
        np.save(path, self.data[0] if self.kind == "grid" and len(self.data) == 1 else self.data)
        return path

    def save_png(self, path: str | Path, **style) -> Path:
        from matplotlib.figure import Figure

        path = Path(path)
        figure = Figure(figsize=(6, 5), layout="constrained")
        self.plot(figure, **style)
        figure.savefig(path, dpi=100)
        return path

    def save_gif(self, path: str | Path, duration_ms: int = 80) -> Path:
        """The recorded frames as an animated GIF (first image of each frame)."""
        from .plotting import frame_images

        if self.frames is None or len(self.frames) == 0:
            raise ValueError(f"{self.method} recorded no frames")
        images = frame_images(self)
        path = Path(path)
        images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms,
                       loop=0)
        return path
