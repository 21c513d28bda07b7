"""The Dataset tab's embedding: computed in the background into a scatter of one point per
image, coloured by class; hovering shows the image, clicking opens it and selects its row;
cancel and bad input (real widget, demo model, real mouse events)."""

import numpy as np
import pytest
from qtpy import QtCore

from dial_visualization.core import embedding
from dial_visualization.core.demo import write_shapes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedding") / "shapes"
    write_shapes(folder, 3, seed=7)
    return folder


@pytest.fixture
def opened(demo_widget, shapes, qtbot):
    """The Dataset tab with the shapes predicted, its Embedding panel shown."""
    demo_widget.show()
    qtbot.waitExposed(demo_widget)
    dataset = demo_widget.dataset
    job = dataset.open_folder(shapes)
    assert demo_widget.wait_until_idle(60) and job.state == "finished"
    demo_widget.tabs.setCurrentWidget(dataset)
    dataset.side_tabs.setCurrentWidget(dataset.embedding)
    return dataset


def computed(widget, view, **chosen):
    job = view.compute(**chosen)
    assert job is not None and widget.wait_until_idle(60)
    assert job.state == "finished"
    view.figure_canvas.draw()
    return view.result


def scattered(view) -> int:
    """How many points the scatter shows, the misclassified crosses left out."""
    return sum(len(c.get_offsets()) for c in view.axes.collections
               if c.get_label() != "misclassified")


def test_compute_fills_the_scatter_one_point_per_image_coloured_by_class(demo_widget,
                                                                          opened):
    view = opened.embedding
    assert view.layer_combo.currentText() == "gap"  # the layer before the classifier
    assert [view.method_combo.itemText(i) for i in range(3)] == ["PCA", "t-SNE", "UMAP"]
    result = computed(demo_widget, view)
    assert result.method == "pca" and scattered(view) == 12
    features = embedding.pooled_activations(demo_widget.workspace.context(), result.sources,
                                            "gap", demo_widget.workspace.read_image)
    np.testing.assert_allclose(result.points, embedding.project(features.values, "pca"),
                               rtol=1e-4, atol=1e-4)
    legend = [text.get_text() for text in view.axes.get_legend().get_texts()]
    wrong = [item for item in view.items if item["predicted"] != item["true"]]
    assert legend == ["circle", "square", "triangle", "cross"] + ["misclassified"] * bool(wrong)
    crosses = [c for c in view.axes.collections if c.get_label() == "misclassified"]
    assert sum(len(c.get_offsets()) for c in crosses) == len(wrong)
    # by predicted class: the same points, each in its predicted class's colour
    view.colour_combo.setCurrentIndex(view.colour_combo.findData("predicted"))
    assert scattered(view) == 12
    np.testing.assert_array_equal(view.classes(), [item["predicted"] for item in view.items])
    # t-SNE (openTSNE) on another layer through the same panel
    view.layer_combo.setCurrentText("conv2")
    view.method_combo.setCurrentIndex(view.method_combo.findData("tsne"))
    result = computed(demo_widget, view)
    assert (result.method, result.layer, scattered(view)) == ("tsne", "conv2", 12)


def test_hovering_shows_the_image_and_clicking_opens_it_and_selects_its_row(demo_widget,
                                                                             opened, qtbot):
    view = opened.embedding
    computed(demo_widget, view)
    canvas = view.figure_canvas
    index = 5
    assert view.point_at(*view.axes.transData.transform(view.result.points[index])) == index
    position = view.position_of(index)
    qtbot.mouseMove(canvas, position)
    qtbot.waitUntil(lambda: view.hovered is view.items[index], timeout=5000)
    item = view.items[index]
    assert not view.preview.pixmap().isNull()
    assert item["file"] in view.preview_label.text() and item["file"] in canvas.toolTip()

    qtbot.mouseClick(canvas, QtCore.Qt.MouseButton.LeftButton, pos=position)
    assert demo_widget.workspace.image_source == item["path"]
    assert opened.selected_items() == [item]
    # a point whose row a filter hides: the filter goes, the row is selected
    other = next(each for each in view.items if each["true"] != item["true"])
    opened.class_combo.setCurrentIndex(opened.class_combo.findData(item["true"]))
    qtbot.mouseClick(canvas, QtCore.Qt.MouseButton.LeftButton,
                     pos=view.position_of(view.items.index(other)))
    assert opened.selected_items() == [other]
    assert demo_widget.workspace.image_source == other["path"]
    # away from every point: nothing
    qtbot.mouseMove(canvas, QtCore.QPoint(2, 2))
    qtbot.waitUntil(lambda: view.hovered is None, timeout=5000)


def test_a_cancelled_embedding_draws_nothing(demo_widget, opened):
    view = opened.embedding
    job = view.compute(method="pca")
    view.cancel_button.click()
    assert demo_widget.wait_until_idle(60)
    assert job.state == "cancelled" and view.result is None and scattered(view) == 0
    assert not view.cancel_button.isEnabled()


def test_bad_input_is_one_line_and_another_model_clears_the_embedding(demo_widget, demo,
                                                                      opened, qtbot):
    view = opened.embedding
    errors = []
    demo_widget.error_reported.connect(errors.append)
    job = view.compute(method="tsne", layer="no-such-layer")
    assert demo_widget.wait_until_idle(60) and job.state == "failed"
    assert errors[-1].startswith("no layer 'no-such-layer' to embed in demo_cnn")
    computed(demo_widget, view)
    assert demo_widget.set_model(demo["model"], str(demo["paths"]["model"]))
    assert view.result is None and scattered(view) == 0
    assert view.compute() is None and errors[-1] == ("open a folder first: there are no "
                                                     "images to embed")
