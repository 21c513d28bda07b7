"""The project as a user installs it: a wheel, outside the source tree, opens the widget
with its Designer file from ui/ (shipped as the data package dial_visualization.ui)."""

import os
import subprocess
import sys

from wheel import ROOT, build_wheel

OPEN_THE_WIDGET = """
import sys
from qtpy import QtWidgets
app = QtWidgets.QApplication([])
import dial_visualization
from dial_visualization.qt.widget import UI_FILE, ConvVisualizationWidget
assert dial_visualization.__file__.startswith(sys.argv[1]), dial_visualization.__file__
assert str(UI_FILE).startswith(sys.argv[1]), UI_FILE
widget = ConvVisualizationWidget()
print(UI_FILE.name, widget.objectName(), widget.preprocessing_combo.count())
"""


def test_the_designer_file_is_at_the_top_of_the_source_tree():
    from dial_visualization.qt.widget import UI_FILE

    assert UI_FILE == ROOT / "ui" / "ConvVisualizer.ui"  # the editable install maps ui/


def test_an_installed_wheel_opens_the_widget_outside_the_source_tree(tmp_path):
    wheel = build_wheel(tmp_path)
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install",
                    "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)
    assert (target / "dial_visualization" / "ui" / "ConvVisualizer.ui").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-c", OPEN_THE_WIDGET, str(target)], cwd=elsewhere,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(target),
                               "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ConvVisualizer.ui", "ConvVisualizer", "5"]
