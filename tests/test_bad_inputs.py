"""The corpus of bad inputs (tests/bad_inputs.py) through the command line, the API and the
widget: a one-line refusal every time (exit code 2 on the command line), never a traceback,
and the widget keeps what it had."""

import pytest

import bad_inputs
import dial_visualization as dv
from dial_visualization.cli import main
from dial_visualization.core.errors import DialVisualizationError

CORPUS_CASES = {  # what is built, by kind (the file names of bad_inputs.build)
    "models": ["text.keras", "text.h5", "empty.keras", "truncated.keras", "no_config.keras",
               "inflated.keras", "corrupted_length.h5", "lambda.keras", "folder.keras",
               "missing.keras", "model.txt"],
    "images": ["text.png", "empty.png", "truncated.png", "bomb.png", "counts.tiff",
               "missing.png"],
    "labels": ["empty.txt", "blank_lines.txt", "negative.json", "huge_index.json",
               "wrong_count.txt", "broken.json", "not_names.json", "binary.txt",
               "missing.txt"],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    built = bad_inputs.build(tmp_path_factory.mktemp("bad"))
    assert {kind: sorted(cases) for kind, cases in built.items()} == \
        {kind: sorted(cases) for kind, cases in CORPUS_CASES.items()}
    return built


def refused_in_one_line(capsys, arguments) -> str:
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    return error


@pytest.mark.parametrize("case", CORPUS_CASES["models"])
def test_a_bad_model_file(corpus, case, capsys, tmp_path):
    path = corpus["models"][case]
    refused_in_one_line(capsys, ["inspect", str(path)])
    refused_in_one_line(capsys, ["explain", "--model", str(path), "--image",
                                 str(dv.demo_paths()["images"][0]), "--method", "saliency",
                                 "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
    with pytest.raises(DialVisualizationError) as error:
        dv.load_model(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("case", CORPUS_CASES["images"])
def test_a_bad_image_file(corpus, case, capsys, tmp_path):
    path = corpus["images"][case]
    refused_in_one_line(capsys, ["explain", "--image", str(path), "--method", "saliency",
                                 "--out", str(tmp_path / "out")])
    with pytest.raises(DialVisualizationError) as error:
        dv.load_image(path, dv.demo_paths()["model"])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("case", CORPUS_CASES["labels"])
def test_a_bad_labels_file(corpus, case, capsys, tmp_path):
    path = corpus["labels"][case]
    refused_in_one_line(capsys, ["explain", "--labels", str(path), "--method", "saliency",
                                 "--out", str(tmp_path / "out")])
    with pytest.raises(DialVisualizationError) as error:
        dv.explain(dv.demo_paths()["model"], dv.demo_paths()["images"][0], "saliency",
                   labels=path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("arguments", [
    ["--out", "{file}"],  # an existing file
    ["--out", "{file}/below"],  # under a file: cannot be made
    ["--method", "saliency", "--max-side", "0"],
    ["--target", "circle", "--labels", "{missing}"],
])
def test_bad_command_lines(arguments, capsys, tmp_path):
    existing = tmp_path / "a_file"
    existing.write_text("")
    arguments = [a.format(file=existing, missing=tmp_path / "none.txt") for a in arguments]
    if "--method" not in arguments:
        arguments += ["--method", "saliency"]
    if "--out" not in arguments:
        arguments += ["--out", str(tmp_path / "out")]
    refused_in_one_line(capsys, ["explain"] + arguments)


def test_the_widget_refuses_each_and_keeps_what_it_had(corpus, qtbot):
    from dial_visualization.qt import ConvVisualizationWidget

    widget = ConvVisualizationWidget()
    widget.show_dialogs = False
    qtbot.addWidget(widget)
    demo = dv.demo_paths()
    assert widget.load_labels_file(demo["labels"])
    assert widget.load_model_file(demo["model"])
    assert widget.set_image(str(demo["images"][0]))
    model, image, labels = widget.model, widget.image, widget.labels
    errors = []
    widget.error_reported.connect(errors.append)
    for kind, cases in corpus.items():
        for case, path in cases.items():
            opened = {"models": widget.load_model_file, "images": widget.set_image,
                      "labels": widget.load_labels_file}[kind](str(path))
            assert not opened, (kind, case)
            assert (widget.model, widget.image, widget.labels) == (model, image, labels), case
    assert len(errors) == sum(len(cases) for cases in corpus.values()) - 1  # Lambda: a question
    assert all("\n" not in message for message in errors)
    widget.wait_until_idle(60)
    widget.shutdown()


def test_each_interface_names_its_own_way_to_trust_a_model(corpus, capsys):
    error = refused_in_one_line(capsys, ["inspect", str(corpus["models"]["lambda.keras"])])
    assert "--trusted" in error and "trusted=True" not in error
    with pytest.raises(DialVisualizationError, match="load_model\\(path, trusted=True\\)"):
        dv.load_model(corpus["models"]["lambda.keras"])
