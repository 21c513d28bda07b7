"""Choosing a method and knowing what happened, driven on the real widget: the method picker
beside Run, the right-click menu, F2, a class node's default, layer rows, the layer
parameter's choices, one message per reason, "Compare methods", Ctrl+Z after a clear, the
run indicator and the time left."""

import threading
import time

import pytest
from qtpy import QtCore, QtWidgets

from dial_visualization.core.context import NodeType, Target
from dial_visualization.qt.compat import combine
from dial_visualization.qt.method_picker import compared_methods
from dial_visualization.qt.worker import TaskJob


def tree_and_view(widget):
    return widget.layer_tree.model(), widget.layer_tree


def class_index(widget, index):
    return widget.layer_tree.model().index_for(Target(NodeType.PREDICTION, None, index))


def select(view, indexes):
    selection = view.selectionModel()
    selection.clearSelection()
    model = QtCore.QItemSelectionModel
    flags = combine(getattr(model, "SelectionFlags", None), model.SelectionFlag.Select,
                    model.SelectionFlag.Rows)
    for index in indexes:
        selection.select(index, flags)
    selection.setCurrentIndex(indexes[-1], QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)


def test_a_class_node_explains_by_default(demo_widget):
    tree, view = tree_and_view(demo_widget)
    first = class_index(demo_widget, 0)
    assert tree.method_id(first) == "grad-cam"  # a map, not the bar chart of scores
    select(view, [first])
    demo_widget.run_button.click()
    assert demo_widget.wait_until_idle(120)
    assert [r.method for r in demo_widget.results()] == ["grad-cam"]


def test_the_method_picker_shows_and_sets_the_selected_nodes_method(demo_widget):
    tree, view = tree_and_view(demo_widget)
    classes = [class_index(demo_widget, i) for i in (0, 1)]
    select(view, classes)
    combo = demo_widget.method_combo
    offered = [combo.itemData(i) for i in range(combo.count())]
    assert offered == [m.id for m in demo_widget.registry.for_node_type(NodeType.PREDICTION)]
    assert combo.currentData() == "grad-cam" and combo.isEnabled()
    combo.activated.emit(combo.findData("saliency"))
    assert [tree.method_id(i) for i in classes] == ["saliency", "saliency"]
    select(view, [tree.index_for(Target(NodeType.KERNEL, "conv1"))])
    assert [combo.itemData(i) for i in range(combo.count())] == ["weights"]


def test_right_click_offers_every_method_of_the_node_and_runs_it(demo_widget):
    tree, view = tree_and_view(demo_widget)
    node = class_index(demo_widget, 1)
    menu = view.node_menu(node)
    names = [a.text() for a in menu.actions() if a.text()]
    expected = [f"Run {m.name}" for m in demo_widget.registry.for_node_type(NodeType.PREDICTION)]
    assert names[:len(expected)] == expected and names[-1] == "Choose the method… (F2)"
    next(a for a in menu.actions() if a.text() == "Run Saliency").trigger()
    assert demo_widget.wait_until_idle(120)
    result = demo_widget.results()[-1]
    assert (result.method, result.target.index) == ("saliency", tree.target(node).index)
    layer = tree.index_for(Target(NodeType.KERNEL, "conv2")).parent()
    sections = [a.text() for a in view.node_menu(layer).actions()]
    assert "Run Weights" in sections and "Run Activations" in sections


def test_f2_opens_the_method_of_the_current_node(demo_widget, qtbot):
    _, view = tree_and_view(demo_widget)
    view.setFocus()
    view.setCurrentIndex(class_index(demo_widget, 0))
    qtbot.keyClick(view, QtCore.Qt.Key.Key_F2)
    assert view.state() == QtWidgets.QAbstractItemView.State.EditingState
    assert view.currentIndex().column() == 1


def test_run_selected_on_a_layer_row_runs_its_activations(demo_widget):
    tree, view = tree_and_view(demo_widget)
    layer = tree.index_for(Target(NodeType.OUTPUT, "conv2")).parent()
    select(view, [layer])
    demo_widget.run_button.click()
    assert demo_widget.wait_until_idle(120)
    result = demo_widget.results()[-1]
    assert (result.method, result.target) == ("activations", Target(NodeType.OUTPUT, "conv2"))
    view.selectionModel().clearSelection()
    demo_widget.run_button.click()
    assert "select a class, a layer" in demo_widget.status_bar.currentMessage()


def test_the_layer_parameter_offers_the_spatial_layers(demo_widget):
    tree, view = tree_and_view(demo_widget)
    view.setCurrentIndex(class_index(demo_widget, 0))  # Grad-CAM's form
    editor = demo_widget.params_form.editor("layer")
    offered = [editor.itemData(i) for i in range(editor.count())]
    assert offered == ["", "conv1", "pool1", "conv2", "res_conv", "res_relu", "res_add",
                       "pool2", "conv3", "conv3_relu"]  # not gap or predictions
    editor.setCurrentIndex(editor.findData("conv2"))
    demo_widget.run_button.click()
    assert demo_widget.wait_until_idle(120)
    assert demo_widget.results()[-1].params["layer"] == "conv2"


