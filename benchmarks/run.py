"""How fast and how lean every method is, against lower bounds measured on the same machine.

For each model -- ``keras.applications`` MobileNetV2 and VGG16 with random weights
(224x224x3, nothing is downloaded) and the demo model when it is present -- this script
measures, in one process:

1. Throughput, in images per second, for batch sizes 1, 4, 8, 16, 32: a forward pass, and
   a forward pass plus the gradient of one class score with respect to the input. Each is
   measured through ``core.tf_ops`` (``score_function`` / ``input_gradient_function``: the
   traced functions the methods run) and through a plain ``model(x)`` ``tf.function`` (the
   reference). The faster of the two at its best batch size is the bound; a
   forward+backward pass at batch 1 is the bound of the one-image methods.
2. Every method, run through ``core.explain.run`` (the real code path) on a random RGB
   image for the model's top class (the index is passed, so no method spends a forward
   pass finding it): the first call (tracing included; the method's traced functions and
   measured batch sizes are dropped before it), for a batched method the warm-up runs that
   finish measuring its automatic batch size (``core.batch_size``; the size chosen and the
   runs it took are printed), and ``--repeats`` calls after that. Each call is compared with
   the least time the method's own work takes at the throughput measured again right after
   it (the table's best function, batch size and input, timed anew), and the ratio printed
   is the median of those per-call ratios:

   ======================================  ===========================================  ======
   method                                  lower bound                                  target
   ======================================  ===========================================  ======
   integrated-gradients (N steps)          N + 1 path points, forward+backward, batched  1.25x
   smoothgrad (S samples, saliency)        S forward+backward, batched                   1.25x
   occlusion (patch p, stride s)           windows + 1 forward, batched                  1.25x
   score-cam                               evaluated channels forward, batched           1.25x
   rise (N masks)                          N forward, batched                            1.25x
   lime (N samples)                        N forward, batched (the segmentation and the  1.25x
                                           fit are outside it: their share is printed)
   expected-gradients (N samples)          N forward+backward, batched                   1.25x
   saliency, guided-backprop, grad-cam,    1 forward+backward at batch 1                 1.5x
   grad-cam-plus-plus, deconvnet,
   gradient-x-input
   activation-maximization (N steps)       N forward+backward at batch 1                 1.3x
   ======================================  ===========================================  ======

3. First calls (``--no-first-calls`` skips them), per model, each scenario in a fresh child
   process: the single-pass methods (saliency, guided-backprop, grad-cam,
   grad-cam-plus-plus) run one after the other for the top class, as when a method is
   dropped on a prediction in the app: "cold" with nothing traced (the second method's
   first call is the row below the first's), and after ``core.warm_up.warm_up`` (what the
   app runs in the background when a model is loaded). Each is shown against the
   method's steady state; target: the first tile within 1 s once warmed up.
4. Memory: the peak resident set size of every method at its defaults on each of
   ``--memory-models`` (VGG16, ResNet50, EfficientNetB0), each in a child process of its
   own (its ``ru_maxrss``, TensorFlow and the model included), stopped after
   ``--memory-batches`` batches (by then every automatic batch size was tried, the largest
   too); target: under 4 GB.

Settings per method are in ``SETTINGS`` and printed with the results (on VGG16: fewer
steps and samples, the 64 most active Score-CAM channels and a coarser occlusion grid, to
keep the run short). Every timing is a median, and each bound is timed next to the run it
bounds, so that a busy moment of the machine moves method and bound alike; still, run it on
a quiet machine.

Usage (from the repository root; the full run takes a long while on a small CPU)::

    .venv/bin/python benchmarks/run.py                        # everything
    .venv/bin/python benchmarks/run.py --quick --models demo  # smoke test, about 2 minutes
    .venv/bin/python benchmarks/run.py --markdown             # tables for benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --models vgg16 --methods saliency,occlusion --repeats 5

    # What oneDNN gives: the throughput tables with oneDNN off and on (TensorFlow's and
    # the package's default).
    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/run.py --throughput-only
    .venv/bin/python benchmarks/run.py --throughput-only

The script never sets ``TF_ENABLE_ONEDNN_OPTS`` itself, and neither does the package: unset,
TensorFlow runs with oneDNN on; a value given in the environment is the one measured.
Options:

``--models``           comma list of mobilenetv2, vgg16, demo, resnet50, efficientnetb0
                       (default: the first three)
``--methods``          comma list of method ids (default: every benchmarked method);
                       methods not registered are skipped with a note
``--repeats``          warm runs per method, and timings per throughput point (default 3)
``--batch-sizes``      comma list for the throughput table (default 1,4,8,16,32; quick 1,8)
``--quick``            96x96 inputs, few steps and samples: checks that the script runs
``--throughput-only``  only the machine and throughput tables
``--markdown``         print the tables as Markdown
``--device``           auto, cpu or gpu (as in the API; default auto)
``--memory-models``    models of the memory rows (default vgg16,resnet50,efficientnetb0;
                       empty: no memory rows)
``--memory-batches``   stop each memory run after N batches (0: run to the end; default 10,
                       quick: 3)
``--no-first-calls``   skip the first-call tables

The comparison with other libraries is ``benchmarks/peers.py``; the metrics against
Quantus and xplique are ``benchmarks/metrics_agreement.py``.

Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import dial_visualization as dv  # noqa: I001 -- first, before TensorFlow

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from dial_visualization.core import explain, tf_ops, walker
from dial_visualization.core.context import Context, Target
from dial_visualization.core.errors import Cancelled
from dial_visualization.core.registry import HandlerConfiguration, NodeType
from dial_visualization.core.tf_environment import VARIABLE, onednn_enabled

FULL_SIZE, QUICK_SIZE = 224, 96
MODELS = ("mobilenetv2", "vgg16", "demo")
ALL_MODELS = MODELS + ("resnet50", "efficientnetb0")
SINGLE_PASS = ("saliency", "guided-backprop", "grad-cam", "grad-cam-plus-plus")
#: One forward+backward pass at batch 1 too, but not in the first-call tables.
ONE_PASS = SINGLE_PASS + ("deconvnet", "gradient-x-input")
METHODS = ("saliency", "guided-backprop", "integrated-gradients", "smoothgrad", "grad-cam",
           "grad-cam-plus-plus", "score-cam", "occlusion", "activation-maximization",
           "rise", "lime", "expected-gradients", "deconvnet", "gradient-x-input")
TARGET_BATCHED, TARGET_SINGLE_PASS, TARGET_ACTIVATION_MAXIMIZATION = 1.25, 1.5, 1.3

#: Parameters per method: full run, VGG16 overrides of the full run, quick run.
SETTINGS = {
    "full": {"integrated-gradients": {"steps": 64}, "smoothgrad": {"samples": 32},
             "occlusion": {"patch": 16, "stride": 8}, "activation-maximization": {"steps": 256},
             "rise": {"masks": 512}, "lime": {"samples": 256},
             "expected-gradients": {"samples": 64}},
    "vgg16": {"integrated-gradients": {"steps": 32}, "smoothgrad": {"samples": 16},
              "occlusion": {"patch": 32, "stride": 16}, "score-cam": {"top_n": 64},
              "activation-maximization": {"steps": 32}, "rise": {"masks": 128},
              "lime": {"samples": 128}, "expected-gradients": {"samples": 32}},
    "quick": {"integrated-gradients": {"steps": 8}, "smoothgrad": {"samples": 4},
              "occlusion": {"patch": 32, "stride": 16}, "score-cam": {"top_n": 16},
              "activation-maximization": {"steps": 8}, "rise": {"masks": 32},
              "lime": {"samples": 32}, "expected-gradients": {"samples": 8}},
}
#: The batched methods' automatic batch size: measured on passes with an input gradient (True)
#: or forward only (False); warm-up runs go on while they time batch sizes, at most
#: MAX_TUNING_RUNS.
TUNED = {"integrated-gradients": True, "smoothgrad": True, "occlusion": False,
         "score-cam": False, "rise": False, "lime": False, "expected-gradients": True}
MAX_TUNING_RUNS = 20
#: Memory: every method at its defaults, on each of these models, each in a child process.
MEMORY_MODELS = ("vgg16", "resnet50", "efficientnetb0")
MEMORY_LIMIT_BYTES = 4e9
FIRST_TILE_SECONDS = 1.0
IMAGE_SEED = 0
SHORT_BOUND_SECONDS = 0.05
MIN_TIMING_SECONDS = 0.25  # throughput: calls are looped until one timing lasts this long


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- output

def print_table(title: str, headers: list[str], rows: list[list[str]], markdown: bool,
                notes: list[str] = ()) -> None:
    if markdown:
        print(f"\n### {title}\n")
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
        print(f"\n{title}")
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    sys.stdout.flush()


def seconds_text(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 100 else f"{seconds:.3g}"


def settings_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


# --------------------------------------------------------------------------- machine

def machine_rows(device: str) -> list[list[str]]:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        lines = cpuinfo.read().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
               platform.processor() or "unknown")
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    gpus = [gpu.name for gpu in tf.config.list_physical_devices("GPU")]
    setting = os.environ.get(VARIABLE, "(unset)")
    return [
        ["CPU", cpu],
        ["cores", f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)"],
        ["AVX-512", "yes" if "avx512f" in flags else "no"],
        ["Python", platform.python_version()],
        ["TensorFlow", tf.__version__],
        ["Keras", keras.__version__],
        ["oneDNN", f"{VARIABLE}={setting}: {'on' if onednn_enabled() else 'off'}"],
        ["device", f"{device} ({', '.join(gpus) if gpus else 'no GPU visible: CPU'})"],
    ]


# --------------------------------------------------------------------------- models

def build_model(name: str, size: int):
    """The model ``name`` with random weights (seeded), or None when the demo is absent."""
    keras.utils.set_random_seed(0)
    if name == "mobilenetv2":
        return keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3))
    if name == "vgg16":
        return keras.applications.VGG16(weights=None, input_shape=(size, size, 3))
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=(size, size, 3))
    if name == "efficientnetb0":
        return keras.applications.EfficientNetB0(weights=None, input_shape=(size, size, 3))
    path = dv.demo_paths()["model"]
    return dv.load_model(path) if path.is_file() else None


def setup(model, device: str) -> tuple[Context, Target]:
    """A context holding a random RGB image, and a target for the model's top class."""
    pixels = np.random.default_rng(IMAGE_SEED).integers(0, 256, (FULL_SIZE, FULL_SIZE, 3),
                                                        dtype=np.uint8)
    context = Context(model=model, image=dv.load_image(pixels, model), device=device)
    top = int(np.argmax(context.outputs()))
    return context, Target(NodeType.PREDICTION, None, top)


