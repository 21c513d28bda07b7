"""Train the built-in demo CNN on a synthetic shapes data set.

The data (64x64 RGB images of a circle, square, triangle or cross on a noisy
background) is generated with numpy, so nothing is downloaded. The script
writes ``demo_model.keras``, ``labels.txt`` and one sample PNG per class
(not from the training set) to ``--out``. The model expects float pixels in
[0, 1]: divide the uint8 images by 255 before calling it.

Usage: python examples/train_demo_model.py [--out DIR]
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from dial_visualization.core.demo import CLASSES, IMAGE_SIZE, make_shape_image  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "dial_visualization" / "demo"


def make_dataset(n, rng):
    """Return (images uint8 (n, 64, 64, 3), labels int (n,)) with balanced classes."""
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    images = np.stack([make_shape_image(CLASSES[label], rng) for label in labels])
    return images, labels


def to_model_input(images):
    """Scale uint8 images to the model's float32 [0, 1] input range."""
    return images.astype(np.float32) / 255.0


def build_model():
    """Build the (untrained) functional demo CNN "demo_cnn"."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    residual = keras.layers.Conv2D(32, 3, padding="same", name="res_conv")(x)
    residual = keras.layers.ReLU(name="res_relu")(residual)
    x = keras.layers.Add(name="res_add")([x, residual])
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", name="conv3")(x)
    x = keras.layers.Activation("relu", name="conv3_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="demo_cnn")


def train(model, train_data, val_data, epochs=5, batch_size=32):
    """Fit ``model`` with Adam on uint8 (images, labels) pairs.

    Returns (wall-clock seconds, CPU seconds, final validation accuracy).
    """
    (x_train, y_train), (x_val, y_val) = train_data, val_data
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start, start_cpu = time.perf_counter(), time.process_time()
    history = model.fit(
        to_model_input(x_train),
        y_train,
        validation_data=(to_model_input(x_val), y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=2,
    )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return elapsed, cpu, history.history["val_accuracy"][-1]


def make_samples(model, rng, max_tries=50):
    """Return {class name: image} with one image per class the model gets right with p > 0.9."""
    samples = {}
    for index, kind in enumerate(CLASSES):
        for _ in range(max_tries):
            image = make_shape_image(kind, rng)
            probs = model.predict(to_model_input(image[None]), verbose=0)[0]
            if probs.argmax() == index and probs[index] > 0.9:
                samples[kind] = image
                break
        else:
            raise RuntimeError(f"no confidently classified {kind} in {max_tries} tries")
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train_data = make_dataset(3000, rng)
    val_data = make_dataset(800, rng)

    model = build_model()
    elapsed, cpu, val_accuracy = train(model, train_data, val_data)
    print(f"training took {elapsed:.1f} s ({cpu:.1f} s CPU), val accuracy {val_accuracy:.4f}")
    if val_accuracy < 0.95:
        raise SystemExit("validation accuracy below 0.95; not saving the model")

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "demo_model.keras")
    (args.out / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    for kind, image in make_samples(model, np.random.default_rng(1)).items():
        Image.fromarray(image).save(args.out / f"{kind}.png")
    print(f"wrote model, labels and samples to {args.out}")


if __name__ == "__main__":
    main()
