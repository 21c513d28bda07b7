"""The layout at three window sizes (offscreen): the canvas's columns follow its width (the
Columns box is a maximum), no tile extends past the canvas's viewport, and the summary's
previews scale; the app's window takes 600 pixels of height at any width, with nothing cut
off on any tab. Each state is grabbed to a PNG (``DV_SCREENSHOTS=folder`` keeps them)."""

import os
from pathlib import Path

import pytest
from qtpy import QtCore, QtWidgets

from dial_visualization.core.context import NodeType, Target
from dial_visualization.qt.tile import TILE_MIN_WIDTH

SIZES = [(800, 600), (1280, 800), (1920, 1080)]
#: What a preset that looks wrong says under the previews (as long as such a warning gets).
WARNING = ("Warning: preprocessing 'unit' looks wrong for this model: every image gets the "
           "same class (circle) with confidence 1.000, whatever it shows; 'caffe' gives "
           "triangle (0.870) — choose it if that is how the model was trained")
#: Widgets that show something whole; the parts of composite ones are theirs to lay out.
WHOLE = (QtWidgets.QLabel, QtWidgets.QAbstractButton, QtWidgets.QComboBox, QtWidgets.QLineEdit,
         QtWidgets.QAbstractSpinBox, QtWidgets.QAbstractScrollArea, QtWidgets.QSlider)


@pytest.fixture
def shots(tmp_path):
    folder = os.environ.get("DV_SCREENSHOTS")
    return Path(folder) if folder else tmp_path


def settle(qtbot, widget):
    for _ in range(3):
        QtCore.QCoreApplication.processEvents()
        qtbot.wait(50)


def cut_off(root):
    """The shown widgets of ``root`` that are cut: lower than they need (their minimum, or
    the height their wrapped text takes at their width), narrower than a button's or an
    unwrapped text's width, or reaching out of ``root``. A scroll area's contents are
    checked against their own widget (what scrolls is not cut)."""
    found = []
    for child in root.findChildren(QtWidgets.QWidget):
        if not isinstance(child, WHOLE) or not child.isVisibleTo(root) or in_a_part(child, root):
            continue
        name = child.objectName() or type(child).__name__
        needed = max(child.heightForWidth(child.width()) if child.hasHeightForWidth()
                     else child.minimumSizeHint().height(), child.minimumHeight())
        if child.height() < needed:
            found.append((name, "height", child.height(), needed))
        text = isinstance(child, QtWidgets.QLabel) and child.text() and not child.wordWrap()
        if (text or isinstance(child, QtWidgets.QAbstractButton)) and (
                child.width() < child.sizeHint().width()):
            found.append((name, "width", child.width(), child.sizeHint().width()))
        place = QtCore.QRect(child.mapTo(root, QtCore.QPoint(0, 0)), child.size())
        if not root.rect().contains(place):
            found.append((name, "outside", place.getRect()))
        if isinstance(child, QtWidgets.QScrollArea) and child.widget() is not None:
            found += cut_off(child.widget())
    return found


def in_a_part(widget, root):
    """Whether ``widget`` is inside a scroll area, spin box or combo box below ``root``."""
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, (QtWidgets.QAbstractScrollArea, QtWidgets.QAbstractSpinBox,
                               QtWidgets.QComboBox)):
            return True
        parent = parent.parentWidget()
    return False


@pytest.fixture
def app_window(qtbot, open_demo):
    """The app's main window on the demo model, its labels and first image."""
    from dial_visualization.qt.app import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    widget = window.widget
    widget.show_dialogs, widget.warm_up_on_load = False, False
    open_demo(widget)
    yield window
    widget.shutdown()


