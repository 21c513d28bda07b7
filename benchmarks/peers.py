"""The same maps, side by side: dial-visualization against tf-keras-vis and xplique.

Every library explains the same saved models with the same inputs and parameters, and the
maps are compared (Pearson correlation of the first image's map) so that the same
computation is timed:

* models: ``keras.applications`` MobileNetV2, VGG16, ResNet50 (224x224x3, random weights,
  seeded, normalisation statistics set from 8 random pictures so that the network is
  alive), saved once as ``.keras`` and loaded by each library;
* inputs: random 8-bit RGB pixels scaled to [0, 1] (``preprocessing="unit"``: so that a
  black baseline is 0 for every library), the class explained is the first image's top
  class;
* methods (a library without the method gets "-"):

  ====================  ==============================================================
  saliency              max over channels of |d logit / d x|
  grad-cam, ++          the same layer (the last feature map before the pooling)
  score-cam             every channel of that layer, the model's probabilities
  integrated-gradients  50 steps from a black (0) baseline, summed over channels
  smoothgrad            20 samples, noise std 0.2 of the input's range
  occlusion             patch 32, stride 16, filled with 0, the logit's drop
  ====================  ==============================================================

  Two conventions differ and are mapped so that the computation is the same: xplique's
  integrated gradients ``steps`` counts the points of ``linspace(0, 1, steps)``,
  dial-visualization's counts the intervals (``steps + 1`` points), so xplique gets 51;
  xplique's occlusion sums each pixel's score drops over the windows covering it,
  dial-visualization (as Captum) averages them, so xplique's map is divided by its own
  windows' covering count (the same 13x13 windows at 224, patch 32, stride 16), its sign
  kept (it is a score drop, not a magnitude to take the absolute value of). Without
  the mapping the maps correlate 0.56 and 0.65 on MobileNetV2 (both trapezoid rules are
  right: a ReLU network's integral is far from converged at 50 steps, and one interval
  more moves the map).

* one image and 16 images per call (dial-visualization takes the 16 as one ``dv.explain``
  call on a list of images: its batched path, see ``core/batch_explain.py``; the peers
  take the batch);
* each library in a worker process of its own, which keeps its models and explainers
  between runs; the first ``--untimed`` calls of each row are not timed (tracing, cloning
  the model; dial-visualization's batch size tuner trying its sizes), then ``--repeats``
  timed runs, interleaved (A B C A B C), and the median is shown;
* a lower bound per row, measured in dial-visualization's worker: forward+backward passes
  at batch 1 for the single-pass methods, the best batched throughput for the others (as
  ``benchmarks/run.py`` measures it).

tf-keras-vis runs in the project's own environment (``pip install -e ".[bench]"``).
xplique 2.0.2 needs TensorFlow <= 2.20: it gets an environment of its own, built on first
use in ``benchmarks/.venv-xplique`` (``--xplique-venv``; several GB: TensorFlow with its
CUDA wheels); when it cannot be built its rows say so and the rest runs. Each library runs
with TensorFlow's default oneDNN setting (on), the same for all: the script passes the
environment on unchanged.

Usage (from the repository root)::

    .venv/bin/python benchmarks/peers.py --markdown
    .venv/bin/python benchmarks/peers.py --models mobilenetv2 --images 1 --repeats 5
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
XPLIQUE_VENV = ROOT / "benchmarks" / ".venv-xplique"
XPLIQUE_REQUIREMENTS = ("xplique==2.0.2", "tensorflow<=2.20")
SIZE = 224
MODELS = ("mobilenetv2", "vgg16", "resnet50")
#: The layer every class activation map weighs, per model.
CAM_LAYERS = {"mobilenetv2": "out_relu", "vgg16": "block5_conv3",
              "resnet50": "conv5_block3_out"}
METHODS = ("saliency", "grad-cam", "grad-cam-plus-plus", "score-cam", "integrated-gradients",
           "smoothgrad", "occlusion")
SINGLE_PASS = ("saliency", "grad-cam", "grad-cam-plus-plus")
LIBRARIES = ("dial-visualization", "tf-keras-vis", "xplique")
#: Not a peer: dial-visualization with oneDNN off (``--libraries
#: dial-visualization,dial-visualization-onednn-off``), timed interleaved with it, to
#: measure what oneDNN gives per method on this machine.
ONEDNN_OFF = "dial-visualization-onednn-off"
STEPS, SAMPLES, NOISE, PATCH, STRIDE = 50, 20, 0.2, 32, 16


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the workers

class Unavailable(Exception):
    """The library has no such method."""


def _maps(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _reduce(maps: np.ndarray, how: str) -> np.ndarray:
    """(N, H, W, C) attributions -> (N, H, W); (N, H, W) maps as they are."""
    if maps.ndim == 4:
        return np.abs(maps).max(axis=-1) if how == "max-abs" else maps.sum(axis=-1)
    return maps


class DialVisualization:
    def __init__(self):
        import dial_visualization as dv
        from dial_visualization.core import tf_ops

        self.dv, self.tf_ops = dv, tf_ops
        self.models, self.images = {}, {}

    def setup(self, model_name: str, path: str, x: np.ndarray):
        self.models[model_name] = model = self.dv.load_model(path)
        # unit preprocessing: x is already in [0, 1], load_image takes floats in [0, 1]
        self.images[model_name] = [self.dv.load_image(image, model, preprocessing="unit")
                                   for image in x]

    def run(self, model_name: str, method: str, count: int, index: int) -> np.ndarray:
        layer = CAM_LAYERS[model_name]
        params = {
            "saliency": {}, "grad-cam": {"layer": layer}, "grad-cam-plus-plus": {"layer": layer},
            "score-cam": {"layer": layer},
            "integrated-gradients": {"steps": STEPS, "baseline": "black"},
            "smoothgrad": {"samples": SAMPLES, "noise": NOISE},
            "occlusion": {"patch": PATCH, "stride": STRIDE, "fill": "zero", "score": "logit"},
        }[method]
        model = self.models[model_name]
        images = self.images[model_name][:count]
        if count == 1:
            return self.dv.explain(model, images[0], method, target=index, **params).data[None]
        # many images: the batched path (one stream of model calls over the images)
        return np.stack([result.data for result in
                         self.dv.explain(model, images, method, target=index, **params)])

    def bounds(self, model_name: str, x: np.ndarray, index: int) -> dict:
        """Seconds of one forward+backward at batch 1; forward and forward+backward images
        per second at their best batch size (the functions the methods run)."""
        import tensorflow as tf

        model = self.models[model_name]
        gradient = self.tf_ops.input_gradient_function(model)
        score = self.tf_ops.score_function(model, logits=False)
        classes = tf.constant([index])

        def seconds(function, batch, repeats=5):
            inputs = tf.constant(np.repeat(x[:1], batch, axis=0))
            tf.nest.map_structure(np.asarray, function(inputs, classes))
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                tf.nest.map_structure(np.asarray, function(inputs, classes))
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        return {"gradient_seconds": seconds(gradient, 1),
                "gradient_rate": max(b / seconds(gradient, b, 3) for b in (4, 8, 16)),
                "forward_rate": max(b / seconds(score, b, 3) for b in (8, 16, 32))}


class TfKerasVis:
    def __init__(self):
        import keras

        self.keras = keras
        self.models, self.x, self.explainers = {}, {}, {}

    def setup(self, model_name: str, path: str, x: np.ndarray):
        self.models[model_name] = self.keras.models.load_model(path)
        self.x[model_name] = x

    def _explainer(self, model_name, kind):
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        key = (model_name, kind)
        if key not in self.explainers:
            model = self.models[model_name]
            self.explainers[key] = {
                "saliency": lambda: Saliency(model, model_modifier=ReplaceToLinear(), clone=True),
                "grad-cam": lambda: Gradcam(model, model_modifier=ReplaceToLinear(), clone=True),
                "grad-cam-plus-plus": lambda: GradcamPlusPlus(
                    model, model_modifier=ReplaceToLinear(), clone=True),
                "score-cam": lambda: Scorecam(model, clone=True),  # probabilities
            }[kind]()
        return self.explainers[key]

    def run(self, model_name: str, method: str, count: int, index: int) -> np.ndarray:
        from tf_keras_vis.utils.scores import CategoricalScore

        if method in ("integrated-gradients", "occlusion"):
            raise Unavailable(method)
        x = self.x[model_name][:count]
        score = CategoricalScore([index] * count)
        layer = CAM_LAYERS[model_name]
        if method == "saliency":
            return _maps(self._explainer(model_name, "saliency")(score, x))
        if method == "smoothgrad":
            return _maps(self._explainer(model_name, "saliency")(
                score, x, smooth_samples=SAMPLES, smooth_noise=NOISE))
        if method == "score-cam":
            return _maps(self._explainer(model_name, method)(score, x, penultimate_layer=layer,
                                                             max_N=-1))
        return _maps(self._explainer(model_name, method)(score, x, penultimate_layer=layer))


class Xplique:
    def __init__(self):
        import keras

        self.keras = keras
        self.models, self.x, self.explainers = {}, {}, {}

    def setup(self, model_name: str, path: str, x: np.ndarray):
        model = self.keras.models.load_model(path)
        model.layers[-1].activation = self.keras.activations.linear  # logits, as xplique asks
        self.models[model_name] = model
        self.x[model_name] = x

    def run(self, model_name: str, method: str, count: int, index: int) -> np.ndarray:
        from xplique import attributions as xa

        if method == "score-cam":
            raise Unavailable(method)
        x = self.x[model_name][:count]
        targets = np.zeros((count, self.models[model_name].outputs[0].shape[-1]), np.float32)
        targets[:, index] = 1.0
        key = (model_name, method)
        if key not in self.explainers:
            model, layer = self.models[model_name], CAM_LAYERS[model_name]
            std = NOISE * float(x.max() - x.min())
            self.explainers[key] = {
                "saliency": lambda: xa.Saliency(model),
                "grad-cam": lambda: xa.GradCAM(model, conv_layer=layer),
                "grad-cam-plus-plus": lambda: xa.GradCAMPP(model, conv_layer=layer),
                # reducer None: per channel, reduced below as dial-visualization does;
                # xplique's steps are points, STEPS intervals are STEPS + 1 points
                "integrated-gradients": lambda: xa.IntegratedGradients(
                    model, steps=STEPS + 1, baseline_value=0.0, reducer=None),
                "smoothgrad": lambda: xa.SmoothGrad(model, nb_samples=SAMPLES, noise=std,
                                                    reducer=None),
                "occlusion": lambda: xa.Occlusion(model, patch_size=PATCH, patch_stride=STRIDE,
                                                  occlusion_value=0.0),
            }[method]()
        maps = _maps(self.explainers[key](x, targets))
        if method == "occlusion":  # (N, H, W, 1) signed sums over the windows -> means
            return maps[..., 0] / xplique_covering(x.shape[1:])
        return _reduce(maps, "sum" if method == "integrated-gradients" else "max-abs")


@functools.cache
def xplique_covering(shape: tuple) -> np.ndarray:
    """(H, W): how many of xplique's occlusion windows cover each pixel (1 where none
    does: its sum is 0 there), from xplique's own masks (2.0.2)."""
    from xplique.attributions import Occlusion

    masks = Occlusion._get_masks(shape, (PATCH, PATCH), (STRIDE, STRIDE))
    return np.maximum(np.asarray(masks, np.float32).sum(axis=0), 1.0)


