"""The Dataset tab: a folder predicted in the background into a table that sorts and
filters, a confusion matrix whose cells filter it, rows that become the workspace image or
are explained together, and the HTML report (real widget, demo model)."""

import csv
import re
import shutil
import threading

import pytest
from qtpy import QtCore

from dial_visualization.cli import main
from dial_visualization.core.demo import write_shapes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """3 demo shapes per class, and one circle filed under square/ (a wrong label: the
    one misclassified image, with the highest loss)."""
    folder = tmp_path_factory.mktemp("dataset") / "shapes"
    write_shapes(folder, 3, seed=5)
    moved = folder / "square" / "circle_0000.png"
    shutil.move(str(folder / "circle" / "circle_0000.png"), str(moved))
    return folder, moved


def opened(widget, folder):
    job = widget.dataset.open_folder(folder)
    assert job is not None
    assert widget.wait_until_idle(60)
    assert job.state == "finished"
    return widget.dataset


def shown_files(dataset):
    return [item["file"] for item in dataset.shown_items()]


def test_the_table_has_the_rows_of_predict_and_a_thumbnail_each(demo_widget, demo, shapes,
                                                                 tmp_path, qtbot):
    folder, _ = shapes
    assert main(["predict", "--image", str(folder), "--labels", str(demo["paths"]["labels"]),
                 "--out", str(tmp_path)]) == 0
    with open(tmp_path / "predictions.csv", newline="") as file:
        expected = list(csv.reader(file))[1:]
    assert demo_widget.tabs.tabText(demo_widget.tabs.indexOf(demo_widget.dataset)) == "Dataset"
    progress = []
    job = demo_widget.dataset.open_folder(folder)
    job.progress.connect(progress.append)
    assert demo_widget.run_row(job) is not None  # a progress row with its Cancel button
    assert demo_widget.wait_until_idle(60) and job.state == "finished"
    dataset = demo_widget.dataset
    model = dataset.model
    shown = [[dataset.proxy.index(row, column).data() for column in range(1, 7)]
             for row in range(dataset.proxy.rowCount())]
    assert len(shown) == len(expected) == 12
    for texts, row, csv_row in zip(shown, (model.texts(r) for r in range(12)), expected):
        assert texts == row
        # file, true, predicted, correct as written; the numbers to float32's precision
        # (another batch of the same images, another rounding)
        assert texts[:3] + texts[4:5] == csv_row[:3] + csv_row[4:5] and csv_row[6] == ""
        assert float(texts[3]) == pytest.approx(float(csv_row[3]), abs=2e-6)
        assert float(texts[5]) == pytest.approx(float(csv_row[5]), abs=1e-4)
    assert progress and progress[-1] == 1.0
    for row in range(model.rowCount()):
        assert not model.index(row, 0).data(QtCore.Qt.ItemDataRole.DecorationRole).isNull()
    assert "12 images, accuracy 91.7% (1 wrong)" in dataset.summary_label.text()


def test_the_table_grows_a_batch_at_a_time_while_the_run_goes_on(demo_widget, shapes):
    folder, _ = shapes
    dataset = demo_widget.dataset
    dataset.batch_size = 5
    job = dataset.open_folder(folder)
    seen, shown = [], threading.Event()

    def on_gui_thread(items):  # after the table's own slot: what a person sees then
        seen.append((len(items), dataset.model.rowCount(), job.state,
                     dataset.summary_label.text()))
        shown.set()

    def on_worker(items):  # the run waits until the GUI has shown the batch
        assert shown.wait(30)
        shown.clear()

    job.rows.connect(on_gui_thread)
    job.rows.connect(on_worker, QtCore.Qt.ConnectionType.DirectConnection)
    assert demo_widget.wait_until_idle(60) and job.state == "finished"
    assert [(count, rows) for count, rows, _, _ in seen] == [(5, 5), (5, 10), (2, 12)]
    assert all(state == "running" for _, _, state, _ in seen)
    assert seen[0][3].endswith("predicting… 5 of 12 images done")
    assert [item["position"] for item in dataset.items] == list(range(12))
    assert "12 images, accuracy 91.7% (1 wrong)" in dataset.summary_label.text()
    assert int(dataset.matrix.item(1, 0).text()) == 1


