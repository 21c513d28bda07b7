"""Every error becomes a readable message; the widget stays usable and keeps its tiles."""

import keras
import pytest
from builders import random_pixels, sequential_model
from PIL import Image
from qtpy import QtCore, QtWidgets

from dial_visualization.core.context import Target
from dial_visualization.core.registry import HandlerConfiguration, NodeType


@pytest.fixture
def ready(widget):
    """A small model, an image and one tile already on the canvas."""
    widget.set_model(sequential_model(), "in memory")
    widget.set_image(random_pixels())
    widget.run_method("saliency", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(60)
    assert len(widget.results()) == 1
    return widget


def errors_logged(widget):
    return [line.split("ERROR: ", 1)[1] for line in widget.log_view.toPlainText().splitlines()
            if "ERROR: " in line]


def assert_still_usable(widget, tiles_before):
    """Earlier tiles kept, and a new run still works."""
    assert [r.method for r in widget.results()] == tiles_before
    assert widget.run_method("activations", Target(NodeType.OUTPUT, "conv1")) is not None
    assert widget.wait_until_idle(60)
    assert [r.method for r in widget.results()] == tiles_before + ["activations"]


def test_bad_model_file_is_reported_and_the_current_model_kept(ready, tmp_path):
    model = ready.model
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip archive")
    assert not ready.load_model_file(broken)
    assert not ready.load_model_file(tmp_path / "missing.h5")
    notes = tmp_path / "notes.txt"
    notes.write_text("a text file")
    assert not ready.load_model_file(notes)
    messages = errors_logged(ready)
    assert "not a valid .keras file" in messages[0]
    assert "no such model file" in messages[1]
    assert "is not a Keras model file" in messages[2]
    assert ready.status_bar.currentMessage().startswith("Error: ")
    assert ready.model is model
    assert_still_usable(ready, ["saliency"])


def test_bad_image_is_reported_and_the_current_image_kept(ready, tmp_path):
    image = ready.image
    fake = tmp_path / "photo.png"
    fake.write_text("definitely not pixels")
    assert not ready.set_image(fake)
    assert "photo.png is not a readable image" in errors_logged(ready)[-1]
    assert ready.image is image
    assert not ready.set_preprocessing("sepia")
    assert "unknown preprocessing" in errors_logged(ready)[-1]
    assert_still_usable(ready, ["saliency"])


def test_unsupported_model_and_bad_labels_are_reported(ready, tmp_path):
    vector_model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    assert not ready.set_model(vector_model)
    assert "4-D image input" in errors_logged(ready)[-1]
    labels = tmp_path / "labels.json"
    labels.write_text("[not json")
    assert not ready.load_labels_file(labels)
    assert "not valid JSON" in errors_logged(ready)[-1]
    assert_still_usable(ready, ["saliency"])


def test_run_refusals_unknown_method_wrong_node_bad_params_no_image(ready, qtbot):
    with qtbot.waitSignals([ready.run_failed] * 3):
        assert ready.run_method("no-such-method", Target(NodeType.PREDICTION)) is None
        assert ready.run_method("weights", Target(NodeType.PREDICTION)) is None
        assert ready.run_method("predictions", Target(NodeType.PREDICTION),
                                   {"top_k": 0}) is None
    messages = errors_logged(ready)
    assert "unknown method 'no-such-method'" in messages[0]
    assert "works on kernel nodes, not on prediction" in messages[1]
    assert "below the minimum" in messages[2]
    ready.set_model(sequential_model(seed=1))  # new model: canvas cleared, image reloaded
    assert ready.results() == []
    ready.set_model(None)
    assert ready.model is None and ready.image is None
    assert ready.run_method("saliency", Target(NodeType.PREDICTION)) is None
    assert "open a model first" in errors_logged(ready)[-1]


def test_method_that_cannot_handle_the_model_fails_readably(widget):
    if "grad-cam" not in HandlerConfiguration.default().all():
        pytest.skip("grad-cam is not registered")
    flat = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(3, activation="softmax", name="scores")])
    widget.set_model(flat)
    widget.set_image(random_pixels(8))
    widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(60)
    failures = []
    widget.run_failed.connect(failures.append)
    widget.run_method("grad-cam", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(60)
    assert len(failures) == 1 and failures[0]
    assert failures[0] in errors_logged(widget)[-1]
    assert [r.method for r in widget.results()] == ["predictions"]
    widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(60)
    assert len(widget.results()) == 2


def test_crashing_third_party_method_is_contained(ready, qtbot):
    def crash(context, target, params, progress, should_stop):
        progress(0.5)
        raise RuntimeError("segment 7 exploded")

    unregister = HandlerConfiguration.default().register(
        id="test-crash", name="Crash (test)", node_types={NodeType.OUTPUT}, run=crash)
    try:
        with qtbot.waitSignal(ready.run_failed) as failed:
            ready.run_method("test-crash", Target(NodeType.OUTPUT, "conv1"))
        assert failed.args[0] == "test-crash failed: RuntimeError: segment 7 exploded"
        assert ready.wait_until_idle(30)
    finally:
        unregister()
    assert "Crash (test): conv1: test-crash failed: RuntimeError" in errors_logged(ready)[-1]
    assert not ready.runs_group.isVisibleTo(ready)  # the failed run's row is gone
    assert_still_usable(ready, ["saliency"])


def test_without_an_image_attribution_fails_with_a_hint(widget):
    widget.set_model(sequential_model())
    widget.run_method("saliency", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(30)
    assert "needs an input image" in errors_logged(widget)[-1]
    widget.run_method("weights", Target(NodeType.KERNEL, "conv1"))  # needs none
    assert widget.wait_until_idle(30)
    assert [r.method for r in widget.results()] == ["weights"]


def test_errors_show_a_non_modal_message_box_when_dialogs_are_on(ready, tmp_path):
    ready.show_dialogs = True
    ready.show()
    assert not ready.set_image(tmp_path / "absent.png")
    boxes = ready.message_boxes()
    assert len(boxes) == 1 and boxes[0].isVisible()
    assert boxes[0].windowModality() == QtCore.Qt.WindowModality.NonModal
    assert "no such image file" in boxes[0].text()
    assert QtWidgets.QApplication.activeModalWidget() is None
    boxes[0].close()
    assert_still_usable(ready, ["saliency"])


@pytest.fixture
def unsafe_model_file(tmp_path):
    inputs = keras.Input((8, 8, 3))
    doubled = keras.layers.Lambda(lambda x: x * 2.0, name="double")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(doubled))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled),
                        name="with_lambda")
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path


