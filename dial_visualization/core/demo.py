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