# --------------------------------------------------------------------------- throughput

@dataclass
class Bounds:
    forward_rate: float  # images per second, best batch size
    gradient_rate: float  # forward + input gradient, images per second, best batch size
    gradient_seconds: float | None  # one forward + input gradient at batch 1
    #: per field: a fresh measurement of it (the same function, batch size and input)
    measure: dict[str, Callable[[], float]] = field(default_factory=dict)

    def remeasured(self, name: str) -> "Bounds":
        """These bounds with ``name`` measured again (the machine's speed drifts)."""
        if name not in self.measure:
            return self
        return replace(self, **{name: self.measure[name]()})


def seconds_per_call(function, x, repeats: int, warm_up: bool = True) -> float:
    """Median seconds of ``function(x)`` (results fetched), after a warm-up call unless
    ``function`` ran on ``x`` before."""

    def call():
        return tf.nest.map_structure(np.asarray, function(x))

    if warm_up:
        call()
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    loops = max(1, int(np.ceil(MIN_TIMING_SECONDS / max(once, 1e-6))))
    timings = [once] if loops == 1 else []  # a slow call is a timing of its own
    while len(timings) < repeats:
        start = time.perf_counter()
        for _ in range(loops):
            call()
        timings.append((time.perf_counter() - start) / loops)
    return statistics.median(timings)


