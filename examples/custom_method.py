"""A custom method, "pixel contrast", added to dial-visualization from outside.

Pixel contrast is no published attribution method: it is a small example of the form every
method takes. Each pixel's value is how far its colour lies from the image's mean colour
(the sum over the channels of |x - mean|, times ``scale``), in the model's input space. It
ignores the model, so a sanity check by model randomisation (``dv.evaluate(...,
"model-randomization")``, Adebayo et al. 2018) finds it unchanged: the kind of map that
check exists to catch.

It is written with the public toolkit (``dial_visualization.toolkit``). Three ways to use it:

* from Python: ``HandlerConfiguration.default().register(pixel_contrast)``, then
  ``dv.explain(model, image, "pixel-contrast")`` (what running this file does);
* from the GUI: *Methods > Load methods file...* and pick this file: every
  module-level ``Method`` it defines is registered
  (``dial_visualization.core.user_methods.load_methods_file``);
* from a package: declare it as an entry point in the group
  ``dial_visualization.methods`` (``custom_method:pixel_contrast``).

Run: python examples/custom_method.py
"""

import numpy as np

import dial_visualization as dv
from dial_visualization.toolkit import (HandlerConfiguration, NodeType, Parameter,
                                        heatmap_result, method, resolve_objective)


@method(
    id="pixel-contrast", name="Pixel contrast", node_types={NodeType.PREDICTION},
    description="How far each pixel's colour lies from the image's mean colour (it ignores "
                "the model: an example of the form of a method).",
    reference="an example, no paper",
    parameters=(Parameter("scale", "float", 1.0, "factor on the map"),),
    channel_reduction="sum over colour channels of |x - mean colour|",
)
def pixel_contrast(context, target, params, progress, should_stop):
    """``run(context, target, params, progress, should_stop) -> Result``, as every method."""
    x, layer, index, target = resolve_objective(context, target)  # the class picked or the top one
    contrast = np.abs(x[0] - x[0].mean(axis=(0, 1))) * params["scale"]
    progress(1.0)
    return heatmap_result(context, target, contrast, reduction="sum")


if __name__ == "__main__":
    import matplotlib.pyplot as plt

    unregister = HandlerConfiguration.default().register(pixel_contrast)
    demo = dv.demo_paths()
    model = dv.load_model(demo["model"])
    image = dv.load_image(demo["images"][0], model)
    result = dv.explain(model, image, "pixel-contrast", labels=demo["labels"])
    print(result.title, "- contrast range", float(result.data.min()), float(result.data.max()))
    result.plot()
    plt.show()
    unregister()
