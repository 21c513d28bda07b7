"""The HTML report of a dataset run (``predict --report``; ``core.report``)."""

import csv
import re

import pytest

import dial_visualization as dv
from dial_visualization.cli import main
from dial_visualization.core.demo import write_shapes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report") / "shapes"
    write_shapes(folder, 2, seed=3)
    return folder


def test_predict_report_is_one_self_contained_file(shapes, tmp_path, capsys):
    report = tmp_path / "reports" / "report.html"
    assert main(["predict", "--image", str(shapes), "--out", str(tmp_path / "out"),
                 "--report", str(report), "--report-images", "3"]) == 0
    assert f"report: {report}" in capsys.readouterr().out
    text = report.read_text()
    assert not re.findall(r'(?:src|href)="(?!data:)', text)
    assert "<script" not in text and "<link" not in text
    with open(tmp_path / "out" / "predictions.csv", newline="") as file:
        rows = list(csv.reader(file))
    table = re.search(r'<table id="predictions">(.*?)</table>', text, re.S).group(1)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr.*?</tr>", table)]
    assert cells[1:] == rows[1:]  # the header row has <th> cells
    assert 'id="confusion-matrix"' in text
    labels = dv.load_labels(dv.demo_paths()["labels"])
    matrix = re.search(r'<table id="confusion-matrix">(.*?)</table>', text, re.S).group(1)
    assert re.findall(r"<th>(\w+)</th>", matrix) == labels + labels
    assert len(re.findall(r'<td class="count diagonal">2</td>', matrix)) == 4
    worst = re.findall(r'<figure class="worst">(.*?)</figure>', text, re.S)
    assert len(worst) == 3
    assert all(figure.count("data:image/png;base64,") == 2 for figure in worst)
    losses = [float(re.search(r"loss ([\d.]+)", figure).group(1)) for figure in worst]
    assert losses == sorted(losses, reverse=True)
    assert "Grad-CAM" in text


def test_report_options_are_checked_before_any_work(shapes, tmp_path, capsys):
    assert main(["predict", "--image", str(shapes), "--out", str(tmp_path / "out"),
                 "--report", str(tmp_path / "r.html"), "--report-method", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["predict", "--image", str(shapes), "--out", str(tmp_path / "out"),
                 "--report", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