def throughput_functions(model, index: int, device: str) -> dict[str, Callable]:
    """Forward and forward+gradient, through tf_ops and through plain ``model(x)``."""
    index_tensor = tf.constant([index], tf.int32)
    score = tf_ops.score_function(model, device=device)
    gradient = tf_ops.input_gradient_function(model, device=device)

    @tf.function(reduce_retracing=True)
    def plain_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = walker.select(model(x, training=False), 0)[:, index]
        return tape.gradient(scores, x)

    return {
        "forward tf_ops": lambda x: score(x, index_tensor),
        "forward plain": tf.function(lambda x: model(x, training=False), reduce_retracing=True),
        "fwd+grad tf_ops": lambda x: gradient(x, index_tensor),
        "fwd+grad plain": plain_gradient,
    }


def measure_throughput(model, context: Context, target: Target, batch_sizes: list[int],
                       repeats: int) -> tuple[Bounds, list[list[str]], list[str]]:
    functions = throughput_functions(model, target.index, context.device)
    rates = {name: {} for name in functions}
    seconds_at_1 = {}
    with tf_ops.device_scope(context.device):
        for batch_size in batch_sizes:
            x = tf.constant(np.repeat(context.image.batch(), batch_size, axis=0))
            for name, function in functions.items():
                log(f"  throughput: {name}, batch {batch_size}")
                seconds = seconds_per_call(function, x, repeats)
                rates[name][batch_size] = batch_size / seconds
                if batch_size == 1:
                    seconds_at_1[name] = seconds

    def best(kind):
        return max(((rate, name, size) for name in functions if name.startswith(kind)
                    for size, rate in rates[name].items()))

    forward, gradient = best("forward"), best("fwd+grad")
    inputs = {size: tf.constant(np.repeat(context.image.batch(), size, axis=0))
              for size in (forward[2], gradient[2])}

    def rate(name, size):
        return lambda: size / seconds_per_call(functions[name], inputs[size], 1, False)

    measure = {"forward_rate": rate(forward[1], forward[2]),
               "gradient_rate": rate(gradient[1], gradient[2])}
    rows = [[str(size)] + [f"{rates[name][size]:.1f}" for name in functions]
            for size in batch_sizes]
    notes = [f"bound, forward: {forward[0]:.1f} images/s ({forward[1]}, batch {forward[2]})",
             f"bound, forward+gradient: {gradient[0]:.1f} images/s "
             f"({gradient[1]}, batch {gradient[2]})"]
    gradient_seconds = None
    if seconds_at_1:
        name = min((s, n) for n, s in seconds_at_1.items() if n.startswith("fwd+grad"))[1]
        gradient_seconds = seconds_at_1[name]
        one = tf.constant(context.image.batch())
        measure["gradient_seconds"] = lambda: seconds_per_call(functions[name], one, 3, False)
        notes.append(f"bound, one forward+backward at batch 1: "
                     f"{seconds_text(gradient_seconds)} s ({name})")
    else:
        notes.append("batch size 1 not measured: no bound for the one-image methods")
    return Bounds(forward[0], gradient[0], gradient_seconds, measure), rows, notes


