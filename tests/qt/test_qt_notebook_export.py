"""A canvas with a tile of every registered method, non-default parameters included,
exported as a notebook: executed, the notebook gives every tile's array again."""

import json
import sys

import nbformat
import numpy as np
import pytest

from dial_visualization.core.context import Target
from dial_visualization.core.notebook import write_notebook
from dial_visualization.core.registry import HandlerConfiguration, NodeType

#: Values other than the defaults (small where the default is slow), per built-in method.
NON_DEFAULT = {
    "predictions": {"top_k": 3},
    "activation-maximization": {
        "steps": 6, "learning_rate": 0.1, "seed": 2, "jitter": 2, "scale": 0.1, "blur": 0.5,
        "total_variation": 0.1, "l2": 0.1, "parameterization": "pixel", "frame_every": 3,
        "channels": "0,1"},
    "integrated-gradients": {"steps": 12, "baseline": "blur", "batch_size": 5},
    "smoothgrad": {"base": "guided-backprop", "samples": 3, "noise": 0.2, "seed": 4,
                   "batch_size": 2},
    "grad-cam": {"layer": "conv2"},
    "grad-cam-plus-plus": {"layer": "res_add"},
    "score-cam": {"layer": "conv2", "top_n": 8, "batch_size": 4},
    "occlusion": {"patch": 16, "stride": 12, "fill": "blur", "score": "logit", "batch_size": 4},
}
TARGETS = {NodeType.PREDICTION: Target(NodeType.PREDICTION, None, 1),
           NodeType.OUTPUT: Target(NodeType.OUTPUT, "conv2", 3),
           NodeType.KERNEL: Target(NodeType.KERNEL, "conv1")}


@pytest.fixture
def kernel_of_this_python(tmp_path, monkeypatch):
    """A "python3" kernelspec that starts this interpreter (the venv), found first."""
    kernel_dir = tmp_path / "jupyter" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python",
        "env": {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "python3"


def test_every_parameter_of_the_table_is_declared():
    registry = HandlerConfiguration.default()
    for method, values in NON_DEFAULT.items():
        declared = {p.name: p for p in registry.get(method).parameters}
        for name, value in values.items():
            assert declared[name].coerce(value) != declared[name].default, (method, name)


@pytest.mark.timeout(600)
def test_a_tile_of_every_method_replays_from_the_exported_notebook(
        demo_widget, tmp_path, kernel_of_this_python):
    from nbclient import NotebookClient

    widget = demo_widget
    for method in HandlerConfiguration.default().all().values():
        node_type = min(method.node_types, key=lambda t: t.value)
        assert widget.run_method(method.id, TARGETS[node_type],
                                    NON_DEFAULT.get(method.id, {})) is not None
    assert widget.wait_until_idle(300)
    tiles = widget.results()
    assert [r.method for r in tiles] == list(HandlerConfiguration.default().all())

    path = write_notebook(widget.session(), tmp_path / "canvas.ipynb")
    notebook = nbformat.read(path, as_version=4)
    saved = tmp_path / "replayed.npz"
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"import numpy as np\nnp.savez({str(saved)!r}, *[r.data for r in results])"))
    NotebookClient(notebook, timeout=300, kernel_name=kernel_of_this_python,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    with np.load(saved) as arrays:
        replayed = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    assert len(replayed) == len(tiles)
    for array, tile in zip(replayed, tiles):
        assert array.shape == tile.data.shape, tile.method
        np.testing.assert_allclose(array, tile.data, rtol=1e-4, atol=1e-5, err_msg=tile.method)
