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
                     "Export canvas as notebook…", "Load methods…",
                     "Unload loaded methods", "Quit"]
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


@pytest.fixture
def window(qtbot, demo):
    main_window = app.MainWindow()
    main_window.widget.show_dialogs = False
    qtbot.addWidget(main_window)
    paths = demo["paths"]
    main_window.widget.set_labels(demo["labels"], str(paths["labels"]))
    assert main_window.widget.set_model(demo["model"], str(paths["model"]))
    assert main_window.widget.set_image(str(paths["images"][0]))
    assert main_window.widget.wait_until_idle(60)
    yield main_window
    if main_window.loaded_methods:
        main_window.unload_methods()
    main_window.widget.shutdown()


def _prediction_offers(window):
    from dial_visualization.core.context import Target
    from dial_visualization.core.registry import NodeType

    tree = window.widget.layer_tree.model()
    index = tree.index_for(Target(NodeType.PREDICTION))
    return [method.id for method in tree.methods(index)]


def test_methods_loaded_from_a_file_are_offered_at_once_run_and_unload(window, qtbot):
    from pathlib import Path

    from dial_visualization.core.context import Target
    from dial_visualization.core.registry import NodeType

    example = Path(__file__).resolve().parents[2] / "examples" / "custom_method.py"
    loaded = window.load_methods_from(example)
    assert [a.id for a in loaded] == ["pixel-contrast"]
    assert "pixel-contrast" in _prediction_offers(window)
    assert window.unload_methods_action.isEnabled()
    with qtbot.waitSignal(window.widget.result_added, timeout=60000) as added:
        window.widget.run_method("pixel-contrast", Target(NodeType.PREDICTION))
    assert added.args[0].method == "pixel-contrast"
    window.unload_methods()
    assert "pixel-contrast" not in HandlerConfiguration.default().all()
    assert "pixel-contrast" not in _prediction_offers(window)
    assert [r.method for r in window.widget.results()] == ["pixel-contrast"]  # tile kept


def test_a_broken_method_file_fails_alone(window, qtbot, tmp_path):
    from dial_visualization.core.context import Target
    from dial_visualization.core.registry import NodeType

    unimportable = tmp_path / "unimportable.py"
    unimportable.write_text("raise ImportError('needs a package you do not have')\n")
    assert window.load_methods_from(unimportable) == []
    assert "needs a package you do not have" in window.widget.log_view.toPlainText()

    crashing = tmp_path / "crashing.py"
    crashing.write_text(
        "from dial_visualization import NodeType, method\n"
        "@method(id='crashes', name='Crashes', node_types={NodeType.PREDICTION})\n"
        "def crashes(context, target, params, progress, should_stop):\n"
        "    raise RuntimeError('boom')\n")
    assert [a.id for a in window.load_methods_from(crashing)] == ["crashes"]
    with qtbot.waitSignal(window.widget.result_added, timeout=60000):
        window.widget.run_method("saliency", Target(NodeType.PREDICTION))
    with qtbot.waitSignal(window.widget.run_failed, timeout=60000) as failed:
        window.widget.run_method("crashes", Target(NodeType.PREDICTION))
    assert "boom" in failed.args[0]
    with qtbot.waitSignal(window.widget.result_added, timeout=60000):
        window.widget.run_method("grad-cam", Target(NodeType.PREDICTION))
    assert [r.method for r in window.widget.results()] == ["saliency", "grad-cam"]


def test_export_canvas_as_notebook_writes_the_runs(window, qtbot, tmp_path):
    import nbformat

    from dial_visualization.core.context import Target
    from dial_visualization.core.registry import NodeType

    with qtbot.waitSignal(window.widget.result_added, timeout=60000):
        window.widget.run_method("grad-cam", Target(NodeType.PREDICTION))
    path = tmp_path / "canvas.ipynb"
    assert window.export_notebook_to(path)
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "dv.explain(" in code and "'grad-cam'" in code


def test_every_run_given_is_made_before_the_screenshot(qapp, tmp_path, demo):
    shot = tmp_path / "two.png"
    assert app.main(["--screenshot", str(shot), "--run", "grad-cam", "--run", "saliency"]) == 0
    assert app.main(["--screenshot", str(shot), "--run", "grad-cam", "--run", "nothing"]) == 1


def test_screenshot_prints_why_it_failed(tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_text("not a model")
    assert app.main(["--screenshot", str(tmp_path / "shot.png"), "--model", str(broken)]) == 1
    assert "error: broken.keras is not a valid .keras file" in capsys.readouterr().err
    assert app.main(["--screenshot", str(tmp_path / "shot.png"), "--run", "nothing"]) == 1
    assert "error: unknown method 'nothing'" in capsys.readouterr().err
