"""A custom algorithm, "gradient x input", added to dial-visualization from outside.

Gradient x input (Shrikumar, Greenside, Shcherbina & Kundaje 2016, "Not Just a Black Box",
arXiv:1605.01713; Ancona et al. 2018, arXiv:1711.06104) multiplies the input pixels by the
gradient of the class score (or of a layer's mean channel activation) with respect to
them: a first-order estimate of each pixel's contribution to that score.

Three ways to use it:

* from Python: ``HandlerConfiguration.register(gradient_x_input)``, then
  ``dv.explain(model, image, "gradient-x-input")`` (what running this file does);
* from the GUI: *Algorithms > Load algorithms file...* and pick this file: every
  module-level ``Algorithm`` it defines is registered
  (``dial_visualization.core.user_algorithms.load_algorithms_file``);
* from a package: declare it as an entry point in the group
  ``dial_visualization.algorithms`` (``custom_algorithm:gradient_x_input``).

Run: python examples/custom_algorithm.py
"""

import numpy as np
import tensorflow as tf

import dial_visualization as dv
from dial_visualization import HandlerConfiguration, NodeType, Result, Target
from dial_visualization.core.registry import algorithm
from dial_visualization.core.tf_ops import class_index, input_gradient_function


@algorithm(
    id="gradient-x-input", name="Gradient x input",
    node_types={NodeType.PREDICTION, NodeType.OUTPUT},
    description="Input pixels times the gradient of the class score (or the channel's "
                "mean activation) with respect to them.",
    reference="Shrikumar et al. 2016, Not Just a Black Box, arXiv:1605.01713",
)
def gradient_x_input(context, target, params, progress, should_stop):
    """``run(context, target, params, progress, should_stop) -> Result``, as every algorithm."""
    x = context.require_image().batch()
    if target.node_type is NodeType.PREDICTION:  # a class score; None = the top class
        index = class_index(context.model, x, target.index, context.output_index,
                            context.device)
        layer, target = None, Target(NodeType.PREDICTION, None, index)
    else:  # a layer's channel; None = the mean of all its channels (index -1)
        layer, index = target.layer, -1 if target.index is None else target.index
    gradient = input_gradient_function(context.model, layer=layer,
                                       output_index=context.output_index,
                                       device=context.device)
    _, gradients = gradient(tf.constant(x), tf.constant([index]))
    progress(1.0)
    attribution = (np.asarray(gradients)[0] * x[0]).sum(axis=-1)  # (H, W), summed over channels
    return Result(method="gradient-x-input",
                  title=f"Gradient x input: {target.describe(context.labels)}",
                  kind="heatmap", data=attribution, target=target,
                  background=context.image.resized, labels=context.labels)


if __name__ == "__main__":
    import matplotlib.pyplot as plt

    unregister = HandlerConfiguration.register(gradient_x_input)
    demo = dv.demo_paths()
    model = dv.load_model(demo["model"])
    image = dv.load_image(demo["images"][0], model)
    result = dv.explain(model, image, "gradient-x-input", labels=demo["labels"])
    print(result.title, "- attribution range", float(result.data.min()), float(result.data.max()))
    result.plot()
    plt.show()
    unregister()
