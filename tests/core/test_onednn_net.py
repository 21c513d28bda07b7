"""The net under oneDNN: with ``TF_ENABLE_ONEDNN_OPTS=1`` (TensorFlow's own default), every
method that runs the model runs on every ``keras.applications`` architecture of
``tests/applications.py``, on the shapes known to abort the process (1x1 stride-2
convolutions on 1, 3, 8 and 12 channels, "valid" and "same", odd and even sizes), and on
depthwise, separable and grouped convolutions with strides, without a crash.

TensorFlow 2.20/2.21's oneDNN kernels corrupt the heap on the input gradient of some of
these convolutions (``core/tf_environment.py``); the graph walker computes them another way.
A crash is a native abort (``malloc(): corrupted top size``, a segmentation fault), so each
group of checks runs in a Python process of its own: an abort fails that group's test with
its return code and the tail of its stderr, and the other groups still run. The groups run
two at a time (started together when the first test of this module asks for its result),
several architectures per process to pay TensorFlow's import once per group. The inputs
are small and the methods' parameters minimal: the point is every kernel's shape, not the
maps (their correctness is tested elsewhere). Each process reports every method it ran, so
a failure says which one was running.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from applications import NAMES

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"

#: Every method that runs the model, with parameters that keep each run to one or two
#: batches (each still goes through every traced function its defaults use).
METHODS = {
    "saliency": {},
    "guided-backprop": {},
    "integrated-gradients": {"steps": 7},  # 8 path points: batches of 4 and more
    "smoothgrad": {"samples": 4},
    "grad-cam": {},
    "grad-cam-plus-plus": {},
    "score-cam": {"top_n": 8},
    "occlusion": {"patch": 48, "stride": 48},
    "activation-maximization": {"steps": 4, "frame_every": 2},
}

#: Architectures per process, about the same work each (the largest graphs alone).
GROUPS = (
    ("InceptionResNetV2",),
    ("NASNetMobile", "MobileNet", "VGG16"),
    ("DenseNet121", "ResNet50", "MobileNetV3Small"),
    ("InceptionV3", "EfficientNetB0", "MobileNetV2"),
    ("Xception", "EfficientNetV2B0", "ResNet50V2", "ConvNeXtTiny"),
)

APPLICATIONS_SCRIPT = textwrap.dedent("""
    import sys, time
    import dial_visualization as dv
    import keras, numpy as np
    from applications import FAMILIES

    methods = {methods}
    for name in sys.argv[1:]:
        family = FAMILIES[name]
        keras.utils.set_random_seed(0)
        model = family.build(weights=None, input_shape=(family.size, family.size, 3))
        pixels = np.random.default_rng(0).integers(0, 256, (family.size, family.size, 3),
                                                   dtype=np.uint8)
        image = dv.load_image(pixels, model)
        for method, params in methods.items():
            start = time.perf_counter()
            print(f"RUN {{name}} {{method}}", flush=True)
            result = dv.explain(model, image, method, target=0, **params)
            assert np.all(np.isfinite(result.data)), (name, method)
            print(f"OK {{name}} {{method}} {{time.perf_counter() - start:.1f}} s", flush=True)
        del model, image
        keras.backend.clear_session()
    print("ALL-OK", flush=True)
""")

#: One model per (padding, size): features of 1, 3 (the RGB input itself), 8 and 12
#: channels, each into parallel branches of strided convolutions (1x1 plain with strides 2
#: and 3, depthwise, separable, grouped; 3x3 depthwise, separable, grouped), each branch
#: averaged, then a dense layer: one backward pass goes through every branch.
SHAPES_SCRIPT = textwrap.dedent("""
    import sys, itertools
    import dial_visualization as dv
    import keras, numpy as np, tensorflow as tf
    from dial_visualization.core.walker import forward

    def branches(channels, padding):
        for kernel in (1, 3):
            for strides in (2, 3) if kernel == 1 else (2,):
                yield keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding)
                yield keras.layers.SeparableConv2D(8, kernel, strides=strides, padding=padding)
                if channels > 1:
                    yield keras.layers.Conv2D(2 * channels, kernel, strides=strides,
                                              padding=padding, groups=channels)
                if kernel == 1:
                    yield keras.layers.Conv2D(16, 1, strides=strides, padding=padding,
                                              use_bias=False)

    def shapes_model(padding, size):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((size, size, 3))
        pooled = []
        for channels in (1, 3, 8, 12):
            x = inputs if channels == 3 else keras.layers.Conv2D(
                channels, 3, padding="same", activation="relu")(inputs)
            pooled += [keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(layer(x)))
                       for layer in branches(channels, padding)]
        x = keras.layers.Concatenate()(pooled)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))

    methods = {methods}
    for padding, size in itertools.product(("valid", "same"), (32, 33)):
        case = f"{{padding}}-{{size}}px"
        model = shapes_model(padding, size)
        pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        image = dv.load_image(pixels, model, preprocessing="unit")
        for method, params in methods.items():
            print(f"RUN {{case}} {{method}}", flush=True)
            result = dv.explain(model, image, method, target=0, **params)
            assert np.all(np.isfinite(result.data)), (case, method)
        print(f"RUN {{case}} eager gradient", flush=True)
        x = tf.constant(image.batch())
        for _ in range(3):  # the eager form crashed every time, the traced one sometimes
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(forward(model, x, logits_of=0)[0])
            assert np.all(np.isfinite(tape.gradient(total, x).numpy())), case
        print(f"OK {{case}}", flush=True)
    print("ALL-OK", flush=True)
""")

#: The gradient methods on the shapes (a tiny model: minimal parameters, batched ones too).
SHAPE_METHODS = {name: METHODS[name] for name in (
    "saliency", "guided-backprop", "integrated-gradients", "grad-cam", "grad-cam-plus-plus",
    "activation-maximization")}

TIMEOUT_SECONDS = 900


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh Python with oneDNN on; the repository and tests/ importable."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    try:
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                              text=True, env=env, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as expired:
        return subprocess.CompletedProcess(expired.cmd, "timeout", _text(expired.stdout),
                                           _text(expired.stderr))


def _text(output) -> str:
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output or ""


@pytest.fixture(scope="module")
def runs():
    """Every group's process, started together, two at a time: {group: future}."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futures = {"shapes": pool.submit(_run, SHAPES_SCRIPT.format(methods=repr(SHAPE_METHODS)))}
    for group in GROUPS:
        futures[group] = pool.submit(_run, APPLICATIONS_SCRIPT.format(methods=repr(METHODS)),
                                     *group)
    yield futures
    pool.shutdown(cancel_futures=True)


def check(done: subprocess.CompletedProcess) -> None:
    """No abort, no exception: exit status 0 (a signal is negative), every case reported."""
    running = [line for line in done.stdout.splitlines() if line.startswith("RUN ")]
    where = running[-1][4:] if running else "before the first method"
    crashed = done.returncode != 0 or "corrupted" in done.stderr or "ALL-OK" not in done.stdout
    assert not crashed, (
        f"exit status {done.returncode} while running {where}:\n{done.stderr[-3000:]}")


def test_the_net_covers_every_architecture():
    assert sorted(name for group in GROUPS for name in group) == sorted(NAMES)


@pytest.mark.parametrize("group", GROUPS, ids=["+".join(group) for group in GROUPS])
def test_every_method_runs_on_every_architecture_with_onednn_on(runs, group):
    check(runs[group].result())


def test_strided_convolutions_of_every_kind_survive_every_gradient_method(runs):
    check(runs["shapes"].result())
