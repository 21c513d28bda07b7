"""Activation maximization on tiny real models: it raises the target, is reproducible,
batches channels exactly, records frames and their objectives, stops on request, equals
plain Adam ascent, says why an objective fell or did not move, and refuses absurd
parameters, non-finite images and sizes whose one step would take too long."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from builders import counting_model, nested_model, random_pixels, sequential_model
from dial_visualization.core import tf_ops
from dial_visualization.core.context import Context, Target
from dial_visualization.core.errors import Cancelled, MethodNotApplicableError, ParameterError
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.methods import activation_maximization
from dial_visualization.core.methods._transformation_robustness import jitter_and_scale
from dial_visualization.core.registry import HandlerConfiguration, NodeType

METHOD = "activation-maximization"
LIVE_CONV1_CHANNELS = (0, 1, 2, 3)  # every conv1 channel of sequential_model() responds to grey


@pytest.fixture(scope="module")
def cnn():
    return sequential_model()


def maximize(model, layer="conv1", index=0, image=None, node_type="output", **params):
    params = {"steps": 32, **params}
    return run(METHOD, Context(model, image=image), Target(node_type, layer, index), params)


def channel_means(model, layer, images):
    """Each channel's spatial mean for a batch of [0, 1] images, through a plain Keras model."""
    sub_model = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return np.asarray(sub_model(images)).mean(axis=(1, 2))


def test_registered_for_outputs_and_predictions():
    method = HandlerConfiguration.default().get(METHOD)
    assert method.node_types == {NodeType.OUTPUT, NodeType.PREDICTION}
    assert method.resolve_params()["parameterization"] == "fourier"


@pytest.mark.parametrize("parameterization, learning_rate", [("pixel", 0.05), ("fourier", 0.2)])
def test_each_channel_ends_above_its_start_and_above_random_images(cnn, parameterization,
                                                                   learning_rate):
    channels = ",".join(map(str, LIVE_CONV1_CHANNELS))
    result = maximize(cnn, channels=channels, parameterization=parameterization,
                      learning_rate=learning_rate)
    start = np.array(result.info["objective_start"])
    end = np.array(result.info["objective_end"])
    noise = np.random.default_rng(0).uniform(0, 1, (200, 16, 16, 3)).astype(np.float32)
    best_random = channel_means(cnn, "conv1", noise).max(axis=0)
    assert np.all(end > start * 1.5)
    assert np.all(end > best_random)
    # the reported objective is the channel's mean activation of the returned image
    means = channel_means(cnn, "conv1", result.data / 255.0)  # (image, channel)
    np.testing.assert_allclose(means[np.arange(4), list(LIVE_CONV1_CHANNELS)], end, rtol=1e-4)


def test_result_is_rgb_images_in_pixel_range_with_frames(cnn):
    result = maximize(cnn, channels="0,1", frame_every=16)
    assert result.kind == "grid" and result.info["rgb"] and result.info["channels"] == [0, 1]
    assert result.data.shape == (2, 16, 16, 3)
    assert 0.0 <= result.data.min() and result.data.max() <= 255.0
    assert result.frames.shape == (3, 2, 16, 16, 3)  # iterations 0, 16 and 32
    np.testing.assert_array_equal(result.frames[-1], result.data)


def test_frames_include_the_last_iteration_when_it_is_not_a_multiple(cnn):
    result = maximize(cnn, steps=20, frame_every=8)
    assert len(result.frames) == 4  # iterations 0, 8, 16 and 20


def test_fixed_seed_reproduces_and_another_seed_differs(cnn):
    shaken = {"jitter": 2, "scale": 0.1}  # the seed draws the start noise and these
    first, again = maximize(cnn, seed=3, **shaken), maximize(cnn, seed=3, **shaken)
    other = maximize(cnn, seed=4, **shaken)
    np.testing.assert_array_equal(first.data, again.data)
    np.testing.assert_array_equal(first.frames, again.frames)
    assert np.abs(first.data - other.data).mean() > 1.0


def test_channels_in_one_batch_equal_one_by_one_runs(cnn):
    together = maximize(cnn, channels="3,0,2")
    for position, channel in enumerate((3, 0, 2)):
        alone = maximize(cnn, index=channel)
        np.testing.assert_allclose(together.data[position], alone.data[0], atol=1e-3)
        np.testing.assert_allclose(together.info["objective_end"][position],
                                   alone.info["objective_end"][0], rtol=1e-5)


