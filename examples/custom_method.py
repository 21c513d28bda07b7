"""A custom method, "gradient x input", added to dial-visualization from outside.

Gradient x input (Shrikumar, Greenside, Shcherbina & Kundaje 2016, "Not Just a Black Box",
arXiv:1605.01713; Ancona et al. 2018, arXiv:1711.06104) multiplies the input pixels by the
gradient of the class score (or of a layer's mean channel activation) with respect to
them: a first-order estimate of each pixel's contribution to that score.

It is written with the public toolkit (``dial_visualization.toolkit``). Three ways to use it:

* from Python: ``HandlerConfiguration.default().register(gradient_x_input)``, then
  ``dv.explain(model, image, "gradient-x-input")`` (what running this file does);
* from the GUI: *Methods > Load methods file...* and pick this file: every
  module-level ``Method`` it defines is registered
  (``dial_visualization.core.user_methods.load_methods_file``);
* from a package: declare it as an entry point in the group
  ``dial_visualization.methods`` (``custom_method:gradient_x_input``).

Run: python examples/custom_method.py
"""

import numpy as np
import tensorflow as tf

import dial_visualization as dv
from dial_visualization.toolkit import (HandlerConfiguration, NodeType, heatmap_result,
                                        input_gradient_function, method, resolve_objective)


@method(
    id="gradient-x-input", name="Gradient x input",
    node_types={NodeType.PREDICTION, NodeType.OUTPUT},
    description="Input pixels times the gradient of the class score (or the channel's "
                "mean activation) with respect to them.",
    reference="Shrikumar et al. 2016, Not Just a Black Box, arXiv:1605.01713",
    channel_reduction="sum over colour channels (a first-order Taylor term per pixel)",
)
def gradient_x_input(context, target, params, progress, should_stop):
    """``run(context, target, params, progress, should_stop) -> Result``, as every method."""
    x, layer, index, target = resolve_objective(context, target)
    gradient = input_gradient_function(context.model, layer=layer,
                                       output_index=context.output_index,
                                       device=context.device)
    _, gradients = gradient(tf.constant(x), tf.constant([index]))
    progress(1.0)
    return heatmap_result(context, target, np.asarray(gradients)[0] * x[0], reduction="sum")


if __name__ == "__main__":
    import matplotlib.pyplot as plt

    unregister = HandlerConfiguration.default().register(gradient_x_input)
    demo = dv.demo_paths()
    model = dv.load_model(demo["model"])
    image = dv.load_image(demo["images"][0], model)
    result = dv.explain(model, image, "gradient-x-input", labels=demo["labels"])
    print(result.title, "- attribution range", float(result.data.min()), float(result.data.max()))
    result.plot()
    plt.show()
    unregister()
