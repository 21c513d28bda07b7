"""Dropping tree nodes on the canvas runs every registered method; tiles and their actions."""

import numpy as np
import pytest
from matplotlib.backends.backend_qtagg import NavigationToolbar2QT
from PIL import Image
from qtpy import QtCore

from dial_visualization.core.context import Target
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.registry import HandlerConfiguration, NodeType
from dial_visualization.core.result import Result
from dial_visualization.qt.compat import combine

#: Small values for the slow methods' parameters, used where a method declares them.
SMALL_PARAMS = {"steps": 4, "samples": 2, "patch": 16, "stride": 16, "frame_every": 2}


def small_params(method):
    declared = {p.name for p in method.parameters}
    return method.resolve_params({k: v for k, v in SMALL_PARAMS.items() if k in declared})


def demo_nodes(model):
    """Per node type, the targets dropped together: a whole layer or class and one child."""
    tree = LayerTree(model)
    kernels = [n for n in tree.walk() if n.has_kernel and n.is_spatial]
    spatial = tree.last_spatial()
    return {
        NodeType.KERNEL: [Target(NodeType.KERNEL, kernels[0].path),
                          Target(NodeType.KERNEL, kernels[-1].path, 1)],
        NodeType.OUTPUT: [Target(NodeType.OUTPUT, kernels[0].path),
                          Target(NodeType.OUTPUT, spatial.path, 2)],
        NodeType.PREDICTION: [Target(NodeType.PREDICTION), Target(NodeType.PREDICTION, None, 1)],
    }


def select(view, indexes):
    selection = view.selectionModel()
    selection.clearSelection()
    flags = QtCore.QItemSelectionModel.SelectionFlag
    for index in indexes:
        selection.select(index, combine(getattr(QtCore.QItemSelectionModel, "SelectionFlags", None),
                                        flags.Select, flags.Rows))
    return selection.selectedRows(0)


def drag_and_drop(widget, indexes, deliver_drop):
    """Select ``indexes`` in the tree, take the model's mime data, deliver it to the canvas."""
    deliver_drop(widget.canvas, widget.layer_tree.model().mimeData(select(widget.layer_tree,
                                                                         indexes)))


@pytest.mark.parametrize("node_type", list(NodeType))
def test_dropping_nodes_runs_every_registered_method(demo_widget, demo, node_type,
                                                      deliver_drop):
    widget = demo_widget
    tree = widget.layer_tree.model()
    targets = demo_nodes(demo["model"])[node_type]
    indexes = [tree.index_for(t) for t in targets]
    methods = HandlerConfiguration.default().for_node_type(node_type)
    assert methods, f"no method handles {node_type.value} nodes"
    for method in methods:
        params = widget.remember_params(method.id, small_params(method))
        for index in indexes:
            assert tree.setData(index.siblingAtColumn(1), method.id)
        before = len(widget.results())
        drag_and_drop(widget, indexes, deliver_drop)
        assert widget.wait_until_idle(120), method.id
        tiles = widget.canvas.tiles()[before:]
        failures = widget.log_view.toPlainText().split("ERROR: ")[1:]
        assert len(tiles) == len(targets), (method.id, failures)
        for tile, target in zip(tiles, targets):
            result, record = tile.result, tile.record
            assert result.method == method.id and record.method == method.id
            assert result.kind in ("heatmap", "grid", "scores")
            assert record.params == params
            assert (record.target.node_type, record.target.layer) == (target.node_type,
                                                                      target.layer)
            if target.index is not None:
                assert record.target.index == target.index
            assert method.name in tile.title_label.full_text
            shown = [f"{k}={v}" for k, v in params.items()
                     if k in SMALL_PARAMS and v != next(p.default for p in method.parameters
                                                        if p.name == k)]
            assert all(text in tile.title_label.full_text for text in shown)
            assert tile.figure.axes, method.id  # drawn
            if result.frames is not None:
                assert tile.gif_action is not None
    assert [r.method for r in widget.results()] == [
        a.id for a in methods for _ in targets]


@pytest.fixture
def three_tiles(demo_widget):
    widget = demo_widget
    widget.run_method("saliency", Target(NodeType.PREDICTION))
    widget.run_method("activations", Target(NodeType.OUTPUT,
                                               LayerTree(widget.model).last_spatial().path))
    widget.run_method("predictions", Target(NodeType.PREDICTION), {"top_k": 3})
    assert widget.wait_until_idle(60)
    assert [r.method for r in widget.results()] == ["saliency", "activations", "predictions"]
    return widget