def test_one_trace_serves_every_step_and_run(cnn):
    maximize(cnn, layer="pool", steps=8, seed=1)
    maximize(cnn, layer="pool", steps=8, seed=2, learning_rate=0.1, jitter=2, scale=0.1)
    functions = [f for key, f in tf_ops.model_cache(cnn).items() if key[0].startswith(METHOD)
                 and "pool" in key]
    assert len(functions) == 2  # the step and the rendering
    assert all(f.experimental_get_tracing_count() == 1 for f in functions)


def test_pixel_parameterization_equals_plain_adam_gradient_ascent(cnn):
    """Without jitter, scale and penalties: Adam on the pre-sigmoid pixels, by hand."""
    image = load_image(random_pixels(), cnn, preprocessing="symmetric")
    steps, learning_rate = 6, 0.05
    result = maximize(cnn, layer="conv2", index=0, image=image, steps=steps, jitter=0,
                      scale=0.0, parameterization="pixel", learning_rate=learning_rate)
    sub_model = keras.Model(cnn.inputs[0], cnn.get_layer("conv2").output)
    start = result.frames[0, 0] / 255.0
    logits = tf.constant(np.log(start / (1 - start))[np.newaxis])
    first, second = np.zeros(logits.shape), np.zeros(logits.shape)
    for t in range(1, steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            pixels = 255.0 * tf.sigmoid(logits)
            activation = tf.reduce_mean(sub_model(pixels / 127.5 - 1.0)[..., 0])
        gradient = tape.gradient(activation, logits).numpy()
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient ** 2
        step = (first / (1 - 0.9 ** t)) / (np.sqrt(second / (1 - 0.999 ** t)) + 1e-8)
        logits = logits + learning_rate * step.astype(np.float32)
    expected = 255.0 * tf.sigmoid(logits).numpy()[0]
    assert np.abs(expected - result.frames[0, 0]).max() > 1.0  # the ascent moved the pixels
    np.testing.assert_allclose(result.data[0], expected, atol=0.02)


@pytest.mark.parametrize("chunk_seconds", [0.0, 1e9])
def test_chunks_of_steps_per_traced_call_do_not_change_the_result(cnn, monkeypatch,
                                                                   chunk_seconds):
    params = {"steps": 12, "frame_every": 4, "jitter": 2, "scale": 0.1, "seed": 3}
    default = maximize(cnn, **params)
    monkeypatch.setattr(activation_maximization, "CHUNK_SECONDS", chunk_seconds)
    chunked = maximize(cnn, **params)
    np.testing.assert_allclose(chunked.frames, default.frames, atol=1e-3)
    np.testing.assert_allclose(chunked.info["objective_end"], default.info["objective_end"],
                               rtol=1e-5)


@pytest.mark.parametrize("done, seconds_per_step, expected", [
    (0, None, 1),        # the first call: one step, timed
    (1, 0.05, 5),        # then about CHUNK_SECONDS of steps
    (1, 0.001, 15),      # never past the next frame (16)
    (16, 0.5, 1),        # at least one step
    (250, 1e-6, 6),      # never past the last step (256)
])
def test_chunk_is_about_a_quarter_second_and_ends_at_frames(done, seconds_per_step,
                                                             expected):
    assert activation_maximization.CHUNK_SECONDS == 0.25
    assert activation_maximization._chunk(done, 256, 16, seconds_per_step) == expected


@pytest.mark.parametrize("chunk_seconds", [0.0, 1e9])
def test_should_stop_stops_before_the_next_chunk(cnn, monkeypatch, chunk_seconds):
    monkeypatch.setattr(activation_maximization, "CHUNK_SECONDS", chunk_seconds)
    polls, fractions = [], []

    def should_stop():
        polls.append(None)
        return len(polls) == 3

    with pytest.raises(Cancelled):
        run(METHOD, Context(cnn), Target("output", "conv1", 0), {"steps": 32, "frame_every": 8},
            progress=fractions.append, should_stop=should_stop)
    # one step per call, or (after the first, timed, step) up to each frame: no step runs
    # after the stop
    assert fractions == ([1 / 32, 2 / 32] if chunk_seconds == 0 else [1 / 32, 8 / 32])


def test_progress_rises_to_one(cnn):
    fractions = []
    run(METHOD, Context(cnn), Target("output", "conv1", 0), {"steps": 10},
        progress=fractions.append)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_whole_layer_maximizes_the_mean_of_all_channels(cnn):
    result = maximize(cnn, index=None, parameterization="pixel", learning_rate=0.05)
    assert result.info["channels"] == [-1]
    mean_of_channels = channel_means(cnn, "conv1", result.data / 255.0).mean()
    np.testing.assert_allclose(result.info["objective_end"][0], mean_of_channels, rtol=1e-4)
    noise = np.random.default_rng(0).uniform(0, 1, (200, 16, 16, 3)).astype(np.float32)
    best_random = channel_means(cnn, "conv1", noise).mean(axis=1).max()
    start, end = result.info["objective_start"][0], result.info["objective_end"][0]
    assert end > max(best_random, start) + 0.1


def test_prediction_raises_the_top_class_logit_of_the_loaded_image(cnn):
    image = load_image(random_pixels(), cnn)
    top = int(np.argmax(cnn(image.batch())[0]))
    result = maximize(cnn, layer=None, index=None, image=image, node_type="prediction",
                      learning_rate=0.2, parameterization="pixel")
    assert result.target.index == top and result.info["channels"] == [top]
    # the logit: the softmax's input, recomputed from the returned image
    features = keras.Model(cnn.inputs[0], cnn.get_layer("gap").output)(result.data / 255.0)
    dense = cnn.get_layer("predictions")
    logit = (np.asarray(features) @ np.asarray(dense.kernel) + np.asarray(dense.bias))[0, top]
    np.testing.assert_allclose(result.info["objective_end"][0], logit, rtol=1e-4, atol=1e-5)
    assert result.info["objective_end"][0] > result.info["objective_start"][0] + 0.1


def test_prediction_without_an_image_takes_class_zero(cnn):
    result = maximize(cnn, layer=None, index=None, node_type="prediction", steps=2)
    assert result.target.index == 0 and result.info["channels"] == [0]


def test_nested_layer_path():
    model = nested_model()
    live = [0, 2, 3, 4]  # channel 1 of base_conv2 is dead for grey images
    result = maximize(model, layer="base/base_conv2", index=None, channels="0,2,3,4",
                      parameterization="pixel", learning_rate=0.2)
    assert result.data.shape == (4, 16, 16, 3)
    base = model.get_layer("base")  # its output is base_conv2's
    end = np.asarray(base(result.data / 255.0)).mean(axis=(1, 2))[np.arange(4), live]
    np.testing.assert_allclose(result.info["objective_end"], end, rtol=1e-4)
    noise = np.random.default_rng(0).uniform(0, 1, (200, 16, 16, 3)).astype(np.float32)
    best_random = np.asarray(base(noise)).mean(axis=(1, 2)).max(axis=0)[live]
    assert np.all(end > 2 * best_random)
    assert np.all(end > 3 * np.array(result.info["objective_start"]))


@pytest.mark.parametrize("shift", [(0, 0), (1, 2), (-3, 4)])
def test_jitter_rolls_whole_pixels(shift):
    images = np.random.default_rng(0).random((2, 8, 10, 3)).astype(np.float32)
    moved = jitter_and_scale(tf.constant(images),
                                                      tf.constant([*shift, 1.0]))
    np.testing.assert_allclose(moved, np.roll(images, shift, axis=(1, 2)), atol=1e-6)


def test_zoom_out_resizes_and_mirrors_the_border_zoom_in_crops_the_centre():
    images = np.random.default_rng(0).random((1, 8, 8, 3)).astype(np.float32)
    halved = np.asarray(jitter_and_scale(
        tf.constant(images), tf.constant([0.0, 0.0, 0.5])))
    small = np.asarray(tf.image.resize(images, (4, 4)))
    np.testing.assert_allclose(halved[:, 2:6, 2:6], small, atol=1e-6)
    np.testing.assert_allclose(halved, np.pad(small, [(0, 0), (2, 2), (2, 2), (0, 0)],
                                              mode="reflect"), atol=1e-6)
    doubled = np.asarray(jitter_and_scale(
        tf.constant(images), tf.constant([0.0, 0.0, 2.0])))
    enlarged = np.asarray(tf.image.resize(images, (16, 16)))
    np.testing.assert_allclose(doubled, enlarged[:, 4:12, 4:12], atol=1e-6)


def test_the_widest_scale_range_runs(cnn):
    result = maximize(cnn, steps=16, scale=0.5, jitter=8, seed=5)
    assert result.info["objective_end"][0] > result.info["objective_start"][0]


def test_grey_model_gives_grey_images():
    result = maximize(sequential_model(channels=1), channels="0,1", steps=16, frame_every=8)
    assert result.data.shape == (2, 16, 16) and not result.info["rgb"]
    assert result.frames.shape == (3, 2, 16, 16)


def _total_variation(images):
    return (np.abs(np.diff(images, axis=1)).mean() + np.abs(np.diff(images, axis=2)).mean())


def _high_frequency_energy(images):
    spectrum = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True), axes=(1, 2)))
    return spectrum[:, 4:13, 4:13].sum()  # around Nyquist of a 16-pixel image


