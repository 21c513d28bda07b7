"""The command line end to end on the demo model: files written, values, errors."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.cli import COMMANDS, main


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


def test_methods_lists_every_method_with_its_parameters(capsys):
    assert main(["methods"]) == 0
    printed = capsys.readouterr().out
    for method in dv.available_methods().values():
        assert method.id in printed
        if method.channel_reduction:
            assert f"map: {method.channel_reduction}" in printed
        for parameter in method.parameters:
            option = "--layer <" if parameter.kind == "layer" else f"--param {parameter.name}="
            assert option in printed
    assert "--param layer=" not in printed  # one name for a layer: --layer


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


# --------------------------------------------------------------------------- right by default

def run_cli(*arguments, cwd=None):
    """The command line in a fresh process, as a user runs it: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "dial_visualization", *map(str, arguments)],
                          capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return done.returncode, done.stdout, done.stderr


def test_a_cam_method_uses_the_layer_given_with_layer(demo, tmp_path):
    paths, model, _ = demo
    image = paths["images"][0]
    assert main(["explain", "--image", str(image), "--method", "grad-cam", "--layer", "conv2",
                 "--out", str(tmp_path)]) == 0
    written = np.load(tmp_path / f"{image.stem}_grad-cam.npy")
    on_conv2 = dv.explain(model, dv.load_image(image, model), "grad-cam", layer="conv2")
    automatic = dv.explain(model, dv.load_image(image, model), "grad-cam")
    assert on_conv2.info["layer"] == "conv2" and automatic.info["layer"] != "conv2"
    np.testing.assert_allclose(written, on_conv2.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(written, automatic.data)


@pytest.mark.parametrize("arguments, message", [
    (["--method", "grad-cam", "--layer", "nope"], "has no layer 'nope'"),
    (["--method", "grad-cam", "--layer", "gap"], "not a spatial"),
    (["--method", "saliency", "--layer", "conv1", "--target", "99"], "channel 99 does not exist"),
    (["--method", "saliency", "--target", "7"], "class 7 does not exist"),
    (["--method", "activations"], "activations needs a layer (--layer ...)"),
    (["--method", "saliency", "--layer", "conv1", "--target", "-3"], "channel -3 does not exist"),
    (["--method", "grad-cam", "--param", "layer=conv2"], "give the layer with --layer"),
    (["--method", "grad-cam", "--param", "steps=3"], "no chosen method takes 'steps'"),
    (["--method", "saliency", "--param", "score-cam.top_n=3"], "not one of the --method"),
    (["--method", "integrated-gradients", "--param", "steps=x"], "steps: expected int"),
    (["--method", "nothing"], "unknown method 'nothing'"),
])
def test_every_check_happens_before_any_output_is_created(tmp_path, capsys, arguments, message):
    out = tmp_path / "never-made"
    assert main(["explain", "--out", str(out)] + arguments) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert not out.exists()


def test_param_goes_to_every_method_that_declares_it_or_to_the_one_named(demo, tmp_path):
    paths, model, _ = demo
    image = paths["images"][0]
    loaded = dv.load_image(image, model)
    assert main(["explain", "--image", str(image), "--method", "grad-cam", "--method",
                 "integrated-gradients", "--method", "smoothgrad", "--param", "steps=8",
                 "--param", "smoothgrad.samples=3", "--out", str(tmp_path)]) == 0
    ig = dv.explain(model, loaded, "integrated-gradients", steps=8)
    smooth = dv.explain(model, loaded, "smoothgrad", samples=3)
    np.testing.assert_allclose(np.load(tmp_path / f"{image.stem}_integrated-gradients.npy"),
                               ig.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / f"{image.stem}_smoothgrad.npy"), smooth.data,
                               rtol=1e-5, atol=1e-6)