# --------------------------------------------------------------------------- methods

def method_params(model_name: str, method: str, quick: bool) -> dict:
    if quick:
        return dict(SETTINGS["quick"].get(method, {}))
    params = dict(SETTINGS["full"].get(method, {}))
    if model_name == "vgg16":
        params.update(SETTINGS["vgg16"].get(method, {}))
    return params


def window_count(size: int, patch: int, stride: int) -> int:
    """Occlusion windows along one axis: the last one is aligned to the border."""
    patch = min(patch, size)
    starts = len(range(0, size - patch + 1, stride))
    return starts + int((starts - 1) * stride + patch < size)


def bound_field(method: str) -> str:
    """The field of :class:`Bounds` that ``method``'s lower bound comes from."""
    if method not in TUNED:  # single-pass methods and activation maximization
        return "gradient_seconds"
    return "gradient_rate" if TUNED[method] else "forward_rate"


def lower_bound(method: str, result, image_shape, bounds: Bounds) -> tuple[float, str, float]:
    """(seconds, the work it stands for, target ratio) of ``method`` as ``result`` ran it."""
    params = result.params
    if method in ONE_PASS or method == "activation-maximization":
        passes = params["steps"] if method == "activation-maximization" else 1
        target = TARGET_SINGLE_PASS if method in ONE_PASS else TARGET_ACTIVATION_MAXIMIZATION
        if bounds.gradient_seconds is None:
            return float("nan"), "batch 1 not measured", target
        return passes * bounds.gradient_seconds, f"{passes} fwd+bwd @ batch 1", target
    if method in ("integrated-gradients", "smoothgrad", "expected-gradients"):
        passes = params["steps"] + 1 if method == "integrated-gradients" else params["samples"]
        return passes / bounds.gradient_rate, f"{passes} fwd+bwd batched", TARGET_BATCHED
    if method in ("rise", "lime"):
        passes = params["masks"] if method == "rise" else params["samples"]
        return passes / bounds.forward_rate, f"{passes} fwd batched", TARGET_BATCHED
    if method == "occlusion":
        height, width = image_shape[:2]
        passes = 1 + (window_count(height, params["patch"], params["stride"])
                      * window_count(width, params["patch"], params["stride"]))
    else:  # score-cam
        passes = result.info["channels"]
    return passes / bounds.forward_rate, f"{passes} fwd batched", TARGET_BATCHED