@pytest.mark.parametrize("size", SIZES + [(1920, 600)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_app_takes_the_height_it_is_given_and_cuts_nothing_off(app_window, qtbot, shots,
                                                                   size):
    window, widget = app_window, app_window.widget
    widget.summary.show_warning(WARNING)  # the longest text under the previews
    window.show()
    qtbot.waitExposed(window)
    for tab in (widget.summary_tab, widget.visualisation_tab, widget.dataset):
        widget.tabs.setCurrentWidget(tab)
        window.resize(*size)
        settle(qtbot, window)
        window.resize(*size)  # again, as in the test above: the toolbar's short texts
        settle(qtbot, window)
        assert window.minimumSizeHint().height() <= 600, {  # which tab needs more
            widget.tabs.tabText(i): widget.tabs.widget(i).minimumSizeHint().height()
            for i in range(widget.tabs.count())}
        assert (window.width(), window.height()) == size
        assert cut_off(window) == [], tab.objectName()
    widget.tabs.setCurrentWidget(widget.summary_tab)
    settle(qtbot, window)
    previews = widget.image_original_view, widget.image_model_view
    assert all(view.height() <= view.width() for view in previews)  # never taller than wide
    assert window.grab().save(str(shots / f"app-{size[0]}x{size[1]}.png"))


def tiles_outside_the_viewport(canvas):
    viewport = canvas._scroll.viewport()
    outside = []
    for tile in canvas.tiles():
        left = tile.mapTo(viewport, QtCore.QPoint(0, 0)).x()
        right = tile.mapTo(viewport, QtCore.QPoint(tile.width() - 1, 0)).x()
        if left < 0 or right >= viewport.width():
            outside.append((tile.title, left, right, viewport.width()))
    return outside


@pytest.fixture
def four_tiles(demo_widget):
    widget = demo_widget
    for method, index in (("grad-cam", 0), ("saliency", 0), ("grad-cam", 1), ("predictions", None)):
        widget.run_method(method, Target(NodeType.PREDICTION, None, index))
    assert widget.wait_until_idle(120)
    assert len(widget.canvas.tiles()) == 4
    return widget


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_tiles_stay_inside_the_canvas_at_every_size(four_tiles, qtbot, shots, size):
    widget = four_tiles
    widget.columns_spin.setValue(4)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    settle(qtbot, widget)
    widget.resize(*size)  # as a person would, now that the buttons have their short texts
    settle(qtbot, widget)
    canvas = widget.canvas
    # the window can be about that narrow (PySide2 5.13's larger font: 810 pixels)
    assert widget.width() == max(size[0], widget.minimumSizeHint().width()) <= size[0] + 20
    assert tiles_outside_the_viewport(canvas) == []
    toolbar = widget.compact_toolbar  # short texts where the full ones do not fit
    assert toolbar.compact == (widget.canvas_panel.width() < toolbar.full_width())
    assert toolbar.compact if size[0] == 800 else (size[0] < 1920 or not toolbar.compact)
    assert widget.run_button.text() == ("Run" if toolbar.compact else "Run selected")
    assert widget.run_button.width() >= widget.run_button.sizeHint().width()  # not cut
    columns = canvas.shown_columns()
    assert 1 <= columns <= 4
    viewport = canvas._scroll.viewport().width()
    assert columns * TILE_MIN_WIDTH <= viewport  # as many as fit ...
    assert columns == 4 or (columns + 1) * TILE_MIN_WIDTH > viewport - 30  # ... and no more
    assert widget.grab().save(str(shots / f"canvas-{size[0]}x{size[1]}.png"))
    widget.tabs.setCurrentWidget(widget.summary_tab)
    settle(qtbot, widget)
    assert widget.grab().save(str(shots / f"summary-{size[0]}x{size[1]}.png"))


def test_columns_follow_the_width_and_come_back(four_tiles, qtbot):
    widget = four_tiles
    widget.columns_spin.setValue(2)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    settle(qtbot, widget)
    narrow = widget.canvas.shown_columns()
    assert tiles_outside_the_viewport(widget.canvas) == []
    widget.tabs.setCurrentWidget(widget.summary_tab)  # resized while another tab is shown
    widget.resize(1920, 1080)
    settle(qtbot, widget)
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    settle(qtbot, widget)
    assert widget.canvas.shown_columns() == 2 >= narrow
    grid = widget.canvas._grid
    positions = [grid.getItemPosition(grid.indexOf(t))[:2] for t in widget.canvas.tiles()]
    assert positions == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert tiles_outside_the_viewport(widget.canvas) == []


def test_the_summary_previews_follow_the_window(demo_widget, qtbot):
    widget = demo_widget
    widget.tabs.setCurrentWidget(widget.summary_tab)
    sides = []
    for size in ((800, 600), (1920, 1080)):
        widget.resize(*size)
        widget.show()
        settle(qtbot, widget)
        view = widget.image_original_view
        pixmap = view.pixmap()
        assert max(pixmap.width(), pixmap.height()) <= view.width()
        sides.append(view.height())
    assert sides[0] < sides[1]
