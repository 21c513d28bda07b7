"""TensorFlow settings that must be made before TensorFlow is first imported.

oneDNN is left on (TensorFlow's own default on x86-64); ``TF_ENABLE_ONEDNN_OPTS=0`` in the
environment before TensorFlow is imported turns it off, and the package respects it.

Upstream bug (drop the walker's remedy when TensorFlow fixes it): with TensorFlow 2.20
and 2.21 as installed from PyPI (Keras 3.15), on x86-64 CPUs with AVX-512 (seen on AMD
EPYC and Intel Xeon: avx512f/bw/dq/vl/vnni/bf16), oneDNN corrupts the heap when it computes
the input gradient of a 1x1 convolution with stride 2 over 1, 3, 8 or 12 input channels
(the projection shortcut of ResNet/Xception-style models), and of 1x1 stride-2 depthwise and
separable convolutions over 1 channel. The process aborts with ``malloc(): corrupted top
size`` / ``free(): invalid pointer`` or a segmentation fault, not on every run.
Reproduction::

    inp = keras.Input((32, 32, 3))
    out = keras.layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False)(inp)
    m = keras.Model(inp, out); x = tf.zeros((1, 32, 32, 3))
    with tf.GradientTape() as t:
        t.watch(x); y = tf.reduce_sum(m(x))
    t.gradient(y, x)  # aborts

Measured here (Intel Xeon, AVX-512, TF 2.21), one process per case, 5 eager and 5 traced
gradients each, 32x32 and 15x15 inputs, "valid" and "same": 1x1 stride-2 ``Conv2D`` aborted
on 32x32 with 1, 3, 8 and 12 channels (8 of 8 cases), ``DepthwiseConv2D`` and
``SeparableConv2D`` 1x1 stride 2 on 32x32 with 1 channel (4 of 4; the separable one also
as a TensorFlow ``AbortedError`` "could not get a native handle" before the heap
corruption); none aborted on 15x15, with 3x3 kernels, on ``Conv1D`` or on
``Conv2DTranspose``.

Measured again on AMD EPYC (AVX-512, TF 2.21), one process per channel count, 32x32,
56x56 and 15x15, "valid" and "same", 5 eager and 5 traced gradients: a 1x1 stride-2
``Conv2D`` aborted on every input channel count tried below 16 (1-15) and on none from 16
(16, 17, 18, 20, 23, 24, 28, 32, 33, 40, 48, 64, 256, 1024), whatever its output count
(64 -> 3, 16 -> 1, 20 -> 2 ran clean); ``DepthwiseConv2D`` aborted on 1 channel, not on 16,
32, 64; ``SeparableConv2D`` ran clean on 16 and 64; batch 1 and 4 alike.

The remedy is the graph walker (``core/walker.py``): it never runs a 1x1 strided
convolution (plain, grouped, depthwise, separable; 1-D, 2-D, 3-D) on fewer than 64 input
channels (``walker.REWRITE_BELOW_CHANNELS``, a margin over 16 for wider vector units), it
computes it as a strided slice then a stride-1 convolution, exactly. Every method reaches
the model through the walker, so every method is safe with oneDNN on;
``tests/core/test_onednn_net.py`` runs every method over every ``keras.applications``
architecture and over these shapes with oneDNN on, each group in a process of its own, and
fails on any abort.

Before issue 16 the package turned oneDNN off whenever the variable was
unset. That cost every user 1.39x forward and 1.65x gradient throughput on MobileNetV2
(1.12x / 1.67x on VGG16; ``benchmarks/RESULTS.md``) for a crash the walker already avoids.
What oneDNN does not protect: gradients your own code computes through ``model(x)`` in the
same process (not through the walker) on the shapes above. Set ``TF_ENABLE_ONEDNN_OPTS=0``
there.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: How to turn oneDNN off (before TensorFlow is imported).
OPT_OUT = f"set {VARIABLE}=0 in the environment before TensorFlow is imported " \
          f"(e.g. first line: import os; os.environ['{VARIABLE}'] = '0')"


def onednn_enabled() -> bool:
    """Whether TensorFlow (loaded now, or when it will be) uses oneDNN kernels: on unless
    ``TF_ENABLE_ONEDNN_OPTS`` says 0, false or off."""
    return os.environ.get(VARIABLE, "1").strip().lower() not in ("0", "false", "off")


def configure() -> None:
    """Called when the package is imported, before TensorFlow is: leaves oneDNN to
    TensorFlow's own default (on) or to the user's ``TF_ENABLE_ONEDNN_OPTS``.

    Nothing is set: the graph walker avoids the kernels that crash (see above).
    """


#: What TensorFlow's native code prints on a machine without a GPU at import and at the
#: first device query, before its logging honours ``TF_CPP_MIN_LOG_LEVEL``: information
#: lines (``I0000 ...``), absl's note that logging is not initialised yet, and CUDA's probe
#: failing for want of a driver.
_NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} |W\d{4} .*(cuda|gpu)"
    r"|E\d{4} .*(cuInit|cuda_platform|cuda_driver|cuda_diagnostics)"
    r"|To enable the following instructions:)", re.IGNORECASE)


def import_tensorflow_quietly():
    """Import TensorFlow and let it find its devices with the native noise filtered out.

    For the command line and the app, where a user reads stderr: the lines above are
    dropped, anything else TensorFlow prints (a real error) is passed on. File descriptor
    2 is redirected meanwhile, so this must run before other threads write to it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later native logging: warnings up
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _native_stderr_filtered(_NATIVE_NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices()  # CUDA's probe (cuInit) reports here
    return tf


@contextlib.contextmanager
def _native_stderr_filtered(noise: re.Pattern):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not noise.match(line):
                    print(line, file=sys.stderr)
