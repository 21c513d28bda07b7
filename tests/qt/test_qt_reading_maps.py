"""Reading a map on the canvas, driven through the real widget: the map over a greyscale
input (colour one click away), percentile clipping and the value range in the tile, one
scale per method (a toggle), the class score in the title, "no signal" for a numerically
zero map, grids paged and numbered with a click opening a channel as its own tile, the
mouse wheel scrolling the canvas over a tile, and an export that is a figure, not a grab."""

import numpy as np
import pytest
from PIL import Image
from qtpy import QtCore, QtGui, QtWidgets

from dial_visualization.core.context import Target
from dial_visualization.core.registry import NodeType
from dial_visualization.core.result import Result
from dial_visualization.core.session import RunRecord

LEFT = QtCore.Qt.MouseButton.LeftButton


def caption(tile):
    label = tile.figure._supxlabel
    return label.get_text() if label else ""


def overlay_limits(tile):
    return tile.figure.axes[0].images[1].get_clim()


@pytest.fixture
def grad_cams(demo_widget):
    """Grad-CAM of the top class (0) and of an unlikely class (2), and saliency."""
    widget = demo_widget
    widget.show()
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    for index in (0, 2):
        widget.run_method("grad-cam", Target(NodeType.PREDICTION, None, index))
    widget.run_method("saliency", Target(NodeType.PREDICTION, None, 0))
    assert widget.wait_until_idle(120)
    assert [r.method for r in widget.results()] == ["grad-cam", "grad-cam", "saliency"]
    return widget


def test_the_map_is_over_a_grey_input_and_the_colour_input_is_one_click_away(grad_cams, qtbot):
    tile = grad_cams.canvas.tiles()[0]
    grey = tile.figure.axes[0].images[0].get_array()
    assert grey.ndim == 2 and tile.figure.axes[0].images[0].get_cmap().name == "gray"
    assert tile.colour_check.isVisibleTo(tile) and not tile.colour_check.isChecked()
    qtbot.mouseClick(tile.colour_check, LEFT)
    colour = tile.figure.axes[0].images[0].get_array()
    np.testing.assert_array_equal(colour, tile.result.background)
    assert tile.open_large().figure.axes[0].images[0].get_array().ndim == 3  # the same style


def test_the_tile_shows_the_clipping_and_the_value_range(grad_cams):
    tile = grad_cams.canvas.tiles()[2]  # saliency: a few strong pixels
    data = tile.result.data
    bound = float(np.percentile(np.abs(data), 99))
    assert overlay_limits(tile) == pytest.approx((0.0, bound))
    assert f"values {data.min():.3g} .. {data.max():.3g}" in caption(tile)
    assert f"99th percentile of |value| ({bound:.3g})" in caption(tile)
    tile.clip_spin.setValue(100.0)
    assert overlay_limits(tile) == pytest.approx((0.0, float(data.max())))
    assert "percentile" not in caption(tile)


def test_one_scale_per_method_and_the_class_score_in_the_title(grad_cams, qtbot):
    canvas = grad_cams.canvas
    top, unlikely, saliency = canvas.tiles()
    probabilities = grad_cams.model.predict(grad_cams.image.batch(), verbose=0)[0]
    assert f"score {probabilities[2]:.4g}" in unlikely.title_label.full_text
    assert f"score {probabilities[0]:.4g}" in top.figure._suptitle.get_text()
    own = [overlay_limits(t) for t in (top, unlikely)]
    assert own[0] != pytest.approx(own[1])
    qtbot.mouseClick(canvas.shared_scale_check, LEFT)
    assert canvas.shared_scales()
    both = np.concatenate([top.result.data.ravel(), unlikely.result.data.ravel()])
    pooled = (0.0, float(np.percentile(both, 99)))
    assert overlay_limits(top) == pytest.approx(pooled)
    assert overlay_limits(unlikely) == pytest.approx(pooled)
    assert "of 2 maps" in caption(unlikely) and not unlikely.clip_spin.isEnabled()
    saliency_own = (0.0, float(np.percentile(saliency.result.data, 99)))
    assert overlay_limits(saliency) == pytest.approx(saliency_own)  # another method
    canvas.remove_tile(top)  # the scale follows the tiles of the method
    assert overlay_limits(unlikely) == pytest.approx(own[1])
    canvas.set_shared_scales(False)
    assert unlikely.clip_spin.isEnabled()


def test_a_numerically_zero_map_shows_no_signal(widget):
    data = np.random.default_rng(0).normal(0, 1e-15, (16, 16)).astype(np.float32)
    data[2, 2] = 1e-14
    result = Result(method="saliency", title="Saliency: class 1", kind="heatmap", data=data,
                    background=np.zeros((16, 16, 3), np.uint8))
    tile = widget.canvas.add_result(result)
    assert tile.figure.axes == []
    assert any("no signal (max |value| 1e-14)" in t.get_text() for t in tile.figure.texts)


