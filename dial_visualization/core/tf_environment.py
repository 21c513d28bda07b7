"""TensorFlow settings that must be made before TensorFlow is first imported.

Upstream bug (remove this module's remedy when TensorFlow fixes it): with TensorFlow 2.20
and 2.21 as installed from PyPI (Keras 3.15), on x86-64 CPUs with AVX-512 (seen on AMD
EPYC and Intel Xeon: avx512f/bw/dq/vl/vnni/bf16), oneDNN corrupts the heap when it computes
the input gradient of a 1x1 convolution with stride 2 over 1, 3, 8 or 12 input channels
(the projection shortcut of ResNet/Xception-style models). The process aborts with
``malloc(): corrupted top size`` / ``free(): invalid pointer`` or a segmentation fault, not
on every run. Reproduction::

    inp = keras.Input((224, 224, 3))
    out = keras.layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False)(inp)
    m = keras.Model(inp, out); x = tf.zeros((1, 224, 224, 3))
    with tf.GradientTape() as t:
        t.watch(x); y = tf.reduce_sum(m(x))
    t.gradient(y, x)  # aborts

Measured here (Intel Xeon, AVX-512, TF 2.21): the eager gradient above aborts in 2 of 2
runs for 32x32 inputs with 3 or 8 channels; the same gradient inside ``tf.function`` ran
clean in 9 of 9 runs; computing the convolution as a strided slice then a stride-1 1x1
convolution ran clean in every eager run.

Remedies, in two layers:

1. ``TF_ENABLE_ONEDNN_OPTS=0`` before TensorFlow is imported (TensorFlow's own kernels): the
   whole process is safe, also the user's own code and shapes not yet seen to crash. It
   costs gradient throughput (about 1.6x on MobileNetV2 and VGG16 here, see
   ``benchmarks/RESULTS.md``). An explicit value set by the user is respected, so
   ``TF_ENABLE_ONEDNN_OPTS=1`` buys the speed back knowingly.
2. The graph walker (``core/tf_ops.py``) never runs a 1x1 strided convolution: every method
   stays safe where TensorFlow was loaded with oneDNN on (a host application, a notebook).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
FIX = f"set {VARIABLE}=0 in the environment before TensorFlow is imported " \
      f"(e.g. first line: import os; os.environ['{VARIABLE}'] = '0')"


class OneDNNWarning(RuntimeWarning):
    """TensorFlow was loaded with oneDNN on: some gradients may crash the process."""


def onednn_enabled() -> bool:
    """Whether TensorFlow (loaded now, or when it will be) uses oneDNN kernels."""
    return os.environ.get(VARIABLE, "1").strip().lower() not in ("0", "false", "off")


def configure() -> None:
    """Turn oneDNN off if TensorFlow is not loaded yet; warn with the fix if it is on."""
    if "tensorflow" not in sys.modules and not os.environ.get(VARIABLE, "").strip():
        os.environ[VARIABLE] = "0"  # unset or empty; an explicit choice is kept
    if onednn_enabled():
        warnings.warn(
            "TensorFlow runs with oneDNN on: on AVX-512 CPUs, gradients through 1x1 "
            "stride-2 convolutions can abort the whole process (TensorFlow 2.20/2.21 bug). "
            "dial_visualization's methods avoid that convolution, but other gradients in "
            f"this process may not. To be safe, {FIX}.", OneDNNWarning, stacklevel=3)


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
