"""Runs happen on the worker: the GUI keeps answering, Cancel stops within one batch, runs queue."""

import gc
import time

import numpy as np
import pytest
import tensorflow as tf
from qtpy import QtCore

from dial_visualization.core.context import Target
from dial_visualization.core.registry import HandlerConfiguration, NodeType
from dial_visualization.core.result import Result
from dial_visualization.core.tf_ops import batches, score_function

MAX_GAP_MS = 100
SCAN_BATCH = 32


def _slow_scan(record):
    """A test method: real forward passes over many copies of the image, batch by batch,
    recording how many batches ran and when ``should_stop`` first said yes."""

    def run(context, target, params, progress, should_stop):
        x = context.require_image().batch()
        score = score_function(context.model, device=context.device)
        total = np.zeros(1, np.float32)

        def stop():
            stopping = should_stop()
            if stopping and record.get("stopped_at") is None:
                record["stopped_at"] = record["batches"]
            return stopping

        for chunk in batches(SCAN_BATCH * 2000, SCAN_BATCH, progress, stop):
            copies = np.repeat(x, chunk.stop - chunk.start, axis=0)
            total += float(np.sum(score(tf.constant(copies), tf.constant([0]))))
            record["batches"] += 1
        return Result("test-slow-scan", "scan", "scores", total)

    return run


@pytest.fixture
def slow_methods(demo):
    """Long runs on the demo model: occlusion with patch 2, stride 1 (if registered) and a
    test scan whose batches are counted."""
    record = {"batches": 0, "stopped_at": None}
    unregister = HandlerConfiguration.default().register(
        id="test-slow-scan", name="Slow scan (test)", node_types={NodeType.PREDICTION},
        run=_slow_scan(record))
    yield record
    unregister()


