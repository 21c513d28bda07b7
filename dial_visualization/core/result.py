"""The result of one algorithm run: raw arrays plus what is needed to show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .context import Target

#: ``heatmap``: ``data`` is (H, W), over ``background`` (the input as the model sees it).
#: ``grid``: ``data`` is (N, h, w) grey or (N, h, w, 3) RGB images (``info["rgb"]``).
#: ``scores``: ``data`` is a 1-D vector (class scores, or a non-spatial layer's output).
KINDS = ("heatmap", "grid", "scores")


@dataclass
class Result:
    """Raw float32 arrays (never normalised), a title, the parameters used, optional frames."""

    method: str
    title: str
    kind: str
    data: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    target: Target | None = None
    background: np.ndarray | None = None
    frames: np.ndarray | None = None
    labels: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown result kind {self.kind!r}")
        self.data = np.asarray(self.data, dtype=np.float32)
        if self.frames is not None:
            self.frames = np.asarray(self.frames, dtype=np.float32)

    def plot(self, figure=None, **style):
        """Draw on a matplotlib figure (a new one by default) and return it."""
        from .plotting import draw

        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=(6, 5))
        draw(self, figure, **style)
        return figure

    def save_npy(self, path: str | Path) -> Path:
        path = Path(path)
        np.save(path, self.data)
        return path

    def save_png(self, path: str | Path, **style) -> Path:
        from matplotlib.figure import Figure

        path = Path(path)
        figure = Figure(figsize=(6, 5))
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
