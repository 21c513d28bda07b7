"""Loading models: .keras and legacy .h5 round trips, in-memory models, and every refusal."""

import json
import shutil
import zipfile

import h5py
import keras
import numpy as np
import pytest
from builders import (multi_output_model, nested_model, random_pixels, residual_model,
                      sequential_model)

import dial_visualization as dv
from dial_visualization.core.errors import ModelLoadError, UnsafeModelError, UnsupportedModelError
from dial_visualization.core.models import check_output_index, input_shape, output_count

BUILDERS = {
    "sequential": sequential_model,
    "residual": residual_model,
    "nested": nested_model,
    "grayscale": lambda: sequential_model(channels=1),
    "multi-output": multi_output_model,
}


def _batch(model):
    _, height, width, channels = model.inputs[0].shape
    return random_pixels(height, channels)[np.newaxis].astype(np.float32) / 255.0


def _outputs(model, x):
    return [np.asarray(y) for y in keras.tree.flatten(model(x))]


def _lambda_model():
    inputs = keras.Input((16, 16, 3))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(doubled))


def _assert_one_line(error):
    message = str(error.value)
    assert message and "\n" not in message


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", list(BUILDERS))
def test_round_trip_gives_the_same_outputs(tmp_path, kind, suffix):
    model = BUILDERS[kind]()
    path = tmp_path / f"model{suffix}"
    model.save(path)

    loaded = dv.load_model(path)

    x = _batch(model)
    expected, got = _outputs(model, x), _outputs(loaded, x)
    assert len(got) == len(expected) == output_count(model)
    for want, have in zip(expected, got):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert not loaded.compiled  # compile=False: no optimizer state needed to explain


def test_string_path_and_hdf5_suffix(tmp_path):
    model = sequential_model()
    path = tmp_path / "model.hdf5"
    model.save(path)
    loaded = dv.load_model(str(path))
    x = _batch(model)
    np.testing.assert_allclose(_outputs(loaded, x)[0], _outputs(model, x)[0], rtol=1e-5, atol=1e-6)


def test_in_memory_model_is_returned_as_it_is():
    model = residual_model()
    assert dv.load_model(model) is model


def test_input_shape_and_outputs():
    assert input_shape(sequential_model(channels=1, size=20)) == (20, 20, 1)
    model = multi_output_model()
    assert output_count(model) == 2
    assert check_output_index(model, 1) == 1
    with pytest.raises(UnsupportedModelError, match="2 output"):
        check_output_index(model, 2)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model file") as error:
        dv.load_model(tmp_path / "absent.keras")
    _assert_one_line(error)


def test_directory_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelLoadError):
        dv.load_model(tmp_path)


@pytest.mark.parametrize("suffix, message", [
    (".keras", "not a valid .keras file"), (".h5", "could not be read as a Keras model")])
def test_text_file_renamed_as_a_model(tmp_path, suffix, message):
    path = tmp_path / f"notes{suffix}"
    path.write_text("this is not a model\nsecond line\n")
    with pytest.raises(ModelLoadError, match=message) as error:
        dv.load_model(path)
    assert not isinstance(error.value, UnsafeModelError)
    _assert_one_line(error)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_truncated_file(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    sequential_model().save(whole)
    truncated = tmp_path / f"truncated{suffix}"
    data = whole.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as error:
        dv.load_model(truncated)
    assert not isinstance(error.value, UnsafeModelError)
    _assert_one_line(error)


def test_zip_without_a_keras_model(tmp_path):
    path = tmp_path / "archive.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no config.json here")
    with pytest.raises(ModelLoadError, match="could not be read as a Keras model") as error:
        dv.load_model(path)
    _assert_one_line(error)


def test_weights_only_h5_is_not_a_model(tmp_path):
    path = tmp_path / "model.weights.h5"
    sequential_model().save_weights(path)
    with pytest.raises(ModelLoadError, match="could not be read as a Keras model") as error:
        dv.load_model(path)
    _assert_one_line(error)