WORKERS = {"dial-visualization": DialVisualization, "tf-keras-vis": TfKerasVis,
           "xplique": Xplique, ONEDNN_OFF: DialVisualization}


def worker(library: str) -> None:
    """Answer one JSON request per line of stdin with one JSON line; TensorFlow and the
    libraries may print what they like: it goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (progress bars) go to stderr, not into the protocol
    sys.stdout = sys.stderr
    library_object = WORKERS[library]()
    for line in sys.stdin:
        request = json.loads(line)
        answer = {}
        try:
            if request["do"] == "setup":
                library_object.setup(request["model"], request["path"], np.load(request["x"]))
            elif request["do"] == "bounds":
                answer = library_object.bounds(request["model"], np.load(request["x"]),
                                               request["index"])
            else:
                start = time.perf_counter()
                maps = library_object.run(request["model"], request["method"],
                                          request["count"], request["index"])
                answer["seconds"] = time.perf_counter() - start
                if request.get("save"):
                    np.save(request["save"], maps[0])
        except Unavailable:
            answer["unavailable"] = True
        except Exception as error:  # reported to the parent, which goes on
            answer["error"] = f"{type(error).__name__}: {str(error)[:300]}"
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


class Worker:
    """A library's worker process, asked one request at a time."""

    def __init__(self, library: str, python: str, log_path: Path):
        self.library = library
        self.log = open(log_path, "w")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONPATH=str(ROOT) if library != "xplique" else "")
        if library == ONEDNN_OFF:
            env["TF_ENABLE_ONEDNN_OPTS"] = "0"
        self.process = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", library], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=tempfile.gettempdir())

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            return {"error": f"the worker ended (exit status {self.process.wait()}); "
                             f"see {self.log.name}"}
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()