@pytest.mark.parametrize("parameterization", ["pixel", "fourier"])
def test_regularizers_do_what_they_penalize(cnn, parameterization):
    common = {"channels": "0,1", "parameterization": parameterization}
    plain = maximize(cnn, **common).data / 255.0
    smooth = maximize(cnn, total_variation=2.0, **common).data / 255.0
    grey = maximize(cnn, l2=20.0, **common).data / 255.0
    blurred = maximize(cnn, blur=1.0, **common).data / 255.0
    assert _total_variation(smooth) < 0.6 * _total_variation(plain)
    assert np.mean((grey - 0.5) ** 2) < 0.2 * np.mean((plain - 0.5) ** 2)
    assert _high_frequency_energy(blurred) < 0.1 * _high_frequency_energy(plain)


def test_size_sets_the_image_of_a_model_of_any_size():
    keras.utils.set_random_seed(0)
    fully_convolutional = keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")])
    result = maximize(fully_convolutional, layer="conv", size=12, steps=2)
    assert result.data.shape == (1, 12, 12, 3)


def test_refuses_another_size_for_a_fixed_size_model(cnn):
    with pytest.raises(ParameterError, match="16x16"):
        maximize(cnn, size=20, steps=1)


@pytest.mark.parametrize("channels, message", [("0,x", "indices"), ("0,4", "out of range"),
                                              (",,,", "indices"), (" , ", "indices")])