def test_each_input_once_and_no_output_overwrites_another(demo, tmp_path, capsys):
    paths, _, _ = demo
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        shutil.copy(paths["images"][0], folder / "x.png")
    shutil.copy(paths["images"][1], first / "photo.v1.png")
    shutil.copy(paths["images"][2], first / "photo.v2.png")
    out = tmp_path / "out"
    assert main(["explain", "--image", str(first / "x.png"), "--image", str(first),
                 "--image", str(second / "x.png"), "--method", "saliency",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.npy")) == [
        "a_x_saliency.npy", "b_x_saliency.npy", "photo.v1_saliency.npy", "photo.v2_saliency.npy"]
    printed = capsys.readouterr().out
    assert printed.count("x.png:") == 2 and "photo.v1_saliency.npy" in printed


def test_a_kernel_method_writes_once_and_grids_of_one_image_lose_the_batch_axis(demo, tmp_path):
    paths, model, _ = demo
    assert main(["explain", "--image", str(paths["images"][0]), "--image",
                 str(paths["images"][1]), "--method", "weights", "--method",
                 "activation-maximization", "--layer", "conv1", "--target", "2",
                 "--param", "steps=4", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.glob("*weights.npy")] == ["conv1_weights.npy"]
    kernel = model.get_layer("conv1").kernel.numpy()
    assert np.load(tmp_path / "conv1_weights.npy").shape == (3, 3, 3)  # filter 2: (kh, kw, in)
    np.testing.assert_allclose(np.load(tmp_path / "conv1_weights.npy"), kernel[..., 2])
    for image in paths["images"][:2]:
        assert np.load(tmp_path / f"{image.stem}_activation-maximization.npy").shape == (64, 64, 3)


def test_channels_flag_writes_the_per_channel_attribution(demo, tmp_path):
    paths, model, _ = demo
    image = paths["images"][0]
    assert main(["explain", "--image", str(image), "--method", "saliency", "--channels",
                 "--out", str(tmp_path)]) == 0
    channels = np.load(tmp_path / f"{image.stem}_saliency_channels.npy")
    assert channels.shape == (64, 64, 3)
    np.testing.assert_allclose(np.load(tmp_path / f"{image.stem}_saliency.npy"),
                               np.abs(channels).max(axis=-1), rtol=1e-6)


def test_one_line_per_image_with_top_class_preprocessing_reason_and_files(demo, tmp_path, capsys):
    paths, _, _ = demo
    assert main(["explain", "--method", "grad-cam", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(paths["images"])
    for line, image in zip(lines, paths["images"]):
        assert line.startswith(f"{image.name}: top {image.stem} (")
        assert "preprocessing unit (default" in line and f"{image.stem}_grad-cam.npy" in line


def test_labels_of_another_model_are_refused_with_both_counts(tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    assert main(["explain", "--method", "saliency", "--labels", str(labels),
                 "--out", str(tmp_path / "out")]) == 2
    assert "2 class names in labels.txt, but the model's output scores 4" in capsys.readouterr().err


def test_a_model_without_images_is_refused(demo, tmp_path, capsys):
    paths, _, _ = demo
    assert main(["explain", "--model", str(paths["model"]), "--method", "saliency",
                 "--out", str(tmp_path)]) == 2
    assert "--image is needed with --model" in capsys.readouterr().err


def test_demo_copies_the_model_labels_and_images(tmp_path):
    paths = dv.demo_paths()
    assert main(["demo", str(tmp_path / "demo")]) == 0
    copied = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert copied == sorted([paths["model"].name, paths["labels"].name]
                            + [p.name for p in paths["images"]])


def test_no_tensorflow_log_lines_but_real_errors_show(tmp_path):
    code, out, err = run_cli("explain", "--method", "saliency", "--out", tmp_path)
    assert code == 0 and err == "", err
    assert len(out.splitlines()) == len(dv.demo_paths()["images"])
    broken = tmp_path / "broken.keras"
    broken.write_text("not a model")
    code, out, err = run_cli("inspect", broken)
    assert code == 2 and err.startswith("error: broken.keras") and err.count("\n") == 1, err


@pytest.mark.parametrize("command", [c for c in COMMANDS] + [None])
def test_help_answers_without_importing_tensorflow(command):
    code = ("import sys\nfrom dial_visualization.cli import main\n"
            f"command = {command!r}\n"
            "try:\n    main(([command] if command else []) + ['--help'])\n"
            "except SystemExit as done:\n    assert done.code == 0, done.code\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "print('answered')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0 and "answered" in done.stdout, done.stderr[-2000:]


def test_a_progress_bar_on_a_terminal_only(tmp_path):
    """stderr on a terminal shows tqdm's bar; redirected to a file it stays free of it."""
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    arguments = [sys.executable, "-m", "dial_visualization", "explain", "--method", "saliency",
                 "--method", "occlusion", "--out", str(tmp_path / "out")]
    done = subprocess.run(arguments, stderr=terminal, stdout=subprocess.PIPE, text=True,
                          timeout=600)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert done.returncode == 0
    assert f"{2 * len(dv.demo_paths()['images'])}/{2 * len(dv.demo_paths()['images'])}" \
        in shown.decode(errors="replace")
    assert "run/s" in shown.decode(errors="replace") or "s/run" in shown.decode(errors="replace")


def test_the_app_prints_no_tensorflow_log_lines(tmp_path):
    code, _, err = run_cli("--screenshot", tmp_path / "shot.png")
    assert code == 0 and (tmp_path / "shot.png").is_file()
    assert not any(marker in err for marker in ("I0000", "E0000", "absl", "cuInit", "cudart")), err


@pytest.mark.parametrize("arguments", [
    ["--model", "missing.keras", "--image", "x.png"],
    ["--image", "missing.png"],
    ["--labels", "missing.txt"],
    ["--out", __file__],
])
def test_errors_in_the_files_named_come_before_tensorflow_is_imported(arguments, tmp_path):
    code = ("import sys\nfrom dial_visualization.cli import main\n"
            f"assert main(['explain', '--method', 'saliency', '--out', 'out'] + {arguments!r}) == 2\n"
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow first'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
