"""Deletion, insertion and MuFidelity of dial-visualization against Quantus 0.6.0 and xplique
2.0.2: the same models, images, maps and parameters, the scores side by side.

* models, saved once as ``.keras`` and loaded by each library:

  - ``demo``: the trained demo model (4 shapes), given one grey channel: its first
    convolution's kernel summed over the colour channels, which is the same network on an
    image whose three channels are equal. With one channel, a "feature" is a pixel for all
    three libraries (Quantus perturbs single colour values of a colour image);
  - ``mobilenetv2``: ``keras.applications`` MobileNetV2 with random weights (its
    normalisation statistics set from 8 random pictures, as ``benchmarks/peers.py`` does),
    224x224x3, random 8-bit pixels: random weights give flat curves, but the same numbers;

* images: the demo's four images in grey, flipped and turned a quarter (12); random pixels
  for MobileNetV2 (``--images``). Pixels over 255 (``preprocessing="unit"``), so that black
  is 0 for every library; the class explained is each image's top class;
* the score is the class logit everywhere: the models are saved without their softmax (the
  demo model is so sure of its classes, 0.999-1.000, that removing a fifth of the pixels
  hardly moves its probability, and MuFidelity's drops would be noise);
* maps: computed once by dial-visualization (``METHODS``, and a random map as a control),
  passed as they are to each library.

What each peer is set to, so that it computes the same quantity (32 steps, black = 0,
pixels removed whole, subsets of 20%, ``--samples`` of them; the rest in RESULTS.md):

* deletion: xplique ``Deletion(steps=32, baseline_mode=0)``, the same curve and area.
  Quantus ``PixelFlipping(features_in_step=HW/32, perturb_baseline=0)`` has no point for
  the intact input, integrates with ``np.trapz(dx=1)``, and on C channels removes one colour
  value at a time (C x 32 points): "comparable" takes its every C-th point (whole pixels)
  after the intact input's score, with the area over 0..1;
* insertion: xplique ``Insertion(steps=32)`` from the same blurred copy (``baseline_mode``);
  Quantus has none;
* MuFidelity on pixels (``grid=0``): Quantus ``FaithfulnessCorrelation(subset_size=20% of
  its features, nr_runs=samples)``, Pearson (on C channels its features are colour
  values); xplique ``MuFidelity(grid_size=None, subset_percent=0.2)`` is Spearman's
  correlation with each pixel removed with probability 0.2, compared with
  dial-visualization's Spearman of its own points; on a 9 x 9 grid: xplique
  ``MuFidelity(grid_size=9)``.

MuFidelity draws random subsets: two libraries cannot draw the same ones, so their
difference is set beside dial-visualization's own difference between two seeds (the
sampling noise). Per metric the table gives the mean score of each side, the mean and
largest difference over the maps, and Spearman's rank correlation of the scores over the
maps (images x methods).

Quantus runs in ``benchmarks/.venv-quantus`` (``--quantus-venv``), built on first use: a
virtual environment that sees the project's packages (a ``.pth`` file naming the project
environment's site-packages, so TensorFlow and Keras are the project's) with
``quantus==0.6.0`` and its own few dependencies installed in it, the project's environment
untouched. xplique runs in ``benchmarks/.venv-xplique`` (TensorFlow <= 2.20), built by
``benchmarks/peers.py``. A library whose environment cannot be found or built is skipped
with a message.

Usage (from the repository root)::

    .venv/bin/python benchmarks/metrics_agreement.py --markdown
    .venv/bin/python benchmarks/metrics_agreement.py --models demo --samples 64
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUANTUS_VENV = ROOT / "benchmarks" / ".venv-quantus"
XPLIQUE_VENV = ROOT / "benchmarks" / ".venv-xplique"
QUANTUS_REQUIREMENT = "quantus==0.6.0"
MODELS = ("demo", "mobilenetv2")
METHODS = {"demo": ("saliency", "gradient-x-input", "integrated-gradients", "grad-cam",
                    "smoothgrad", "rise", "random"),
           "mobilenetv2": ("saliency", "gradient-x-input", "grad-cam", "random")}
METHOD_PARAMS = {"integrated-gradients": {"steps": 32, "baseline": "black"},
                 "smoothgrad": {"samples": 16}, "rise": {"masks": 500}}
STEPS, FRACTION, GRID, SEED = 32, 0.2, 9, 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- models, maps

def build_models(names, directory: Path) -> dict[str, str]:
    import keras

    import dial_visualization as dv

    paths = {}
    for name in names:
        keras.utils.set_random_seed(0)
        if name == "demo":
            model = grey_model(dv.load_model(dv.demo_paths()["model"]))
        else:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from peers import calibrate_batch_normalization

            model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                                   classifier_activation=None)
            calibrate_batch_normalization(model, np.random.default_rng(1).uniform(
                0, 1, (8, 224, 224, 3)).astype(np.float32))
        paths[name] = str(directory / f"{name}.keras")
        model.save(paths[name])
    return paths


def grey_model(model):
    """``model`` (RGB) on one grey channel, without its softmax: its first convolution's
    kernel summed over the input channels, the same network on an image of three equal
    channels; its last layer gives the logits."""
    import keras

    config = model.get_config()
    config["layers"][-1]["config"]["activation"] = "linear"
    for layer in config["layers"]:
        layer.pop("build_config", None)  # built again, from the new input's shape
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = (*layer["config"]["batch_shape"][:-1], 1)
    grey = keras.Model.from_config(config)
    first = next(layer for layer in model.layers if layer.weights)
    for source, target in zip(model.layers, grey.layers):
        weights = source.get_weights()
        if source is first:
            weights[0] = weights[0].sum(axis=2, keepdims=True)
        target.set_weights(weights)
    return grey


def images_of(name: str, count: int) -> np.ndarray:
    """(N, H, W, C) uint8 pixels of the images explained on model ``name``."""
    if name == "mobilenetv2":
        return np.random.default_rng(0).integers(0, 256, (count, 224, 224, 3), dtype=np.uint8)
    from PIL import Image

    import dial_visualization as dv

    grey = [np.asarray(Image.open(path).convert("L")) for path in dv.demo_paths()["images"]]
    variants = [g for image in grey for g in (image, image[:, ::-1], np.rot90(image))]
    return np.stack(variants)[:count, ..., np.newaxis]


def dial_side(model_path: str, pixels: np.ndarray, methods, samples: int) -> dict:
    """Maps, inputs and dial-visualization's scores for every (image, method) pair."""
    import dial_visualization as dv
    from dial_visualization.core.metrics.perturbation import baseline_image
    from dial_visualization.core.metrics.statistics import spearman

    model = dv.load_model(model_path)
    found = {key: [] for key in ("x", "maps", "targets", "blurred", "image", "method",
                                 "deletion", "insertion", "mu_pixel", "mu_pixel_seed1",
                                 "mu_pixel_spearman", "mu_pixel_spearman_seed1", "mu_grid",
                                 "mu_grid_spearman", "mu_grid_spearman_seed1", "first_score")}
    for number, picture in enumerate(pixels):
        image = dv.load_image(picture, model, preprocessing="unit")
        target = int(np.argmax(model(image.batch(), training=False)[0]))
        log(f"  dial-visualization: image {number + 1}/{len(pixels)}, class {target}")
        for method in methods:
            if method == "random":
                heatmap = np.random.default_rng(number).random(image.array.shape[:2])
            else:
                heatmap = dv.explain(model, image, method, target=target,
                                     **METHOD_PARAMS.get(method, {})).data

            def score(metric, **params):
                return dv.evaluate(model, image, heatmap.astype(np.float32), metric,
                                   target=target, **params)

            deletion = score("deletion", steps=STEPS, baseline="black")
            mu = {(grid, seed): score("mu-fidelity", samples=samples, grid=grid,
                                      fraction=FRACTION, baseline="black", seed=seed)
                  for grid in (0, GRID) for seed in (SEED, SEED + 1)}
            for key, value in (
                    ("x", image.array), ("maps", heatmap.astype(np.float32)), ("targets", target),
                    ("blurred", baseline_image(image, "blur")), ("image", number),
                    ("method", method), ("deletion", deletion.score),
                    ("insertion", score("insertion", steps=STEPS, baseline="blur").score),
                    ("mu_pixel", mu[0, SEED].score), ("mu_pixel_seed1", mu[0, SEED + 1].score),
                    ("mu_pixel_spearman", spearman(*mu[0, SEED].curve.T)),
                    ("mu_pixel_spearman_seed1", spearman(*mu[0, SEED + 1].curve.T)),
                    ("mu_grid", mu[GRID, SEED].score),
                    ("mu_grid_spearman", spearman(*mu[GRID, SEED].curve.T)),
                    ("mu_grid_spearman_seed1", spearman(*mu[GRID, SEED + 1].curve.T)),
                    ("first_score", deletion.info["first_score"])):
                found[key].append(value)
    return {key: np.asarray(values) for key, values in found.items()}