@pytest.mark.parametrize("name", ["model.txt", "model.pb", "model"])
def test_wrong_suffix(tmp_path, name):
    saved = tmp_path / "model.keras"
    sequential_model().save(saved)
    path = tmp_path / name
    shutil.copy(saved, path)
    with pytest.raises(ModelLoadError, match="not a Keras model file") as error:
        dv.load_model(path)
    _assert_one_line(error)


def test_model_without_an_image_input_is_refused_from_a_file(tmp_path):
    inputs = keras.Input((10,))
    path = tmp_path / "dense.keras"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    with pytest.raises(UnsupportedModelError, match="4-D image input") as error:
        dv.load_model(path)
    _assert_one_line(error)


def test_models_without_one_image_input_are_refused_in_memory():
    vector = keras.Input((10,))
    with pytest.raises(UnsupportedModelError, match=r"\(None, 10\)"):
        dv.load_model(keras.Model(vector, keras.layers.Dense(2)(vector)))

    first, second = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    two_inputs = keras.Model([first, second], keras.layers.Add()([first, second]))
    with pytest.raises(UnsupportedModelError, match="one 4-D image input"):
        dv.load_model(two_inputs)


def test_unbuilt_subclassed_model_is_refused():
    class Unbuilt(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(UnsupportedModelError, match="no defined input"):
        dv.load_model(Unbuilt())


def _assert_loads_only_when_trusted(path, model):
    with pytest.raises(UnsafeModelError, match="trusted") as error:
        dv.load_model(path)
    _assert_one_line(error)
    loaded = dv.load_model(path, trusted=True)
    x = _batch(model)
    np.testing.assert_allclose(_outputs(loaded, x)[0], _outputs(model, x)[0], rtol=1e-5, atol=1e-6)


def test_lambda_layer_in_keras_file_needs_trust(tmp_path):
    model = _lambda_model()
    path = tmp_path / "lambda.keras"
    model.save(path)

    _assert_loads_only_when_trusted(path, model)


def _as_keras2_lambda_config(path):
    """Rewrite the file's Lambda layers the way Keras 2 stored them: [code, defaults, closure]."""

    def rewrite(layers):
        for layer in layers:
            if layer["class_name"] == "Lambda":
                function = layer["config"]["function"]["config"]
                layer["config"]["function"] = [function["code"], function["defaults"],
                                               function["closure"]]
                layer["config"]["function_type"] = "lambda"
            if "layers" in layer["config"]:
                rewrite(layer["config"]["layers"])

    with h5py.File(path, "r+") as file:
        config = json.loads(file.attrs["model_config"])
        rewrite(config["config"]["layers"])
        file.attrs["model_config"] = json.dumps(config)


@pytest.mark.parametrize("keras2_style", [False, True])
@pytest.mark.parametrize("nested", [False, True])
def test_lambda_layer_in_h5_file_needs_trust(tmp_path, keras2_style, nested):
    # Keras 3.15 honours safe_mode for legacy .h5 files too (both Lambda encodings, nested
    # or not), so load_model refuses them without trusted=True.
    model = _lambda_model()
    if nested:
        inputs = keras.Input((16, 16, 3))
        model = keras.Model(inputs, model(inputs))
    path = tmp_path / "lambda.h5"
    model.save(path)
    if keras2_style:
        _as_keras2_lambda_config(path)
    with h5py.File(path) as file:
        assert '"Lambda"' in file.attrs["model_config"]

    _assert_loads_only_when_trusted(path, model)


def test_an_upper_case_suffix_loads_like_a_lower_case_one(tmp_path):
    model = sequential_model()
    path = tmp_path / "MODEL.KERAS"
    model.save(tmp_path / "model.keras")
    (tmp_path / "model.keras").rename(path)
    loaded = dv.load_model(path)
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