def timed_run(method: str, context: Context, target: Target, params: dict):
    """(result, seconds) of one run on a copy of ``context`` that has not kept the model's
    output: each run computes the class score of its title, as a run in the app does."""
    context = replace(context)
    start = time.perf_counter()
    result = explain.run(method, context, target, params)
    return result, time.perf_counter() - start


def method_row(method: str, context: Context, target: Target, params: dict,
               bounds: Bounds, repeats: int) -> tuple[list[str], float, float, object]:
    """The table row of ``method``, its bound and its median in seconds, and its result."""
    # Drop the model's traced functions and measured batch sizes, so that the first call
    # shows this method's tracing, and its automatic batch size is measured anew.
    tf_ops.forget(context.model)
    log(f"  {method}: first call")
    result, first = timed_run(method, context, target, params)
    tuner = (tf_ops.auto_batch_size(context.model, TUNED[method]) if method in TUNED
             and not params.get("batch_size") else None)
    tuning_runs, timings = 0, None
    while (tuner is not None and timings != tuner.seconds_per_item
           and tuning_runs < MAX_TUNING_RUNS):
        timings = tuner.seconds_per_item  # a run that times no batch size ends the warm-up
        log(f"  {method}: warm-up run {tuning_runs + 1} (measuring batch sizes)")
        timed_run(method, context, target, params)
        tuning_runs += 1
    batch = "-" if tuner is None else f"{tuner.fastest} (+{tuning_runs} runs)"
    warm, bound_seconds, ratios = [], [], []
    for repeat in range(repeats):
        gc.collect()
        log(f"  {method}: run {repeat + 1}/{repeats}, then its bound")
        warm.append(timed_run(method, context, target, params)[1])
        fresh = bounds.remeasured(bound_field(method))
        bound, work, goal = lower_bound(method, result, context.image.array.shape, fresh)
        bound_seconds.append(bound)
        ratios.append(warm[-1] / bound)
    median, bound, ratio = (statistics.median(values) for values in (warm, bound_seconds, ratios))
    verdict = "-" if np.isnan(ratio) else ("PASS" if ratio <= goal else "MISS")
    return [method, settings_text(params), batch, seconds_text(first), seconds_text(median),
            seconds_text(bound), work, f"{ratio:.2f}x", f"<= {goal}x", verdict], bound, median, \
        result


def lime_fit_note(context: Context, result, median: float, repeats: int) -> str:
    """LIME's work outside the model calls, timed alone: the segmentation, the samples'
    kernel weights and the ridge fit (on the run's own superpixel and sample counts)."""
    from sklearn.linear_model import Ridge

    from dial_visualization.core.methods import lime

    params = result.params
    labels = result.info["superpixels"]
    z = lime.samples_on(params["samples"], int(labels.max()) + 1, params["seed"])
    scores = np.random.default_rng(0).random(len(z))

    def segment_and_fit():
        lime.superpixels(context.image.resized, params["segmentation"], params["segments"],
                         params["compactness"], params["seed"])
        Ridge(alpha=params["alpha"]).fit(z, scores, sample_weight=lime.kernel_weights(z))

    timings = []
    for _ in range(max(3, repeats)):
        start = time.perf_counter()
        segment_and_fit()
        timings.append(time.perf_counter() - start)
    seconds = statistics.median(timings)
    return (f"lime: the segmentation and the ridge fit, timed alone, take {seconds_text(seconds)} "
            f"s, {100 * seconds / median:.0f}% of its median run (outside the bound)")


def benchmark_methods(model_name: str, context: Context, target: Target, bounds: Bounds,
                      args) -> tuple[list[list[str]], list[str]]:
    registered = HandlerConfiguration.default().all()
    rows, notes, short = [], [], False
    for method in args.methods:
        if method not in registered:
            notes.append(f"{method}: not registered yet, skipped")
            continue
        params = method_params(model_name, method, args.quick)
        try:
            row, bound, median, result = method_row(method, context, target, params, bounds,
                                                    args.repeats)
        except Exception as error:  # report and go on with the next method
            log(f"  {method} failed: {type(error).__name__}: {error}")
            notes.append(f"{method}: failed: {type(error).__name__}: {str(error)[:200]}")
            continue
        rows.append(row)
        short = short or bound < SHORT_BOUND_SECONDS
        if method == "lime":
            notes.append(lime_fit_note(context, result, median, args.repeats))
    if short:
        notes.append(f"bounds under {SHORT_BOUND_SECONDS * 1000:.0f} ms: there the ratio mostly "
                     "measures each run's fixed costs (dispatch, copies, building the result)")
    return rows, notes