# --------------------------------------------------------------------------- the peers

def quantus_worker(job: dict) -> dict:
    import keras
    import quantus

    data = np.load(job["data"])
    x, maps, y = data["x"], data["maps"].astype(np.float32), data["targets"]
    model = keras.models.load_model(job["model"])
    channels, pixels = x.shape[-1], x.shape[1] * x.shape[2]
    common = dict(abs=False, normalise=False, perturb_baseline=0.0, disable_warnings=True)
    flipping = quantus.PixelFlipping(features_in_step=pixels // job["steps"],
                                     return_auc_per_sample=False, **common)
    curves = np.asarray(flipping(model=model, x_batch=x, y_batch=y, a_batch=maps,
                                 channel_first=False, softmax=False, batch_size=64))
    intact = model.predict(x, verbose=0)[np.arange(len(x)), y]
    whole = np.column_stack([intact, curves[:, channels - 1::channels]])
    np.random.seed(job["seed"])
    correlation = quantus.FaithfulnessCorrelation(
        nr_runs=job["samples"], subset_size=int(round(job["fraction"] * channels * pixels)),
        return_aggregate=False, **common)
    mu = correlation(model=model, x_batch=x, y_batch=y, a_batch=maps, channel_first=False,
                     softmax=False, batch_size=64)
    return {"deletion": trapezoid_unit(whole).tolist(),
            "deletion_own_auc": np.trapezoid(curves, dx=1, axis=1).tolist(),
            "deletion_points": curves.shape[1], "mu_pixel": np.asarray(mu, float).tolist()}


