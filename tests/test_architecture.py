"""The layering rules of pyproject.toml's import-linter contracts hold for the whole package:
the core never imports Qt, and Qt is only reached through qtpy."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_no_module_imports_a_qt_binding_directly():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "dial_visualization").rglob("*.py")
                 if any(line.lstrip().startswith(("import PySide", "from PySide", "import PyQt",
                                                  "from PyQt"))
                        for line in p.read_text(encoding="utf-8").splitlines())]
    assert offenders == []