# --------------------------------------------------------------------------- memory

def resident_bytes() -> int:
    with open("/proc/self/status", encoding="utf-8") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def memory_child(model_name: str, method: str, args) -> None:
    """Run one memory case; print a JSON line with the peak resident set size."""
    model = build_model(model_name, args.size)
    context, target = setup(model, args.device)
    before = resident_bytes()
    polls = 0

    def should_stop():
        nonlocal polls
        polls += 1
        return bool(args.memory_batches) and polls > args.memory_batches

    start = time.perf_counter()
    try:
        explain.run(method, context, target, {}, should_stop=should_stop)
        completed = True
    except Cancelled:
        completed = False
    print(json.dumps({
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "before": before,
        "seconds": time.perf_counter() - start, "completed": completed}))


def memory_row(model_name: str, method: str, args) -> list[str]:
    command = [sys.executable, os.path.abspath(__file__), "--memory-child",
               f"{model_name}:{method}", "--size", str(args.size), "--memory-batches",
               str(args.memory_batches), "--device", args.device]
    log(f"  memory: {model_name} {method} (child process)")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return [model_name, method, "-", "-", "-", f"failed: {tail[0][:200]}", "MISS"]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    ran = "all" if report["completed"] else f"first {args.memory_batches} batches"
    return [model_name, method, ran, f"{report['before'] / 1e9:.2f}",
            f"{report['peak'] / 1e9:.2f}", f"{report['seconds']:.1f}",
            "PASS" if report["peak"] < MEMORY_LIMIT_BYTES else "MISS"]


# --------------------------------------------------------------------------- first calls

def first_call_child(model_name: str, scenario: str, args) -> None:
    """In a fresh process: the single-pass methods' first calls one after the other (the
    top class, picked in the gradient pass, as when a method is dropped on a prediction), after
    :func:`warm_up` when ``scenario`` is "warm"; then their steady state. One JSON line."""
    from dial_visualization.core.warm_up import warm_up

    model = build_model(model_name, args.size)
    pixels = np.random.default_rng(IMAGE_SEED).integers(0, 256, (FULL_SIZE, FULL_SIZE, 3),
                                                        dtype=np.uint8)
    context = Context(model=model, image=dv.load_image(pixels, model), device=args.device)
    top = Target(NodeType.PREDICTION, None, None)
    report = {"warm_up": None, "first": {}, "steady": {}}
    if scenario == "warm":
        report["warm_up"] = warm_up(model, context.image.array.shape, device=args.device).total
    for method in SINGLE_PASS:
        report["first"][method] = timed_run(method, context, top, {})[1]
    for method in SINGLE_PASS:
        report["steady"][method] = statistics.median(
            timed_run(method, context, top, {})[1] for _ in range(max(3, args.repeats)))
    print(json.dumps(report))


def first_call_rows(model_name: str, args) -> tuple[list[list[str]], list[str]]:
    reports = {}
    for scenario in ("cold", "warm"):
        command = [sys.executable, os.path.abspath(__file__), "--first-call-child",
                   f"{model_name}:{scenario}", "--size", str(args.size), "--device",
                   args.device, "--repeats", str(args.repeats)]
        log(f"  first calls: {model_name}, {scenario} (child process)")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            return [], [f"first calls ({scenario}) failed: {tail[0][:200]}"]
        reports[scenario] = json.loads(done.stdout.strip().splitlines()[-1])
    rows = []
    for position, method in enumerate(SINGLE_PASS):
        steady = reports["warm"]["steady"][method]
        cold, warm = reports["cold"]["first"][method], reports["warm"]["first"][method]
        rows.append([method, "first" if position == 0 else f"#{position + 1}",
                     seconds_text(cold), f"{cold / steady:.1f}x", seconds_text(warm),
                     f"{warm / steady:.1f}x", seconds_text(steady),
                     "PASS" if warm <= FIRST_TILE_SECONDS else "MISS"])
    notes = [f"warm-up (core.warm_up.warm_up, before the first method): "
             f"{reports['warm']['warm_up']:.2f} s",
             "cold: a fresh process, the methods run one after the other in this order, each "
             "for the top class (picked in the same gradient pass); a later method reuses what an "
             "earlier one traced (Grad-CAM++ Grad-CAM's function)",
             f"target: the first tile within {FIRST_TILE_SECONDS:g} s once warmed up"]
    return rows, notes


