"""Class-name files: text lines, JSON lists, index dicts and Keras' ImageNet index."""

import json

import pytest

import dial_visualization as dv
from dial_visualization.core.errors import DialVisualizationError
from dial_visualization.core.labels import load_labels


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_text_lines(tmp_path):
    path = _write(tmp_path, "labels.txt", "cat\n  dog  \n\nbird house\n")
    assert load_labels(path) == ["cat", "dog", "bird house"]
    assert dv.load_labels(str(path)) == ["cat", "dog", "bird house"]


def test_windows_line_ends_and_byte_order_mark(tmp_path):
    path = _write(tmp_path, "labels.txt", "\ufeffcat\r\ndog\r\n")
    assert load_labels(path) == ["cat", "dog"]


def test_json_list(tmp_path):
    path = _write(tmp_path, "labels.json", json.dumps(["cat", "dog"]))
    assert load_labels(path) == ["cat", "dog"]


def test_json_is_recognised_without_the_suffix(tmp_path):
    assert load_labels(_write(tmp_path, "classes.txt", ' ["cat", "dog"]')) == ["cat", "dog"]


def test_json_dict_by_index(tmp_path):
    path = _write(tmp_path, "labels.json", json.dumps({"1": "dog", "0": "cat"}))
    assert load_labels(path) == ["cat", "dog"]


def test_json_dict_with_gaps_numbers_the_missing_classes(tmp_path):
    path = _write(tmp_path, "labels.json", json.dumps({"0": "cat", "3": "fish"}))
    assert load_labels(path) == ["cat", "1", "2", "fish"]


def test_keras_imagenet_class_index(tmp_path):
    # the layout of Keras' imagenet_class_index.json: {"0": ["n01440764", "tench"], ...}
    index = {"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}
    path = _write(tmp_path, "imagenet.json", json.dumps(index))
    assert load_labels(path) == ["tench", "goldfish"]
    pairs = [["n01440764", "tench"], ["n01443537", "goldfish"]]
    assert load_labels(_write(tmp_path, "pairs.json", json.dumps(pairs))) == ["tench", "goldfish"]


def test_keras_class_indices_name_to_index(tmp_path):
    # ImageDataGenerator.class_indices saved as JSON: {name: index}
    path = _write(tmp_path, "class_indices.json", json.dumps({"dog": 1, "cat": 0}))
    assert load_labels(path) == ["cat", "dog"]


@pytest.mark.parametrize("name, text", [("empty.txt", "\n\n"), ("empty.json", "{}"),
                                        ("list.json", "[]")])
def test_a_file_naming_no_class_is_refused(tmp_path, name, text):
    with pytest.raises(DialVisualizationError, match=f"{name} names no classes"):
        load_labels(_write(tmp_path, name, text))


@pytest.mark.parametrize("text, message", [
    ('{"2000000000": "cat"}', "class index 2000000000 is not between 0 and 99999"),
    ('{"-1": "cat", "0": "dog"}', "class index -1 is not between"),
])
def test_indices_a_small_file_cannot_make_huge_or_negative(tmp_path, text, message):
    with pytest.raises(DialVisualizationError, match=message):
        load_labels(_write(tmp_path, "labels.json", text))


def test_a_name_two_classes_share_cannot_pick_a_class():
    from dial_visualization.core.labels import class_named

    labels = ["crane", "maillot", "crane"]  # as in ImageNet: a bird and a machine
    assert class_named("maillot", labels) == 1
    with pytest.raises(DialVisualizationError, match="2 classes are named 'crane' "
                                                    "\\(classes 0, 2\\): give the index"):
        class_named("crane", labels)


@pytest.mark.parametrize("text, message", [
    ('["cat", ', "not valid JSON"),
    ('{"first": "cat"}', "must map class indices to names"),
    ('"cat"', "expected a JSON list or object"),
])
def test_bad_json(tmp_path, text, message):
    with pytest.raises(DialVisualizationError, match=message):
        load_labels(_write(tmp_path, "labels.json", text))


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DialVisualizationError, match="cannot read labels file absent.txt"):
        load_labels(tmp_path / "absent.txt")
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DialVisualizationError, match="cannot read labels file binary.txt"):
        load_labels(path)