# --------------------------------------------------------------------------- xplique's venv

def xplique_python(venv: Path) -> tuple[str | None, str]:
    """The Python of xplique's environment, built when missing: (path or None, why not)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import xplique, tensorflow; print(xplique.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python), ""
    log(f"building xplique's environment in {venv} (TensorFlow <= 2.20: several GB) ...")
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
             [str(python), "-m", "pip", "install", "-q", *XPLIQUE_REQUIREMENTS]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"could not install {' '.join(XPLIQUE_REQUIREMENTS)}: {tail[:200]}"
    if subprocess.run(check, capture_output=True).returncode:
        return None, "xplique was installed but does not import"
    return str(python), ""


# --------------------------------------------------------------------------- orchestration

def build_models(names, directory: Path) -> dict[str, str]:
    import keras

    constructors = {"mobilenetv2": keras.applications.MobileNetV2,
                    "vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}
    paths = {}
    pictures = np.random.default_rng(1).uniform(0, 1, (8, SIZE, SIZE, 3)).astype(np.float32)
    for name in names:
        keras.utils.set_random_seed(0)
        model = constructors[name](weights=None, input_shape=(SIZE, SIZE, 3))
        calibrate_batch_normalization(model, pictures)
        paths[name] = str(directory / f"{name}.keras")
        model.save(paths[name])
    return paths


def calibrate_batch_normalization(model, pictures: np.ndarray) -> None:
    """Each ``BatchNormalization`` layer's moving statistics set to those of its input on
    ``pictures`` (one training-mode call with momentum 0), as ``tests/applications.py``
    does: with the initial statistics an untrained deep network's activations vanish
    (MobileNetV2: 1e-12 on its last feature map) and every class activation map is 0."""
    import keras

    layers = [layer for layer in model._flatten_layers()
              if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(pictures, training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


def window_count(size: int) -> int:
    starts = len(range(0, size - PATCH + 1, STRIDE))
    return starts + int((starts - 1) * STRIDE + PATCH < size)


def lower_bound(method: str, count: int, bounds: dict, channels: int) -> float:
    if method in SINGLE_PASS:
        return count * bounds["gradient_seconds"]
    if method == "integrated-gradients":
        return count * (STEPS + 1) / bounds["gradient_rate"]
    if method == "smoothgrad":
        return count * SAMPLES / bounds["gradient_rate"]
    if method == "occlusion":
        return count * (window_count(SIZE) ** 2 + 1) / bounds["forward_rate"]
    return count * channels / bounds["forward_rate"]  # score-cam


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    import tensorflow as tf

    if a.shape != b.shape:
        b = tf.image.resize(b[..., None], a.shape, "bilinear").numpy()[..., 0]
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--images", default="1,16", help="images per call, comma list")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--untimed", type=int, default=1,
                        help="untimed calls per library before a row's timed runs")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--xplique-venv", default=str(XPLIQUE_VENV))
    parser.add_argument("--skip", default="", help="rows to leave out: model:method:images, "
                        "comma list ('*' matches anything), e.g. vgg16:*:16,*:score-cam:16")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--worker", choices=LIBRARIES + (ONEDNN_OFF,), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return
    models = [m for m in args.models.split(",") if m]
    methods = [m for m in args.methods.split(",") if m]
    counts = [int(c) for c in args.images.split(",")]
    skips = [tuple(rule.split(":")) for rule in args.skip.split(",") if rule]

    def skipped(model, method, count):
        return any(all(p in ("*", str(v)) for p, v in zip(rule, (model, method, count)))
                   for rule in skips)

    directory = Path(tempfile.mkdtemp(prefix="dv-peers-"))
    log(f"models and maps in {directory}")
    import tensorflow as tf  # after the argument check: slow

    paths = build_models(models, directory)
    # 8-bit pixels over 255: dial-visualization's images hold 8-bit pixels, and a float
    # input between two of its levels would be another input (on MobileNetV2 a change of
    # 1/255 moves the saliency map to a correlation of 0.45 with the first)
    pixels = np.random.default_rng(0).integers(0, 256, (max(counts), SIZE, SIZE, 3))
    x = (pixels / 255.0).astype(np.float32)
    x_path = directory / "x.npy"
    np.save(x_path, x)
    notes = [f"TensorFlow {tf.__version__} (this environment)"]

    libraries = {}
    for library in args.libraries.split(","):
        python = sys.executable
        if library == "xplique":
            python, why = xplique_python(Path(args.xplique_venv))
            if python is None:
                notes.append(f"xplique skipped: {why}")
                log(notes[-1])
                continue
            version = subprocess.run([python, "-c", "import xplique, tensorflow, keras; print("
                                      "xplique.__version__, tensorflow.__version__, "
                                      "keras.__version__)"], capture_output=True, text=True)
            notes.append(f"xplique, TensorFlow, Keras in xplique's environment: "
                         f"{version.stdout.strip()}")
        libraries[library] = Worker(library, python, directory / f"{library}.log")

    rows = []
    try:
        for model in models:
            for library, process in libraries.items():
                log(f"{model}: loading in {library}")
                answer = process.ask(do="setup", model=model, path=paths[model], x=str(x_path))
                if "error" in answer:
                    raise SystemExit(f"{library} could not load {model}: {answer['error']}")
            import keras

            loaded = keras.models.load_model(paths[model])
            index = int(np.argmax(loaded(x[:1])[0]))
            channels = int(loaded.get_layer(CAM_LAYERS[model]).output.shape[-1])
            del loaded
            log(f"{model}: bounds")
            bounds = libraries["dial-visualization"].ask(do="bounds", model=model,
                                                         x=str(x_path), index=index)
            for method in methods:
                for count in counts:
                    if skipped(model, method, count):
                        continue
                    rows.append(measure_row(libraries, model, method, count, index, bounds,
                                            channels, args.repeats, directory, args.untimed))
    finally:
        for process in libraries.values():
            process.close()
    print_rows(rows, args.markdown, notes)


def measure_row(libraries, model, method, count, index, bounds, channels, repeats,
                directory, untimed: int = 1) -> dict:
    log(f"{model} {method} x{count}: first calls")
    row = {"model": model, "method": method, "images": count, "seconds": {}, "r": {},
           "bound": lower_bound(method, count, bounds, channels), "errors": {}}
    times = {library: [] for library in libraries}
    for library, process in libraries.items():  # untimed: tracing, explainers, the maps
        answer = process.ask(do="run", model=model, method=method, count=count, index=index,
                             save=str(directory / f"{library}-{model}-{method}.npy"))
        for _ in range(untimed - 1):
            if "error" in answer or answer.get("unavailable"):
                break
            answer = process.ask(do="run", model=model, method=method, count=count,
                                 index=index)
        if answer.get("unavailable"):
            times.pop(library)
        elif "error" in answer:
            row["errors"][library] = answer["error"]
            times.pop(library)
            log(f"  {library}: {answer['error']}")
    for repeat in range(repeats):
        log(f"{model} {method} x{count}: run {repeat + 1}/{repeats}")
        for library in list(times):
            answer = libraries[library].ask(do="run", model=model, method=method, count=count,
                                            index=index)
            if "error" in answer:
                row["errors"][library] = answer["error"]
                times.pop(library)
                continue
            times[library].append(answer["seconds"])
    row["seconds"] = {library: statistics.median(t) for library, t in times.items() if t}
    ours = directory / f"dial-visualization-{model}-{method}.npy"
    for library in row["seconds"]:
        if library != "dial-visualization" and ours.exists():
            row["r"][library] = correlation(np.load(ours),
                                            np.load(directory / f"{library}-{model}-{method}.npy"))
    return row


def print_rows(rows, markdown: bool, notes) -> None:
    libraries = [name for name in LIBRARIES + (ONEDNN_OFF,)
                 if any(name in row["seconds"] or name in row["errors"] for row in rows)]
    others = [name for name in libraries if name != "dial-visualization"]
    headers = (["model", "method", "images", "bound"] + libraries
               + [f"vs {name}" for name in others] + [f"r {name}" for name in others])

    def text(value, unit=""):
        return "-" if value is None else (f"{value:.3g}{unit}")

    table = []
    for row in rows:
        seconds, ours = row["seconds"], row["seconds"].get("dial-visualization")
        cells = [row["model"], row["method"], str(row["images"]), text(row["bound"], " s")]
        for library in libraries:
            value = seconds.get(library)
            cell = text(value, " s")
            if value is not None and library != "dial-visualization":
                cell += f" ({value / row['bound']:.1f}x bound)"
            elif value is not None:
                cell += f" ({value / row['bound']:.2f}x bound)"
            if library in row["errors"]:
                cell = "error"
            cells.append(cell)
        for library in others:
            value = seconds.get(library)
            cells.append(f"{value / ours:.2f}x" if value and ours else "-")
        for library in others:
            value = row["r"].get(library)
            cells.append("-" if value is None else f"{value:.2f}")
        table.append(cells)
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join("---" for _ in headers) + "|")
        for cells in table:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(c) for c in column) for column in zip(headers, *table)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        for cells in table:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    errors = [f"{row['model']} {row['method']} x{row['images']}: {library}: {error}"
              for row in rows for library, error in row["errors"].items()]
    print()
    for note in list(notes) + errors:
        print(f"- {note}")
    print("- vs: the peer's median time over dial-visualization's (above 1: dial-visualization "
          "is faster); r: correlation of the first image's maps with dial-visualization's")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