def cell_position(tile, cell):
    """Where cell ``cell`` of a tile's grid is, in the figure widget's coordinates."""
    tile.figure_canvas.draw()
    axes = next(a for a in tile.figure.axes if a.get_gid() == f"cell {cell}")
    box = axes.get_window_extent()
    ratio = tile.figure_canvas.device_pixel_ratio
    return QtCore.QPoint(int((box.x0 + box.width / 2) / ratio),
                         int(tile.figure_canvas.height() - (box.y0 + box.height / 2) / ratio))


def wide_grid(channels=150):
    maps = np.arange(channels, dtype=np.float32)[:, None, None] * np.ones((1, 6, 6), np.float32)
    maps[:, 0, 0] = 0.0
    return Result(method="activations", title="Activations: conv2", kind="grid", data=maps)


def test_a_wide_layer_pages_through_every_channel_and_a_click_opens_one(widget, qtbot):
    widget.show()
    record = RunRecord("activations", Target(NodeType.OUTPUT, "conv2"))
    tile = widget.canvas.add_result(wide_grid(), record)
    assert tile.page_label.text() == "page 1/3" and not tile.previous_button.isEnabled()
    qtbot.mouseClick(tile.next_button, LEFT)
    assert tile.page_label.text() == "page 2/3"
    numbers = [a.get_title() for a in tile.figure.axes]
    assert numbers == [str(n) for n in range(64, 128)]
    assert "64-127 of 150 (page 2 of 3)" in caption(tile)
    qtbot.mouseClick(tile.next_button, LEFT)
    assert [a.get_title() for a in tile.figure.axes][-1] == "149"
    assert not tile.next_button.isEnabled()
    with qtbot.waitSignal(widget.canvas.channel_requested, timeout=5000) as requested:
        qtbot.mouseClick(tile.figure_canvas, LEFT, pos=cell_position(tile, 140))
    opened = requested.args[0]
    assert (opened.method, opened.target) == ("activations", Target(NodeType.OUTPUT, "conv2", 140))


def test_clicking_a_channel_of_an_activation_grid_runs_it_as_its_own_tile(demo_widget, qtbot):
    widget = demo_widget
    widget.show()
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    widget.run_method("activations", Target(NodeType.OUTPUT, "conv2"))
    assert widget.wait_until_idle(60)
    grid = widget.canvas.tiles()[0]
    assert grid.figure.axes[5].get_title() == "5"
    qtbot.mouseClick(grid.figure_canvas, LEFT, pos=cell_position(grid, 5))
    assert widget.wait_until_idle(60)
    assert len(widget.canvas.tiles()) == 2
    single = widget.canvas.tiles()[1]
    assert single.record.target == Target(NodeType.OUTPUT, "conv2", 5)
    np.testing.assert_array_equal(single.result.data[0], grid.result.data[5])


def test_the_mouse_wheel_over_a_tile_scrolls_the_canvas(widget, qtbot):
    widget.show()
    widget.tabs.setCurrentWidget(widget.visualisation_tab)
    widget.columns_spin.setValue(1)
    for seed in range(4):
        data = np.random.default_rng(seed).random((16, 16)).astype(np.float32)
        widget.canvas.add_result(Result(method="saliency", title=f"map {seed}", data=data))
    bar = widget.canvas._scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(0)
    target = widget.canvas.tiles()[0].figure_canvas
    centre = QtCore.QPointF(target.rect().center())
    wheel = QtGui.QWheelEvent(centre, QtCore.QPointF(target.mapToGlobal(centre.toPoint())),
                              QtCore.QPoint(0, 0), QtCore.QPoint(0, -120),
                              QtCore.Qt.MouseButton.NoButton,
                              QtCore.Qt.KeyboardModifier.NoModifier,
                              QtCore.Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(target, wheel)
    assert bar.value() > 0


def test_the_canvas_exports_a_figure_of_its_tiles_with_tight_margins(grad_cams, tmp_path):
    widget = grad_cams
    widget.columns_spin.setValue(2)
    figure = widget.canvas.export_figure()
    subfigures, empty = figure.subfigs[:3], figure.subfigs[3:]
    assert not any(s.axes or s.texts for s in empty)
    assert [s._suptitle.get_text().split(",")[0] for s in subfigures] == [
        t.result.title for t in widget.canvas.tiles()]
    assert all(len(s.axes) == 2 for s in subfigures)  # each map with its colour bar
    assert widget.export_canvas(tmp_path / "canvas.png")
    with Image.open(tmp_path / "canvas.png") as picture:
        pixels = np.asarray(picture.convert("L"))
    assert pixels.shape[1] > pixels.shape[0]  # two columns, two rows of tiles (one empty)
    rows = np.flatnonzero((pixels < 250).any(axis=1))
    columns = np.flatnonzero((pixels < 250).any(axis=0))
    assert max(rows[0], columns[0], pixels.shape[1] - columns[-1]) <= 16
    tile = widget.canvas.tiles()[0]
    with Image.open(tile.save_png(tmp_path / "tile.png")) as picture:
        pixels = np.asarray(picture.convert("L"))
    columns = np.flatnonzero((pixels < 250).any(axis=0))
    assert max(columns[0], pixels.shape[1] - columns[-1]) <= 16  # no wide side margins