def test_heatmap_tile_opacity_colour_map_and_exports(three_tiles, tmp_path):
    tile = three_tiles.canvas.tiles()[0]
    assert tile.result.kind == "heatmap"
    tile.opacity_slider.setValue(30)
    overlay = tile.figure.axes[0].images[1]
    assert overlay.get_alpha() == pytest.approx(0.3)
    tile.cmap_combo.setCurrentText("magma")
    assert tile.figure.axes[0].images[1].get_cmap().name == "magma"
    png = tile.save_png(tmp_path / "tile.png")
    with Image.open(png) as picture:
        assert picture.format == "PNG" and picture.size[0] > 100
    npy = tile.save_npy(tmp_path / "tile.npy")
    np.testing.assert_array_equal(np.load(npy), tile.result.data)
    dialog = tile.open_large()
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.findChildren(NavigationToolbar2QT)
    assert dialog.figure.axes[0].images[1].get_cmap().name == "magma"
    dialog.close()


def test_predictions_tile_draws_top_k_bars_with_class_names(three_tiles, demo):
    tile = three_tiles.canvas.tiles()[2]
    scores = tile.result.data
    axes = tile.figure.axes[0]
    assert len(axes.patches) == 3
    top = np.argsort(scores)[::-1][:3]
    assert [t.get_text() for t in axes.get_yticklabels()] == [demo["labels"][i] for i in top]
    assert [p.get_width() for p in axes.patches] == pytest.approx(scores[top].tolist())


def test_tiles_close_arrange_in_columns_and_export(three_tiles, qtbot, tmp_path):
    widget = three_tiles
    grid = widget.canvas._grid
    widget.columns_spin.setValue(3)
    positions = [grid.getItemPosition(grid.indexOf(t))[:2] for t in widget.canvas.tiles()]
    assert positions == [(0, 0), (0, 1), (0, 2)]
    widget.columns_spin.setValue(1)
    positions = [grid.getItemPosition(grid.indexOf(t))[:2] for t in widget.canvas.tiles()]
    assert positions == [(0, 0), (1, 0), (2, 0)]
    assert widget.export_canvas(tmp_path / "canvas.png")
    with Image.open(tmp_path / "canvas.png") as picture:
        assert picture.size[1] > 3 * 300  # three tiles stacked
    middle = widget.canvas.tiles()[1]
    qtbot.mouseClick(middle.close_button, QtCore.Qt.MouseButton.LeftButton)
    assert [r.method for r in widget.results()] == ["saliency", "predictions"]
    assert [r.method for r in widget.session().runs] == ["saliency", "predictions"]
    widget.clear_canvas()
    assert widget.results() == [] and widget.session().runs == []


def test_session_records_files_preprocessing_and_exact_params(three_tiles, demo):
    session = three_tiles.session()
    paths = demo["paths"]
    assert session.model_path == str(paths["model"])
    assert session.image_path == str(paths["images"][0])
    assert session.labels_path == str(paths["labels"])
    assert session.preprocessing == three_tiles.image.preprocessing
    saliency, activations, predictions = session.runs
    assert (saliency.method, saliency.target.node_type, saliency.target.layer) == (
        "saliency", "prediction", None)
    assert saliency.target.index == int(np.argmax(three_tiles.results()[2].data))  # resolved
    assert activations.target.layer == LayerTree(three_tiles.model).last_spatial().path
    assert predictions.params == {"top_k": 3}


def _frames_method():
    def run(context, target, params, progress, should_stop):
        frames = np.zeros((5, 2, 6, 6), np.float32)
        for step in range(5):
            frames[step, :, step, step] = 1.0  # a bright pixel moving along the diagonal
        progress(1.0)
        return Result("test-frames", "Frames (test)", "grid", frames[-1], frames=frames)
    return run


