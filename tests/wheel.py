"""The wheel of this source tree, as a release would upload it (import from tests)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What goes into the wheel: the project files and the package and Designer folders.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "dial_visualization", "ui")


def build_wheel(folder: Path) -> Path:
    """Build the wheel in ``folder`` from a copy of what goes into it, so that no stale
    build output of the tree gets in; return its path."""
    source = folder / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel",
                    "--no-deps", "-w", str(folder / "dist"), str(source)],
                   check=True, timeout=300)
    wheel, = (folder / "dist").glob("dial_visualization-*.whl")
    return wheel
