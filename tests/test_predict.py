"""``predict`` over labelled folders and ``explain`` over folders on the command line."""

import csv
import math
import shutil

import numpy as np
import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.cli import main
from dial_visualization.core.demo import CLASSES, write_shapes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The demo model, its labels, and a labelled folder of 3 new images per class."""
    folder = tmp_path_factory.mktemp("data")
    paths = dv.demo_paths()
    write_shapes(folder / "shapes", 3)
    return paths, dv.load_model(paths["model"]), dv.load_labels(paths["labels"]), folder / "shapes"


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_one_row_per_image_with_true_and_predicted_class_probability_and_loss(shapes, tmp_path,
                                                                              capsys):
    paths, model, labels, folder = shapes
    assert main(["predict", "--model", str(paths["model"]), "--image", str(folder),
                 "--labels", str(paths["labels"]), "--out", str(tmp_path)]) == 0
    rows = read_rows(tmp_path / "predictions.csv")
    assert list(rows[0]) == ["file", "true_class", "predicted_class", "probability", "correct",
                             "loss", "error"]
    images = sorted(folder.rglob("*.png"))
    assert [row["file"] for row in rows] == [p.relative_to(folder).as_posix() for p in images]
    for row, path in zip(rows, images):
        probabilities = model.predict(dv.load_image(path, model).batch(), verbose=0)[0]
        true = labels.index(path.parent.name)
        predicted = int(np.argmax(probabilities))
        assert row["true_class"] == path.parent.name
        assert row["predicted_class"] == labels[predicted]
        assert float(row["probability"]) == pytest.approx(probabilities[predicted], abs=2e-6)
        assert row["correct"] == str(predicted == true)
        assert float(row["loss"]) == pytest.approx(-math.log(probabilities[true]), abs=1e-4)
        assert row["error"] == ""
    right = sum(row["correct"] == "True" for row in rows)
    assert f"{len(rows)} images, accuracy {right / len(rows):.1%}" in capsys.readouterr().out
    with Image.open(tmp_path / "confusion_matrix.png") as png:
        assert png.size[0] > 200 and png.size[1] > 200


def test_subfolders_are_classes_by_position_without_class_names(shapes, tmp_path):
    """As image_dataset_from_directory: the i-th subfolder in alphanumeric order is class
    i. The demo's classes are circle, square, triangle, cross; sorted, the folders are
    circle, cross, square, triangle: a cross is then predicted as 'triangle' (class 3)."""
    paths, model, labels, folder = shapes
    assert main(["predict", "--model", str(paths["model"]), "--image", str(folder),
                 "--out", str(tmp_path)]) == 0
    rows = read_rows(tmp_path / "predictions.csv")
    positions = sorted(CLASSES)
    for row in rows:
        probabilities = model.predict(dv.load_image(folder / row["file"], model).batch(),
                                      verbose=0)[0]
        assert row["predicted_class"] == positions[int(np.argmax(probabilities))]
        assert row["true_class"] == row["file"].split("/")[0]
    assert {row["predicted_class"] for row in rows if row["true_class"] == "cross"} == {"triangle"}


def test_as_many_subfolders_as_classes_or_class_names(shapes, tmp_path, capsys):
    paths, _, _, folder = shapes
    fewer = tmp_path / "fewer"
    shutil.copytree(folder / "circle", fewer / "circle")
    shutil.copytree(folder / "cross", fewer / "cross")
    assert main(["predict", "--model", str(paths["model"]), "--image", str(fewer),
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "2 class subfolders (circle, cross) but the model scores 4 classes" in error
    assert not (tmp_path / "out").exists()
    # named classes match the subfolders by name (the demo model's own labels by default)
    assert main(["predict", "--image", str(fewer), "--out", str(tmp_path / "out")]) == 0
    rows = read_rows(tmp_path / "out" / "predictions.csv")
    assert {row["true_class"] for row in rows} == {"circle", "cross"}
    assert all(row["correct"] == "True" for row in rows)


def test_a_folder_without_subfolders_has_no_true_class(tmp_path, capsys):
    paths = dv.demo_paths()
    assert main(["predict", "--image", str(paths["model"].parent), "--out", str(tmp_path)]) == 0
    rows = read_rows(tmp_path / "predictions.csv")
    assert [row["file"] for row in rows] == [p.name for p in paths["images"]]
    assert [row["predicted_class"] for row in rows] == [p.stem for p in paths["images"]]
    assert all(row["true_class"] == row["correct"] == row["loss"] == "" for row in rows)
    assert not (tmp_path / "confusion_matrix.png").exists()
    assert "4 images; predictions.csv in" in capsys.readouterr().out


def test_an_unreadable_image_is_a_row_with_its_error_and_the_rest_is_predicted(shapes, tmp_path,
                                                                                capsys):
    paths, _, _, folder = shapes
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    (data / "square" / "broken.png").write_bytes(b"not an image")
    assert main(["predict", "--image", str(data), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {data / 'square' / 'broken.png'}: broken.png is not a "
                            "readable image")
    rows = read_rows(tmp_path / "out" / "predictions.csv")
    broken = [row for row in rows if row["file"] == "square/broken.png"]
    assert broken[0]["predicted_class"] == "" and "not a readable image" in broken[0]["error"]
    assert sum(row["error"] == "" for row in rows) == 3 * len(CLASSES)


def test_predict_checks_its_arguments_first(tmp_path, capsys):
    assert main(["predict", "--image", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "no such image file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["predict", "--image", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    assert "no images in folder" in capsys.readouterr().err


def test_explain_over_a_folder_reports_an_unreadable_image_and_explains_the_rest(shapes, tmp_path,
                                                                                  capsys):
    paths, model, _, folder = shapes
    images = sorted((folder / "circle").glob("*.png"))
    data = tmp_path / "data"
    shutil.copytree(folder / "circle", data)
    (data / "b_broken.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    assert main(["explain", "--model", str(paths["model"]), "--image", str(data),
                 "--method", "grad-cam", "--method", "occlusion", "--param", "patch=16",
                 "--param", "stride=16", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("error: ") == 1 and "b_broken.png" in captured.err
    assert len(captured.out.splitlines()) == len(images)
    for image in images:
        loaded = dv.load_image(image, model)
        for method, params in (("grad-cam", {}), ("occlusion", {"patch": 16, "stride": 16})):
            np.testing.assert_allclose(np.load(out / f"{image.stem}_{method}.npy"),
                                       dv.explain(model, loaded, method, **params).data,
                                       rtol=1e-5, atol=1e-6)
    assert not list(out.glob("b_broken*"))
