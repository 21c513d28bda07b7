"""Every registered method on every kind of model and node: it runs, gives finite raw
arrays of the documented shape, and reports progress monotonically up to 1.0.

To cover a new method, register it: this table picks it up (give it fast
parameters in FAST_PARAMS if its defaults are slow)."""

import numpy as np
import pytest

from builders import multi_output_model, nested_model, random_pixels, residual_model, sequential_model
from dial_visualization.core.context import Context, Target
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.layers import LayerTree
from dial_visualization.core.registry import HandlerConfiguration, NodeType

FAST_PARAMS = {
    "activation-maximization": {"steps": 4},
    "integrated-gradients": {"steps": 4},
    "smoothgrad": {"samples": 2},
    "occlusion": {"patch": 8, "stride": 8},
}
MODELS = {"sequential": sequential_model, "residual": residual_model, "nested": nested_model,
          "two-outputs": multi_output_model}
_built = {}


def _context(model_name):
    if model_name not in _built:
        model = MODELS[model_name]()
        _built[model_name] = Context(model=model, image=load_image(random_pixels(), model))
    return _built[model_name]


def _targets(context, node_type):
    tree = LayerTree(context.model)
    if node_type is NodeType.PREDICTION:
        return [Target(node_type), Target(node_type, None, 1)]
    layers = [n for n in tree.walk() if not n.children and n.type != "InputLayer"]
    if node_type is NodeType.KERNEL:
        layers = [n for n in layers if n.has_kernel and n.is_spatial]
    else:
        layers = [n for n in layers if n.is_spatial]
    return [Target(node_type, layers[-1].path), Target(node_type, layers[-1].path, 0)]


CASES = [(method.id, node_type, model_name)
         for method in HandlerConfiguration.default().all().values()
         for node_type in sorted(method.node_types, key=lambda t: t.value)
         for model_name in MODELS]


@pytest.mark.parametrize("method_id, node_type, model_name", CASES)
def test_every_method_runs_on_every_model(method_id, node_type, model_name):
    context = _context(model_name)
    height, width = context.image.resized.shape[:2]
    for target in _targets(context, node_type):
        reported = []
        result = run(method_id, context, target, FAST_PARAMS.get(method_id),
                     progress=reported.append)
        assert np.all(np.isfinite(result.data)), (method_id, target)
        assert reported and reported[-1] == 1.0
        assert reported == sorted(reported)
        if result.kind == "heatmap":
            assert result.data.shape == (height, width)
        elif result.kind == "grid":
            assert result.data.ndim in (3, 4) and len(result.data) >= 1
        assert result.target.node_type is node_type
