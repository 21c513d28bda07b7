"""Many images at once: batched methods against the bare model, memory on a large folder,
and the Ray engine with one and two actors.

1. Throughput over ``--images`` images (default 256) of the demo's shapes (or random
   pixels for ``keras.applications`` models, random weights): the bare model's forward
   pass plus the input gradient of the top class, as a plain ``tf.function`` at batch
   sizes 1 to 64 (the best one is the bound; batch 1 is what one call per image costs),
   against ``core.batch_explain.explain_images`` running saliency and Grad-CAM on the
   loaded images (the ratio printed: bound / ours) and, for comparison, one ``dv.explain``
   call per image.
2. Multi-pass methods (``--multi-pass-images``, default 16; ``--multi-pass-methods`` picks
   some): integrated gradients (64 steps), SmoothGrad (32 samples), occlusion (patch 32,
   stride 16), Score-CAM (the 64 channels of highest mean) and RISE (256 masks) over the
   images, seconds per image, batched (the path points, noisy, occluded or masked copies of
   every image of a batch in one stream of model calls)
   against one ``dv.explain`` call per image (alternated, median of ``--repeats``).
3. Memory: the peak resident set size of a child process that runs saliency over a folder
   of ``--memory-images`` PNG files (default 10,000) and over a folder of 256: streamed,
   the two stay close.
4. Ray (``--ray``, needs the [ray] extra): ``predict`` over the folder on a local Ray
   instance of 2 CPUs with 1 and 2 actors, images per second (Ray's start excluded).

Usage (repository root)::

    .venv/bin/python benchmarks/datasets.py                      # demo model, all parts
    .venv/bin/python benchmarks/datasets.py --models demo,mobilenetv2 --no-memory
    .venv/bin/python benchmarks/datasets.py --models demo,mobilenetv2 --no-throughput \
        --no-memory --multi-pass-images 16 --multi-pass-methods score-cam,rise
    .venv/bin/python benchmarks/datasets.py --ray --no-throughput --no-memory
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dial_visualization as dv  # noqa: F401  (TensorFlow's environment first)


def bare_throughput(model, x, sizes=(1, 8, 16, 32, 64), repeats=3) -> dict[int, float]:
    """Images per second of forward + input gradient of the top class, per batch size."""
    import numpy as np
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(batch):
        with tf.GradientTape() as tape:
            tape.watch(batch)
            scores = model(batch, training=False)
            top = tf.reduce_max(scores, axis=-1)
        return tape.gradient(top, batch)

    rates = {}
    for size in sizes:
        batch_count = max(1, len(x) // size)
        step(tf.constant(x[:size]))  # trace
        best = np.inf
        for _ in range(repeats):
            began = time.perf_counter()
            for i in range(batch_count):
                step(tf.constant(x[i * size:(i + 1) * size])).numpy()
            best = min(best, time.perf_counter() - began)
        rates[size] = batch_count * size / best
    return rates


def ours(method, model, images, batched=True, repeats=3) -> float:
    """Images per second of ``method`` over the loaded ``images``."""
    from dial_visualization.core.batch_explain import explain_images
    from dial_visualization.core.context import Context
    from dial_visualization.core.explain import request

    checked = request(method, model)
    best = float("inf")
    for _ in range(repeats + 1):  # the first also measures the batch size
        began = time.perf_counter()
        if batched:
            for outcome in explain_images([checked], Context(model), images):
                assert outcome.error is None, outcome.error
        else:
            for image in images:
                dv.explain(model, image, method)
        best = min(best, time.perf_counter() - began)
        if not batched:
            break
    return len(images) / best


def dataset(folder: Path, count: int, model_name: str):
    """Image files for ``model_name``: the demo's shapes, or random 224x224 pixels."""
    import numpy as np
    from PIL import Image

    from dial_visualization.core.demo import write_shapes

    if model_name == "demo":
        return write_shapes(folder, -(-count // 4))[:count]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def load(model_name: str):
    import keras

    if model_name == "demo":
        return dv.load_model(dv.demo_paths()["model"])
    builder = {"mobilenetv2": keras.applications.MobileNetV2, "vgg16": keras.applications.VGG16}
    return builder[model_name](weights=None)


def throughput(models, count: int, work: Path) -> None:
    import numpy as np

    from dial_visualization.core.images import load_image

    print(f"## Throughput over {count} images (images per second)\n")
    print("| model | bare fwd+grad, batch 1 | bare best (batch) | saliency batched | "
          "ratio | Grad-CAM batched | ratio | saliency, one call per image |")
    print("|---|---|---|---|---|---|---|---|")
    for name in models:
        model = load(name)
        paths = dataset(work / name, count, name)
        images = [load_image(path, model) for path in paths]
        x = np.stack([image.array for image in images])
        rates = bare_throughput(model, x)
        best_size = max(rates, key=rates.get)
        saliency = ours("saliency", model, images)
        cam = ours("grad-cam", model, images)
        single = ours("saliency", model, images[:64], batched=False)
        print(f"| {name} | {rates[1]:.0f} | {rates[best_size]:.0f} ({best_size}) | "
              f"{saliency:.0f} | {rates[best_size] / saliency:.2f}x | {cam:.0f} | "
              f"{rates[best_size] / cam:.2f}x | {single:.0f} |", flush=True)


#: The multi-pass methods timed over many images, with their settings.
MULTI_PASS = {"integrated-gradients": {"steps": 64}, "smoothgrad": {"samples": 32},
              "occlusion": {"patch": 32, "stride": 16}, "score-cam": {"top_n": 64},
              "rise": {"masks": 256}}


def multi_pass(models, methods, count: int, repeats: int, work: Path) -> None:
    """Seconds per image of the multi-pass methods, batched and one call per image."""
    import statistics

    from dial_visualization.core.batch_explain import explain_images
    from dial_visualization.core.context import Context
    from dial_visualization.core.explain import request
    from dial_visualization.core.images import load_image

    print(f"\n## Multi-pass methods over {count} images (seconds per image, median of "
          f"{repeats})\n")
    print("| model | method | settings | batched | one call per image | ratio |")
    print("|---|---|---|---|---|---|")
    for name in models:
        model = load(name)
        images = [load_image(path, model) for path in dataset(work / name, count, name)]
        for method in methods:
            params = MULTI_PASS[method]
            checked = request(method, model, params=params)

            def batched():
                for outcome in explain_images([checked], Context(model), images):
                    assert outcome.error is None, outcome.error

            def one_by_one():
                for image in images:
                    dv.explain(model, image, method, **params)

            timings = {batched: [], one_by_one: []}
            for run in timings:  # traces, and tries every automatic batch size
                run()
            for _ in range(repeats):
                for run in timings:
                    began = time.perf_counter()
                    run()
                    timings[run].append((time.perf_counter() - began) / count)
            together, alone = (statistics.median(timings[run]) for run in timings)
            settings = ", ".join(f"{key}={value}" for key, value in params.items())
            print(f"| {name} | {method} | {settings} | {together:.3g} | {alone:.3g} | "
                  f"{together / alone:.2f}x |", flush=True)


CHILD = """
import resource, sys, time
import dial_visualization as dv
from dial_visualization.core.batch_explain import explain_images, folder_images
from dial_visualization.core.context import Context
from dial_visualization.core.explain import request
model = dv.load_model(dv.demo_paths()["model"])
paths = folder_images(sys.argv[1])
began = time.perf_counter()
count = sum(1 for o in explain_images([request("saliency", model)], Context(model), paths))
seconds = time.perf_counter() - began
print(count, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory(count: int, work: Path) -> None:
    from dial_visualization.core.demo import write_shapes

    print("\n## Peak memory: saliency over a folder, demo model (child process)\n")
    print("| images | seconds | images/s | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for size in (256, count):
        folder = work / f"flat{size}"
        folder.mkdir(parents=True, exist_ok=True)
        drawn = write_shapes(work / f"drawn{size}", -(-size // 4))[:size]
        for i, path in enumerate(drawn):
            path.rename(folder / f"{i:05d}.png")
        done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True,
                              text=True, timeout=3600)
        images, seconds, rss = done.stdout.split()[-3:]
        print(f"| {images} | {float(seconds):.1f} | {int(images) / float(seconds):.0f} | "
              f"{float(rss):.0f} |", flush=True)


def ray_scaling(count: int, work: Path, method: str | None) -> None:
    import ray

    from dial_visualization.cli import main
    from dial_visualization.core.demo import write_shapes

    folder = work / "ray"
    write_shapes(folder, -(-count // 4))
    what = f"explain --method {method}" if method else "predict"
    print(f"\n## Ray engine, {what}, {count} images, demo model, local Ray with 2 CPUs\n")
    print("| engine | actors | seconds | images/s |")
    print("|---|---|---|---|")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        command = (["explain", "--model", str(dv.demo_paths()["model"]), "--image"]
                   + [str(p) for p in sorted(folder.iterdir())] + ["--method", method]
                   if method else ["predict", "--image", str(folder)])
        for engine, actors in (("local", 0), ("ray", 1), ("ray", 2), ("ray", 1), ("ray", 2)):
            out = work / f"out-{engine}-{actors}-{time.perf_counter()}"
            extra = ["--engine", "ray", "--ray-actors", str(actors)] if actors else []
            began = time.perf_counter()
            with open("/dev/null", "w") as quiet:
                saved, sys.stdout = sys.stdout, quiet
                try:
                    main(command + ["--out", str(out)] + extra)
                finally:
                    sys.stdout = saved
            seconds = time.perf_counter() - began
            print(f"| {engine} | {actors or '-'} | {seconds:.1f} | {count / seconds:.0f} |",
                  flush=True)
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="demo")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--memory-images", type=int, default=10_000)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--multi-pass-images", type=int, default=16,
                        help="images of the multi-pass rows (0: none)")
    parser.add_argument("--multi-pass-methods", default=",".join(MULTI_PASS),
                        help="the multi-pass rows' methods, comma-separated (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timings of the multi-pass rows")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--ray-images", type=int, default=512)
    parser.add_argument("--ray-method", help="explain with this method (default: predict)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if not args.no_throughput:
            throughput(args.models.split(","), args.images, Path(work))
        if args.multi_pass_images:
            multi_pass(args.models.split(","), args.multi_pass_methods.split(","),
                       args.multi_pass_images, args.repeats, Path(work))
        if not args.no_memory:
            memory(args.memory_images, Path(work))
        if args.ray:
            ray_scaling(args.ray_images, Path(work), args.ray_method)


if __name__ == "__main__":
    main()
