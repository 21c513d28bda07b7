"""Tracing is paid once: one trace per model, function and image size, whatever the class,
the image or the batch size; and :func:`warm_up` pays it before the first method, so that
the methods it prepares trace nothing (``core/warm_up.py``). Traces are counted, not timed."""

import threading

import keras
import numpy as np
import pytest

from builders import random_pixels, residual_model, sequential_model
from dial_visualization.core import tf_ops
from dial_visualization.core.context import Context
from dial_visualization.core.errors import Cancelled, MethodNotApplicableError
from dial_visualization.core.explain import run
from dial_visualization.core.images import load_image
from dial_visualization.core.warm_up import STEPS, warm_up


def contexts(model, count=2):
    return [Context(model, load_image(random_pixels(seed=seed), model))
            for seed in range(1, count + 1)]


def test_the_input_gradient_is_traced_once_for_every_class_image_and_batch_size():
    model = sequential_model()
    for context in contexts(model):
        for index in range(3):
            run("saliency", context, index=index)
            run("integrated-gradients", context, index=index, params={"steps": 9})
            run("integrated-gradients", context, index=index,
                params={"steps": 9, "batch_size": 3})
            run("smoothgrad", context, index=index, params={"samples": 5, "batch_size": 2})
    assert tf_ops.input_gradient_function(model).tracing_count == 1


def test_the_layer_gradient_is_traced_once_for_both_grad_cams_every_class_and_image():
    model = residual_model()
    for context in contexts(model):
        for index in range(3):
            layers = {run(method, context, index=index).info["layer"]
                      for method in ("grad-cam", "grad-cam-plus-plus")}
    (layer,) = layers
    assert tf_ops.layer_gradient_function(model, layer).tracing_count == 1


def test_the_occlusion_scores_are_traced_once_for_every_batch_size():
    model = sequential_model()
    for context in contexts(model):
        for batch_size in (0, 2, 3, 7):
            run("occlusion", context, index=1, params={"patch": 4, "stride": 4,
                                                       "batch_size": batch_size})
    assert tf_ops.score_function(model, logits=False).tracing_count == 1


@pytest.mark.parametrize("builder", [sequential_model, residual_model])
def test_after_warm_up_the_methods_trace_nothing(builder):
    model = builder()
    context = contexts(model, 1)[0]
    done = warm_up(model, context.image.array.shape)
    assert list(done.seconds) == list(STEPS) and done.layer
    traces = tf_ops.tracing_count(model)
    for index in (None, 0, 2):  # None: the top class, found by a forward pass
        for method in ("saliency", "guided-backprop", "grad-cam", "grad-cam-plus-plus",
                       "integrated-gradients", "smoothgrad", "occlusion", "predictions"):
            if method != "predictions" or index is None:
                run(method, context, index=index)
    assert tf_ops.tracing_count(model) == traces


def test_warm_up_in_a_thread_shares_its_traces_with_a_method_running_meanwhile():
    model = residual_model()
    context = contexts(model, 1)[0]
    reference = run("saliency", Context(residual_model(), context.image), index=1)
    worker = threading.Thread(target=warm_up, args=(model,))
    worker.start()
    result = run("saliency", context, index=1)
    worker.join()
    np.testing.assert_allclose(result.data, reference.data, rtol=1e-5, atol=1e-7)
    assert tf_ops.input_gradient_function(model).tracing_count == 1


def test_warm_up_stops_when_asked_and_names_what_it_cannot_do():
    model = sequential_model()
    with pytest.raises(Cancelled):
        warm_up(model, should_stop=lambda: True)
    assert tf_ops.tracing_count(model) == 0
    with pytest.raises(ValueError, match="unknown warm-up step 'backward'"):
        warm_up(model, steps=("backward",))
    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    free = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    with pytest.raises(MethodNotApplicableError, match="needs image_size"):
        warm_up(free)
    assert warm_up(free, (20, 24), steps=("gradient",)).image_size == (20, 24)
    assert tf_ops.tracing_count(free) == 1