def test_refuses_bad_channel_lists(cnn, channels, message):
    with pytest.raises(ParameterError, match=message):
        maximize(cnn, channels=channels, steps=1)


def test_refuses_a_preprocessing_it_cannot_differentiate(cnn):
    image = load_image(random_pixels(), cnn, preprocessing=lambda pixels: pixels / 255.0)
    with pytest.raises(MethodNotApplicableError, match="preset preprocessing"):
        maximize(cnn, image=image, steps=1)


def test_frames_save_as_a_gif(cnn, tmp_path):
    result = maximize(cnn, steps=32, frame_every=8)
    path = result.save_gif(tmp_path / "ascent.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 5


# --------------------------------------------------------------------------- what the result says

def test_the_objective_of_every_frame_is_the_objective_of_that_frames_image(cnn):
    result = maximize(cnn, channels="0,2", steps=20, frame_every=8)
    assert result.info["frame_steps"] == [0, 8, 16, 20]
    objectives = np.array(result.info["objective_per_frame"])  # (frames, channels)
    assert objectives.shape == (4, 2)
    for frame, images in enumerate(result.frames):
        np.testing.assert_allclose(channel_means(cnn, "conv1", images / 255.0)[[0, 1], [0, 2]],
                                   objectives[frame], rtol=1e-4, atol=1e-6)
    assert result.info["objective_start"] == objectives[0].tolist()
    assert result.info["objective_end"] == objectives[-1].tolist()
    assert not result.warnings


def concave_model():
    """One channel whose mean is -(c - 0.05)^2 with c = 0.1 (r + g + b): the grey start
    image is near the top, so that a large step overshoots it."""
    inputs = keras.Input((16, 16, 3), name="image")
    linear = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(0.1),
                                 bias_initializer=keras.initializers.Constant(-0.1),
                                 name="linear")(inputs)
    squared = keras.layers.Multiply(name="squared")([linear, linear])
    return keras.Model(inputs, keras.layers.Rescaling(-1.0, name="peak")(squared), name="peak")