# --------------------------------------------------------------------------- main

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def names(text, known):
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in known]
        if unknown:
            parser.error(f"unknown {', '.join(unknown)} (choose from {', '.join(known)})")
        return chosen

    parser.add_argument("--models", default=",".join(MODELS), help="comma list (default: all)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--batch-sizes", help="throughput batch sizes (default 1,4,8,16,32)")
    parser.add_argument("--quick", action="store_true", help="96x96, few steps: a smoke test")
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the machine and throughput tables")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    parser.add_argument("--memory-batches", type=int,
                        help="stop memory runs after N batches (0: all; default 10, quick 3)")
    parser.add_argument("--memory-models", default=",".join(MEMORY_MODELS),
                        help="comma list of models for the memory rows (default: "
                             f"{','.join(MEMORY_MODELS)}; empty: none)")
    parser.add_argument("--no-first-calls", action="store_true",
                        help="skip the first-call table (two child processes per model)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--first-call-child", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.models = names(args.models, ALL_MODELS)
    args.memory_models = names(args.memory_models, ALL_MODELS)
    args.methods = names(args.methods, METHODS)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("1,8" if args.quick
                                                              else "1,4,8,16,32")).split(",")]
    args.size = args.size or (QUICK_SIZE if args.quick else FULL_SIZE)
    if args.memory_batches is None:
        args.memory_batches = 3 if args.quick else 10
    return args


def main(argv=None) -> None:
    args = parse_arguments(argv)
    if args.memory_child:
        memory_child(*args.memory_child.split(":"), args)
        return
    if args.first_call_child:
        first_call_child(*args.first_call_child.split(":"), args)
        return
    print_table("Machine", ["item", "value"], machine_rows(args.device), args.markdown)
    for model_name in args.models:
        model = build_model(model_name, args.size)
        if model is None:
            print(f"\n{model_name}: skipped, {dv.demo_paths()['model']} does not exist")
            continue
        shape = "x".join(str(d) for d in model.inputs[0].shape[1:])
        log(f"{model_name} ({shape})")
        context, target = setup(model, args.device)
        bounds, rows, notes = measure_throughput(model, context, target, args.batch_sizes,
                                                 args.repeats)
        print_table(f"Throughput, {model_name} {shape} (images/s, median of {args.repeats})",
                    ["batch", "forward tf_ops", "forward plain", "fwd+grad tf_ops",
                     "fwd+grad plain"], rows, args.markdown, notes)
        if not args.throughput_only:
            rows, notes = benchmark_methods(model_name, context, target, bounds, args)
            print_table(f"Methods, {model_name} {shape} (seconds; top class {target.index})",
                        ["method", "settings", "auto batch", "first call",
                         f"median of {args.repeats}",
                         "bound", "bound is", "ratio", "target", "result"],
                        rows, args.markdown, notes)
            if not args.no_first_calls and any(m in args.methods for m in SINGLE_PASS):
                rows, notes = first_call_rows(model_name, args)
                print_table(f"First calls, {model_name} {shape} (seconds; against the steady "
                            "state)", ["method", "order", "cold first call", "/ steady",
                                       "first call after warm-up", "/ steady", "steady",
                                       "result"], rows, args.markdown, notes)
        del model, context
        keras.backend.clear_session()
        gc.collect()
    if args.throughput_only or not args.memory_models:
        return
    rows = [memory_row(model_name, method, args) for model_name in args.memory_models
            for method in args.methods]
    print_table(f"Peak resident memory, every method at its defaults, {args.size}x{args.size}x3 "
                "(GB, one child process each, TensorFlow and the model included; target "
                "< 4 GB)", ["model", "method", "ran", "before the run", "peak", "seconds",
                            "result"], rows, args.markdown)


if __name__ == "__main__":
    main()