def test_a_cancelled_run_keeps_the_rows_done_and_says_so(demo_widget, shapes):
    folder, _ = shapes
    dataset = demo_widget.dataset
    dataset.batch_size = 4
    job = dataset.open_folder(folder)
    job.rows.connect(lambda items: job.cancel(), QtCore.Qt.ConnectionType.DirectConnection)
    assert demo_widget.wait_until_idle(60) and job.state == "cancelled"
    assert dataset.model.rowCount() == 4 and len(dataset.shown_items()) == 4
    assert "cancelled after 4 of 12 images" in dataset.summary_label.text()
    assert not dataset.cancel_button.isEnabled()
    # another run starts from an empty table
    job = dataset.open_folder(folder)
    assert dataset.model.rowCount() == 0 and dataset.matrix.rowCount() == 0
    dataset.cancel_button.click()
    assert demo_widget.wait_until_idle(60) and job.state == "cancelled"
    assert dataset.model.rowCount() in (0, 4, 8)


def test_sorting_and_filters_give_the_expected_rows(demo_widget, shapes):
    folder, moved = shapes
    dataset = opened(demo_widget, folder)
    items = dataset.items
    dataset.table.sortByColumn(6, QtCore.Qt.SortOrder.DescendingOrder)  # loss
    by_loss = sorted(items, key=lambda item: -item["loss"])
    assert shown_files(dataset) == [item["file"] for item in by_loss]
    assert shown_files(dataset)[0] == "square/circle_0000.png"
    dataset.table.sortByColumn(4, QtCore.Qt.SortOrder.AscendingOrder)  # probability
    assert [item["probability"] for item in dataset.shown_items()] == \
        sorted(item["probability"] for item in items)

    dataset.misclassified_check.setChecked(True)
    assert shown_files(dataset) == ["square/circle_0000.png"]
    dataset.misclassified_check.setChecked(False)

    dataset.class_combo.setCurrentIndex(dataset.class_combo.findText("square"))
    assert sorted(shown_files(dataset)) == sorted(
        p.relative_to(folder).as_posix() for p in (folder / "square").glob("*.png"))
    dataset.show_all()
    assert len(dataset.shown_items()) == 12

    probabilities = sorted(item["probability"] for item in items)
    low, high = probabilities[3], probabilities[8]
    dataset.low_spin.setValue(low - 5e-4)
    dataset.high_spin.setValue(high + 5e-4)
    expected = {item["file"] for item in items
                if round(low - 5e-4, 3) <= item["probability"] <= round(high + 5e-4, 3)}
    assert set(shown_files(dataset)) == expected and 0 < len(expected) < 12
    assert dataset.shown_label.text() == f"{len(expected)} of 12 shown"


def test_a_confusion_matrix_cell_filters_the_table_to_its_pair(demo_widget, shapes, qtbot):
    folder, _ = shapes
    dataset = opened(demo_widget, folder)
    matrix = dataset.matrix
    labels = [matrix.verticalHeaderItem(row).text() for row in range(matrix.rowCount())]
    assert labels == ["circle", "square", "triangle", "cross"]
    assert [[int(matrix.item(r, c).text()) for c in range(4)] for r in range(4)] == [
        [2, 0, 0, 0], [1, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3]]

    def click(row, column):
        rect = matrix.visualItemRect(matrix.item(row, column))
        qtbot.mouseClick(matrix.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=rect.center())

    click(1, 0)  # true square, predicted circle
    assert shown_files(dataset) == ["square/circle_0000.png"]
    click(0, 0)
    assert sorted(shown_files(dataset)) == ["circle/circle_0001.png", "circle/circle_0002.png"]
    dataset.show_all_button.click()
    assert len(shown_files(dataset)) == 12


