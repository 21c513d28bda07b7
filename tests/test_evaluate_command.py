"""The ``evaluate`` command: one CSV row per image x method x metric with the score that
``dv.evaluate`` gives, a PNG per curve, and every check before any output."""

import csv

import pytest
from PIL import Image

import dial_visualization as dv
from dial_visualization.cli import main


@pytest.fixture(scope="module")
def demo():
    paths = dv.demo_paths()
    return paths, dv.load_model(paths["model"])


def rows(folder):
    with open(folder / "evaluation.csv", newline="") as table:
        return list(csv.DictReader(table))


def test_a_row_per_image_method_and_metric_with_the_api_score_and_a_curve(demo, tmp_path, capsys):
    paths, model = demo
    images = [str(p) for p in paths["images"][:2]]
    code = main(["evaluate", "--image", images[0], "--image", images[1], "--method", "grad-cam",
                 "--method", "saliency", "--metric", "deletion", "--metric", "mu-fidelity",
                 "--metric-param", "samples=16", "--metric-param", "deletion.steps=8",
                 "--out", str(tmp_path)])

    assert code == 0
    table = rows(tmp_path)
    assert len(table) == 2 * 2 * 2
    assert list(table[0]) == ["image", "method", "metric", "class", "class_name", "score",
                              "better", "curve"]
    first = paths["images"][0]
    row = next(r for r in table if r["image"] == first.name and r["method"] == "saliency"
               and r["metric"] == "mu-fidelity")
    expected = dv.evaluate(model, dv.load_image(first, model), "saliency", "mu-fidelity",
                           samples=16)
    assert float(row["score"]) == pytest.approx(expected.score, rel=1e-4, abs=1e-6)
    assert row["better"] == "higher" and row["class_name"] == "circle"
    deletion = next(r for r in table if r["metric"] == "deletion")
    assert deletion["better"] == "lower"
    for each in table:
        with Image.open(tmp_path / each["curve"]) as png:
            assert png.size[0] > 100
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{first.name}: grad-cam deletion ")


@pytest.mark.parametrize("arguments, message", [
    (["--metric", "faithfulness"], "unknown metric 'faithfulness'"),
    (["--metric", "deletion", "--metric-param", "samples=3"], "--metric-param 'samples=3': "
                                                               "no chosen metric takes 'samples'"),
    (["--metric", "deletion", "--metric-param", "insertion.steps=3"],
     "insertion is not one of the --metric given"),
    (["--metric", "deletion", "--metric-param", "baseline=white"], "'white' is not one of"),
    (["--metric", "deletion", "--method", "weights"], "works on kernel nodes"),
    (["--metric", "deletion", "--target", "dog"], "neither an index nor a class name"),
])
def test_every_check_happens_before_any_output_is_created(tmp_path, capsys, arguments, message):
    out = tmp_path / "out"
    code = main(["evaluate", "--method", "saliency", "--out", str(out)] + arguments)
    assert code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert not out.exists()
