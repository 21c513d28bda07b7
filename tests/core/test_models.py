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


# --------------------------------------------------------------------------- bad files, decided

def test_safety_is_decided_from_the_model_not_from_the_error_text(tmp_path):
    folder = tmp_path / "lambda_project" / "unsafe"
    folder.mkdir(parents=True)
    sequential_model().save_weights(folder / "only.weights.h5")
    weights_only = folder / "model.h5"
    shutil.copy(folder / "only.weights.h5", weights_only)
    with pytest.raises(ModelLoadError) as error:
        dv.load_model(weights_only)
    assert not isinstance(error.value, UnsafeModelError)  # no Lambda in it: no trust question


def test_a_missing_custom_class_is_named_with_the_way_to_provide_it(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x

    inputs = keras.Input((16, 16, 3))
    path = tmp_path / "custom.keras"
    keras.Model(inputs, keras.layers.Conv2D(2, 3)(Doubler()(inputs))).save(path)
    del keras.saving.get_custom_objects()["tests>Doubler"]
    with pytest.raises(ModelLoadError, match="uses a custom class 'Doubler'") as error:
        dv.load_model(path)
    _assert_one_line(error)
    assert "custom_objects={'tests>Doubler': Doubler}" in str(error.value)
    loaded = dv.load_model(path, custom_objects={"tests>Doubler": Doubler})
    assert loaded.layers[1].__class__ is Doubler


def test_a_keras_file_whose_description_inflates_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.keras"
    sequential_model().save(tmp_path / "real.keras")
    with zipfile.ZipFile(tmp_path / "real.keras") as real, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in real.namelist():
            data = real.read(name)
            if name == "config.json":
                data = data[:-1] + b" " * (65 * 2 ** 20) + data[-1:]  # 65 MiB of blanks
            bomb.writestr(name, data)
    assert path.stat().st_size < 2 ** 20
    with pytest.raises(ModelLoadError, match="65 MiB, more than the 64 MiB"):
        dv.load_model(path)


def test_an_h5_whose_description_is_too_large_is_refused(tmp_path):
    path = tmp_path / "large.h5"
    with h5py.File(path, "w", libver="latest") as file:
        file.attrs["model_config"] = "x" * (65 * 2 ** 20)
    with pytest.raises(ModelLoadError, match="more than the 64 MiB"):
        dv.load_model(path)


def test_a_checksum_beside_the_file_or_given_is_verified(tmp_path):
    from dial_visualization.core.models import file_sha256

    path = tmp_path / "model.h5"
    sequential_model().save(path)
    digest = file_sha256(path)
    assert len(digest) == 64
    (tmp_path / "model.h5.sha256").write_text(f"{digest}  model.h5\n")
    dv.load_model(path)
    dv.load_model(path, sha256=digest.upper())
    (tmp_path / "model.h5.sha256").write_text("0" * 64 + "  model.h5\n")
    with pytest.raises(ModelLoadError, match="does not match model.h5.sha256"):
        dv.load_model(path)
    with pytest.raises(ModelLoadError, match="does not match the SHA-256 given"):
        dv.load_model(path, sha256="1" * 64)


def test_a_channels_first_model_is_named_as_such():
    inputs = keras.Input((3, 16, 16))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, data_format="channels_first")(inputs))
    with pytest.raises(UnsupportedModelError, match="channels-first"):
        dv.load_model(model)


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root reads any file: no permission to deny")
def test_an_unreadable_file_says_permission_denied(tmp_path):
    path = tmp_path / "model.keras"
    sequential_model().save(path)
    path.chmod(0)
    with pytest.raises(ModelLoadError, match="permission denied"):
        dv.load_model(path)


def test_an_h5_whose_description_length_is_corrupted_allocates_nothing_here(tmp_path):
    """Four bytes changed make HDF5 allocate 4 GiB on reading the description: the reading
    happens in a child process with bounded memory, and this one stays as it was."""
    import resource
    import struct

    path = tmp_path / "model.h5"
    sequential_model().save(path)
    data = bytearray(path.read_bytes())
    config = data.find(b'{"class_name"')
    size, = struct.unpack("<Q", data[config - 8:config])  # the heap object's own size
    collection = data.rfind(b"GCOL", 0, config)
    index, = struct.unpack("<H", data[config - 16:config - 14])
    descriptor = data.find(struct.pack("<IQI", size, collection, index))
    assert descriptor > 0
    struct.pack_into("<I", data, descriptor, 0xFFFFFFF0)  # "the description is 4 GiB long"
    path.write_bytes(data)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelLoadError, match="model.h5 could not be read"):
        dv.load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 256 * 1024  # KiB
