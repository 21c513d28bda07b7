"""The built-in demo: a small CNN trained on drawn shapes, its labels and sample images
(made by ``examples/train_demo_model.py``). Importing this module costs nothing."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"


def demo_paths() -> dict:
    """The built-in demo model, images and labels."""
    return {
        "model": DEMO_DIR / "demo_model.keras",
        "labels": DEMO_DIR / "labels.txt",
        "images": sorted(DEMO_DIR.glob("*.png")),
    }


#: The demo model's classes, in the order of its output.
CLASSES = ("circle", "square", "triangle", "cross")
IMAGE_SIZE = 64


def make_shape_image(kind: str, rng, size: int = IMAGE_SIZE):
    """A (size, size, 3) uint8 image of one shape of ``kind`` (one of :data:`CLASSES`), bright
    on a dark noisy background, as the demo model was trained on."""
    import numpy as np

    background = rng.uniform(0, 100, 3)  # dark background, bright shape
    foreground = rng.uniform(155, 255, 3)

    r = rng.uniform(0.15, 0.3) * size  # half-extent of the shape
    cx, cy = rng.uniform(r + 2, size - r - 2, 2)
    y, x = np.mgrid[:size, :size] + 0.5
    dx, dy = x - cx, y - cy
    if kind == "circle":
        mask = dx**2 + dy**2 <= r**2
    elif kind == "square":
        mask = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    elif kind == "triangle":
        angles = rng.uniform(0, 2 * np.pi) + np.arange(3) * 2 * np.pi / 3
        vx, vy = r * np.cos(angles), r * np.sin(angles)
        # Inside when on the same side of all three edges.
        sides = np.stack([
            (vx[(i + 1) % 3] - vx[i]) * (dy - vy[i]) - (vy[(i + 1) % 3] - vy[i]) * (dx - vx[i])
            for i in range(3)
        ])
        mask = np.all(sides >= 0, axis=0) | np.all(sides <= 0, axis=0)
    elif kind == "cross":
        w = r / 3
        mask = ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))
    else:
        raise ValueError(f"unknown shape kind: {kind!r}")

    image = np.where(mask[..., None], foreground, background)
    image += rng.normal(0, rng.uniform(3, 20), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_shapes(folder, per_class: int, seed: int = 1) -> list[Path]:
    """``per_class`` new shape images per class as ``folder/<class>/<class>_<i>.png`` (a
    labelled folder as ``keras.utils.image_dataset_from_directory`` reads it); the files
    written."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    written = []
    for kind in CLASSES:
        (Path(folder) / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            path = Path(folder) / kind / f"{kind}_{i:04d}.png"
            Image.fromarray(make_shape_image(kind, rng)).save(path)
            written.append(path)
    return written