def test_frames_play_and_save_as_gif(demo_widget, qtbot, tmp_path):
    unregister = HandlerConfiguration.default().register(
        id="test-frames", name="Frames (test)", node_types={NodeType.OUTPUT},
        run=_frames_method())
    try:
        demo_widget.run_method("test-frames", Target(NodeType.OUTPUT, "conv1"))
        assert demo_widget.wait_until_idle(30)
    finally:
        unregister()
    tile = demo_widget.canvas.tiles()[-1]
    assert tile.frame == 4 and tile.frame_label.text() == "5/5"
    tile.frame_slider.setValue(1)
    assert tile.frame == 1 and tile.shown_result().data[0, 1, 1] == 1.0
    assert tile.shown_result().data[0, 4, 4] == 0.0
    assert tile.play_button.text() == "Play"
    qtbot.mouseClick(tile.play_button, QtCore.Qt.MouseButton.LeftButton)
    assert tile.is_playing() and tile.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: not tile.is_playing(), timeout=5000)  # stops at the last frame
    assert tile.frame == 4 and not tile.play_button.isChecked()
    assert tile.play_button.text() == "Play"
    gif = tile.save_gif(tmp_path / "frames.gif")
    with Image.open(gif) as picture:
        assert picture.format == "GIF" and picture.n_frames == 5


def test_activation_maximization_tile_plays_and_saves_gif(demo_widget, tmp_path):
    methods = HandlerConfiguration.default().all()
    if "activation-maximization" not in methods:
        pytest.skip("activation-maximization is not registered")
    method = methods["activation-maximization"]
    demo_widget.run_method("activation-maximization", Target(NodeType.PREDICTION, None, 0),
                              small_params(method))
    assert demo_widget.wait_until_idle(120)
    tile = demo_widget.canvas.tiles()[-1]
    assert tile.result.frames is not None and len(tile.result.frames) >= 2
    tile.show_frame(0)
    objective = tile.result.info["objective_per_frame"][0][0]
    assert tile.frame_label.text() == f"step 0: objective {objective:.3g}"
    assert tile.frame_label.toolTip() == f"frame 1/{len(tile.result.frames)}"
    tile.show_frame(len(tile.result.frames) - 1)
    assert tile.frame_label.text().startswith(f"step {tile.result.info['frame_steps'][-1]}: ")
    with Image.open(tile.save_gif(tmp_path / "am.gif")) as picture:
        assert picture.n_frames >= 2


def test_enter_and_double_click_run_the_selected_nodes(demo_widget, qtbot):
    widget = demo_widget
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    widget.show()
    view = widget.layer_tree
    tree = view.model()
    prediction = tree.index_for(Target(NodeType.PREDICTION))
    assert tree.setData(prediction.siblingAtColumn(1), "predictions")
    select(view, [prediction])
    view.setFocus()
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Return)
    assert widget.wait_until_idle(30)
    assert [r.method for r in widget.results()] == ["predictions"]
    conv1 = tree.index_for(Target(NodeType.KERNEL, "conv1"))
    view.expand(conv1.parent())
    view.scrollTo(conv1)
    qtbot.waitUntil(lambda: view.visualRect(conv1).isValid())
    centre = view.visualRect(conv1).center()
    qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=centre)
    assert widget.wait_until_idle(30)
    assert [r.method for r in widget.results()] == ["predictions", tree.method_id(conv1)]


def test_selected_node_shows_its_method_parameters(demo_widget):
    view = demo_widget.layer_tree
    tree = view.model()
    prediction = tree.index_for(Target(NodeType.PREDICTION))
    assert tree.setData(prediction.siblingAtColumn(1), "predictions")
    view.setCurrentIndex(prediction)
    form = demo_widget.params_form
    assert form.method().id == "predictions"
    form.editor("top_k").setValue(2)
    assert "Predictions" in demo_widget.method_label.text()
    demo_widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert demo_widget.wait_until_idle(30)
    assert demo_widget.session().runs[-1].params == {"top_k": 2}


def test_runs_use_the_chosen_device(demo_widget):
    from dial_visualization.core.tf_ops import gpu_available

    assert demo_widget.device_combo.isVisibleTo(demo_widget) == gpu_available()
    job = demo_widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert job.context.device == demo_widget.device() == "auto"
    demo_widget.device_combo.addItem("CPU", "cpu")  # what a GPU machine offers besides
    demo_widget.device_combo.setCurrentIndex(demo_widget.device_combo.count() - 1)
    job = demo_widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert job.context.device == "cpu"
    assert demo_widget.wait_until_idle(30)
    assert len(demo_widget.results()) == 2