def _answer_when_asked(button, tries=250):
    """Click ``button`` in the confirmation box as soon as it is shown (within 5 s)."""
    def click(left=tries):
        box = QtWidgets.QApplication.activeModalWidget()
        if isinstance(box, QtWidgets.QMessageBox):
            assert "Load it anyway?" in box.text()
            box.button(button).click()
        elif left:
            QtCore.QTimer.singleShot(20, lambda: click(left - 1))
    QtCore.QTimer.singleShot(20, click)


def test_unsafe_model_loads_only_after_explicit_confirmation(widget, unsafe_model_file):
    assert not widget.load_model_file(unsafe_model_file)  # dialogs off: refused, no question
    assert widget.model is None
    widget.show_dialogs = True
    _answer_when_asked(QtWidgets.QMessageBox.StandardButton.No)
    assert not widget.load_model_file(unsafe_model_file)
    assert widget.model is None
    _answer_when_asked(QtWidgets.QMessageBox.StandardButton.Yes)
    assert widget.load_model_file(unsafe_model_file)
    assert widget.model.name == "with_lambda"
    assert widget.session().model_path == str(unsafe_model_file)


def test_files_dropped_on_the_window_open_by_kind(widget, tmp_path, deliver_drop):
    model_path = tmp_path / "small.keras"
    sequential_model().save(model_path)
    image_path = tmp_path / "picture.png"
    Image.fromarray(random_pixels(24)).save(image_path)
    labels_path = tmp_path / "classes.txt"
    labels_path.write_text("cat\ndog\nbird\nfish\n")
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in (model_path, labels_path,
                                                              image_path)])
    deliver_drop(widget, mime)
    assert widget.model is not None and widget.session().model_path == str(model_path)
    assert widget.labels == ["cat", "dog", "bird", "fish"]
    assert widget.image.name == "picture"
    assert widget.wait_until_idle(30)
    assert widget.canvas.handle_drop(mime)  # the canvas passes files on too
    assert widget.session().image_path == str(image_path)
    assert widget.wait_until_idle(30)
