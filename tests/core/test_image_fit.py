"""An image of another aspect ratio than the model's input: stretched (the default),
centre-cropped or padded, against NumPy references."""

import numpy as np
import pytest
from builders import sequential_model
from PIL import Image

from dial_visualization.core.errors import ImageLoadError
from dial_visualization.core.images import fit_aspect, load_image


@pytest.fixture(scope="module")
def square_model():
    return sequential_model(size=16)


def pixels(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_crop_keeps_the_centre(square_model):
    wide, tall = pixels(16, 24), pixels(26, 16, seed=1)
    assert np.array_equal(load_image(wide, square_model, "none", fit="crop").resized,
                          wide[:, 4:20])
    loaded = load_image(tall, square_model, "none", fit="crop")
    assert np.array_equal(loaded.resized, tall[5:21])
    assert loaded.size_reason == "the model's input size, centre-cropped from 16×26"
    assert loaded.original.shape == tall.shape  # as loaded, for display


def test_pad_adds_black_on_both_sides(square_model):
    tall, wide = pixels(16, 8), pixels(9, 16, seed=2)
    expected = np.zeros((16, 16, 3), np.uint8)
    expected[:, 4:12] = tall
    assert np.array_equal(load_image(tall, square_model, "none", fit="pad").resized, expected)
    expected = np.zeros((16, 16, 3), np.uint8)
    expected[3:12] = wide  # the odd row after
    loaded = load_image(wide, square_model, "none", fit="pad")
    assert np.array_equal(loaded.resized, expected)
    assert loaded.size_reason.endswith("padded from 16×9")


def test_crop_then_resize_matches_pillow_on_the_numpy_crop(square_model):
    image = pixels(32, 48, seed=3)
    reference = np.asarray(Image.fromarray(image[:, 8:40]).resize((16, 16),
                                                                  Image.Resampling.BILINEAR))
    assert np.array_equal(load_image(image, square_model, "none", fit="crop").resized,
                          reference)


def test_stretch_is_the_default_and_a_matching_ratio_is_left_alone(square_model):
    image = pixels(16, 24)
    stretched = np.asarray(Image.fromarray(image).resize((16, 16), Image.Resampling.BILINEAR))
    assert np.array_equal(load_image(image, square_model, "none").resized, stretched)
    square = pixels(32, 32)
    for fit in ("crop", "pad"):
        loaded = load_image(square, square_model, "none", fit=fit)
        assert loaded.size_reason == "the model's input size"
        assert np.array_equal(loaded.resized,
                              load_image(square, square_model, "none").resized)


def test_fit_aspect_on_a_wide_target_and_a_bad_choice(square_model):
    image = pixels(10, 10)
    assert fit_aspect(image, 0.5, "crop").shape == (5, 10, 3)
    padded = fit_aspect(image, 0.5, "pad")
    assert padded.shape == (10, 20, 3) and np.array_equal(padded[:, 5:15], image)
    with pytest.raises(ImageLoadError, match="fit is one of stretch, crop, pad"):
        load_image(image, square_model, "none", fit="zoom")
