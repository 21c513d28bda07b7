"""The standalone app: the demo at start, preloading files, the menu, and --screenshot."""

import argparse

import pytest
from builders import random_pixels, sequential_model
from PIL import Image
from qtpy import QtGui

from dial_visualization.core.registry import HandlerConfiguration
from dial_visualization.qt import app


def _non_empty_png(path, min_size=(800, 500)):
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.size[0] >= min_size[0] and picture.size[1] >= min_size[1]
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50  # a real window, not a blank image


def test_screenshot_of_the_demo_at_start(qapp, tmp_path, demo):
    shot = tmp_path / "s.png"
    assert app.main(["--screenshot", str(shot)]) == 0
    _non_empty_png(shot)


def test_screenshot_after_a_grad_cam_run(qapp, tmp_path, demo):
    if "grad-cam" not in HandlerConfiguration.default().all():
        pytest.skip("grad-cam is not registered")
    shot = tmp_path / "grad_cam.png"
    assert app.main(["--screenshot", str(shot), "--run", "grad-cam"]) == 0
    _non_empty_png(shot)


def test_screenshot_fails_on_an_unknown_method(qapp, tmp_path, demo):
    shot = tmp_path / "unknown.png"
    assert app.main(["--screenshot", str(shot), "--run", "no-such-method"]) == 1
    _non_empty_png(shot)  # the window is still saved


def test_model_image_and_labels_are_preloaded(qtbot, tmp_path):
    model_path = tmp_path / "small.keras"
    sequential_model().save(model_path)
    image_path = tmp_path / "input.png"
    Image.fromarray(random_pixels(20)).save(image_path)
    labels_path = tmp_path / "names.txt"
    labels_path.write_text("a\nb\nc\nd\n")
    window = app.MainWindow()
    qtbot.addWidget(window)
    window.widget.show_dialogs = False
    options = argparse.Namespace(model=str(model_path), image=str(image_path),
                                 labels=str(labels_path), preprocessing="symmetric",
                                 screenshot=None, run=None)
    assert app._preload(window, options)
    widget = window.widget
    assert widget.session().model_path == str(model_path)
    assert widget.image.name == "input" and widget.image.preprocessing == "symmetric"
    assert widget.labels == ["a", "b", "c", "d"]
    assert window.windowTitle() == "dial-visualization — sequential_cnn"
    assert widget.wait_until_idle(30)


def test_menu_has_the_file_actions_with_standard_shortcuts(qtbot, demo):
    window = app.MainWindow()
    qtbot.addWidget(window)
    assert [a.text() for a in window.menuBar().actions()] == ["&File"]
    texts = [a.text().replace("&", "") for a in window.file_menu.actions()
             if not a.isSeparator()]
    assert texts == ["Open model…", "Open image…", "Open labels…", "Export canvas…",
                     "Export canvas as notebook…", "Load algorithms…", "Quit"]
    keys = QtGui.QKeySequence.StandardKey
    for action, key in ((window.open_model_action, keys.Open), (window.quit_action, keys.Quit),
                        (window.export_canvas_action, keys.Save)):
        standard = QtGui.QKeySequence(key)
        assert not action.shortcut().isEmpty()
        assert standard.isEmpty() or action.shortcut() == standard
    assert window.centralWidget() is window.widget


def test_run_without_screenshot_is_refused():
    with pytest.raises(SystemExit):
        app.main(["--run", "grad-cam"])
