"""Smaller items on the real widget: the fit of an image of another aspect ratio (chosen
beside the preprocessing, said in the image line, kept in the session) and tied class
scores (the log's top prediction is the tree's first class)."""

import keras
import numpy as np
from builders import sequential_model
from PIL import Image

from dial_visualization.core.context import NodeType, Target


def test_the_fit_combo_crops_or_pads_the_image_and_says_so(widget):
    assert widget.set_model(sequential_model(size=16))
    wide = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    assert widget.set_image(wide)
    combo = widget.fit_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["stretch", "crop", "pad"]
    assert combo.currentData() == "stretch" and widget.workspace.fit == "stretch"
    assert "(the model's input size; fit stretch)" in widget.image_info_label.text()
    combo.setCurrentIndex(combo.findData("crop"))
    combo.activated.emit(combo.findData("crop"))
    assert widget.workspace.fit == "crop"
    assert np.array_equal(widget.image.resized, wide[:, 4:20])
    assert "centre-cropped from 24×16; fit centre crop" in widget.image_info_label.text()
    assert widget.set_fit("pad")
    expected = np.zeros((24, 24, 3), np.uint8)
    expected[4:20] = wide
    reference = Image.fromarray(expected).resize((16, 16), Image.Resampling.BILINEAR)
    assert np.array_equal(widget.image.resized, np.asarray(reference))
    assert "padded from 24×16" in widget.image_info_label.text()
    assert combo.currentData() == "pad"
    assert not widget.set_fit("zoom") and widget.workspace.fit == "pad"
    assert widget.wait_until_idle(60)


def test_the_fit_is_saved_in_the_session_and_the_combo_follows_the_workspace(widget):
    assert widget.set_model(sequential_model(size=16))
    assert widget.session().fit == "stretch"
    widget.workspace.set_fit("pad")  # as a host does, without the widget
    assert widget.fit_combo.currentData() == "pad"
    assert widget.session().fit == "pad"
    assert widget.set_fit("crop") and widget.session().fit == "crop"
    assert widget.fit_combo.currentData() == "crop"


def tied_model(classes=4):
    """Every class scores 1/classes (a zero classifier)."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_initializer="zeros",
                                 name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_tied_scores_put_the_same_class_first_in_the_log_and_the_tree(widget):
    assert widget.set_model(tied_model())
    assert widget.set_image(np.full((8, 8, 3), 100, np.uint8))
    assert widget.wait_until_idle(60)
    log = widget.log_view.toPlainText().splitlines()
    top = [line for line in log if "top prediction" in line][-1]
    tree = widget.layer_tree.model()
    first = tree.index(0, 0, tree.index_for(Target(NodeType.PREDICTION)))
    assert tree.target(first).index == 0
    assert top.endswith("top prediction: 0 (0.250)")
