"""A multi-output model: the user picks which output the Prediction node explains."""

import numpy as np
from builders import multi_output_model, random_pixels

import dial_visualization as dv
from dial_visualization.core.context import Target
from dial_visualization.core.registry import NodeType


def test_the_output_choice_appears_only_for_multi_output_models(widget, demo):
    widget.set_model(demo["model"])
    assert widget.output_combo.isHidden()
    widget.set_model(multi_output_model())
    assert not widget.output_combo.isHidden() and widget.output_combo.count() == 2
    assert widget.output_index == 0


def test_runs_explain_the_chosen_output(widget, qtbot):
    model = multi_output_model()
    pixels = random_pixels()
    assert widget.set_model(model)
    assert widget.set_image(pixels)
    tree = widget.layer_tree.model()
    first = tree.index_for(Target(NodeType.PREDICTION))
    tree.fetchMore(first)
    assert tree.rowCount(first) == 3  # the first head's classes
    assert widget.set_output_index(1)
    prediction = widget.layer_tree.model().index_for(Target(NodeType.PREDICTION))
    widget.layer_tree.model().fetchMore(prediction)
    assert widget.layer_tree.model().rowCount(prediction) == 2  # the second head's classes
    with qtbot.waitSignal(widget.result_added, timeout=60000) as added:
        widget.run_method("saliency", Target(NodeType.PREDICTION, None, 1))
    expected = dv.explain(model, dv.load_image(pixels, model), "saliency", target=1,
                          output_index=1)
    np.testing.assert_allclose(added.args[0].data, expected.data, rtol=1e-5, atol=1e-7)
    assert widget.session().output_index == 1
    assert not widget.set_output_index(2)  # no such output: refused, state kept
    assert widget.output_index == 1
