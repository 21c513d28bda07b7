"""Gradients through 1x1 stride-2 convolutions must not crash the process (oneDNN bug).

Each check runs in a fresh Python process, so a native crash fails the test instead of
killing the test run. Started WITHOUT ``TF_ENABLE_ONEDNN_OPTS``, TensorFlow's own default
(oneDNN on) is what the package runs with and what is tested; with the user's opt-out
(``TF_ENABLE_ONEDNN_OPTS=0``) the methods run as well. The graph walker's rewrite of those
convolutions (core/walker.py) must keep even an eager gradient (the form that crashes every
time here) alive. ``test_onednn_net.py`` runs every method on every architecture.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GRADIENT_METHODS = {
    "saliency": {},
    "guided-backprop": {},
    "integrated-gradients": {"steps": 16},
    "smoothgrad": {"samples": 4},
    "grad-cam": {},
    "grad-cam-plus-plus": {},
    "activation-maximization": {"steps": 8},
}

SCRIPT = textwrap.dedent("""
    import sys
    import dial_visualization as dv
    import keras, numpy as np

    def projection_model(input_channels, feature_channels):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, 32, input_channels))
        x = inputs
        if feature_channels:
            x = keras.layers.Conv2D(feature_channels, 3, padding="same", activation="relu")(x)
        branch = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
        shortcut = keras.layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.Add()([branch, shortcut]))
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))

    model = projection_model(3, int(sys.argv[1]))
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    image = dv.load_image(pixels, model)
    methods = {methods!r}
    for _ in range(3):
        for method, params in methods.items():
            result = dv.explain(model, image, method, **params)
            assert np.all(np.isfinite(result.data)), method
    print("ALL-OK")
""")


EAGER_WALKER_SCRIPT = textwrap.dedent("""
    import sys
    import dial_visualization
    import keras, tensorflow as tf
    from dial_visualization.core.walker import forward

    size, channels = int(sys.argv[1]), int(sys.argv[2])
    inputs = keras.Input((size, size, channels))
    shortcut = keras.layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False)(inputs)
    model = keras.Model(inputs, shortcut)
    x = tf.zeros((1, size, size, channels))
    for _ in range(5):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(forward(model, x)[0])
        tape.gradient(total, x)
    print("ALL-OK")
""")


def _python(code, *args, onednn=None, timeout=300):
    """Run ``code`` in a fresh Python whose TF_ENABLE_ONEDNN_OPTS is ``onednn`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("onednn", [None, "0"], ids=["package-default-onednn-on", "opt-out"])
@pytest.mark.parametrize("feature_channels", [0, 8], ids=["rgb-input", "8-channel-features"])
def test_every_gradient_method_survives_projection_shortcuts(feature_channels, onednn):
    script = SCRIPT.replace("{methods!r}", repr(GRADIENT_METHODS))
    done = _python(script, feature_channels, onednn=onednn, timeout=600)
    assert done.returncode == 0 and "ALL-OK" in done.stdout, done.stderr[-3000:]


@pytest.mark.parametrize("size, channels", [(32, 3), (32, 8), (224, 3)])
def test_the_walker_rewrite_survives_eager_gradients_with_onednn_on(size, channels):
    done = _python(EAGER_WALKER_SCRIPT, size, channels, onednn="1")
    assert done.returncode == 0 and "ALL-OK" in done.stdout, done.stderr[-3000:]


#: Imports the package, then TensorFlow; prints the variable and whether TensorFlow's
#: oneDNN kernels are on.
SETTING_AFTER_PACKAGE = (
    "import os, dial_visualization, tensorflow\n"
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), _pywrap_util_port.IsMklEnabled())")


def test_importing_the_package_first_leaves_tensorflows_default_onednn_on():
    done = _python(SETTING_AFTER_PACKAGE)
    assert done.stdout.strip() == "None True", done.stderr[-2000:]


def test_the_opt_out_is_respected():
    done = _python(SETTING_AFTER_PACKAGE, onednn="0")
    assert done.stdout.strip() == "0 False", done.stderr[-2000:]


#: Imports TensorFlow, then the package; prints the warnings it gave.
WARNINGS_AFTER_TENSORFLOW = (
    "import warnings, tensorflow\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    import dial_visualization\n"
    "print([str(w.message) for w in caught if 'oneDNN' in str(w.message)])")


def test_tensorflow_loaded_first_with_onednn_on_needs_no_warning():
    done = _python(WARNINGS_AFTER_TENSORFLOW)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