def xplique_worker(job: dict) -> dict:
    import keras
    import tensorflow as tf
    from xplique.metrics import Deletion, Insertion, MuFidelity

    data = np.load(job["data"])
    x, maps, y, blurred = data["x"], data["maps"], data["targets"], data["blurred"]
    model = keras.models.load_model(job["model"])
    classes = model.output_shape[-1]
    found = {"deletion": [], "insertion": [], "mu_pixel": [], "mu_grid": []}
    for k in range(len(x)):
        one, hot, heatmap = x[k:k + 1], tf.one_hot(y[k:k + 1], classes), maps[k:k + 1]
        found["deletion"].append(Deletion(model, one, hot, steps=job["steps"],
                                          baseline_mode=0.0).evaluate(heatmap))
        found["insertion"].append(Insertion(
            model, one, hot, steps=job["steps"],
            baseline_mode=lambda inputs, k=k: blurred[k:k + 1]).evaluate(heatmap))
        for key, grid in (("mu_pixel", None), ("mu_grid", job["grid"])):
            tf.random.set_seed(job["seed"])
            found[key].append(MuFidelity(model, one, hot, grid_size=grid,
                                         subset_percent=job["fraction"], baseline_mode=0.0,
                                         nb_samples=job["samples"]).evaluate(heatmap))
    return {key: [float(v) for v in values] for key, values in found.items()}


