"""Automatic batch sizes: the fastest size measured on the method's own batches, within a
memory limit.

Throughput is not monotonic in the batch size, and where it peaks depends on the model and
the machine. Measured on the developers' 2-core CPU (integrated gradients, images per
second): VGG16 1.42 at 4 images per batch, 1.80 at 8 and 16; MobileNetV2 20.7 at 4, 18.7 at
8, 16.2 at 16. So no rule on the model's size picks well for both, and the size is measured:
the first batches of a model try each candidate size twice, smallest first (a candidate
larger than a run's work waits for a larger run), and every later batch takes the size
with the least seconds per image. The least of two timings discards the one slow call that
traces a function. Results never depend on the batch size, only the speed does.
"""

from __future__ import annotations

import math

#: Sizes tried, up to the memory limit.
CANDIDATES = (4, 8, 16, 32, 64)
#: Timed batches per candidate before the fastest is chosen.
TRIALS = 2
#: Activation memory a batch may take, as estimated by :func:`memory_limit`.
BUDGET_BYTES = 3 * 2 ** 29
#: float32 values held per kept value (:func:`kept_per_value`) in a pass with an input
#: gradient. Measured (the peak resident memory's growth from 16 to 32 images, 224x224,
#: ``keras.applications``): EfficientNetB0 0.50, DenseNet121 0.81, VGG16 1.25, ResNet50
#: 1.31, MobileNetV2 1.35, ConvNeXtTiny 1.39; the rest is margin. Counting every output
#: value instead gave 0.33-0.42 for the networks whose convolutions feed a normalisation
#: (their batches 3-4 times smaller than memory allows) and 1.84 for ConvNeXtTiny.
GRADIENT_FACTOR = 1.5
#: A smooth activation (swish, GELU, sigmoid, ...) or a layer normalisation: its gradient
#: keeps its input and intermediates, counted as this many values per output value.
SMOOTH = 3

#: Layers whose input gradient needs none of their values: moves, sums and affine maps
#: (batch normalisation is one at inference), and linear pooling.
_KEEP_NOTHING = frozenset({
    "InputLayer", "BatchNormalization", "Add", "Subtract", "Average", "Reshape", "Flatten",
    "Permute", "RepeatVector", "Identity", "Rescaling", "Normalization", "Resizing",
    "CenterCrop", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D"})
#: Linear maps: without an activation their input gradient needs the kernel only.
_LINEAR = frozenset({
    "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose",
    "Conv3DTranspose"})
_RELU_LIKE = frozenset({"ReLU", "LeakyReLU", "PReLU", "relu", "relu6", "leaky_relu"})
_NORMALISING = frozenset({"LayerNormalization", "GroupNormalization", "UnitNormalization"})


def kept_per_value(layer_type: str, activation: str | None) -> int:
    """Per output value of a layer (its class name and activation's name), how many values
    a pass with an input gradient keeps for the backward pass: none for linear maps and
    moves, one for a ReLU-like unit (its output), a max pooling, a product or anything
    else, :data:`SMOOTH` for a smooth activation or a layer normalisation."""
    linear = activation in (None, "linear")
    if layer_type in _KEEP_NOTHING or (layer_type in _LINEAR and linear):
        return 0
    if layer_type in _RELU_LIKE or activation in _RELU_LIKE:
        return 1
    return SMOOTH if not linear or layer_type in _NORMALISING else 1


def memory_limit(activation_values: int, with_gradient: bool) -> int:
    """The largest batch whose estimated activations fit in ``BUDGET_BYTES``.

    ``activation_values`` is one sample's count of layer output values (float32), with
    ``with_gradient`` of the values kept for the backward pass (:func:`kept_per_value`).
    """
    per_sample = max(activation_values, 1) * 4 * (GRADIENT_FACTOR if with_gradient else 1.0)
    return max(1, int(BUDGET_BYTES // per_sample))


class BatchSizeTuner:
    """Proposes batch sizes and learns the fastest from the seconds each batch took."""

    def __init__(self, limit: int):
        self.candidates = [size for size in CANDIDATES if size <= limit] or [limit]
        self._seconds_per_item: dict[int, list[float]] = {size: [] for size in self.candidates}

    @property
    def seconds_per_item(self) -> dict[int, list[float]]:
        """Each candidate's measured seconds per item, one entry per timed batch."""
        return {size: list(times) for size, times in self._seconds_per_item.items()}

    @property
    def fastest(self) -> int | None:
        """The timed candidate with the least seconds per item (None before any timing)."""
        timed = {size: min(times) for size, times in self._seconds_per_item.items() if times}
        return min(timed, key=timed.get) if timed else None

    def next_size(self, remaining: int | None = None) -> int:
        """The size to run next: a candidate not yet timed enough that fits in ``remaining``
        items (smallest first), else the fastest one timed, with ``remaining`` split evenly
        into as few batches of at most that size (51 items at 16: 13, 13, 13, 12, not 16,
        16, 16, 3, whose last batch runs slowest per item)."""
        for size, times in self._seconds_per_item.items():
            if len(times) < TRIALS and (remaining is None or size <= remaining):
                return size
        size = self.fastest or self.candidates[0]
        if remaining is None or remaining <= size:
            return size
        return math.ceil(remaining / math.ceil(remaining / size))

    def record(self, size: int, seconds: float) -> None:
        """Note that a batch of ``size`` items took ``seconds``; sizes that are no candidate,
        or were timed ``TRIALS`` times already, are ignored."""
        times = self._seconds_per_item.get(size)
        if times is not None and len(times) < TRIALS:
            times.append(seconds / size)

    def __repr__(self) -> str:
        return f"BatchSizeTuner(fastest {self.fastest}, seconds per item {self._seconds_per_item})"
