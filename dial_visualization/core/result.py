"""The result of one method run: raw arrays plus what is needed to show them.

A heatmap whose values are all equal (a Grad-CAM map of a 1x1 layer, an all-zero gradient),
or that is numerically zero (every |value| below :data:`NO_SIGNAL_LEVEL`: an untrained
model's 1e-14), locates nothing: :attr:`Result.is_constant` says so, its ``warnings`` say
why in plain words, and :mod:`.plotting` draws that message instead of a uniformly coloured
image or amplified rounding noise.
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
#: A map whose largest |value| is below this has no signal: it is numerically zero. Every
#: map is a class score's (a probability or a logit, of order 0.01 to 10) change per input
#: value, per pixel or per feature map; float32 resolves such a score to about 1e-7 of
#: itself (eps 1.2e-7). At 1e-12 per value, moving all 150,528 values of a 224x224x3 input
#: by one unit together changes the score by 1.5e-7, one float32 step of a score of order one:
#: the pattern left is rounding, and scaling it to full colour would show noise as a finding.
#: An absolute level: maps are compared across images, classes and models in these units.
NO_SIGNAL_LEVEL = 1e-12


def file_stem(text: str) -> str:
    """``text`` (a title, a layer path) as a file name without suffix."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "result"


def is_no_signal_map(data: np.ndarray) -> bool:
    """Whether ``data`` is numerically zero: every |value| below :data:`NO_SIGNAL_LEVEL`."""
    return bool(np.abs(np.asarray(data)).max() < NO_SIGNAL_LEVEL)


def is_constant_map(data: np.ndarray) -> bool:
    """Whether ``data`` singles out nothing: all its values are equal (up to
    :data:`CONSTANT_TOLERANCE`), or it is numerically zero (:func:`is_no_signal_map`)."""
    data = np.asarray(data)
    return bool(np.ptp(data) <= CONSTANT_TOLERANCE * np.abs(data).max()) or \
        is_no_signal_map(data)


def constant_map_warning(name: str, data: np.ndarray) -> str:
    """The warning for a constant (or numerically zero) map ``data`` of the method ``name``."""
    bound = float(np.abs(data).max())
    if bound == 0:
        return f"{name} map is zero everywhere: it singles out no part of the image"
    if bound < NO_SIGNAL_LEVEL:
        return (f"{name} map: no signal (max |value| {bound:.2g}): numerically zero "
                f"(below {NO_SIGNAL_LEVEL:g}), so any pattern in it is float32 rounding, not "
                "a part of the image that matters")
    return (f"{name} map is constant ({float(data.flat[0]):.3g} everywhere): it singles out "
            "no part of the image")


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
        figure.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.05)
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