def test_runs_refused_for_one_reason_say_it_once(demo_widget):
    tree, view = tree_and_view(demo_widget)
    demo_widget.remember_params("grad-cam", {"layer": "no_such_layer"})
    select(view, [class_index(demo_widget, i) for i in range(4)])
    demo_widget.run_button.click()
    errors = [line for line in demo_widget.log_view.toPlainText().splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "4 runs not started" in errors[0] and "no_such_layer" in errors[0]
    assert demo_widget.jobs() == [] and demo_widget.results() == []


def test_compare_methods_fills_one_row_per_method_and_clear_can_be_undone(demo_widget):
    tree, view = tree_and_view(demo_widget)
    demo_widget.remember_params("occlusion", {"patch": 16, "stride": 16})
    demo_widget.remember_params("smoothgrad", {"samples": 2})
    demo_widget.remember_params("integrated-gradients", {"steps": 8, "max_steps": 8})
    demo_widget.remember_params("score-cam", {"top_n": 4})
    select(view, [class_index(demo_widget, 0), class_index(demo_widget, 2)])
    jobs = demo_widget.compare_methods()
    methods = compared_methods(demo_widget.registry)
    assert len(jobs) == 2 * len(methods) and demo_widget.columns_spin.value() == 2
    assert demo_widget.canvas.shared_scale_check.isChecked()  # one scale per method's row
    assert demo_widget.wait_until_idle(300)
    results = demo_widget.results()
    assert [r.method for r in results] == [m.id for m in methods for _ in range(2)]
    assert {r.method for r in results}.isdisjoint({"predictions", "activation-maximization"})
    chosen = [tree.target(class_index(demo_widget, i)).index for i in (0, 2)]
    assert [r.target.index for r in results[:2]] == chosen
    demo_widget.clear_canvas()
    assert demo_widget.results() == []
    assert "Ctrl+Z" in demo_widget.status_bar.currentMessage()
    shortcut = demo_widget.undo_shortcut
    assert shortcut.key().toString() == "Ctrl+Z"
    shortcut.activated.emit()
    assert demo_widget.results() == results


def test_the_run_indicator_follows_runs_on_every_tab_and_cancel_is_said(demo_widget, qtbot):
    demo_widget.tabs.setCurrentIndex(0)  # another tab than the canvas
    indicator = demo_widget._run_indicator
    release = []

    def slow(progress, should_stop):
        progress(0.5)
        while not should_stop() and not release:
            time.sleep(0.01)

    job = TaskJob(slow, "slow work")
    demo_widget._queue.submit(job)
    qtbot.waitUntil(lambda: job.state == "running", timeout=5000)
    shown = lambda: indicator.label.isVisibleTo(demo_widget)  # noqa: E731
    qtbot.waitUntil(lambda: shown() and "slow work" in indicator.label.text(), timeout=5000)
    run = demo_widget.run_method("saliency", Target(NodeType.PREDICTION))
    qtbot.waitUntil(lambda: "+1 queued" in indicator.label.text(), timeout=5000)
    demo_widget.run_row(run).cancel_button.click()
    release.append(True)
    assert demo_widget.wait_until_idle(60)
    assert demo_widget.status_bar.currentMessage().startswith("cancelled: Saliency")
    assert not shown()


def test_time_left_follows_the_pace_so_far():
    job = TaskJob(lambda progress, should_stop: None, "work")
    assert job.remaining_s() is None  # not started
    job.started_at = time.monotonic() - 10.0
    job.report(0.25)
    assert job.remaining_s() == pytest.approx(30.0, rel=0.05)  # 10 s for a quarter
    job.started_at = time.monotonic() - 1.0
    assert job.remaining_s() is None  # too early to tell


def test_the_app_traces_in_the_background_so_the_first_tile_traces_nothing(widget, qtbot):
    from builders import random_pixels, residual_model
    from dial_visualization.core.tf_ops import tracing_count

    model = residual_model()
    widget.warm_up_on_load = True  # as the app's window sets it
    assert widget.set_model(model) and widget.set_image(random_pixels())
    warming = [t for t in threading.enumerate() if t.name == "dial-visualization warm-up"]
    assert warming
    for thread in warming:
        thread.join(60)
    assert widget.wait_until_idle(60)
    before = tracing_count(model)
    assert before > 0
    for method_id in ("saliency", "grad-cam"):
        widget.run_method(method_id, Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(60)
    assert [r.method for r in widget.results()] == ["saliency", "grad-cam"]
    assert tracing_count(model) == before  # the first tiles reused the warmed functions


def test_saving_a_tile_is_said_in_the_status_bar(demo_widget, tmp_path):
    demo_widget.run_method("saliency", Target(NodeType.PREDICTION))
    assert demo_widget.wait_until_idle(60)
    tile = demo_widget.canvas.tiles()[-1]
    for save, name in ((tile.save_png, "map.png"), (tile.save_npy, "map.npy")):
        path = save(tmp_path / name)
        assert path is not None and (tmp_path / name).is_file()
        assert demo_widget.status_bar.currentMessage() == f"saved {tmp_path / name}"
