"""The workspace: the document without Qt. Changing the model resets what depended on the old
one; its signals say what changed, once, in an order a view can follow."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from builders import multi_output_model, random_pixels, sequential_model
from dial_visualization.core.context import NodeType, Target
from dial_visualization.core.errors import DialVisualizationError, LabelsError
from dial_visualization.core.registry import HandlerConfiguration
from dial_visualization.core.session import RunRecord
from dial_visualization.core.workspace import Workspace


@pytest.fixture
def workspace():
    return Workspace(HandlerConfiguration.default())


def record_signals(workspace):
    events = []
    for name in ("model_changed", "image_changed", "labels_changed", "preprocessing_changed",
                 "output_index_changed", "noted"):
        getattr(workspace, name).connect(lambda value, name=name: events.append(name))
    return events


def rescaling_model(size=16):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def test_a_new_model_resets_what_depended_on_the_old_one(workspace):
    workspace.set_model(sequential_model(classes=4), "a.keras", "abc")
    workspace.set_labels(["a", "b", "c", "d"], "labels.txt")
    workspace.set_image(workspace.read_image(random_pixels()), "cat.png")
    occlusion = workspace.registry.get("occlusion")
    workspace.parameters.remember(occlusion, {"stride": 1, "patch": 2})
    assert workspace.request("occlusion", Target("prediction")).params["stride"] == 1
    events = record_signals(workspace)

    workspace.set_model(rescaling_model(), "b.keras", "def")

    assert events == ["labels_changed", "noted", "preprocessing_changed", "image_changed",
                      "model_changed"]  # the model last: a view may then load the image
    assert workspace.labels is None and workspace.labels_source == ""  # 4 names, 2 classes
    assert workspace.preprocessing.name == "none"  # the model rescales by itself
    assert workspace.image is None and workspace.image_source == "cat.png"  # to load again
    assert workspace.output_index == 0 and workspace.model_sha256 == "def"
    # the stride chosen for the old model does not come back on the new one
    assert workspace.request("occlusion", Target("prediction")).params == \
        occlusion.resolve_params({})


def test_labels_of_another_length_are_refused_and_nothing_changes(workspace):
    workspace.set_model(sequential_model(classes=4))
    workspace.set_labels(["a", "b", "c", "d"])
    events = record_signals(workspace)
    with pytest.raises(LabelsError, match="3 class names in x.txt, but the model's output "
                                          "scores 4 classes"):
        workspace.set_labels(["a", "b", "c"], "x.txt")
    assert workspace.labels == ["a", "b", "c", "d"] and events == []


def test_the_output_index_changes_the_class_count_and_drops_labels(workspace):
    workspace.set_model(multi_output_model())
    workspace.set_labels(["x", "y", "z"])
    events = record_signals(workspace)
    workspace.set_output_index(0)  # no change: no signal
    assert events == []
    workspace.set_output_index(1)
    assert workspace.class_count() == 2 and workspace.labels is None
    assert events == ["labels_changed", "noted", "output_index_changed"]
    with pytest.raises(DialVisualizationError, match="no output 2"):
        workspace.set_output_index(2)
    assert workspace.output_index == 1


def test_requests_use_the_remembered_values_and_a_record_its_own(workspace):
    model = sequential_model(classes=4)
    workspace.set_model(model)
    smoothgrad = workspace.registry.get("smoothgrad")
    workspace.parameters.remember(smoothgrad, {"samples": 3})
    assert workspace.request("smoothgrad", Target("prediction")).params["samples"] == 3
    assert workspace.request("smoothgrad", Target("prediction"), {}).params["samples"] == \
        smoothgrad.parameters[[p.name for p in smoothgrad.parameters].index("samples")].default
    saved = workspace.request_record(RunRecord("smoothgrad", Target("prediction"),
                                               {"samples": 5}))
    assert saved.params["samples"] == 5
    first = workspace.request_record(RunRecord(None, Target("kernel", "conv1")))
    assert first.method.id == workspace.registry.default_method(NodeType.KERNEL).id == "weights"


def test_the_context_and_session_say_what_the_document_holds(workspace):
    model = sequential_model(classes=4)
    workspace.set_model(model, "m.keras")
    workspace.set_preprocessing("symmetric")
    image = workspace.read_image(random_pixels())
    assert image.preprocessing == "symmetric"
    np.testing.assert_allclose(image.array, image.resized / 127.5 - 1.0, atol=1e-6)
    workspace.set_image(image, "cat.png")
    workspace.set_device("cpu")
    context = workspace.context()
    assert (context.model, context.image, context.device) == (model, image, "cpu")
    runs = [RunRecord("saliency", Target("prediction", None, 1), {})]
    session = workspace.session(runs)
    assert (session.model_path, session.image_path, session.preprocessing) == \
        ("m.keras", "cat.png", "symmetric")
    assert session.runs == runs
    assert workspace.check_preprocessing().chosen == "symmetric"


def test_nothing_is_read_without_a_model(workspace):
    with pytest.raises(DialVisualizationError, match="open a model first"):
        workspace.read_image(random_pixels())
    with pytest.raises(DialVisualizationError, match="open a model first"):
        workspace.request("saliency", Target("prediction"))


def test_the_workspace_needs_no_qt():
    code = ("import sys\nimport dial_visualization.core.workspace\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in "
            "('qtpy', 'PySide6', 'PySide2', 'PyQt5', 'PyQt6')]\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