def test_an_objective_that_ends_below_its_start_is_warned_about():
    model = concave_model()
    overshot = maximize(model, layer="peak", steps=1, learning_rate=2.0,
                        parameterization="pixel")
    start, end = overshot.info["objective_start"][0], overshot.info["objective_end"][0]
    assert end < start
    assert overshot.warnings == [f"peak channel 0: the objective fell from {start:.3g} to "
                                 f"{end:.3g} in 1 step; lower the learning_rate"]
    careful = maximize(model, layer="peak", steps=8, learning_rate=0.01,
                       parameterization="pixel")
    assert careful.info["objective_end"][0] > careful.info["objective_start"][0]
    assert not careful.warnings


def test_a_dead_channel_does_not_move_and_says_why():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3), name="image"),
        keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv",
                            bias_initializer=keras.initializers.Constant([0.1, -10.0])),
    ], name="dead")
    dead = maximize(model, layer="conv", index=1, steps=8)
    assert dead.info["objective_per_frame"] == [[0.0]] * 2
    np.testing.assert_array_equal(dead.frames[0], dead.frames[-1])
    assert dead.warnings == [
        "conv channel 1: the objective stayed at 0 for 8 steps: its gradient is zero at the "
        "start image (every path from the image to it passes a unit that is off, as a ReLU "
        "below 0), so the ascent cannot move"]
    assert not maximize(model, layer="conv", index=0, steps=8).warnings


@pytest.mark.parametrize("params, message", [
    ({"total_variation": float("inf")}, "total_variation: expected float, got inf"),
    ({"l2": 1e308}, "l2: 1e+308 is above the maximum 1000.0"),
    ({"total_variation": 1e4}, "total_variation: 10000.0 is above the maximum 1000.0"),
    ({"learning_rate": float("nan")}, "learning_rate: expected float, got nan"),
])
def test_absurd_parameters_are_refused_before_any_work(params, message):
    model, counter = counting_model()
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        run(METHOD, Context(model), Target("output", "sequential_cnn/conv1", 0), params)
    assert int(counter.seen.numpy()) == 0


def test_a_diverging_ascent_is_an_error_not_a_nan_image():
    """A channel that overflows float32 for any non-black image: inf objective, NaN steps."""
    inputs = keras.Input((8, 8, 3), name="image")
    huge = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(1e38),
                               name="huge")(inputs)
    model = keras.Model(inputs, keras.layers.Multiply(name="squared")([huge, huge]))
    with pytest.raises(MethodNotApplicableError, match="diverged by step 1: the image or its "
                                                       "objective is no longer finite"):
        maximize(model, layer="squared", steps=4, frame_every=1)


def fully_convolutional_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")])


def test_a_size_whose_one_step_would_take_too_long_is_refused_before_it_starts(monkeypatch):
    """The step at 128x128 is timed and scaled by the pixels: at 4096x4096, 1024 times."""
    model = fully_convolutional_model()
    monkeypatch.setattr(activation_maximization, "MAX_STEP_SECONDS", 1e-9)
    with pytest.raises(ParameterError, match=r"^size: one step at 4096x4096 would take about "
                                             r"\d+ s here \(\d\.\d\d s at 128x128\), and a step "
                                             r"cannot be stopped once it runs; choose a size up "
                                             r"to about 0$"):
        maximize(model, layer="conv2", size=4096, steps=1)
    traced_sizes = {part for key in tf_ops.model_cache(model) if key[0].startswith(METHOD)
                    for part in key if isinstance(part, tuple) and len(part) == 2
                    and all(isinstance(side, int) for side in part)}
    assert traced_sizes == {(128, 128)}  # the probe's; nothing at 4096
    monkeypatch.setattr(activation_maximization, "MAX_STEP_SECONDS", 1e9)
    assert maximize(model, layer="conv2", size=300, steps=1).data.shape == (1, 300, 300, 3)


def test_sizes_up_to_twice_the_default_are_not_timed(monkeypatch):
    model = fully_convolutional_model()
    monkeypatch.setattr(activation_maximization, "MAX_STEP_SECONDS", 1e-9)
    assert maximize(model, layer="conv2", size=256, steps=1).data.shape == (1, 256, 256, 3)
