"""The parameter form generated from a method's declaration."""

import pytest
from qtpy import QtWidgets

from dial_visualization.core.errors import ParameterError
from dial_visualization.core.registry import Method, NodeType, Parameter
from dial_visualization.qt.params_form import ParamsForm

EVERY_KIND = Method(
    id="test-every-kind", name="Every kind", node_types={NodeType.OUTPUT}, run=lambda *a: None,
    parameters=(
        Parameter("steps", "int", 16, "how many steps", 1, 500),
        Parameter("rate", "float", 0.05, "step size", 1e-4, 2.0),
        Parameter("mode", "choice", "fast", "how", choices=("fast", "exact", "lazy")),
        Parameter("smooth", "bool", False, "blur the result"),
        Parameter("channels", "str", "", "comma-separated channels"),
    ))
OTHER = Method(id="test-other", name="Other", node_types={NodeType.OUTPUT},
                  run=lambda *a: None, parameters=(Parameter("samples", "int", 8, "", 1, 64),))


@pytest.fixture
def form(qtbot):
    widget = ParamsForm()
    qtbot.addWidget(widget)
    widget.set_method(EVERY_KIND)
    return widget


def test_each_kind_gets_its_editor_with_range_choices_and_help(form):
    steps, rate, mode, smooth, channels = (form.editor(n) for n in
                                           ("steps", "rate", "mode", "smooth", "channels"))
    assert isinstance(steps, QtWidgets.QSpinBox)
    assert (steps.minimum(), steps.maximum(), steps.value()) == (1, 500, 16)
    assert isinstance(rate, QtWidgets.QDoubleSpinBox)
    assert (rate.minimum(), rate.maximum(), rate.value()) == (1e-4, 2.0, 0.05)
    assert isinstance(mode, QtWidgets.QComboBox)
    assert [mode.itemText(i) for i in range(mode.count())] == ["fast", "exact", "lazy"]
    assert isinstance(smooth, QtWidgets.QCheckBox) and not smooth.isChecked()
    assert isinstance(channels, QtWidgets.QLineEdit)
    assert steps.toolTip().startswith("how many steps") and "max 500" in steps.toolTip()
    assert form.values() == {"steps": 16, "rate": 0.05, "mode": "fast", "smooth": False,
                             "channels": ""}


def test_values_round_trip_through_the_editors(form):
    wanted = {"steps": 123, "rate": 0.000125, "mode": "lazy", "smooth": True, "channels": "0,2"}
    assert form.set_values(wanted) == wanted
    assert form.values() == wanted
    assert form.editor("steps").value() == 123
    assert form.editor("mode").currentText() == "lazy"
    assert form.editor("smooth").isChecked()
    form.editor("steps").setValue(7)  # the user edits
    form.editor("mode").setCurrentIndex(1)
    assert form.values() == {**wanted, "steps": 7, "mode": "exact"}


def test_values_are_remembered_per_method(form, qtbot):
    form.set_values({"steps": 42})
    with qtbot.waitSignal(form.values_changed) as changed:
        form.editor("smooth").setChecked(True)
    assert changed.args[0] == "test-every-kind" and changed.args[1]["smooth"] is True
    form.set_method(OTHER)
    assert form.values() == {"samples": 8}
    form.editor("samples").setValue(3)
    form.set_method(EVERY_KIND)
    assert form.values()["steps"] == 42 and form.values()["smooth"] is True
    assert form.remembered(OTHER) == {"samples": 3}
    form.remember(OTHER, {"samples": 5})  # remembered without being shown
    form.set_method(OTHER)
    assert form.editor("samples").value() == 5


@pytest.mark.parametrize("bad", [{"steps": 0}, {"steps": 501}, {"steps": 2.5}, {"rate": "fast"},
                                 {"mode": "slow"}, {"smooth": "maybe"}, {"unknown": 1}])
def test_invalid_values_are_refused_and_change_nothing(form, bad):
    before = form.values()
    with pytest.raises(ParameterError):
        form.set_values(bad)
    assert form.values() == before
    assert form.remembered(EVERY_KIND) == before


def test_spin_boxes_cannot_leave_the_declared_range(form):
    form.editor("steps").setValue(10_000)
    form.editor("rate").setValue(-1.0)
    assert form.values()["steps"] == 500 and form.values()["rate"] == pytest.approx(1e-4)


def test_no_method_and_no_parameters_show_a_message(qtbot):
    form = ParamsForm()
    qtbot.addWidget(form)
    assert form.values() == {}
    form.set_method(Method(id="test-bare", name="Bare", node_types={NodeType.OUTPUT},
                                 run=lambda *a: None))
    assert form.values() == {}
    texts = [w.text() for w in form.findChildren(QtWidgets.QLabel)]
    assert "Bare has no parameters." in texts
