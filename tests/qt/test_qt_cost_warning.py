"""The warning before a long run, on the real widget: the model is timed once an image is
loaded, a run estimated above the limit asks first (Yes starts it, No says it did not), and
with dialogs off it starts with the estimate in the log."""

import pytest
from qtpy import QtCore, QtWidgets

from dial_visualization.core.context import NodeType, Target
from dial_visualization.core.cost import estimated_cost
from dial_visualization.core.session import RunRecord

OCCLUSION = {"patch": 2, "stride": 1}


def answer_next_question(button_name):
    """Click ``button_name`` ("Yes" or "No") on the next modal question; returns its text."""
    seen = []

    def click():
        box = QtWidgets.QApplication.activeModalWidget()
        if not isinstance(box, QtWidgets.QMessageBox):
            QtCore.QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        buttons = QtWidgets.QMessageBox.StandardButton
        box.button(getattr(buttons, button_name)).click()

    QtCore.QTimer.singleShot(0, click)
    return seen


def test_the_model_is_timed_and_runs_are_estimated(demo_widget):
    per_input = demo_widget.seconds_per_input
    assert per_input is not None and 0 < per_input < 1
    checked = demo_widget.workspace.request("occlusion", Target(NodeType.PREDICTION, None, 0),
                                            OCCLUSION)
    seconds, calls = demo_widget.estimated_seconds([checked])
    cost = estimated_cost(checked, demo_widget.model)
    assert calls == cost.calls > 100 and seconds == pytest.approx(cost.seconds(per_input))


def test_with_dialogs_off_a_long_run_starts_and_the_estimate_is_logged(demo_widget):
    demo_widget.cost_warning_seconds = 0.0
    job = demo_widget.run_method("occlusion", Target(NodeType.PREDICTION, None, 0), OCCLUSION)
    assert job is not None
    log = demo_widget.log_view.toPlainText()
    assert "long run: Occlusion: " in log and "images through the model: about" in log
    job.cancel()
    assert demo_widget.wait_until_idle(60)


@pytest.mark.parametrize("answer", ["No", "Yes"])
def test_a_long_run_asks_first(demo_widget, answer):
    demo_widget.cost_warning_seconds = 0.0
    demo_widget.show_dialogs = True
    asked = answer_next_question(answer)
    jobs = demo_widget._run_records([
        RunRecord("occlusion", Target(NodeType.PREDICTION, None, c), OCCLUSION) for c in (0, 1)],
        remembered=False)
    demo_widget.show_dialogs = False
    assert len(asked) == 1 and asked[0].startswith("2 runs will pass about ")
    if answer == "No":
        assert jobs == [] and demo_widget.jobs() == []
        assert demo_widget.status_bar.currentMessage().startswith("not started: 2 runs (about")
    else:
        assert len(jobs) == 2
        for job in jobs:
            job.cancel()
    assert demo_widget.wait_until_idle(60)


def test_a_short_run_is_not_asked_about(demo_widget):
    demo_widget.show_dialogs = True  # a question would block the test
    try:
        job = demo_widget.run_method("saliency", Target(NodeType.PREDICTION, None, 0))
    finally:
        demo_widget.show_dialogs = False
    assert job is not None and demo_widget.wait_until_idle(60)
