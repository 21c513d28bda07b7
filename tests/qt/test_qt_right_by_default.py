"""The widget shows why a preprocessing was chosen, warns when it looks wrong (never switching
it), and never titles results with class names of another model."""

import keras
import pytest

from builders import multi_output_model, sequential_model


@pytest.fixture(scope="module")
def rescaling_demo(demo):
    """The trained demo model behind its own Rescaling(1/255): it takes raw [0, 255] pixels."""
    inputs = keras.Input((64, 64, 3))
    return keras.Model(inputs, demo["model"](keras.layers.Rescaling(1 / 255)(inputs)),
                       name="demo_with_rescaling")


def warning_shown(widget) -> str:
    return widget.preprocessing_warning_label.text() \
        if not widget.preprocessing_warning_label.isHidden() else ""


def test_the_models_own_rescaling_is_used_and_a_wrong_choice_is_flagged(widget, demo,
                                                                        rescaling_demo):
    widget.set_labels(demo["labels"])
    assert widget.set_model(rescaling_demo)
    assert widget.set_image(str(demo["paths"]["images"][0]))
    assert widget.wait_until_idle(60)
    assert widget.preprocessing_combo.currentText() == "none (model starts with Rescaling(1/255))"
    assert "preprocessing none (model starts with Rescaling(1/255))" in \
        widget.image_info_label.text()
    assert warning_shown(widget) == ""

    assert widget.set_preprocessing("unit")  # the user's deliberate, wrong choice
    assert widget.wait_until_idle(60)
    shown = warning_shown(widget)
    assert "'unit' looks wrong" in shown and "'none' gives 'circle'" in shown
    assert widget.status_bar.currentMessage() == shown
    assert shown in widget.log_view.toPlainText()
    assert widget.image.preprocessing == "unit"  # warned about, never switched
    assert widget.session().preprocessing_reason == "chosen"


def test_the_right_preset_on_the_trained_demo_gives_no_warning(demo_widget, demo):
    for image in demo["paths"]["images"]:
        assert demo_widget.set_image(str(image))
        assert demo_widget.wait_until_idle(60)
        assert warning_shown(demo_widget) == ""


def test_class_names_of_another_model_are_dropped_and_a_wrong_file_refused(widget, demo,
                                                                           tmp_path):
    widget.set_labels(demo["labels"], "labels.txt")
    assert widget.set_model(demo["model"])
    assert widget.labels == demo["labels"]  # four names, four classes: kept
    assert widget.set_model(sequential_model(classes=7))
    assert widget.labels is None
    assert "class names dropped: 4 names, but the model's output scores 7 classes" in \
        widget.log_view.toPlainText()

    seven = tmp_path / "seven.txt"
    seven.write_text("\n".join(f"c{i}" for i in range(7)))
    assert widget.load_labels_file(seven) and len(widget.labels) == 7
    two = tmp_path / "two.txt"
    two.write_text("cat\ndog\n")
    assert not widget.load_labels_file(two)
    assert "2 class names in two.txt, but the model's output scores 7 classes" in \
        widget.status_bar.currentMessage()
    assert widget.labels == [f"c{i}" for i in range(7)]  # the current ones stay


def test_another_output_drops_names_that_do_not_fit_it(widget):
    assert widget.set_model(multi_output_model())  # outputs of 3 and 2 classes
    assert widget.set_labels(["a", "b", "c"])
    assert widget.set_output_index(1)
    assert widget.labels is None


def test_models_the_widget_let_go_are_freed(widget, demo, qtbot):
    import gc
    import weakref

    from dial_visualization.core.context import Target
    from dial_visualization.core.registry import NodeType

    path = demo["paths"]["model"]
    widget.set_labels(demo["labels"])
    assert widget.set_image(str(demo["paths"]["images"][0]))
    opened = []
    for _ in range(4):
        assert widget.load_model_file(path)
        widget.run_method("grad-cam", Target(NodeType.PREDICTION))
        assert widget.wait_until_idle(60)
        opened.append(weakref.ref(widget.model))
    assert widget.set_model(None)
    for _ in range(3):
        qtbot.wait(10)  # deleteLater of the tiles and tree models
        gc.collect()
    assert [ref() is None for ref in opened] == [True] * 4