@pytest.mark.parametrize("method", ["occlusion", "test-slow-scan"])
def test_gui_answers_within_100ms_during_a_long_run_and_cancel_stops_it(
        demo_widget, slow_methods, event_loop_gap, qtbot, method):
    widget = demo_widget
    registry = HandlerConfiguration.default()
    if method not in registry.all():
        pytest.skip(f"{method} is not registered")
    params = {}
    for parameter in registry.get(method).parameters:
        if parameter.name == "patch":
            params["patch"] = 2
        elif parameter.name == "stride":
            params["stride"] = 1
        elif parameter.name == "batch_size":  # one model call per window: thousands of calls
            params["batch_size"] = 1
    tiles_before = len(widget.results())
    widget.run_method("predictions", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(30)
    job = widget.run_method(method, Target(NodeType.PREDICTION), params)
    progress = []
    job.progress.connect(progress.append)
    started = time.monotonic()
    gap, ticks = event_loop_gap(lambda: time.monotonic() - started > 1.5
                                or job.state in ("finished", "failed", "cancelled"))
    assert job.state == "running", "the run should take more than 1.5 s"
    assert gap < MAX_GAP_MS, f"the event loop stalled for {gap:.0f} ms ({ticks} ticks)"
    assert ticks > 50
    assert 0 < progress[-1] < 1
    row = widget.run_row(job)
    assert row.isVisibleTo(widget) and row.progress_bar.value() > 0
    reported_before_cancel = len(progress)
    batches_before_cancel = slow_methods["batches"]
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        qtbot.mouseClick(row.cancel_button, QtCore.Qt.MouseButton.LeftButton)
        assert job.should_stop()
    assert len(progress) - reported_before_cancel <= 1  # at most the batch under way
    if method == "test-slow-scan":  # batches counted exactly: only the one under way finished
        assert slow_methods["batches"] - batches_before_cancel <= 1
        assert slow_methods["stopped_at"] == slow_methods["batches"]
    assert widget.wait_until_idle(10)
    assert widget.run_row(job) is None and not widget.runs_group.isVisibleTo(widget)
    assert len(widget.results()) == tiles_before + 1  # the predictions tile, nothing from the run
    widget.run_method("saliency", Target(NodeType.PREDICTION))
    assert widget.wait_until_idle(30)
    assert [r.method for r in widget.results()][-2:] == ["predictions", "saliency"]


def test_runs_queue_in_order_and_a_queued_run_can_be_cancelled(demo_widget, slow_methods,
                                                               qtbot):
    widget = demo_widget
    states = []
    with qtbot.waitSignal(widget.busy_changed) as became_busy:
        first = widget.run_method("test-slow-scan", Target(NodeType.PREDICTION))
    assert became_busy.args == [True]
    second = widget.run_method("predictions", Target(NodeType.PREDICTION))
    third = widget.run_method("saliency", Target(NodeType.PREDICTION))
    for job in (second, third):
        job.started.connect(lambda job=job: states.append(job.method_id))
    assert widget.jobs() == [first, second, third]
    qtbot.waitUntil(lambda: first.state == "running", timeout=10000)
    qtbot.wait(100)
    assert second.state == "queued" and third.state == "queued"  # one at a time
    assert gc.get_freeze_count() > 0  # no long full collections while runs are under way
    second.cancel()  # before it starts: it never runs
    with qtbot.waitSignal(widget.busy_changed, timeout=30000) as became_idle:
        qtbot.wait(300)
        first.cancel()
    assert became_idle.args == [False]
    assert gc.get_freeze_count() == 0  # and nothing kept from the collector afterwards
    assert states == ["saliency"]
    assert (first.state, second.state, third.state) == ("cancelled", "cancelled", "finished")
    assert [r.method for r in widget.results()] == ["saliency"]


def test_closing_the_widget_stops_the_worker(demo_widget, slow_methods, qtbot):
    job = demo_widget.run_method("test-slow-scan", Target(NodeType.PREDICTION))
    qtbot.waitUntil(lambda: job.state == "running", timeout=10000)
    started = time.monotonic()
    demo_widget.close()
    assert time.monotonic() - started < 5
    assert job.state == "cancelled"
    assert slow_methods["stopped_at"] is not None


def test_the_gui_keeps_painting_while_a_model_file_loads(widget, qtbot, tmp_path):
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    for _ in range(150):  # many layers: seconds of deserialisation, all in Python
        x = keras.layers.Conv2D(4, 3, padding="same")(x)
    path = tmp_path / "deep.keras"
    keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x)).save(path)
    ticks, enabled_during_load = [], []
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (ticks.append(time.perf_counter()),
                                   enabled_during_load.append(widget.isEnabled())))
    timer.start()
    started = time.perf_counter()
    assert widget.load_model_file(path)
    took = time.perf_counter() - started
    timer.stop()
    assert took > 0.2, "the model should take a while to load"
    assert len(ticks) >= 5, f"the event loop did not run while loading ({len(ticks)} ticks)"
    assert not any(enabled_during_load), "input must be blocked while the model loads"
    assert widget.isEnabled() and widget.model is not None


def test_the_gui_keeps_painting_while_an_image_file_loads(demo_widget, qtbot, tmp_path):
    from PIL import Image

    path = tmp_path / "large.png"
    noise = np.random.default_rng(0).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, compress_level=1)  # noise: a slow decode
    ticks, enabled_during_load = [], []
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (ticks.append(time.perf_counter()),
                                   enabled_during_load.append(demo_widget.isEnabled())))
    timer.start()
    started = time.perf_counter()
    assert demo_widget.set_image(str(path))
    took = time.perf_counter() - started
    timer.stop()
    assert took > 0.1, "the image should take a while to load"
    assert len(ticks) >= 3, f"the event loop did not run while loading ({len(ticks)} ticks)"
    assert not any(enabled_during_load), "input must be blocked while the image loads"
    assert demo_widget.image.original.shape == (3000, 3000, 3)
    assert demo_widget.wait_until_idle(60)
