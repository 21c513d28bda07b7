"""How far a map can be trusted, in the app, driven on the real widget and the demo model:
a tile's Trust menu gives its deletion and insertion curves and its MuFidelity scatter (the
numbers of ``dv.evaluate``) and the sanity check's strip of maps (the correlations of
``core.metrics``), each with parameters from a form, refused in one line before any work
when the model or image rules them out; the model shown stays as it was, a check can be
cancelled from its progress row, the curves go with their tile into the export, its PNG and
Ctrl+Z, and "Compare methods" ends with a table of scores under the grid, the best of each
class marked."""

import time

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.core.context import NodeType, Target
from dial_visualization.core.metrics import evaluate, get_metric
from dial_visualization.core.metrics.randomization import layers_top_down
from dial_visualization.qt.method_picker import compared_methods
from dial_visualization.qt.trust_views import BEST_MARK, CURVES_HEIGHT, ScoreTable


def run_tile(widget, method, index=0, params=None):
    widget.run_method(method, Target(NodeType.PREDICTION, None, index), params)
    assert widget.wait_until_idle(120)
    return widget.canvas.tiles()[-1]


def test_a_tile_shows_its_deletion_and_insertion_curves_as_dv_evaluate_gives_them(demo_widget):
    widget, demo = demo_widget, dv.demo_paths()
    widget.trust.remember_params("deletion", {"steps": 8})
    widget.trust.remember_params("insertion", {"steps": 8, "patch": 4})
    tile = run_tile(widget, "grad-cam", 1)
    assert tile.trust_button is not None and tile.trust_button.isVisibleTo(tile)
    height = tile.maximumHeight()
    tile.trust_actions["deletion"].trigger()
    assert widget.jobs() and widget.run_row(widget.jobs()[0]) is not None  # progress, Cancel
    assert widget.wait_until_idle(120)
    panel = tile.trust_panel
    assert panel is not None and panel.isVisibleTo(tile)
    assert tile.maximumHeight() == height + CURVES_HEIGHT  # the map keeps its room
    record = tile.record
    for evaluation, params in zip(panel.evaluations, ({"steps": 8}, {"steps": 8, "patch": 4})):
        expected = dv.evaluate(widget.model, demo["images"][0], record.method, evaluation.metric,
                               target=record.target.index, method_params=record.params,
                               **params)
        assert evaluation.score == pytest.approx(expected.score, abs=1e-9)
        np.testing.assert_allclose(evaluation.curve, expected.curve, atol=1e-9)
        assert f"AUC {expected.score:.3g}" in panel.scores_label.text()
    assert [e.metric for e in panel.evaluations] == ["deletion", "insertion"]
    assert [line.get_label() for line in panel.figure.axes[0].lines] == [
        f"{e.info['metric_name']} (AUC {e.score:.3g})" for e in panel.evaluations]
    panel.hide_button.click()
    assert tile.trust_panel is None and tile.maximumHeight() == height


def test_the_trust_menu_is_only_on_maps_of_a_class(demo_widget):
    assert run_tile(demo_widget, "predictions").trust_button is None  # a bar chart
    demo_widget.run_method("activations", Target(NodeType.OUTPUT, "conv1"))
    assert demo_widget.wait_until_idle(120)
    assert demo_widget.canvas.tiles()[-1].trust_button is None  # a layer's maps


def test_the_sanity_check_shows_the_maps_and_the_correlations_of_core_metrics(demo_widget):
    widget = demo_widget
    widget.trust.remember_params("model-randomization", {"steps": 2})
    tile = run_tile(widget, "saliency", 0)
    weights = [w.copy() for w in widget.model.get_weights()]
    tiles_before = len(widget.canvas.tiles())
    tile.trust_actions["model-randomization"].trigger()
    assert widget.wait_until_idle(120)
    assert len(widget.canvas.tiles()) == tiles_before + 1
    sanity = widget.canvas.tiles()[-1].result
    record = tile.record
    checked = widget.workspace.request(record.method, record.target, record.params)
    expected = evaluate(get_metric("model-randomization"), widget.workspace.context(), checked,
                        params={"steps": 2})
    np.testing.assert_allclose(sanity.info["curve"], expected.curve, atol=1e-9)
    np.testing.assert_allclose(sanity.data, expected.info["maps"], atol=1e-9)
    assert sanity.kind == "grid" and sanity.data.shape[0] == 3  # the original, two steps
    labels = sanity.info["channels"]
    assert labels[0] == "original"
    assert f"|ρ| {expected.curve[2, 2]:.2f}" in labels[2] and "SSIM" in labels[2]
    assert f"{expected.score:.2f}" in widget.canvas.tiles()[-1].title
    for before, after in zip(weights, widget.model.get_weights()):
        np.testing.assert_array_equal(before, after)  # the model shown never changes


