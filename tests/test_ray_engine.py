"""``--engine ray`` on a local Ray instance of two CPUs: the files it writes equal the local
engine's, file by file, and an unreadable image is reported with its path while the rest
completes. Skipped without Ray (the ``[ray]`` extra) unless ``DV_REQUIRE_RAY`` is set, as
CI does."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.cli import main
from dial_visualization.core.demo import write_shapes

try:
    import ray
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None and not os.environ.get("DV_REQUIRE_RAY"),
                               reason="Ray is not installed (the [ray] extra)")


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.fail("DV_REQUIRE_RAY is set but Ray is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A labelled folder of the demo's shapes (5 per class) and one unreadable image."""
    folder = tmp_path_factory.mktemp("ray") / "shapes"
    write_shapes(folder, 5)
    (folder / "cross" / "broken.png").write_bytes(b"not an image")
    return folder


def run_both(arguments, tmp_path, capsys):
    """(local out, its exit code, ray out, its exit code and stderr)."""
    local, distributed = tmp_path / "local", tmp_path / "ray"
    local_code = main(arguments + ["--out", str(local)])
    capsys.readouterr()
    ray_code = main(arguments + ["--out", str(distributed), "--engine", "ray",
                                 "--ray-actors", "2"])
    return local, local_code, distributed, ray_code, capsys.readouterr().err


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@needs_ray
def test_predict_on_ray_writes_what_the_local_engine_writes(local_ray, data, tmp_path, capsys):
    local, local_code, distributed, ray_code, err = run_both(
        ["predict", "--image", str(data)], tmp_path, capsys)
    assert local_code == ray_code == 2
    assert f"error: {data / 'cross' / 'broken.png'}: broken.png is not a readable image" in err
    assert sorted(p.name for p in local.iterdir()) == sorted(p.name for p in distributed.iterdir())
    expected, got = read_rows(local / "predictions.csv"), read_rows(distributed / "predictions.csv")
    assert len(got) == 21
    for want, row in zip(expected, got):
        for column in ("file", "true_class", "predicted_class", "correct", "error"):
            assert row[column] == want[column]
        for column in ("probability", "loss"):
            if want[column]:
                assert float(row[column]) == pytest.approx(float(want[column]), abs=1e-5)
    with Image.open(local / "confusion_matrix.png") as a, \
            Image.open(distributed / "confusion_matrix.png") as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@needs_ray
def test_explain_on_ray_writes_what_the_local_engine_writes(local_ray, data, tmp_path, capsys):
    model = dv.demo_paths()["model"]
    local, local_code, distributed, ray_code, err = run_both(
        ["explain", "--model", str(model), "--image", str(data / "cross"),
         "--image", str(data / "square"), "--method", "grad-cam", "--method", "saliency",
         "--method", "integrated-gradients", "--param", "steps=4", "--channels"],
        tmp_path, capsys)
    assert local_code == ray_code == 2
    assert err.count("error: ") == 1 and str(data / "cross" / "broken.png") in err
    names = sorted(p.name for p in local.iterdir())
    assert names == sorted(p.name for p in distributed.iterdir())
    assert len(names) == 10 * (2 + 3 + 3)  # grad-cam: .npy and .png; the others + _channels
    for name in names:
        if name.endswith(".npy"):
            np.testing.assert_allclose(np.load(distributed / name), np.load(local / name),
                                       rtol=1e-5, atol=1e-6)
        else:
            with Image.open(local / name) as a, Image.open(distributed / name) as b:
                assert a.size == b.size


def test_without_ray_the_engine_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"
            "from dial_visualization.cli import main\n"
            f"sys.exit(main(['predict', '--image', {str(tmp_path)!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--engine', 'ray']))")
    (tmp_path / "a.png").write_bytes(b"")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and 'pip install "dial-visualization[ray]"' in done.stderr
    assert "tensorflow" not in done.stderr.lower()
    assert not (tmp_path / "out").exists()
