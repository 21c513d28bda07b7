"""Images: decoding every common format, channel conversion, resizing and preprocessing."""

import keras
import numpy as np
import pytest
from builders import random_pixels, sequential_model
from PIL import Image

import dial_visualization as dv
from dial_visualization.core.errors import ImageLoadError, ParameterError
from dial_visualization.core.images import load_image

WIDTH, HEIGHT = 20, 12  # not the model's 16 x 16, and not square
RED = (200, 30, 90)


@pytest.fixture(scope="module")
def rgb_model():
    return sequential_model(channels=3)


@pytest.fixture(scope="module")
def grey_model():
    return sequential_model(channels=1)


def _resized(pixels, size=16):
    """The reference resize: Pillow bilinear on the uint8 image."""
    squeeze = pixels.ndim == 3 and pixels.shape[-1] == 1
    image = Image.fromarray(pixels[..., 0] if squeeze else pixels)
    resized = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))
    return resized[..., np.newaxis] if squeeze else resized


def _uniform(colour, mode="RGB"):
    return Image.new(mode, (WIDTH, HEIGHT), colour)


def _pattern():
    return np.random.default_rng(3).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_lossless_rgb_files(tmp_path, rgb_model, suffix):
    pixels = _pattern()
    path = tmp_path / f"pattern{suffix}"
    Image.fromarray(pixels).save(path)

    image = load_image(path, rgb_model)

    np.testing.assert_array_equal(image.original, pixels)  # kept at the file's size
    assert image.original.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(image.resized, _resized(pixels))
    assert image.resized.shape == (16, 16, 3) and image.resized.dtype == np.uint8
    np.testing.assert_allclose(image.array, image.resized / 255.0, rtol=1e-6)
    assert image.array.dtype == np.float32
    assert image.batch().shape == (1, 16, 16, 3)
    assert image.preprocessing == "unit"
    assert image.preprocessing_reason == "default: no preprocessing found in the model"
    assert image.source == str(path) and image.name == "pattern"


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg(tmp_path, rgb_model, suffix):
    path = tmp_path / f"photo{suffix}"
    _uniform(RED).save(path, quality=95)
    image = load_image(path, rgb_model)
    assert image.original.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(image.resized.astype(int) - RED).max() <= 3  # lossy, but close


def test_rgb_file_for_a_grey_model(tmp_path, grey_model):
    path = tmp_path / "red.png"
    _uniform(RED).save(path)
    image = load_image(path, grey_model)
    grey = round(RED[0] * 299 / 1000 + RED[1] * 587 / 1000 + RED[2] * 114 / 1000)  # ITU-R 601-2
    assert image.resized.shape == (16, 16, 1)
    assert np.abs(image.resized.astype(int) - grey).max() <= 1
    assert image.original.shape == (HEIGHT, WIDTH, 3)  # shown in colour
    np.testing.assert_array_equal(image.original, np.broadcast_to(RED, (HEIGHT, WIDTH, 3)))


def test_grey_file_for_an_rgb_model_and_for_a_grey_model(tmp_path, rgb_model, grey_model):
    pixels = _pattern()[..., 0]
    path = tmp_path / "grey.png"
    Image.fromarray(pixels, mode="L").save(path)

    grey = load_image(path, grey_model)
    np.testing.assert_array_equal(grey.resized, _resized(pixels[..., np.newaxis]))
    assert grey.original.shape == (HEIGHT, WIDTH, 3)

    rgb = load_image(path, rgb_model)
    for channel in range(3):
        np.testing.assert_array_equal(rgb.resized[..., channel], _resized(pixels))