def test_a_sanity_check_is_cancelled_from_its_progress_row(demo_widget, qtbot):
    widget = demo_widget
    widget.trust.remember_params("model-randomization", {"steps": 0})  # every layer: 6 maps
    tile = run_tile(widget, "occlusion", 0, {"patch": 2, "stride": 1})
    tiles_before = len(widget.canvas.tiles())
    tile.trust_actions["model-randomization"].trigger()
    job = widget.jobs()[-1]
    qtbot.waitUntil(lambda: job.state == "running", timeout=10000)
    started = time.monotonic()
    widget.run_row(job).cancel_button.click()
    assert widget.wait_until_idle(60)
    assert job.state == "cancelled" and time.monotonic() - started < 5.0
    assert len(widget.canvas.tiles()) == tiles_before
    assert widget.status_bar.currentMessage().startswith("cancelled: sanity check")


def test_compare_methods_ends_with_the_scores_the_best_marked(demo_widget):
    widget = demo_widget
    widget.remember_params("occlusion", {"patch": 16, "stride": 16})
    widget.remember_params("smoothgrad", {"samples": 2})
    widget.remember_params("integrated-gradients", {"steps": 8, "max_steps": 8})
    widget.remember_params("score-cam", {"top_n": 4})
    widget.remember_params("rise", {"masks": 50})
    widget.remember_params("lime", {"samples": 50})
    widget.remember_params("expected-gradients", {"samples": 4})
    widget.trust.remember_params("deletion", {"steps": 8})
    widget.trust.remember_params("insertion", {"steps": 8})
    widget.layer_tree.clearSelection()
    widget.compare_methods()  # the top class
    assert widget.wait_until_idle(300)
    table = widget.trust.score_table
    assert isinstance(table, ScoreTable) and table.isVisibleTo(widget.canvas)
    maps = {r.method: r for r in widget.results()}
    methods = [m.id for m in compared_methods(widget.registry) if m.id in maps]
    assert table.methods == methods and len(table.classes) == 1
    index = table.classes[0]
    deletion = {m: table.score(m, index, "deletion") for m in methods}
    insertion = {m: table.score(m, index, "insertion") for m in methods}
    marked = {kind: [m for m in methods if table.is_marked(m, index, kind)]
              for kind in ("deletion", "insertion")}
    best = {"deletion": round(min(deletion.values()), 3),
            "insertion": round(max(insertion.values()), 3)}
    for kind, scores in (("deletion", deletion), ("insertion", insertion)):
        assert marked[kind] == [m for m in methods if round(scores[m], 3) == best[kind]]
        assert marked[kind]  # the best, and those tied with it at the precision shown
    assert [m for m in methods if round(deletion[m], 3) > best["deletion"]]  # not all
    context, result = widget.workspace.context(), maps["grad-cam"]
    expected = evaluate(get_metric("deletion"), context, given_map=result.data,
                        target=result.target, params={"steps": 8})
    assert deletion["grad-cam"] == pytest.approx(expected.score, abs=1e-9)
    row = table.methods.index(methods[0])
    assert table.verticalHeaderItem(row).text() == compared_methods(widget.registry)[0].name
    assert "deletion" in table.horizontalHeaderItem(0).text()
    assert any(BEST_MARK in table.item(r, 0).text() for r in range(table.rowCount()))
    widget.clear_canvas()
    assert widget.trust.score_table is None


def test_mufidelity_shows_its_score_and_scatter_as_dv_evaluate_gives_them(demo_widget):
    widget, demo = demo_widget, dv.demo_paths()
    widget.trust.remember_params("mu-fidelity", {"samples": 16, "grid": 4})
    widget.trust.remember_params("deletion", {"steps": 4})
    widget.trust.remember_params("insertion", {"steps": 4})
    tile = run_tile(widget, "saliency", 2)
    height = tile.maximumHeight()
    tile.trust_actions["deletion"].trigger()
    assert widget.wait_until_idle(120)
    tile.trust_actions["mu-fidelity"].trigger()
    assert widget.wait_until_idle(120)
    panel = tile.trust_panel
    assert [e.metric for e in panel.evaluations] == ["deletion", "insertion", "mu-fidelity"]
    assert tile.maximumHeight() == height + 2 * CURVES_HEIGHT  # the curves, the scatter
    mu = panel.evaluations[-1]
    expected = dv.evaluate(widget.model, demo["images"][0], "saliency", "mu-fidelity",
                           target=2, samples=16, grid=4)
    assert mu.score == pytest.approx(expected.score, abs=1e-9)
    scatter = panel.figure.axes[1].collections[0].get_offsets()
    np.testing.assert_allclose(scatter, expected.curve, atol=1e-6)  # (map sum, score drop)
    assert f"MuFidelity {expected.score:.3g} (higher is better)" in panel.scores_label.text()
    assert "16 subsets of 3/16 cells" in panel.figure.axes[1].get_title()


