"""Automatic batch sizes: bounded by the memory estimate, each candidate timed, the fastest
kept; the batched methods use them and give the same results as with a fixed size."""

import time

import numpy as np
import pytest

from builders import random_pixels, sequential_model
from dial_visualization.core import tf_ops
from dial_visualization.core.batch_size import (
    BUDGET_BYTES, GRADIENT_FACTOR, TRIALS, BatchSizeTuner, memory_limit)
from dial_visualization.core.context import Context, Target
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image


def test_memory_limit_divides_the_budget_by_the_activation_bytes():
    values = 2 ** 20  # 4 MiB of float32 per sample
    assert memory_limit(values, with_gradient=False) == BUDGET_BYTES // 2 ** 22
    assert memory_limit(values, with_gradient=True) == int(
        BUDGET_BYTES // (2 ** 22 * GRADIENT_FACTOR))
    assert memory_limit(10 ** 12, with_gradient=True) == 1


@pytest.mark.parametrize("limit, candidates", [(20, [4, 8, 16]), (1000, [4, 8, 16, 32, 64]),
                                                (3, [3]), (1, [1])])
def test_candidates_stay_within_the_memory_limit(limit, candidates):
    assert BatchSizeTuner(limit).candidates == candidates


def test_tries_each_candidate_then_keeps_the_fewest_seconds_per_item():
    tuner = BatchSizeTuner(16)
    seconds_per_item = {4: 0.03, 8: 0.01, 16: 0.02}
    proposed = []
    for _ in range(3 * TRIALS + 2):
        size = tuner.next_size()
        proposed.append(size)
        tuner.record(size, size * seconds_per_item[size])
    assert proposed == [4] * TRIALS + [8] * TRIALS + [16] * TRIALS + [8, 8]


def test_the_fastest_of_the_trials_counts_so_a_tracing_call_is_forgotten():
    tuner = BatchSizeTuner(8)
    for size, seconds in [(4, 9.0), (4, 0.4), (8, 1.0), (8, 1.2)]:  # 4's first call traced
        tuner.record(size, seconds)
    assert tuner.next_size() == 4


def test_sizes_that_are_not_candidates_are_not_recorded():
    tuner = BatchSizeTuner(8)
    tuner.record(3, 0.001)  # e.g. the last, partial batch
    assert tuner.next_size() == 4 and tuner.seconds_per_item == {4: [], 8: []}


def test_each_candidate_is_timed_trials_times_then_the_choice_stays():
    tuner = BatchSizeTuner(4)
    for seconds in (0.4, 0.5, 0.1):
        tuner.record(4, seconds)
    assert tuner.seconds_per_item == {4: [0.1, 0.125]}


def test_a_candidate_larger_than_the_work_left_waits_for_a_larger_run():
    tuner = BatchSizeTuner(64)
    assert tuner.next_size(remaining=3) == 4  # nothing timed yet: the smallest, cut short
    for size, seconds in [(4, 0.4), (4, 0.4), (8, 0.4), (8, 0.4)]:
        tuner.record(size, seconds)
    assert tuner.next_size(remaining=8) == 8  # 16 does not fit: the fastest timed
    assert tuner.next_size(remaining=40) == 16


@pytest.mark.parametrize("count, fastest, sizes", [
    (51, 16, [13, 13, 13, 12]), (20, 16, [10, 10]), (48, 16, [16, 16, 16]), (5, 8, [5]),
    (17, 8, [6, 6, 5])])
def test_work_is_split_evenly_in_the_fewest_batches_of_the_fastest_size(count, fastest, sizes):
    """A last batch of a few items runs slowest per item (VGG16's integrated gradients: 1.42
    images per second at 4, 1.80 at 8 and 16): 51 items at 16 go as four batches of 12-13."""
    tuner = BatchSizeTuner(fastest)
    for size in tuner.candidates:
        for _ in range(TRIALS):
            tuner.record(size, size * (1.0 if size == fastest else 2.0))
    assert [part.stop - part.start for part in tf_ops.batches(count, tuner)] == sizes


def test_batches_follow_the_tuner_and_time_the_callers_work():
    tuner = BatchSizeTuner(16)
    seen = []
    for part in tf_ops.batches(60, tuner):
        seen.append(part)
        time.sleep(0.05)  # a fixed cost per batch: the biggest batch is the fastest per item
    assert [(part.start, part.stop) for part in seen] == [
        (0, 4), (4, 8), (8, 16), (16, 24), (24, 40), (40, 56), (56, 60)]
    assert tuner.next_size() == 16 and len(tuner.seconds_per_item[16]) == 2  # 56:60 is partial


def test_one_tuner_per_model_and_kind_until_the_model_is_forgotten():
    model = sequential_model()
    gradient, forward = tf_ops.auto_batch_size(model), tf_ops.auto_batch_size(model, False)
    assert gradient is not forward and tf_ops.auto_batch_size(model) is gradient
    tf_ops.forget(model)
    assert tf_ops.auto_batch_size(model) is not gradient


@pytest.mark.parametrize("method, params", [
    ("integrated-gradients", {"steps": 40}), ("smoothgrad", {"samples": 40}),
    ("occlusion", {"patch": 4, "stride": 2}), ("score-cam", {})])
def test_automatic_batches_give_the_results_of_fixed_ones_and_are_timed(method, params):
    model = sequential_model()
    context = Context(model, image=load_image(random_pixels(), model, "unit"))
    target = Target("prediction", None, 1)
    fixed = run(method, context, target, {**params, "batch_size": 3})
    automatic = run(method, context, target, {**params, "batch_size": 0})
    np.testing.assert_allclose(automatic.data, fixed.data, rtol=1e-4,
                               atol=1e-6 * np.abs(fixed.data).max())
    with_gradient = method in ("integrated-gradients", "smoothgrad")
    assert tf_ops.auto_batch_size(model, with_gradient).seconds_per_item[4]  # timed


def test_a_model_of_any_size_gets_a_memory_limit_for_the_size_it_sees():
    import keras

    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(64, 3, padding="same")(features)))
    small, large = tf_ops.auto_batch_size(model, size=(32, 32)), \
        tf_ops.auto_batch_size(model, size=(1024, 1024))
    # two convolutions (32 and 64 channels) at every position, then 64 pooled values; a
    # gradient pass keeps the ReLU convolution's
    assert tf_ops.activation_values(model, (1024, 1024)) == 1024 * 1024 * (32 + 64) + 64
    assert tf_ops.activation_values(model, (1024, 1024), for_gradient=True) == 1024 * 1024 * 32
    assert max(large.candidates) <= memory_limit(1024 * 1024 * 32, True) < 64
    assert max(small.candidates) == 64 and small is not large
    assert tf_ops.auto_batch_size(model, size=(32, 32)) is small
    fixed = sequential_model()
    assert tf_ops.auto_batch_size(fixed, size=(7, 7)) is tf_ops.auto_batch_size(fixed)


def test_a_gradient_pass_counts_the_values_its_backward_pass_keeps():
    """A linear convolution and a batch normalisation keep nothing (their input gradient
    needs only their weights), a ReLU convolution its output, a swish its input and more."""
    import keras

    from dial_visualization.core.batch_size import SMOOTH

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(5, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("swish")(x)
    model = keras.Model(inputs, keras.layers.MaxPooling2D(8)(x))
    every = 64 * (4 + 5 + 5 + 5) + 5
    assert tf_ops.activation_values(model) == every
    assert tf_ops.activation_values(model, for_gradient=True) == 64 * 4 + SMOOTH * 64 * 5 + 5