def trapezoid_unit(curves: np.ndarray) -> np.ndarray:
    """The trapezoid area of each row of equally spaced points over 0..1."""
    return (curves[:, 1:] + curves[:, :-1]).sum(axis=1) / (2 * (curves.shape[1] - 1))


def environment(venv: Path, library: str) -> tuple[str | None, str]:
    """The Python of ``library``'s environment, Quantus's built when missing: (path or None,
    why not)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import {library}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python), ""
    if library == "xplique":
        return None, f"no xplique environment in {venv} (benchmarks/peers.py builds it)"
    log(f"building Quantus's environment in {venv} ...")
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True)
    if done.returncode == 0:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                               "['purelib'])"], capture_output=True, text=True).stdout.strip()
        (Path(site) / "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", QUANTUS_REQUIREMENT],
                              capture_output=True, text=True)
    if done.returncode or subprocess.run(check, capture_output=True).returncode:
        tail = (done.stderr.strip().splitlines() or ["it does not import"])[-1]
        return None, f"could not install {QUANTUS_REQUIREMENT}: {tail[:200]}"
    return str(python), ""


def run_peer(library: str, python: str, job: dict, log_path: Path) -> dict | str:
    """The peer's scores, or why there are none."""
    with open(log_path, "w", encoding="utf-8") as errors:
        done = subprocess.run([python, __file__, "--worker", library, json.dumps(job)],
                              stdout=subprocess.PIPE, stderr=errors, text=True)
    if done.returncode:
        tail = log_path.read_text(encoding="utf-8").strip().splitlines() or ["?"]
        return f"{library} failed: {tail[-1][:200]} (log: {log_path})"
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the tables

def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def agreement_row(model, metric, compared, ours, theirs, peer, noise=None) -> list[str]:
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    difference = np.abs(ours - theirs)
    row = [model, metric, peer, compared, f"{ours.mean():.4f}", f"{theirs.mean():.4f}",
           f"{difference.mean():.4f}", f"{difference.max():.4f}",
           f"{spearman(ours, theirs):.3f}"]
    if noise is None:
        return row + ["-"]
    other = np.asarray(noise, float)
    return row + [f"{np.abs(other - ours).mean():.4f} / {spearman(ours, other):.3f}"]


def model_rows(model: str, dial: dict, peers: dict) -> list[list[str]]:
    rows = []
    quantus, xplique = peers.get("quantus"), peers.get("xplique")
    if isinstance(xplique, dict):
        rows.append(agreement_row(model, "deletion", "the same", dial["deletion"],
                                  xplique["deletion"], "xplique"))
    if isinstance(quantus, dict):
        rows.append(agreement_row(model, "deletion", "comparable points",
                                  dial["deletion"], quantus["deletion"], "Quantus"))
        points = quantus["deletion_points"]
        rows.append(agreement_row(model, "deletion", f"its own AUC / {points - 1}",
                                  dial["deletion"],
                                  np.asarray(quantus["deletion_own_auc"]) / (points - 1),
                                  "Quantus"))
    if isinstance(xplique, dict):
        rows.append(agreement_row(model, "insertion", "the same", dial["insertion"],
                                  xplique["insertion"], "xplique"))
    if isinstance(quantus, dict):
        rows.append(agreement_row(model, "MuFidelity, pixels", "Pearson", dial["mu_pixel"],
                                  quantus["mu_pixel"], "Quantus", dial["mu_pixel_seed1"]))
    if isinstance(xplique, dict):
        for key, what in (("mu_pixel", "MuFidelity, pixels"), ("mu_grid", "MuFidelity, grid 9")):
            rows.append(agreement_row(model, what, "Spearman", dial[f"{key}_spearman"],
                                      xplique[key], "xplique", dial[f"{key}_spearman_seed1"]))
    return rows