def test_a_trust_action_takes_its_parameters_from_a_form_checked_before_any_work(demo_widget):
    widget, demo = demo_widget, dv.demo_paths()
    tile = run_tile(widget, "grad-cam", 0)
    tile.trust_parameter_actions["deletion"].trigger()
    dialog = widget.trust.dialog
    assert dialog.isVisible() and set(dialog.forms) == {"deletion", "insertion"}
    deletion, insertion = dialog.forms["deletion"], dialog.forms["insertion"]
    assert deletion.editor("baseline").currentText() == "black"  # the declared defaults
    assert insertion.editor("baseline").currentText() == "blur"
    deletion.editor("patch").setValue(64)  # in range, but the whole 64x64 image
    dialog.run_button.click()
    assert dialog.isVisible() and not widget.jobs()
    assert dialog.refusal() == ("patch 64 covers the whole 64x64 image the model sees: take a "
                                "patch smaller than its longer side")
    assert widget.trust.params_of("deletion")["patch"] == 1  # nothing kept
    deletion.editor("patch").setValue(8)
    deletion.editor("steps").setValue(4)
    deletion.editor("baseline").setCurrentText("mean")
    insertion.editor("steps").setValue(4)
    dialog.run_button.click()
    assert not dialog.isVisible() and widget.jobs()
    assert widget.wait_until_idle(120)
    chosen = {"deletion": {"steps": 4, "patch": 8, "baseline": "mean"},
              "insertion": {"steps": 4}}
    for evaluation in tile.trust_panel.evaluations:
        expected = dv.evaluate(widget.model, demo["images"][0], "grad-cam", evaluation.metric,
                               target=0, **chosen[evaluation.metric])
        assert evaluation.score == pytest.approx(expected.score, abs=1e-9)
        assert evaluation.curve.shape == (5, 2)
    assert widget.trust.params_of("deletion") == {**widget.trust.params_of("deletion"),
                                                  **chosen["deletion"]}  # remembered
    tile.trust_parameter_actions["deletion"].trigger()  # shown again, as remembered
    again = widget.trust.dialog
    assert again.forms["deletion"].editor("patch").value() == 8
    again.forms["deletion"].editor("steps").setValue(16)
    again.reject()  # cancelled: forgotten
    assert widget.trust.params_of("deletion")["steps"] == 4


def test_the_sanity_check_randomises_the_layers_asked_for(demo_widget):
    widget = demo_widget
    tile = run_tile(widget, "saliency", 0)
    tile.trust_parameter_actions["model-randomization"].trigger()
    dialog = widget.trust.dialog
    form = dialog.forms["model-randomization"]
    form.editor("layers").setValue(99)
    dialog.run_button.click()
    assert dialog.refusal().startswith("layers 99: the model has ")
    assert not widget.jobs()
    form.editor("layers").setValue(2)
    form.editor("steps").setValue(0)
    dialog.run_button.click()
    assert widget.wait_until_idle(120)
    sanity = widget.canvas.tiles()[-1]
    top = [path for path, _ in layers_top_down(widget.model)[:2]]
    assert sanity.result.info["layers"] == top and len(sanity.result.data) == 3
    assert "once the top 2 layers are random" in sanity.title
    assert widget.trust.params_of("model-randomization")["layers"] == 2


def test_the_curves_are_exported_saved_and_brought_back_with_their_tile(demo_widget, tmp_path):
    widget = demo_widget
    widget.trust.remember_params("deletion", {"steps": 4})
    widget.trust.remember_params("insertion", {"steps": 4})
    plain = run_tile(widget, "saliency", 0)
    tile = run_tile(widget, "grad-cam", 0)
    tile.trust_actions["deletion"].trigger()
    assert widget.wait_until_idle(120)
    evaluations = tile.trust_panel.evaluations
    figure = widget.canvas.export_figure()
    curves = [a for a in figure.axes if a.get_legend() is not None]  # subfigures' too
    assert len(curves) == 1  # under the Grad-CAM map only
    lines = curves[0].get_lines()
    assert [line.get_label() for line in lines] == [
        f"{e.info['metric_name']} (AUC {e.score:.3g})" for e in evaluations]
    for line, evaluation in zip(lines, evaluations):
        np.testing.assert_allclose(line.get_xydata(), evaluation.curve)
    assert widget.canvas.export_png(tmp_path / "canvas.png")
    with_curves = Image.open(tile.save_png(tmp_path / "with.png")).size
    without = Image.open(plain.save_png(tmp_path / "without.png")).size
    assert with_curves[1] > 1.3 * without[1]  # the curves are under the map

    height = tile.maximumHeight()
    widget.clear_canvas()
    widget.undo_clear()
    back = widget.canvas.tiles()
    assert [t.result for t in back] == [plain.result, tile.result]
    assert back[0].trust_panel is None
    assert back[1].trust_panel.evaluations == evaluations
    assert back[1].maximumHeight() == height