def test_rgba_is_composited_on_white(tmp_path, rgb_model):
    pixels = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
    pixels[:, : WIDTH // 2] = (*RED, 255)  # opaque left half
    pixels[:, WIDTH // 2:] = (0, 0, 0, 0)  # transparent right half
    path = tmp_path / "alpha.png"
    Image.fromarray(pixels, mode="RGBA").save(path)

    image = load_image(path, rgb_model)

    assert image.original.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(image.original[:, : WIDTH // 2],
                                  np.broadcast_to(RED, (HEIGHT, WIDTH // 2, 3)))
    np.testing.assert_array_equal(image.original[:, WIDTH // 2:], 255)


def test_half_transparent_pixel(tmp_path, rgb_model):
    path = tmp_path / "half.png"
    _uniform((0, 0, 0, 128), "RGBA").save(path)
    image = load_image(path, rgb_model)
    # black at alpha 128/255 over white: 255 * (1 - 128/255) = 127
    assert np.abs(image.resized.astype(int) - 127).max() <= 1


def test_palette_png(tmp_path, rgb_model, grey_model):
    indices = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    indices[:, WIDTH // 2:] = 1
    palette_image = Image.fromarray(indices, mode="P")
    palette_image.putpalette([*RED, 10, 220, 40] + [0] * (256 - 2) * 3)
    path = tmp_path / "palette.png"
    palette_image.save(path)
    assert Image.open(path).mode == "P"

    image = load_image(path, rgb_model)
    expected = np.where(indices[..., np.newaxis] == 0, RED, (10, 220, 40)).astype(np.uint8)
    np.testing.assert_array_equal(image.original, expected)
    np.testing.assert_array_equal(image.resized, _resized(expected))
    assert load_image(path, grey_model).resized.shape == (16, 16, 1)


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path, rgb_model, grey_model):
    levels = np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) % 256
    path = tmp_path / "deep.png"
    Image.fromarray((levels * 257).astype(np.uint16)).save(path)  # 257 * k is level k
    assert Image.open(path).mode == "I;16"

    grey = load_image(path, grey_model)
    np.testing.assert_array_equal(grey.original[..., 0], levels)
    rgb = load_image(path, rgb_model)
    np.testing.assert_array_equal(rgb.original, np.repeat(levels[..., np.newaxis], 3, axis=-1))


def test_dark_sixteen_bit_image_stays_dark(tmp_path, grey_model):
    # every pixel 200 of 65535: a 16-bit level, not an 8-bit one, however dark the image is
    path = tmp_path / "dark.png"
    Image.fromarray(np.full((HEIGHT, WIDTH), 200, dtype=np.uint16)).save(path)
    image = load_image(path, grey_model)
    np.testing.assert_array_equal(image.resized, 0)


def test_animated_gif_uses_the_first_frame(tmp_path, rgb_model):
    frames = [_uniform(colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3

    image = load_image(path, rgb_model)

    assert image.original.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(image.resized, np.broadcast_to((255, 0, 0), (16, 16, 3)))


def test_arrays_and_pillow_images(rgb_model, grey_model):
    pixels = _pattern()
    from_array = load_image(pixels, rgb_model)
    np.testing.assert_array_equal(from_array.original, pixels)
    np.testing.assert_array_equal(from_array.resized, _resized(pixels))
    assert from_array.name == "image"

    from_pillow = load_image(Image.fromarray(pixels), rgb_model)
    np.testing.assert_array_equal(from_pillow.resized, from_array.resized)

    grey_column = pixels[..., :1]  # (H, W, 1)
    grey = load_image(grey_column, grey_model)
    np.testing.assert_array_equal(grey.resized, _resized(grey_column))


def test_model_without_a_fixed_size_keeps_the_image_size():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    pixels = _pattern()
    image = load_image(pixels, model)
    np.testing.assert_array_equal(image.resized, pixels)


def test_public_api_accepts_a_model_file(tmp_path, rgb_model):
    path = tmp_path / "model.keras"
    rgb_model.save(path)
    image = dv.load_image(_pattern(), path)
    assert image.resized.shape == (16, 16, 3)


# --------------------------------------------------------------------------- preprocessing

def _preprocessed(model, preset, pixel):
    pixels = np.broadcast_to(np.asarray(pixel, dtype=np.uint8), (16, 16, 3)).copy()
    return load_image(pixels, model, preset).array[0, 0]


def test_preset_values_on_a_known_pixel(rgb_model):
    pixel = (255, 128, 0)
    np.testing.assert_allclose(_preprocessed(rgb_model, "none", pixel), [255, 128, 0])
    np.testing.assert_allclose(_preprocessed(rgb_model, "unit", pixel), [1.0, 128 / 255, 0.0],
                               rtol=1e-6)
    np.testing.assert_allclose(_preprocessed(rgb_model, "symmetric", pixel),
                               [1.0, 128 / 127.5 - 1, -1.0], rtol=1e-6, atol=1e-7)
    # caffe: RGB -> BGR, minus the ImageNet mean (B 103.939, G 116.779, R 123.68), no scaling
    np.testing.assert_allclose(_preprocessed(rgb_model, "caffe", pixel),
                               [0 - 103.939, 128 - 116.779, 255 - 123.68], rtol=1e-5)
    # torch: [0, 1], minus mean (0.485, 0.456, 0.406), over std (0.229, 0.224, 0.225)
    np.testing.assert_allclose(_preprocessed(rgb_model, "torch", pixel),
                               [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224,
                                (0 - 0.406) / 0.225], rtol=1e-5)


def test_presets_equal_keras_applications_preprocess_input(rgb_model):
    pixels = random_pixels(16, 3)
    references = {
        "caffe": keras.applications.vgg16.preprocess_input,
        "symmetric": keras.applications.mobilenet_v2.preprocess_input,
        "torch": keras.applications.densenet.preprocess_input,
    }
    for preset, reference in references.items():
        expected = np.asarray(reference(pixels.astype(np.float32).copy()))
        np.testing.assert_allclose(load_image(pixels, rgb_model, preset).array, expected,
                                   rtol=1e-5, atol=1e-5, err_msg=preset)


def test_callable_preprocessing(rgb_model):
    def halve(x):
        return x / 2.0

    image = load_image(np.full((16, 16, 3), 200, dtype=np.uint8), rgb_model, halve)
    assert (image.preprocessing, image.preprocessing_reason) == ("halve", "custom function")
    np.testing.assert_array_equal(image.array, 100.0)


def test_unknown_preset_and_rgb_presets_on_grey_models(rgb_model, grey_model):
    with pytest.raises(ParameterError, match="unknown preprocessing 'zscore'"):
        load_image(_pattern(), rgb_model, "zscore")
    with pytest.raises(ParameterError, match="needs RGB"):
        load_image(_pattern(), grey_model, "caffe")


# --------------------------------------------------------------------------- errors

def test_text_file_is_not_an_image(tmp_path, rgb_model):
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    with pytest.raises(ImageLoadError, match="notes.png is not a readable image"):
        load_image(path, rgb_model)


def test_truncated_png(tmp_path, rgb_model):
    whole = tmp_path / "whole.png"
    Image.fromarray(_pattern()).save(whole)
    path = tmp_path / "truncated.png"
    path.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(ImageLoadError):
        load_image(path, rgb_model)


def test_missing_file(tmp_path, rgb_model):
    with pytest.raises(ImageLoadError, match="no such image file"):
        load_image(tmp_path / "absent.png", rgb_model)


def test_a_float_array_in_unit_range_is_read_as_full_range_pixels():
    model = sequential_model()
    pixels = random_pixels()
    as_floats = load_image(pixels.astype(np.float32) / 255.0, model)
    assert np.abs(as_floats.resized.astype(int) - pixels.astype(int)).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((8, 16, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: a portrait photo stored landscape
    image.save(tmp_path / "photo.jpg", exif=exif)
    assert dv.load_image(tmp_path / "photo.jpg", sequential_model()).original.shape[:2] == (16, 8)


# --------------------------------------------------------------------------- one rule for every source

def _png_claiming(path, width, height):
    """A few hundred bytes whose PNG header claims ``width`` x ``height`` grey pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height", [(30000, 30000), (15000, 15000)])
def test_an_image_too_large_to_read_is_refused_before_decoding(tmp_path, rgb_model, width, height):
    path = _png_claiming(tmp_path / "huge.png", width, height)
    with pytest.raises(ImageLoadError, match=f"huge.png .*{width}×{height}|huge.png claims more"):
        load_image(path, rgb_model)


def test_the_same_pixels_from_a_file_and_an_array_give_the_same_image(tmp_path, grey_model):
    levels = (np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) % 256).astype(np.uint16) * 257
    Image.fromarray(levels).save(tmp_path / "deep.png")
    from_file = load_image(tmp_path / "deep.png", grey_model)
    from_array = load_image(levels, grey_model)
    np.testing.assert_array_equal(from_file.original, from_array.original)
    floats = levels.astype(np.float32) / 65535.0
    Image.fromarray(floats).save(tmp_path / "unit.tiff")  # a float TIFF in [0, 1]
    np.testing.assert_array_equal(load_image(tmp_path / "unit.tiff", grey_model).original,
                                  load_image(floats, grey_model).original)


@pytest.mark.parametrize("values, expected", [
    (np.array([[0, 128, 255]], dtype=np.int64), [0, 128, 255]),  # 8-bit values in an int64
    (np.array([[0, 32896, 65535]], dtype=np.int32), [0, 128, 255]),  # 16-bit values
    (np.array([[False, True, True]]), [0, 255, 255]),
    (np.array([[0.0, 0.5, 1.0]]), [0, 127, 255]),  # floats in [0, 1]
    (np.array([[0.0, 100.5, 255.0]]), [0, 100, 255]),  # floats in [0, 255]
])
def test_one_rule_for_pixel_values(grey_model, values, expected):
    image = load_image(np.repeat(values, 4, axis=0), grey_model)
    np.testing.assert_array_equal(image.original[0, :, 0], expected)


@pytest.mark.parametrize("values, message", [
    (np.array([[0.0, 500.0, 1000.0]]), "from 0 to 1000: floats are read in"),
    (np.array([[-1.0, 0.0, 1.0]]), "from -1 to 1"),
    (np.array([[0.0, np.nan, 1.0]]), "not finite"),
    (np.array([[0, 70000, 1]]), "integers are read in"),
])
def test_values_that_are_no_pixels_are_refused(grey_model, values, message):
    with pytest.raises(ImageLoadError, match=message):
        load_image(np.repeat(values, 4, axis=0), grey_model)


def test_a_float_tiff_beyond_pixel_range_is_refused_not_shrunk(tmp_path, grey_model):
    Image.fromarray(np.linspace(0, 1000, 64, dtype=np.float32).reshape(8, 8)).save(
        tmp_path / "counts.tiff")
    with pytest.raises(ImageLoadError, match="from 0 to 1000"):
        load_image(tmp_path / "counts.tiff", grey_model)


@pytest.mark.parametrize("source, message", [
    (np.zeros((1, 2, 8, 8, 3)), "not \\(1, 2, 8, 8, 3\\)"),
    (np.zeros((8, 8, 2)), "not \\(8, 8, 2\\)"),
    (np.zeros((0, 8, 3)), "empty"),
    (None, "got NoneType"),
    (3.5, "got float"),
])
def test_what_is_no_image_is_refused_in_one_line(rgb_model, source, message):
    with pytest.raises(ImageLoadError, match=message):
        load_image(source, rgb_model)


def test_a_batch_of_one_image_is_that_image(rgb_model):
    pixels = _pattern()
    np.testing.assert_array_equal(load_image(pixels[np.newaxis], rgb_model).original, pixels)


def test_a_model_of_any_size_sees_the_image_with_its_longest_side_bounded():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    wide = np.zeros((1000, 2000, 3), dtype=np.uint8)
    image = load_image(wide, model)
    assert image.resized.shape == (256, 512, 3)
    assert image.size_reason == "longest side reduced to 512: the model takes any size"
    assert load_image(wide, model, max_side=1000).resized.shape == (500, 1000, 3)
    small = load_image(_pattern(), model)
    assert small.size_reason == "as loaded: the model takes any size"
    assert load_image(_pattern(), sequential_model()).size_reason == "the model's input size"