def per_method_rows(model: str, dial: dict, peers: dict) -> list[list[str]]:
    quantus, xplique = (p if isinstance(p, dict) else None
                        for p in (peers.get("quantus"), peers.get("xplique")))
    rows = []
    for method in dict.fromkeys(dial["method"]):
        chosen = dial["method"] == method

        def mean(values):
            return f"{np.asarray(values, float)[chosen].mean():.3f}" if values is not None else "-"

        rows.append([model, method, mean(dial["deletion"]),
                     mean(xplique and xplique["deletion"]), mean(quantus and quantus["deletion"]),
                     mean(dial["insertion"]), mean(xplique and xplique["insertion"]),
                     mean(dial["mu_pixel"]), mean(quantus and quantus["mu_pixel"]),
                     mean(dial["mu_pixel_spearman"]), mean(xplique and xplique["mu_pixel"])])
    return rows


def print_table(title, headers, rows, markdown):
    if markdown:
        print(f"\n#### {title}\n\n| " + " | ".join(headers) + " |")
        print("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    print(f"\n{title}\n" + "  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


# --------------------------------------------------------------------------- main

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--images", type=int, default=12, help="images per model (demo: "
                        "at most 12; MobileNetV2: a third of it)")
    parser.add_argument("--samples", type=int, default=128, help="MuFidelity's subsets")
    parser.add_argument("--libraries", default="quantus,xplique")
    parser.add_argument("--quantus-venv", default=str(QUANTUS_VENV))
    parser.add_argument("--xplique-venv", default=str(XPLIQUE_VENV))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--worker", choices=("quantus", "xplique"), help=argparse.SUPPRESS)
    parser.add_argument("job", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        work = quantus_worker if args.worker == "quantus" else xplique_worker
        print(json.dumps(work(json.loads(args.job))))
        return
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)} (choose from {', '.join(MODELS)})")
    pythons, notes = {}, []
    venvs = {"quantus": Path(args.quantus_venv), "xplique": Path(args.xplique_venv)}
    for library in [name for name in args.libraries.split(",") if name]:
        python, why = environment(venvs[library], library)
        if python is None:
            notes.append(f"{library} skipped: {why}")
            log(notes[-1])
            continue
        pythons[library] = python
        version = subprocess.run([python, "-c", f"import {library}, tensorflow, keras; print("
                                  f"{library}.__version__, tensorflow.__version__, "
                                  "keras.__version__)"], capture_output=True, text=True)
        notes.append(f"{library}, TensorFlow, Keras: {version.stdout.strip()}")
    directory = Path(tempfile.mkdtemp(prefix="dv-metrics-"))
    log(f"models, maps and logs in {directory}")
    paths = build_models(models, directory)
    agreement, per_method = [], []
    for model in models:
        count = args.images if model == "demo" else max(1, args.images // 3)
        dial = dial_side(paths[model], images_of(model, count), METHODS[model], args.samples)
        data = directory / f"{model}.npz"
        np.savez(data, **{key: dial[key] for key in ("x", "maps", "targets", "blurred")})
        job = {"data": str(data), "model": paths[model], "steps": STEPS, "samples": args.samples,
               "fraction": FRACTION, "grid": GRID, "seed": SEED}
        peers = {}
        for library, python in pythons.items():
            log(f"{model}: {library}")
            peers[library] = run_peer(library, python, job, directory / f"{model}-{library}.log")
            if isinstance(peers[library], str):
                notes.append(peers[library])
                log(notes[-1])
        agreement += model_rows(model, dial, peers)
        per_method += per_method_rows(model, dial, peers)
        notes.append(f"{model}: {len(set(dial['image']))} images x {len(METHODS[model])} maps, "
                     f"MuFidelity {args.samples} subsets; intact scores "
                     f"{dial['first_score'].min():.3f}-{dial['first_score'].max():.3f}")
    print_table("Agreement per metric (over every image and map)",
                ["model", "metric", "peer", "compared as", "dial-visualization", "peer's",
                 "mean abs. difference", "largest", "Spearman over maps",
                 "dial, other seed: mean abs. difference / Spearman"], agreement,
                args.markdown)
    print_table("Mean score per method", ["model", "method", "deletion dial", "xplique",
                                          "Quantus", "insertion dial", "xplique",
                                          "MuFidelity dial", "Quantus", "dial Spearman",
                                          "xplique"], per_method, args.markdown)
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
