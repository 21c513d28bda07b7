"""The command line end to end on the demo model: files written, values, errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.cli import main


@pytest.fixture(scope="module")
def demo():
    paths = dv.demo_paths()
    return paths, dv.load_model(paths["model"]), dv.load_labels(paths["labels"])


def test_explain_writes_the_raw_map_and_the_overlay_per_image_and_method(demo, tmp_path):
    paths, model, labels = demo
    code = main(["explain", "--image", str(paths["images"][0]), "--image", str(paths["images"][1]),
                 "--method", "grad-cam", "--method", "saliency", "--out", str(tmp_path)])
    assert code == 0
    for image_path in paths["images"][:2]:
        for method in ("grad-cam", "saliency"):
            raw = np.load(tmp_path / f"{image_path.stem}_{method}.npy")
            assert raw.shape == (64, 64) and raw.dtype == np.float32
            expected = dv.explain(model, dv.load_image(image_path, model), method).data
            np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-6)
            with Image.open(tmp_path / f"{image_path.stem}_{method}.png") as png:
                assert png.size[0] > 100 and png.size[1] > 100


def test_explain_takes_a_folder_a_class_name_and_parameters(demo, tmp_path):
    paths, model, labels = demo
    code = main(["explain", "--image", str(paths["model"].parent), "--method",
                 "integrated-gradients", "--target", "cross", "--param", "steps=8",
                 "--labels", str(paths["labels"]), "--out", str(tmp_path)])
    assert code == 0
    assert len(list(tmp_path.glob("*_integrated-gradients.npy"))) == len(paths["images"])
    square = paths["model"].parent / "square.png"
    expected = dv.explain(model, dv.load_image(square, model), "integrated-gradients",
                          target=labels.index("cross"), steps=8).data
    np.testing.assert_allclose(np.load(tmp_path / "square_integrated-gradients.npy"), expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arguments, message", [
    (["--image", "missing.png"], "no such image file"),
    (["--target", "dog"], "neither an index nor a class name"),
    (["--param", "steps"], "expected NAME=VALUE"),
    (["--param", "patch=0"], "below the minimum"),
])
def test_explain_fails_with_a_clear_message_on_bad_input(tmp_path, capsys, arguments, message):
    code = main(["explain", "--method", "occlusion", "--out", str(tmp_path)] + arguments)
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_a_model_is_refused(tmp_path, capsys):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    assert main(["inspect", str(fake)]) == 2
    assert "not a valid .keras file" in capsys.readouterr().err


def test_inspect_prints_every_layer_and_the_parameter_count(demo, capsys):
    _, model, _ = demo
    assert main(["inspect"]) == 0
    printed = capsys.readouterr().out
    for layer in model.layers:
        assert layer.name in printed
    assert f"total parameters: {model.count_params()}" in printed


def test_methods_lists_every_algorithm_with_its_parameters(capsys):
    assert main(["methods"]) == 0
    printed = capsys.readouterr().out
    for algorithm in dv.available_methods().values():
        assert algorithm.id in printed
        for parameter in algorithm.parameters:
            assert f"--param {parameter.name}=" in printed


def test_the_console_entry_runs_as_a_module(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dial_visualization", "methods"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "grad-cam" in done.stdout, done.stderr[-2000:]


def test_graph_without_node_graph_qt_says_what_to_install():
    code = ("import sys; sys.modules['NodeGraphQt'] = None\n"
            "from dial_visualization.cli import main\n"
            "sys.exit(main(['graph']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 2
    assert "dial-visualization[graph]" in done.stderr