def test_a_selected_row_is_the_workspace_image_and_explain_selected_tiles_each(
        demo_widget, shapes, tmp_path):
    folder, moved = shapes
    dataset = opened(demo_widget, folder)
    dataset.select_rows([4])
    chosen = dataset.shown_items()[4]
    assert demo_widget.workspace.image_source == chosen["path"]
    assert demo_widget.image.name == chosen["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    assert demo_widget.wait_until_idle(60)

    assert demo_widget.method_combo.currentData() == "grad-cam"
    dataset.select_rows([0, 5, 9])
    files = [item["file"] for item in dataset.selected_items()]
    assert len(files) == 3
    job = dataset.explain_selected()
    assert job is not None and demo_widget.wait_until_idle(60)
    tiles = demo_widget.canvas.tiles()
    assert len(tiles) == 3 and demo_widget.columns_spin.value() == 3
    assert [t.title.split(" · ")[0] for t in tiles] == [f.split("/")[-1] for f in files]
    assert all(t.result.method == "grad-cam" for t in tiles)
    assert demo_widget.tabs.currentWidget() is demo_widget.visualisation_tab

    # the canvas as a report: its three tiles, nothing outside the file
    path = tmp_path / "canvas.html"
    assert dataset.export_canvas_report(path)
    text = path.read_text()
    assert text.count('<figure class="tile">') == 3
    assert not re.findall(r'(?:src|href)="(?!data:)', text)
    assert [a.text() for a in dataset.report_button.menu().actions()] == [
        "Dataset run…", "Canvas tiles…"]


def test_the_report_is_one_file_with_the_rows_the_matrix_and_the_worst_images(
        demo_widget, shapes, tmp_path):
    folder, _ = shapes
    dataset = opened(demo_widget, folder)
    path = tmp_path / "report.html"
    job = dataset.export_report(path, count=3)
    assert job is not None and demo_widget.wait_until_idle(60)
    assert job.state == "finished"
    text = path.read_text()
    assert not re.findall(r'(?:src|href)="(?!data:)', text)  # self-contained
    assert "<link" not in text and "<script" not in text
    for item in dataset.items:
        assert f"<td>{item['file']}</td>" in text
    assert 'id="confusion-matrix"' in text
    assert '<td class="count">1</td>' in text  # the one square predicted as a circle
    worst = re.findall(r'<figure class="worst">(.*?)</figure>', text, re.S)
    assert len(worst) == 3
    assert "square/circle_0000.png" in worst[0]  # the highest loss first
    assert all(figure.count("data:image/png;base64,") == 2 for figure in worst)
    assert "Grad-CAM" in text and "12 images, accuracy 91.7%" in text


def test_the_table_model_and_its_filter_are_sound_qt_models(demo_widget, shapes,
                                                            qtmodeltester):
    folder, _ = shapes
    dataset = opened(demo_widget, folder)
    qtmodeltester.check(dataset.model)
    dataset.misclassified_check.setChecked(True)
    qtmodeltester.check(dataset.proxy)


def test_another_model_clears_the_table(demo_widget, demo, shapes):
    folder, _ = shapes
    dataset = opened(demo_widget, folder)
    assert dataset.model.rowCount() == 12
    assert demo_widget.set_model(demo["model"], str(demo["paths"]["model"]))
    assert dataset.model.rowCount() == 0 and dataset.matrix.rowCount() == 0


def test_a_folder_whose_classes_do_not_match_is_one_line_and_no_rows(demo_widget, shapes,
                                                                     tmp_path):
    folder, _ = shapes
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(next((folder / "circle").glob("*.png")), tmp_path / name / "x.png")
    errors = []
    demo_widget.error_reported.connect(errors.append)
    job = demo_widget.dataset.open_folder(tmp_path)
    assert demo_widget.wait_until_idle(60) and job.state == "failed"
    assert errors == [f"{tmp_path.name}: 2 class subfolders (a, b) but the model scores 4 "
                      "classes: give --labels with the model's class names to match the "
                      "subfolders by name"]
    assert demo_widget.dataset.model.rowCount() == 0
    assert not demo_widget.dataset.cancel_button.isEnabled()
    assert "predicting" not in demo_widget.dataset.summary_label.text()
