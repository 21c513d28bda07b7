"""A canvas exported as a notebook reproduces every tile when the notebook is executed."""

import json
import sys

import nbformat
import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.core.errors import DialVisualizationError
from dial_visualization.core.images import load_image
from dial_visualization.core.notebook import notebook_cells, write_notebook
from dial_visualization.core.context import Target
from dial_visualization.core.session import RunRecord, Session

RUNS = [
    RunRecord("predictions", Target("prediction", None, None), {"top_k": 3}),
    RunRecord("saliency", Target("prediction", None, 2), {}),
    RunRecord("activations", Target("output", "conv1", None), {}),
    RunRecord("saliency", Target("output", "conv2", 1), {}),
]


@pytest.fixture
def session():
    """A canvas of four tiles on the demo model and its first image."""
    demo = dv.demo_paths()
    return Session(model_path=str(demo["model"]), image_path=str(demo["images"][0]),
                   preprocessing="unit", labels_path=str(demo["labels"]), runs=list(RUNS))


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


def test_cells_load_the_files_and_explain_each_tile_with_its_exact_parameters(session):
    cells = notebook_cells(session)

    assert [kind for kind, _ in cells] == ["markdown"] + ["code"] * (1 + len(RUNS))
    setup = cells[1][1]
    assert f"model = dv.load_model({session.model_path!r})" in setup
    assert f"dv.load_image({session.image_path!r}, model, preprocessing='unit')" in setup
    assert f"labels = dv.load_labels({session.labels_path!r})" in setup
    first, last = cells[2][1], cells[-1][1]
    assert "'predictions'" in first and "top_k=3" in first and "node_type='prediction'" in first
    assert "layer='conv2'" in last and "target=1" in last and "node_type='output'" in last
    assert all("results.append(result)" in source and "result.plot()" in source
               for _, source in cells[2:])


def test_the_fit_is_written_and_the_setup_cell_loads_the_image_as_the_canvas_had_it(
        session, tmp_path):
    wide = tmp_path / "wide.png"
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(wide)
    session.image_path = str(wide)
    assert ", fit=" not in notebook_cells(session)[1][1]  # the default goes unsaid
    for fit in ("crop", "pad"):
        session.fit = fit
        setup = notebook_cells(session)[1][1]
        assert f"preprocessing='unit', fit={fit!r})" in setup
        namespace = {}
        exec(setup, namespace)
        expected = load_image(str(wide), namespace["model"], "unit", fit=fit)
        np.testing.assert_array_equal(namespace["image"].resized, expected.resized)
    assert not np.array_equal(expected.resized, load_image(str(wide), namespace["model"],
                                                           "unit").resized)


def test_a_model_not_loaded_from_a_file_cannot_be_exported():
    with pytest.raises(DialVisualizationError, match="not loaded from a file"):
        notebook_cells(Session(model_path=""))


def test_a_custom_preprocessing_function_cannot_be_exported(session):
    session.preprocessing = "my_normalisation"
    with pytest.raises(DialVisualizationError, match="custom function .'my_normalisation'"):
        notebook_cells(session)


def test_no_image_and_no_labels_are_written_as_none(session):
    session.image_path, session.labels_path = None, None
    session.runs = [RunRecord("weights", Target("kernel", "conv1", None), {})]
    setup = notebook_cells(session)[1][1]
    assert "image = None" in setup and "labels = None" in setup


@pytest.mark.timeout(300)
def test_executed_notebook_gives_the_same_arrays_as_explain(session, tmp_path,
                                                            kernel_of_this_python):
    from nbclient import NotebookClient

    path = write_notebook(session, tmp_path / "canvas.ipynb")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    saved = tmp_path / "results.npz"
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"import numpy as np\nnp.savez({str(saved)!r}, *[r.data for r in results])"))

    NotebookClient(notebook, timeout=300, kernel_name=kernel_of_this_python,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    model = dv.load_model(session.model_path)
    image = dv.load_image(session.image_path, model, preprocessing="unit")
    expected = [dv.explain(model, image, run.method, layer=run.target.layer,
                           target=run.target.index, node_type=run.target.node_type,
                           labels=session.labels_path, **run.params)
                for run in RUNS]
    with np.load(saved) as arrays:
        produced = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    assert len(produced) == len(expected)
    for array, result in zip(produced, expected):
        assert array.shape == result.data.shape
        np.testing.assert_allclose(array, result.data, rtol=1e-5, atol=1e-6)
