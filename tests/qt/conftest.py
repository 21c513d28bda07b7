"""Fixtures for the Qt tests: a widget (dialogs off), the demo model loaded once, helpers."""

import time

import pytest
from qtpy import QtCore

import dial_visualization as dv
from dial_visualization.core.labels import load_labels
from dial_visualization.core.models import load_model


@pytest.fixture(scope="session")
def demo():
    """The demo's paths and its model, loaded once so traced functions are reused."""
    paths = dv.demo_paths()
    if not paths["model"].is_file():
        pytest.fail("the demo model is missing: dial_visualization/demo/demo_model.keras")
    return {"paths": paths, "model": load_model(paths["model"]),
            "labels": load_labels(paths["labels"])}


@pytest.fixture
def widget(qtbot):
    from dial_visualization.qt import ConvVisualizationWidget

    view = ConvVisualizationWidget()
    view.show_dialogs = False
    qtbot.addWidget(view)
    view.resize(1300, 850)
    yield view
    view.shutdown()


@pytest.fixture
def open_demo(demo):
    """``open_demo(widget)``: the widget on the demo model, its labels and first image,
    classes ranked."""

    def open_in(widget):
        paths = demo["paths"]
        widget.set_labels(demo["labels"], str(paths["labels"]))
        assert widget.set_model(demo["model"], str(paths["model"]))
        assert widget.set_image(str(paths["images"][0]))
        assert widget.wait_until_idle(60)
        return widget

    return open_in


@pytest.fixture
def demo_widget(widget, open_demo):
    """The widget on the demo model, its labels and first image, classes ranked."""
    return open_demo(widget)


@pytest.fixture
def event_loop_gap(qtbot):
    """``gap(until)``: run the event loop with a QTimer ticking every 10 ms until ``until()``
    is true; return (the largest gap between two ticks in ms, the number of ticks)."""

    def measure(until, interval_ms=10, timeout_s=60.0):
        ticks = []
        timer = QtCore.QTimer()
        timer.setInterval(interval_ms)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        deadline = time.monotonic() + timeout_s
        while not until() and time.monotonic() < deadline:
            qtbot.wait(interval_ms)
        timer.stop()
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        return (max(gaps) * 1000 if gaps else float("inf")), len(ticks)

    return measure


@pytest.fixture
def deliver_drop():
    """``drop(widget, mime)``: a drag entering ``widget`` and dropping ``mime`` on it, as Qt
    delivers them; asserts both were accepted."""
    from qtpy import PYSIDE2, QtGui, QtWidgets

    def drop(target, mime):
        centre = target.rect().center()
        position = centre if PYSIDE2 else QtCore.QPointF(centre)
        action = QtCore.Qt.DropAction.CopyAction
        buttons = QtCore.Qt.MouseButton.LeftButton
        modifiers = QtCore.Qt.KeyboardModifier.NoModifier
        enter = QtGui.QDragEnterEvent(position, action, mime, buttons, modifiers)
        QtWidgets.QApplication.sendEvent(target, enter)
        assert enter.isAccepted()
        dropped = QtGui.QDropEvent(QtCore.QPointF(centre), action, mime, buttons, modifiers)
        QtWidgets.QApplication.sendEvent(target, dropped)
        assert dropped.isAccepted()

    return drop
